using System.Text;
using RdpNla.Protocol.Ntlm;

namespace RdpNla.Protocol.Tests.Ntlm;

/// <summary>
/// The pass-through shape of the acceptor's credential seam: the host has a domain controller verify the response and
/// answers with the SessionBaseKey (or the DC's NTSTATUS); the acceptor derives the keys and checks the MIC itself.
/// The DC's part (MS-NLMP §3.3.2 for the key) is computed here from the password the client used.
/// </summary>
public class NtlmPassThroughTests
{
    private const string Password = "S3cret!";

    /// <summary>What a DC computes for the response in <paramref name="server"/>'s AUTHENTICATE.</summary>
    internal static byte[] DomainSessionBaseKey(NtlmServerContext server, string password)
    {
        NtlmAuthenticateMessage message = server.AuthenticateMessage!;
        ReadOnlySpan<byte> nt = message.NtChallengeResponse.Span;
        byte[] responseKeyNt = NtlmCrypto.NtOwfV2(password, message.UserName, message.DomainName);
        byte[] ntProofStr = NtlmCrypto.ComputeNtProofStr(responseKeyNt, server.ServerChallenge.Span, nt[16..]);
        return NtlmCrypto.ComputeSessionBaseKey(responseKeyNt, ntProofStr);
    }

    private static (NtlmClientContext Client, NtlmServerContext Server) AwaitingCredential(string password = Password)
    {
        NtlmClientContext client = NtlmTestPeers.Client(password: password);
        NtlmServerContext server = NtlmTestPeers.Server();
        Assert.Null(server.GetOutgoingBlob(NtlmTestPeers.RunToAuthenticate(client, server), out NlaStatus status));
        Assert.Equal(NlaStatus.CredentialLookupNeeded, status);
        return (client, server);
    }

    [Fact]
    public void VerifiedByDomain_WithTheDcsSessionBaseKey_CompletesWithMicAndWrapsBothWays()
    {
        (NtlmClientContext client, NtlmServerContext server) = AwaitingCredential();
        using (client)
        using (server)
        {
            Assert.Equal(8, server.ServerChallenge.Length);
            server.ProvideCredential(NtlmCredentialLookup.VerifiedByDomain(DomainSessionBaseKey(server, Password)));
            Assert.Null(server.GetOutgoingBlob([], out NlaStatus status));

            Assert.Equal(NlaStatus.Completed, status);
            Assert.True(server.PasswordVerified);
            Assert.True(server.MicVerified);
            Assert.Equal("pubKeyAuth"u8.ToArray(), server.SessionSecurity!.Unwrap(client.SessionSecurity!.Wrap("pubKeyAuth"u8)));
            Assert.Equal("reply"u8.ToArray(), client.SessionSecurity.Unwrap(server.SessionSecurity.Wrap("reply"u8)));
            Assert.True(server.ResponseMatchesPassword(Encoding.Unicode.GetBytes(Password)));
            Assert.False(server.ResponseMatchesPassword(Encoding.Unicode.GetBytes("another password")));
        }
    }

    [Fact]
    public void VerifiedByDomain_WithAnotherKey_FailsOnTheMic()
    {
        (NtlmClientContext client, NtlmServerContext server) = AwaitingCredential();
        using (client)
        using (server)
        {
            server.ProvideCredential(NtlmCredentialLookup.VerifiedByDomain(DomainSessionBaseKey(server, "not the password")));
            Assert.Null(server.GetOutgoingBlob([], out NlaStatus status));

            Assert.Equal(NlaStatus.Failed, status);
            Assert.False(server.PasswordVerified);
            Assert.Equal("MIC mismatch", server.FailureMessage);
            Assert.Null(server.SessionSecurity);
        }
    }

    [Theory]
    [InlineData(NtStatus.AccountDisabled)]
    [InlineData(NtStatus.NoLogonServers)]
    [InlineData(NtStatus.PasswordMustChange)]
    public void RefusedByDomain_FailsWithTheDcsStatus(NtStatus dcStatus)
    {
        (NtlmClientContext client, NtlmServerContext server) = AwaitingCredential();
        using (client)
        using (server)
        {
            server.ProvideCredential(NtlmCredentialLookup.RefusedByDomain(dcStatus));
            Assert.Null(server.GetOutgoingBlob([], out NlaStatus status));

            Assert.Equal(NlaStatus.Failed, status);
            Assert.Equal(dcStatus, server.FailureStatus);
            Assert.False(server.PasswordVerified);
            Assert.StartsWith("the domain controller refused the logon: ", server.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void ServerChallenge_IsEmptyBeforeTheChallenge()
    {
        using NtlmServerContext server = NtlmTestPeers.Server();
        Assert.True(server.ServerChallenge.IsEmpty);
        Assert.Throws<ArgumentException>(() => NtlmCredentialLookup.VerifiedByDomain(new byte[15]));
        Assert.Throws<ArgumentException>(() => NtlmCredentialLookup.RefusedByDomain(NtStatus.Success));
    }
}
