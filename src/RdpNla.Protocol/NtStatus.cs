namespace RdpNla.Protocol;

/// <summary>
/// NTSTATUS values a CredSSP server puts in TSRequest.errorCode (MS-CSSP §2.2.1; values from MS-ERREF §2.3.1).
/// </summary>
public enum NtStatus : uint
{
    Success = 0x00000000,
    AccessDenied = 0xC0000022,
    NoLogonServers = 0xC000005E,
    NoSuchUser = 0xC0000064,
    WrongPassword = 0xC000006A,
    PasswordRestriction = 0xC000006C,
    LogonFailure = 0xC000006D,
    AccountRestriction = 0xC000006E,
    InvalidLogonHours = 0xC000006F,
    InvalidWorkstation = 0xC0000070,
    PasswordExpired = 0xC0000071,
    AccountDisabled = 0xC0000072,
    NotSupported = 0xC00000BB,
    TimeDifferenceAtDc = 0xC0000133,
    LogonNotGranted = 0xC0000155,
    InternalDbError = 0xC0000158,
    LogonTypeNotGranted = 0xC000015B,
    AccountExpired = 0xC0000193,
    PasswordMustChange = 0xC0000224,
    AccountLockedOut = 0xC0000234,
    SmartcardLogonRequired = 0xC00002FA,
    DowngradeDetected = 0xC0000388,
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
        NtStatus.AccountExpired => "STATUS_ACCOUNT_EXPIRED",
        NtStatus.PasswordMustChange => "STATUS_PASSWORD_MUST_CHANGE",
        NtStatus.AccountLockedOut => "STATUS_ACCOUNT_LOCKED_OUT",
        NtStatus.SmartcardLogonRequired => "STATUS_SMARTCARD_LOGON_REQUIRED",
        NtStatus.DowngradeDetected => "STATUS_DOWNGRADE_DETECTED",
        NtStatus.CtxLogonDisabled => "STATUS_CTX_LOGON_DISABLED",
        _ => $"0x{(uint)status:X8}",
    };

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
        NtStatus.AccountExpired => "the account has expired",
        NtStatus.PasswordMustChange => "the password must be changed before signing in for the first time",
        NtStatus.AccountLockedOut => "the account is locked out after too many failed sign-in attempts",
        NtStatus.SmartcardLogonRequired => "the account requires a smart card to sign in",
        NtStatus.DowngradeDetected => "a downgrade of the authentication was detected",
        NtStatus.CtxLogonDisabled => "Remote Desktop logons are disabled on the server",
        _ => "unrecognised NTSTATUS value",
    };
}
