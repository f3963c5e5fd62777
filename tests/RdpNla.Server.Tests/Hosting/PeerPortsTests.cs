using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using RdpNla.Tests.Support;

namespace RdpNla.Tests.Hosting;

/// <summary>
/// The wait every fixture uses before it talks to a peer it started (rdpnla serve, xrdp, HAProxy, ...): only the peer's
/// own listener counts. A free port from <see cref="PeerPorts.GetFreePort"/> can be handed to two test processes; the
/// second peer then fails to bind, and a wait on any listener took the first one's for its own (a test then timed out
/// waiting for a systemd notification from a serve that had exited with "cannot listen").
/// </summary>
public sealed class PeerPortsTests
{
    [Fact]
    public async Task WaitForListener_AnotherProcessListensOnThePort_DoesNotCount_TheOwnersListenerDoes()
    {
        using var foreign = new TcpListener(IPAddress.Loopback, 0);
        foreign.Start();
        int port = ((IPEndPoint)foreign.LocalEndpoint).Port;
        Process owner = ExternalProcess.Start("sleep", ["30"], null, new StringBuilder());
        try
        {
            Assert.False(await PeerPorts.WaitForListenerAsync(port, TimeSpan.FromMilliseconds(500), owner));

            // This test process listens on the port: as its owner, the wait finds it at once.
            using Process self = Process.GetCurrentProcess();
            Assert.True(await PeerPorts.WaitForListenerAsync(port, TimeSpan.FromSeconds(5), self));
        }
        finally
        {
            await ExternalProcess.StopAsync(owner);
        }
    }
}
