namespace RdpNla.Server.Accounts;

/// <summary>
/// A user of the local store and its account state. It carries no secret: the NT hash is only handed out by
/// <see cref="IUserStore.FindCredentialAsync"/> inside a <see cref="UserCredential"/>.
/// </summary>
public sealed record UserAccount
{
    /// <summary>The store's identifier.</summary>
    public required long Id { get; init; }

    /// <summary>The user name in the spelling it was created with.</summary>
    public required string UserName { get; init; }

    /// <summary>The case-insensitive key (<see cref="AccountName.NormalizeUserName"/>).</summary>
    public string UserKey => AccountName.NormalizeUserName(UserName);

    /// <summary>Disabled accounts get STATUS_ACCOUNT_DISABLED after a correct password.</summary>
    public bool Disabled { get; init; }

    /// <summary>The account is locked out while this lies in the future (<see cref="DateTimeOffset.MaxValue"/>: until unlocked).</summary>
    public DateTimeOffset? LockedUntil { get; init; }

    /// <summary>Consecutive wrong passwords counted for the lockout window.</summary>
    public int FailedLogonCount { get; init; }

    /// <summary>When the last wrong password was recorded (the lockout window runs from here).</summary>
    public DateTimeOffset? LastFailedLogon { get; init; }

    /// <summary>Logon attempts admitted (<see cref="IUserStore.ReserveAttemptAsync"/>) and not yet recorded.</summary>
    public int AttemptsInProgress { get; init; }

    /// <summary>Until when <see cref="AttemptsInProgress"/> counts (a reservation never recorded expires).</summary>
    public DateTimeOffset? AttemptsInProgressUntil { get; init; }

    /// <summary>When the last successful logon was recorded.</summary>
    public DateTimeOffset? LastLogon { get; init; }

    /// <summary>When the password was last set.</summary>
    public required DateTimeOffset PasswordLastSet { get; init; }

    /// <summary>STATUS_PASSWORD_EXPIRED after a correct password (<c>rdpnla users expire-password</c>).</summary>
    public bool PasswordExpired { get; init; }

    /// <summary>STATUS_PASSWORD_MUST_CHANGE after a correct password (<c>rdpnla users require-password-change</c>).</summary>
    public bool MustChangePassword { get; init; }

    /// <summary>
    /// The user authenticates, but the front door refuses the connection after CredSSP
    /// (the equivalent of lacking "Allow log on through Remote Desktop Services").
    /// </summary>
    public bool RemoteLogonDenied { get; init; }

    /// <summary>The inverse of <see cref="RemoteLogonDenied"/>.</summary>
    public bool RemoteLogonAllowed => !RemoteLogonDenied;

    /// <summary>When the user was created.</summary>
    public required DateTimeOffset Created { get; init; }

    /// <summary>When the row last changed.</summary>
    public required DateTimeOffset Updated { get; init; }

    /// <summary>Whether the account is locked out at <paramref name="now"/>.</summary>
    public bool IsLockedOut(DateTimeOffset now) => LockedUntil is { } until && until > now;
}
