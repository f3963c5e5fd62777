namespace RdpNla.Server.ActiveDirectory;

/// <summary>What the domain controller answered to a password change through winbind.</summary>
/// <param name="Error">The wbcErr of the call (Success, PasswordChangeFailed, AuthError, WinbindNotAvailable, ...).</param>
/// <param name="Status">The DC's NTSTATUS; STATUS_NO_LOGON_SERVERS when winbind or every DC did not answer.</param>
/// <param name="Reason">Why the DC refused the new password, when it said (MS-SAMR USER_PWD_CHANGE_FAILURE_INFORMATION).</param>
/// <param name="MinLength">The domain's minimum password length, when the DC sent its policy; else 0.</param>
/// <param name="History">The domain's password history length, when the DC sent its policy; else 0.</param>
internal sealed record WinbindPasswordChange(WbcErr Error, RdpNla.Protocol.NtStatus Status, PasswordRejectReason Reason, uint MinLength, uint History);

/// <summary>wbcPasswordChangeRejectReason (wbclient.h), the reasons a DC gives in MS-SAMR USER_PWD_CHANGE_FAILURE_INFORMATION.</summary>
internal enum PasswordRejectReason
{
    None = 0,
    TooShort = 1,
    InHistory = 2,
    UserNameInPassword = 3,
    FullNameInPassword = 4,
    NotComplex = 5,
    MachineNotDefault = 6,
    FailedByFilter = 7,
    TooLong = 8,
}
