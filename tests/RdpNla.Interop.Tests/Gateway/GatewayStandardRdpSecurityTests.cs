using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using RdpNla.Tests.Support;
using RdpNla.Server.Gateway;

namespace RdpNla.Tests.Gateway;

/// <summary>
/// A backend that offers only Standard RDP Security is refused with its own log line (event 2014) and a clean
/// disconnect, whichever way it says so: xrdp (security_layer=rdp) selects PROTOCOL_RDP, freerdp-shadow-cli (/sec:rdp)
/// answers RDP_NEG_FAILURE SSL_NOT_ALLOWED_BY_SERVER (docs/interop.md#freerdp-shadow).
/// </summary>
public class GatewayStandardRdpSecurityTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task XrdpWithSecurityLayerRdp_IsRefusedByName()
    {
        await using XrdpServer xrdp = await XrdpServer.StartAsync("rdp");

        await AssertRefusedAsync(xrdp.Address, "the backend selected PROTOCOL_RDP (Standard RDP Security)");
    }

    [Fact]
    public async Task FreeRdpShadowWithSecRdp_IsRefusedByName()
    {
        await using GatewayShadowBackend shadow = await GatewayShadowBackend.StartAsync("rdp", ("alice", GatewayTestClient.Password));

        await AssertRefusedAsync(shadow.Address, "the backend answered RDP_NEG_FAILURE SSL_NOT_ALLOWED_BY_SERVER");
    }

    private static async Task AssertRefusedAsync(string backend, string reason)
    {
        await using TestFrontDoor door = await TestFrontDoor.StartAsync(o => o.Gateway.DefaultBackend = backend);
        await door.AddUserAsync("alice", GatewayTestClient.Password);

        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, door.Port, Ct);
        using SslStream tls = await GatewayTestClient.ConnectAsync(tcp.GetStream(), expectConnectResponse: false);

        Assert.Equal(0, await tls.ReadAsync(new byte[1], Ct)); // a clean disconnect: close_notify, then FIN
        GatewaySessionRecord session = await door.WaitForGatewaySessionAsync("alice");
        Assert.Equal("negotiation-failed", session.Outcome);
        Assert.StartsWith(reason, session.Reason, StringComparison.Ordinal);
        Assert.Contains($"Backend {backend} offers only Standard RDP Security (PROTOCOL_RDP), which the gateway does not relay; set the backend to TLS (xrdp: security_layer=tls); disconnecting the client", door.LogText);
    }
}
