namespace RdpNla.Protocol;

/// <summary>
/// NTSTATUS values a CredSSP server puts in TSRequest.errorCode (MS-CSSP §2.2.1; values from MS-ERREF §2.3.1).
/// </summary>
public enum NtStatus : uint
{
    /// <summary>STATUS_SUCCESS: the operation completed; the logon succeeded.</summary>
    Success = 0x00000000,

    /// <summary>STATUS_ACCESS_DENIED: access is denied, for example when the second factor of a verified logon is refused.</summary>
    AccessDenied = 0xC0000022,

    /// <summary>STATUS_NO_LOGON_SERVERS: no domain controller was available to check the logon.</summary>
    NoLogonServers = 0xC000005E,

    /// <summary>STATUS_NO_SUCH_USER: the account does not exist.</summary>
    NoSuchUser = 0xC0000064,

    /// <summary>STATUS_WRONG_PASSWORD: the password is wrong.</summary>
    WrongPassword = 0xC000006A,

    /// <summary>STATUS_PASSWORD_RESTRICTION: the password breaks a password policy rule (length, history, complexity).</summary>
    PasswordRestriction = 0xC000006C,

    /// <summary>STATUS_LOGON_FAILURE: unknown user name or bad password, without saying which.</summary>
    LogonFailure = 0xC000006D,

    /// <summary>STATUS_ACCOUNT_RESTRICTION: an account restriction refuses the logon, for example a blank password.</summary>
    AccountRestriction = 0xC000006E,

    /// <summary>STATUS_INVALID_LOGON_HOURS: the account may not log on at this time of day.</summary>
    InvalidLogonHours = 0xC000006F,

    /// <summary>STATUS_INVALID_WORKSTATION: the account may not log on from this workstation.</summary>
    InvalidWorkstation = 0xC0000070,

    /// <summary>STATUS_PASSWORD_EXPIRED: the password has expired.</summary>
    PasswordExpired = 0xC0000071,

    /// <summary>STATUS_ACCOUNT_DISABLED: the account is disabled.</summary>
    AccountDisabled = 0xC0000072,

    /// <summary>STATUS_NOT_SUPPORTED: the request is not supported; a CredSSP server sends it for a client version it refuses (the encryption oracle policy, KB4093492).</summary>
    NotSupported = 0xC00000BB,

    /// <summary>STATUS_TIME_DIFFERENCE_AT_DC: the clocks of the client and the domain controller differ too much.</summary>
    TimeDifferenceAtDc = 0xC0000133,

    /// <summary>STATUS_LOGON_NOT_GRANTED: the account lacks the right to log on this way.</summary>
    LogonNotGranted = 0xC0000155,

    /// <summary>STATUS_INTERNAL_DB_ERROR: the account database failed; the server could not check the logon.</summary>
    InternalDbError = 0xC0000158,

    /// <summary>STATUS_LOGON_TYPE_NOT_GRANTED: the account lacks the logon right of the requested logon type (Remote Desktop logon).</summary>
    LogonTypeNotGranted = 0xC000015B,

    /// <summary>STATUS_TRUSTED_RELATIONSHIP_FAILURE: the trust relationship between the server and its domain failed (its secure channel to a domain controller).</summary>
    TrustedRelationshipFailure = 0xC000018D,

    /// <summary>STATUS_NETLOGON_NOT_STARTED: a logon was attempted, but the Netlogon service of the server is not started.</summary>
    NetlogonNotStarted = 0xC0000192,

    /// <summary>STATUS_ACCOUNT_EXPIRED: the account has expired.</summary>
    AccountExpired = 0xC0000193,

    /// <summary>STATUS_PASSWORD_MUST_CHANGE: the password must be changed before the first logon.</summary>
    PasswordMustChange = 0xC0000224,

    /// <summary>STATUS_ACCOUNT_LOCKED_OUT: the account is locked out after too many failed attempts.</summary>
    AccountLockedOut = 0xC0000234,

    /// <summary>STATUS_SMARTCARD_LOGON_REQUIRED: the account may only log on with a smart card.</summary>
    SmartcardLogonRequired = 0xC00002FA,

    /// <summary>STATUS_DOWNGRADE_DETECTED: a downgrade of the negotiated security was detected, for example an SPNEGO mechListMIC that is absent or does not verify.</summary>
    DowngradeDetected = 0xC0000388,

    /// <summary>STATUS_NTLM_BLOCKED: the authentication failed because NTLM was blocked (a server that refuses incoming NTLM).</summary>
    NtlmBlocked = 0xC0000418,

    /// <summary>STATUS_CTX_LOGON_DISABLED: logons to the Remote Desktop server are disabled.</summary>
    CtxLogonDisabled = 0xC00A0037,
}

