using RdpNla.Protocol;

namespace RdpNla.Protocol.Tests.CredSsp;

/// <summary>The NTSTATUS values of a TSRequest errorCode (MS-CSSP §2.2.1): names and classes, values from MS-ERREF §2.3.1.</summary>
public class NtStatusTextTests
{
    [Theory]
    [InlineData(NtStatus.NoLogonServers, 0xC000005Eu, "STATUS_NO_LOGON_SERVERS")]
    [InlineData(NtStatus.TrustedRelationshipFailure, 0xC000018Du, "STATUS_TRUSTED_RELATIONSHIP_FAILURE")]
    [InlineData(NtStatus.NetlogonNotStarted, 0xC0000192u, "STATUS_NETLOGON_NOT_STARTED")]
    [InlineData(NtStatus.InternalDbError, 0xC0000158u, "STATUS_INTERNAL_DB_ERROR")]
    public void ServerFaults_AreNoVerdictOnTheCredentials(NtStatus status, uint value, string name)
    {
        Assert.Equal(value, (uint)status);
        Assert.Equal(name, NtStatusText.Name(status));
        Assert.True(NtStatusText.IsServerFault(status));
    }

    [Theory]
    [InlineData(NtStatus.LogonFailure)]
    [InlineData(NtStatus.WrongPassword)]
    [InlineData(NtStatus.AccountLockedOut)]
    [InlineData(NtStatus.AccountExpired)]
    [InlineData(NtStatus.PasswordExpired)]
    [InlineData(NtStatus.AccessDenied)]
    [InlineData(NtStatus.Success)]
    [InlineData((NtStatus)0xC0000413)]
    public void AccountAndCredentialStatuses_AreNotServerFaults(NtStatus status) => Assert.False(NtStatusText.IsServerFault(status));
}
