using System.Net.Security;
using System.Security.Authentication;
using RdpNla.Protocol.Connection;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Rdp;
using RdpNla.Transport;

namespace RdpNla.Tests.Support;

/// <summary>The client security phase as the test clients run it: our connector and driver, any certificate accepted.</summary>
internal static class TestSecurityPhase
{
    /// <summary>TLS 1.2 or 1.3 to <paramref name="targetHost"/>; the test servers' self-signed certificates are accepted.</summary>
    public static ClientSecurityPhaseOptions AnyCertificate(string targetHost = "localhost", bool leaveInnerStreamOpen = true) => new()
    {
        Tls = new SslClientAuthenticationOptions { TargetHost = targetHost, EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13 },
        ServerCertificateValidation = (_, _, _) => ValueTask.FromResult(true),
        LeaveInnerStreamOpen = leaveInnerStreamOpen,
    };

    /// <summary>A connector asking for <paramref name="requested"/> (no RDP_NEG_REQ when null) with the cookie <paramref name="cookie"/>.</summary>
    public static RdpClientConnector Connector(
        string? cookie,
        SecurityProtocols? requested,
        Func<ReadOnlyMemory<byte>, CredSspClientOptions>? credSsp,
        ClientSecurityStage stopAfter = ClientSecurityStage.Authorization) =>
        new(new RdpClientConnectorOptions
        {
            ConnectionRequest = new X224ConnectionRequest(cookie, requested is { } protocols ? new RdpNegRequest(RdpNegRequestFlags.None, protocols) : null),
            AllowTlsWithoutNla = stopAfter is ClientSecurityStage.Tls or ClientSecurityStage.ConnectionConfirm,
            StopAfter = stopAfter,
            CredSsp = credSsp,
            RandomSource = credSsp is null ? null : SystemRandomSource.Instance,
        });

    /// <summary>NTLM with a password, the CredSSP defaults otherwise.</summary>
    public static Func<ReadOnlyMemory<byte>, CredSspClientOptions> Password(string user, string domain, string password) => key => new CredSspClientOptions
    {
        ServerPublicKey = key,
        Ntlm = new NtlmClientOptions { UserName = user, DomainName = domain, Password = password, TimeProvider = TimeProvider.System, RandomSource = SystemRandomSource.Instance },
    };

    /// <summary>X.224 and TLS only: the TLS stream, for a test that goes on by hand (its own CredSSP peer, malformed input).</summary>
    /// <param name="expected">The protocol the server must select, when the test relies on one.</param>
    public static async Task<SslStream> TlsAsync(Stream network, SecurityProtocols requested, string cookie, string targetHost, CancellationToken cancellationToken, SecurityProtocols? expected = null)
    {
        using RdpClientConnector connector = Connector(cookie, requested, null, ClientSecurityStage.Tls);
        ClientSecurityPhaseResult result = await SecurityPhaseDriver.RunClientAsync(network, connector, AnyCertificate(targetHost), cancellationToken);
        Assert.True(result.Succeeded, $"X.224/TLS failed: {connector.SelectionFailure} {connector.ConnectionConfirm}");
        if (expected is { } protocol)
        {
            Assert.Equal(protocol, connector.SelectedProtocol);
        }

        return result.Tls!;
    }
}