/// <summary>Names and plain-language meanings of <see cref="NtStatus"/> values.</summary>
public static class NtStatusText
{
    /// <summary>The Windows symbolic name, e.g. <c>STATUS_LOGON_FAILURE</c>; a hex string for unknown values.</summary>
    public static string Name(NtStatus status) => status switch
    {
        NtStatus.Success => "STATUS_SUCCESS",
        NtStatus.AccessDenied => "STATUS_ACCESS_DENIED",
        NtStatus.NoLogonServers => "STATUS_NO_LOGON_SERVERS",
        NtStatus.NoSuchUser => "STATUS_NO_SUCH_USER",
        NtStatus.WrongPassword => "STATUS_WRONG_PASSWORD",
        NtStatus.PasswordRestriction => "STATUS_PASSWORD_RESTRICTION",
        NtStatus.LogonFailure => "STATUS_LOGON_FAILURE",
        NtStatus.AccountRestriction => "STATUS_ACCOUNT_RESTRICTION",
        NtStatus.InvalidLogonHours => "STATUS_INVALID_LOGON_HOURS",
        NtStatus.InvalidWorkstation => "STATUS_INVALID_WORKSTATION",
        NtStatus.PasswordExpired => "STATUS_PASSWORD_EXPIRED",
        NtStatus.AccountDisabled => "STATUS_ACCOUNT_DISABLED",
        NtStatus.NotSupported => "STATUS_NOT_SUPPORTED",
        NtStatus.TimeDifferenceAtDc => "STATUS_TIME_DIFFERENCE_AT_DC",
        NtStatus.LogonNotGranted => "STATUS_LOGON_NOT_GRANTED",
        NtStatus.InternalDbError => "STATUS_INTERNAL_DB_ERROR",
        NtStatus.LogonTypeNotGranted => "STATUS_LOGON_TYPE_NOT_GRANTED",
        NtStatus.TrustedRelationshipFailure => "STATUS_TRUSTED_RELATIONSHIP_FAILURE",
        NtStatus.NetlogonNotStarted => "STATUS_NETLOGON_NOT_STARTED",
        NtStatus.AccountExpired => "STATUS_ACCOUNT_EXPIRED",
        NtStatus.PasswordMustChange => "STATUS_PASSWORD_MUST_CHANGE",
        NtStatus.AccountLockedOut => "STATUS_ACCOUNT_LOCKED_OUT",
        NtStatus.SmartcardLogonRequired => "STATUS_SMARTCARD_LOGON_REQUIRED",
        NtStatus.DowngradeDetected => "STATUS_DOWNGRADE_DETECTED",
        NtStatus.NtlmBlocked => "STATUS_NTLM_BLOCKED",
        NtStatus.CtxLogonDisabled => "STATUS_CTX_LOGON_DISABLED",
        _ => $"0x{(uint)status:X8}",
    };

    /// <summary>
    /// Whether the status says the server could not check the logon at all: no domain controller answered, its trust
    /// with the domain or its Netlogon service failed, or its own account database failed. Such a status is no verdict
    /// on the credentials; the same logon can succeed once the server recovers.
    /// </summary>
    public static bool IsServerFault(NtStatus status) =>
        status is NtStatus.NoLogonServers or NtStatus.TrustedRelationshipFailure or NtStatus.NetlogonNotStarted or NtStatus.InternalDbError;

    /// <summary>What the status means, in the words a user understands.</summary>
    public static string Describe(NtStatus status) => status switch
    {
        NtStatus.Success => "success",
        NtStatus.AccessDenied => "access denied",
        NtStatus.NoLogonServers => "no logon server (domain controller) is available to check the credentials",
        NtStatus.NoSuchUser => "the user name does not exist",
        NtStatus.WrongPassword => "the password is wrong",
        NtStatus.PasswordRestriction => "the password does not meet the password policy",
        NtStatus.LogonFailure => "unknown user name or bad password",
        NtStatus.AccountRestriction => "account restrictions prevent this user from signing in (for example a blank password)",
        NtStatus.InvalidLogonHours => "the account may not sign in at this time of day",
        NtStatus.InvalidWorkstation => "the account may not sign in from this computer",
        NtStatus.PasswordExpired => "the password has expired",
        NtStatus.AccountDisabled => "the account is disabled",
        NtStatus.NotSupported => "the server does not support the CredSSP version the client offered",
        NtStatus.TimeDifferenceAtDc => "the clocks of the client and the server differ too much",
        NtStatus.LogonNotGranted => "the user has not been granted the requested logon type",
        NtStatus.InternalDbError => "the server's account database failed; try again later or ask its administrator",
        NtStatus.LogonTypeNotGranted => "the user has not been granted the requested logon type (remote/network logon right)",
        NtStatus.TrustedRelationshipFailure => "the trust relationship between the server and its domain failed",
        NtStatus.NetlogonNotStarted => "the server's Netlogon service is not started",
        NtStatus.AccountExpired => "the account has expired",
        NtStatus.PasswordMustChange => "the password must be changed before signing in for the first time",
        NtStatus.AccountLockedOut => "the account is locked out after too many failed sign-in attempts",
        NtStatus.SmartcardLogonRequired => "the account requires a smart card to sign in",
        NtStatus.DowngradeDetected => "a downgrade of the authentication was detected",
        NtStatus.NtlmBlocked => "the server refuses NTLM; sign in with Kerberos",
        NtStatus.CtxLogonDisabled => "Remote Desktop logons are disabled on the server",
        _ => "unrecognised NTSTATUS value",
    };
}
