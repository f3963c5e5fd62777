using System.Net;
using System.Net.Security;
using RdpNla.Protocol.Negotiate;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Spnego;
using RdpNla.Protocol.Tests.Ntlm;

namespace RdpNla.Protocol.Tests.Negotiate;

/// <summary>
/// Our SPNEGO/raw-NTLM acceptor against the .NET managed "Negotiate" and "NTLM" clients (UseManagedNtlm=true in this
/// test project) and against SPNEGO shapes other clients send.
/// </summary>
public class NegotiateServerContextTests
{
    private const string User = "alice";
    private const string Domain = "WORKGROUP";
    private const string Password = "Pa$$w0rd-spnego";

    private static NegotiateAuthentication DotNetClient(string package, string password) =>
        new(new NegotiateAuthenticationClientOptions
        {
            Package = package,
            Credential = new NetworkCredential(User, password, Domain),
            TargetName = "TERMSRV/host",
            RequiredProtectionLevel = ProtectionLevel.EncryptAndSign,
        });

    private static NegotiateServerContext Server() => new(new NtlmServerOptions
    {
        NbComputerName = "SERVER",
        NbDomainName = "WORKGROUP",
        DnsComputerName = "server.example",
        DnsDomainName = "example",
        TimeProvider = TimeProvider.System,
        RandomSource = new SeededRandomSource(42),
    });

    /// <summary>Runs the exchange to the end; returns the last statuses.</summary>
    private static (NegotiateAuthenticationStatusCode Client, NlaStatus Server) Run(NegotiateAuthentication client, NegotiateServerContext server, string storedPassword)
    {
        byte[]? token = client.GetOutgoingBlob([], out NegotiateAuthenticationStatusCode clientStatus);
        NlaStatus serverStatus = NlaStatus.ContinueNeeded;
        for (int round = 0; round < 5 && token is not null; round++)
        {
            byte[]? reply = server.GetOutgoingBlob(token, out serverStatus);
            if (serverStatus == NlaStatus.CredentialLookupNeeded)
            {
                server.ProvideCredential(NtlmCredentialLookup.Found(NtlmCrypto.NtOwfV1(storedPassword)));
                reply = server.GetOutgoingBlob([], out serverStatus);
            }

            if (reply is null || serverStatus == NlaStatus.Failed)
            {
                break;
            }

            // The .NET client reports Completed as soon as it sent AUTHENTICATE, but it must still see the server's final
            // token: it verifies our mechListMIC and restarts its RC4 state there.
            token = client.GetOutgoingBlob(reply, out clientStatus);
            if (serverStatus == NlaStatus.Completed)
            {
                break;
            }
        }

        return (clientStatus, serverStatus);
    }

    [Theory]
    [InlineData("Negotiate", true)]
    [InlineData("NTLM", false)]
    public void GetOutgoingBlob_DotNetManagedClientRightPassword_BothComplete(string package, bool expectSpnego)
    {
        using NegotiateAuthentication client = DotNetClient(package, Password);
        using NegotiateServerContext server = Server();

        (NegotiateAuthenticationStatusCode clientStatus, NlaStatus serverStatus) = Run(client, server, Password);

        Assert.Equal(NlaStatus.Completed, serverStatus);
        Assert.Equal(NegotiateAuthenticationStatusCode.Completed, clientStatus);
        Assert.Equal(expectSpnego, server.IsSpnego);
        Assert.True(server.Ntlm.PasswordVerified);

        // The session keys agree after the mechListMIC exchange: .NET's Wrap unwraps here, and ours in .NET.
        var wrapped = new System.Buffers.ArrayBufferWriter<byte>();
        Assert.Equal(NegotiateAuthenticationStatusCode.Completed, client.Wrap("pubKeyAuth"u8, wrapped, true, out _));
        Assert.Equal("pubKeyAuth"u8.ToArray(), server.SessionSecurity!.Unwrap(wrapped.WrittenSpan));
        var unwrapped = new System.Buffers.ArrayBufferWriter<byte>();
        Assert.Equal(NegotiateAuthenticationStatusCode.Completed, client.Unwrap(server.SessionSecurity.Wrap("reply"u8), unwrapped, out _));
        Assert.Equal("reply"u8.ToArray(), unwrapped.WrittenSpan.ToArray());
    }

    [Theory]
    [InlineData("Negotiate")]
    [InlineData("NTLM")]
    public void GetOutgoingBlob_DotNetManagedClientWrongPassword_ServerFailsWithLogonFailure(string package)
    {
        using NegotiateAuthentication client = DotNetClient(package, "not the password");
        using NegotiateServerContext server = Server();

        (_, NlaStatus serverStatus) = Run(client, server, Password);

        Assert.Equal(NlaStatus.Failed, serverStatus);
        Assert.Equal(NtStatus.LogonFailure, server.FailureStatus);
        Assert.False(server.Ntlm.PasswordVerified);
    }

