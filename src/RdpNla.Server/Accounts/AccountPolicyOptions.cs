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

    /// <summary>
    /// How long a logon attempt waits for an attempt of the same account in progress to finish when wrong passwords
    /// counted plus attempts in progress have reached <see cref="LockoutThreshold"/> (<see cref="LockoutRules"/>): it
    /// is then admitted, or refused as locked out if those attempts locked the account. An attempt that is still not
    /// admitted after this long is refused with STATUS_ACCOUNT_LOCKED_OUT, as without waiting. Default 2 seconds: an
    /// attempt holds its place for two store steps and a hash (milliseconds), so this covers a burst of dozens of
    /// logons of one account, and it stays well below Limits:HandshakeTimeout, which bounds it (docs/hardening.md). 0 =
    /// do not wait.
    /// </summary>
    public TimeSpan LockoutAdmissionWait { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>
    /// At most this many attempts of one account wait at once in this process (<see cref="LockoutAdmissionWait"/>); a
    /// further one is refused at once with STATUS_ACCOUNT_LOCKED_OUT, so that a flood of logons of one account cannot
    /// pile up waiting connections. Default 32.
    /// </summary>
    public int LockoutAdmissionWaiters { get; set; } = 32;

    /// <summary>The longest <see cref="LockoutAdmissionWait"/> accepted.</summary>
    public static readonly TimeSpan MaxLockoutAdmissionWait = TimeSpan.FromMinutes(1);
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

        if (options.LockoutAdmissionWait < TimeSpan.Zero || options.LockoutAdmissionWait > AccountPolicyOptions.MaxLockoutAdmissionWait)
        {
            failures.Add($"LockoutAdmissionWait is {options.LockoutAdmissionWait}; use 00:00:00 (do not wait) up to {AccountPolicyOptions.MaxLockoutAdmissionWait}, e.g. 00:00:02, and below Limits:HandshakeTimeout.");
        }

        if (options.LockoutAdmissionWaiters < 0)
        {
            failures.Add($"LockoutAdmissionWaiters is {options.LockoutAdmissionWaiters}; use 0 (no attempt waits) or a positive number of attempts, e.g. 32.");
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
