using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Negotiate;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Tests.Ntlm;

namespace RdpNla.Protocol.Tests.Connection;

/// <summary>The six protocol contexts seen through their one contract, <see cref="IAuthenticationContext"/>.</summary>
public class AuthenticationContextContractTests
{
    private const string Password = "S3cret!";

    private static readonly byte[] ServerKey = [.. Enumerable.Range(0, 64).Select(i => (byte)i)];

    private static NtlmServerOptions ServerNtlm() => new()
    {
        NbComputerName = "SERVER1",
        NbDomainName = "SERVER1",
        TimeProvider = new FixedTimeProvider(NtlmTestPeers.Now),
        RandomSource = new SeededRandomSource(2),
    };

    private static NtlmClientOptions ClientNtlm(string password) => new()
    {
        UserName = "alice",
        DomainName = "WORKGROUP",
        Password = password,
        Workstation = "CLIENT1",
        TargetName = "TERMSRV/server1",
        TimeProvider = new FixedTimeProvider(NtlmTestPeers.Now),
        RandomSource = new SeededRandomSource(1),
    };

    public static TheoryData<string> Layers() => ["NTLM", "SPNEGO", "CredSSP"];

    private static (IAuthenticationContext Client, IAuthenticationContext Server, Action<NtlmCredentialLookup> Provide) Pair(string layer, string password)
    {
        switch (layer)
        {
            case "NTLM":
            {
                var server = new NtlmServerContext(ServerNtlm());
                return (new NtlmClientContext(ClientNtlm(password)), server, server.ProvideCredential);
            }

            case "SPNEGO":
            {
                var server = new NegotiateServerContext(ServerNtlm());
                return (new NegotiateClientContext(ClientNtlm(password), useSpnego: true), server, server.ProvideCredential);
            }

            default:
            {
                var server = new CredSspServerContext(new CredSspServerOptions { ServerPublicKey = ServerKey, Ntlm = ServerNtlm() });
                var client = new CredSspClientContext(new CredSspClientOptions { ServerPublicKey = ServerKey, Ntlm = ClientNtlm(password) }, new SeededRandomSource(3));
                return (client, server, server.ProvideCredential);
            }
        }
    }

    /// <summary>Runs the exchange through the contract alone; returns the server's last status.</summary>
    private static NlaStatus Run(IAuthenticationContext client, IAuthenticationContext server, Action<NtlmCredentialLookup> provide)
    {
        byte[]? token = client.GetOutgoingBlob([], out NlaStatus clientStatus);
        NlaStatus serverStatus = NlaStatus.ContinueNeeded;
        for (int legs = 0; legs < 10 && token is not null; legs++)
        {
            byte[]? answer = server.GetOutgoingBlob(token, out serverStatus);
            if (serverStatus == NlaStatus.CredentialLookupNeeded)
            {
                provide(NtlmCredentialLookup.Found(NtlmCrypto.NtOwfV1(Password)));
                answer = server.GetOutgoingBlob([], out serverStatus);
            }

            if (answer is null || serverStatus == NlaStatus.Failed || clientStatus == NlaStatus.Completed)
            {
                break;
            }

            token = client.GetOutgoingBlob(answer, out clientStatus);
        }

        return serverStatus;
    }

    [Theory]
    [MemberData(nameof(Layers))]
    public void A_successful_exchange_completes_both_sides_with_no_failure_reason(string layer)
    {
        (IAuthenticationContext client, IAuthenticationContext server, Action<NtlmCredentialLookup> provide) = Pair(layer, Password);
        using (client)
        using (server)
        {
            Assert.False(server.IsCompleted);
            Assert.Equal(NlaStatus.Completed, Run(client, server, provide));
            Assert.True(server.IsCompleted);
            Assert.Equal(NlaFailureReason.None, server.FailureReason);
            Assert.Equal(NlaFailureReason.None, client.FailureReason);
            Assert.Null(server.FailureMessage);
            Assert.Equal("NTLM", server.PackageName);
            Assert.Equal("NTLM", client.PackageName);
        }
    }

    [Theory]
    [MemberData(nameof(Layers))]
    public void A_wrong_password_fails_the_server_with_a_reason(string layer)
    {
        (IAuthenticationContext client, IAuthenticationContext server, Action<NtlmCredentialLookup> provide) = Pair(layer, "not-the-password");
        using (client)
        using (server)
        {
            Assert.Equal(NlaStatus.Failed, Run(client, server, provide));
            Assert.False(server.IsCompleted);
            Assert.Equal(NlaFailureReason.AuthenticationFailed, server.FailureReason);
            Assert.NotNull(server.FailureMessage);
        }
    }
}