    [Theory]
    [InlineData(false, false, NlaStatus.Completed)]
    [InlineData(false, true, NlaStatus.Completed)]
    [InlineData(true, false, NlaStatus.Completed)]
    [InlineData(true, true, NlaStatus.Failed)]
    public void GetOutgoingBlob_SpnegoMechListMic_RequiredOnlyWhenTheNtlmMicWasVerified(bool sendNtlmMic, bool stripMechListMic, NlaStatus expected)
    {
        // Without an NTLM MIC the mechListMIC is not mandatory (NTLM was the first mechanism); one that is sent is verified.
        using var client = new NegotiateClientContext(
            new NtlmClientOptions
            {
                UserName = User,
                DomainName = Domain,
                Password = Password,
                TimeProvider = TimeProvider.System,
                RandomSource = new SeededRandomSource(7),
                SendMic = sendNtlmMic,
            },
            useSpnego: true);
        using NegotiateServerContext server = Server();
        byte[] challenge = server.GetOutgoingBlob(client.GetOutgoingBlob([], out _), out NlaStatus status)!;
        Assert.Equal(NlaStatus.ContinueNeeded, status);
        NegTokenResp authenticate = NegTokenResp.Decode(client.GetOutgoingBlob(challenge, out _));
        Assert.NotNull(authenticate.MechListMic);
        byte[] sent = stripMechListMic ? new NegTokenResp { ResponseToken = authenticate.ResponseToken }.Encode() : authenticate.Encode();

        Assert.Null(server.GetOutgoingBlob(sent, out status));
        Assert.Equal(NlaStatus.CredentialLookupNeeded, status);
        server.ProvideCredential(NtlmCredentialLookup.Found(NtlmCrypto.NtOwfV1(Password)));
        byte[]? final = server.GetOutgoingBlob([], out status);

        Assert.Equal(expected, status);
        Assert.Equal(sendNtlmMic, server.Ntlm.MicVerified);
        Assert.True(server.Ntlm.PasswordVerified);
        if (expected == NlaStatus.Completed)
        {
            NegTokenResp accepted = NegTokenResp.Decode(final);
            Assert.Equal(NegState.AcceptCompleted, accepted.State);
            // The server answers a mechListMIC with its own, and sends none when it received none.
            Assert.Equal(stripMechListMic, accepted.MechListMic is null);
        }
        else
        {
            Assert.Equal(NtStatus.DowngradeDetected, server.FailureStatus);
            Assert.Equal(NegState.Reject, NegTokenResp.Decode(final).State);
        }
    }

    [Fact]
    public void GetOutgoingBlob_KerberosAndNegoExListedFirst_PicksNtlmWithRequestMicAndIgnoresOptimisticToken()
    {
        // Entra-joined Windows 11 mstsc lists NEGOEX before NTLM with an optimistic NEGOEX token (FreeRDP#13168).
        using NegotiateServerContext server = Server();
        var init = new NegTokenInit([SpnegoOids.MsKerberos, SpnegoOids.Kerberos, SpnegoOids.NegoEx, SpnegoOids.Ntlm], mechToken: [0x60, 0x01, 0x00]);

        byte[]? reply = server.GetOutgoingBlob(init.Encode(), out NlaStatus status);

        Assert.Equal(NlaStatus.ContinueNeeded, status);
        NegTokenResp response = NegTokenResp.Decode(reply);
        Assert.Equal(NegState.RequestMic, response.State);
        Assert.Equal(SpnegoOids.Ntlm, response.SupportedMech);
        Assert.Null(response.ResponseToken);
    }

    [Fact]
    public void GetOutgoingBlob_OnlyKerberosOffered_FailsAsUnsupportedMechanism()
    {
        using NegotiateServerContext server = Server();
        var init = new NegTokenInit([SpnegoOids.Kerberos], mechToken: [0x60, 0x01, 0x00]);

        byte[]? reply = server.GetOutgoingBlob(init.Encode(), out NlaStatus status);

        Assert.Equal(NlaStatus.Failed, status);
        Assert.Equal(NlaFailureReason.UnsupportedMechanism, server.FailureReason);
        Assert.Equal(NegState.Reject, NegTokenResp.Decode(reply).State);
    }

    [Fact]
    public void GetOutgoingBlob_GarbageFirstToken_FailsWithoutThrowing()
    {
        using NegotiateServerContext server = Server();

        server.GetOutgoingBlob([0x60, 0x80, 0xFF, 0x00], out NlaStatus status);

        Assert.Equal(NlaStatus.Failed, status);
        Assert.Equal(NlaFailureReason.Malformed, server.FailureReason);
    }
}
