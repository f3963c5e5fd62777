using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using Microsoft.Extensions.Time.Testing;
using RdpNla.Tests.Support;
using RdpNla.Server.Gateway;

namespace RdpNla.Tests.Gateway;

/// <summary>
/// Stopping the server (what SIGTERM does) with a relayed session open: the session goes on for exactly
/// <c>Gateway:DrainTimeout</c> on the gateway's clock, then it is closed and audited as a shutdown.
/// </summary>
public class GatewayDrainTests
{
    // Far longer than the hang guard: only the gateway's clock can end the drain within the test.
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromMinutes(10);

    // Only a guard against a hang: with the fake clock nothing here waits for real time.
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ServerStopping_RelaysUntilTheDrainTime_ThenClosesTheSession()
    {
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using var backend = new TlsEchoBackend();
        await using TestFrontDoor door = await TestFrontDoor.StartAsync(
            o =>
            {
                o.Gateway.DefaultBackend = backend.Address;
                o.Gateway.CertificateValidation = BackendCertificateValidation.None;
                o.Gateway.MaxSessionLength = TimeSpan.Zero;
                o.Gateway.IdleTimeout = TimeSpan.Zero;
                o.Gateway.DrainTimeout = DrainTimeout;
            },
            timeProvider: time);
        await door.Database.Gateway.SetBackendSecurityAsync(backend.Address, BackendSecurity.Tls, Ct);
        await door.AddUserAsync("alice", GatewayTestClient.Password);
        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, door.Port, Ct);
        using SslStream session = await GatewayTestClient.ConnectAsync(tcp.GetStream());
        await GatewayTestClient.EchoAsync(session, 1);

        // The server closes its listener once every session has been told to drain: a refused connection is the signal.
        Task stopping = door.Host.Server.StopAsync(Ct);
        await WaitUntilRefusedAsync(door.Port);
        time.Advance(DrainTimeout - TimeSpan.FromTicks(1));
        await GatewayTestClient.EchoAsync(session, 2);
        time.Advance(TimeSpan.FromTicks(1));
        int read = await session.ReadAsync(new byte[1], Ct).AsTask().WaitAsync(HangGuard, Ct);
        await stopping.WaitAsync(HangGuard, Ct);

        Assert.Equal(0, read);
        GatewaySessionRecord record = await door.WaitForGatewaySessionAsync("alice");
        Assert.Equal("shutdown", record.Outcome);
        Assert.Equal($"the server stopped; the session was closed after the drain time of {DrainTimeout}", record.Reason);
        Assert.Equal(1, backend.Accepted);
    }

    private static async Task WaitUntilRefusedAsync(int port)
    {
        while (true)
        {
            using var probe = new TcpClient();
            try
            {
                await probe.ConnectAsync(IPAddress.Loopback, port, Ct);
            }
            catch (SocketException)
            {
                return;
            }

            await Task.Delay(20, Ct);
        }
    }
}
