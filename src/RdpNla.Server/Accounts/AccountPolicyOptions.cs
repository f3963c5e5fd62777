namespace RdpNla.Server.Accounts;

/// <summary>Account lockout policy, as in Windows "Account Lockout Policy".</summary>
public sealed class AccountPolicyOptions
{
    /// <summary>The configuration section these options bind from.</summary>
    public const string SectionName = "RdpNla:Accounts";

    /// <summary>Wrong passwords that lock the account ("Account lockout threshold"); 0 = never lock. Default 5.</summary>
    public int LockoutThreshold { get; set; } = 5;

    /// <summary>
    /// "Reset account lockout counter after": the counter restarts when this much time has passed since the last wrong
    /// password. Default 15 minutes. Must not exceed <see cref="LockoutDuration"/> (Windows enforces the same).
    /// </summary>
    public TimeSpan LockoutWindow { get; set; } = TimeSpan.FromMinutes(15);

    /// <summary>How long a locked-out account stays locked ("Account lockout duration"). Default 15 minutes.</summary>
    public TimeSpan LockoutDuration { get; set; } = TimeSpan.FromMinutes(15);
}

/// <summary>Validates <see cref="AccountPolicyOptions"/> (register with <c>ValidateOnStart</c>).</summary>
public sealed class AccountPolicyOptionsValidator : IValidateOptions<AccountPolicyOptions>
{
    public ValidateOptionsResult Validate(string? name, AccountPolicyOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        List<string> failures = [];
        if (options.LockoutThreshold < 0)
        {
            failures.Add($"LockoutThreshold is {options.LockoutThreshold}; use 0 (never lock) or a positive number of attempts.");
        }

        if (options.LockoutThreshold > 0)
        {
            if (options.LockoutWindow <= TimeSpan.Zero)
            {
                failures.Add($"LockoutWindow is {options.LockoutWindow}; it must be positive.");
            }

            if (options.LockoutDuration <= TimeSpan.Zero)
            {
                failures.Add($"LockoutDuration is {options.LockoutDuration}; it must be positive.");
            }

            if (options.LockoutWindow > options.LockoutDuration)
            {
                failures.Add($"LockoutWindow ({options.LockoutWindow}) is longer than LockoutDuration ({options.LockoutDuration}); Windows requires the window to be at most the duration.");
            }
        }

        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}
