using System.Net;
using System.Net.Sockets;
using System.Text;
using Microsoft.Extensions.Diagnostics.Metrics.Testing;
using Microsoft.Extensions.Time.Testing;
using RdpNla.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Protocol.Rdp;
using RdpNla.Server.Audit;
using RdpNla.Server.FrontDoor;

namespace RdpNla.Tests.FrontDoor;

/// <summary>Pre-authentication hardening end to end: PROXY protocol, per-source penalties, slowloris, metrics.</summary>
public class FrontDoorHardeningTests
{
    private const string Password = "Passw0rd!";
    private const SecurityProtocols Nla = SecurityProtocols.Ssl | SecurityProtocols.Hybrid;

    private static async Task<bool> IsRefusedAtAcceptAsync(int port, CancellationToken ct)
    {
        using var tcp = new TcpClient();
        try
        {
            await tcp.ConnectAsync(IPAddress.Loopback, port, ct);
            await tcp.GetStream().WriteAsync(new X224ConnectionRequest("x", new RdpNegRequest(RdpNegRequestFlags.None, Nla)).Encode(), ct);
            return await tcp.GetStream().ReadAsync(new byte[64], ct) == 0;
        }
        catch (Exception ex) when (ex is IOException or SocketException)
        {
            // Reset at accept (LINGER 0): the connect itself or the first read sees it.
            return true;
        }
    }

    [Fact]
    public async Task Connect_ThroughTrustedProxy_AuditsTheAddressFromTheProxyHeader()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using TestFrontDoor door = await TestFrontDoor.StartAsync(o => o.TrustedProxies = ["127.0.0.0/8"]);
        await door.AddUserAsync("alice", Password);

        TestRdpOutcome outcome = await TestRdpClient.ConnectAsync(
            door.Port, Nla, "alice", Password, preamble: Encoding.ASCII.GetBytes("PROXY TCP4 203.0.113.7 127.0.0.1 50123 3389\r\n"), cancellationToken: ct);

        Assert.Equal(NlaStatus.Completed, outcome.CredSspStatus);
        AuditEntry row = Assert.Single(await door.WaitForAuditAsync(1));
        Assert.Equal("203.0.113.7", row.ClientAddress);
        Assert.Equal(50123, row.ClientPort);
        Assert.Contains("PROXY protocol header: the client is 203.0.113.7:50123", door.LogText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_ProxyHeaderFromUntrustedPeer_IsNotRdpAndIsRefused()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using TestFrontDoor door = await TestFrontDoor.StartAsync();
        await door.AddUserAsync("alice", Password);

        TestRdpOutcome outcome = await TestRdpClient.ConnectAsync(
            door.Port, Nla, "alice", Password, preamble: Encoding.ASCII.GetBytes("PROXY TCP4 203.0.113.7 127.0.0.1 50123 3389\r\n"), cancellationToken: ct);

        Assert.Null(outcome.CredSspStatus);
        AuditEntry row = Assert.Single(await door.WaitForAuditAsync(1));
        Assert.Equal("127.0.0.1", row.ClientAddress);
        Assert.Contains("Not a TPKT header: 50 52 4F 58", door.LogText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_FromTrustedProxyWithoutHeader_IsAProtocolViolation()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using TestFrontDoor door = await TestFrontDoor.StartAsync(o => o.TrustedProxies = ["127.0.0.1"]);

        TestRdpOutcome outcome = await TestRdpClient.ConnectAsync(door.Port, Nla, "alice", Password, cancellationToken: ct);

        Assert.Null(outcome.CredSspStatus);
        Assert.Equal(AuditOutcome.Error, Assert.Single(await door.WaitForAuditAsync(1)).Outcome);
        Assert.Contains("PROXY: Not a PROXY protocol v1 line", door.LogText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_RepeatedWrongPasswords_PenalizeTheSourceUntilItDecays()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using TestFrontDoor door = await TestFrontDoor.StartAsync(
            o =>
            {
                o.Limits.PenaltyAuthenticationFailure = TimeSpan.FromSeconds(2);
                o.Limits.PenaltyThreshold = TimeSpan.FromSeconds(6);
            },
            timeProvider: clock);
        await door.AddUserAsync("alice", Password);
        using var rejections = new MetricCollector<long>(door.Host.Metrics.Meter, "rdpnla.server.rejections");
        using var penalties = new MetricCollector<long>(door.Host.Metrics.Meter, "rdpnla.server.penalties");

        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(NtStatus.LogonFailure, (await TestRdpClient.ConnectAsync(door.Port, Nla, "alice", "wrong", cancellationToken: ct)).ServerErrorCode);
        }

        // Even the right password is refused while 127.0.0.1 serves its penalty: it never reaches CredSSP.
        Assert.True(await IsRefusedAtAcceptAsync(door.Port, ct));
        Assert.Equal(1, penalties.GetMeasurementSnapshot().Sum(m => m.Value));
        Assert.Contains(rejections.GetMeasurementSnapshot(), m => (string?)m.Tags["reason"] == "penalty");
        Assert.Contains("Source 127.0.0.1 is refused until", door.LogText, StringComparison.Ordinal);

        clock.Advance(TimeSpan.FromSeconds(6));
        Assert.Equal(NlaStatus.Completed, (await TestRdpClient.ConnectAsync(door.Port, Nla, "alice", Password, cancellationToken: ct)).CredSspStatus);
        Assert.Equal(4, (await door.WaitForAuditAsync(4)).Count); // the refused connection is counted, not audited
    }

    [Fact]
    public async Task Connect_SlowlorisTrickle_IsClosedBelowTheMinimumDataRate()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using TestFrontDoor door = await TestFrontDoor.StartAsync(o =>
        {
            o.Limits.MinDataRate = 50;
            o.Limits.MinDataRateGracePeriod = TimeSpan.FromMilliseconds(300);
            o.Limits.NegotiationTimeout = TimeSpan.FromSeconds(30);
            o.Limits.HandshakeTimeout = TimeSpan.FromSeconds(30);
        });
        byte[] request = new X224ConnectionRequest("slow", new RdpNegRequest(RdpNegRequestFlags.None, Nla)).Encode();
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, door.Port, ct);
        NetworkStream stream = tcp.GetStream();
        var watch = System.Diagnostics.Stopwatch.StartNew();

        bool closed = false;
        for (int i = 0; i < request.Length && !closed; i++)
        {
            try
            {
                await stream.WriteAsync(request.AsMemory(i, 1), ct);
                await Task.Delay(100, ct);
                closed = tcp.Client.Poll(0, SelectMode.SelectRead) && tcp.Available == 0;
            }
            catch (IOException)
            {
                closed = true;
            }
        }

        Assert.True(closed, "the server kept a client trickling 10 bytes/s");
        Assert.Contains("below the minimum of 50 bytes/s (Limits:MinDataRate)", door.LogText, StringComparison.Ordinal);
        Assert.Equal(AuditOutcome.Error, Assert.Single(await door.WaitForAuditAsync(1)).Outcome);
    }

    [Fact]
    public async Task Metrics_HandshakesByResultAndVersion_AreCountedAndExportedToPrometheus()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        (TestFrontDoor door, int metricsPort) = await TestFrontDoor.StartWithMetricsAsync();
        await using TestFrontDoor disposing = door;
        await door.AddUserAsync("alice", Password);
        using var handshakes = new MetricCollector<long>(door.Host.Metrics.Meter, "rdpnla.server.handshakes");
        using var duration = new MetricCollector<double>(door.Host.Metrics.Meter, "rdpnla.server.handshake.duration");

        await TestRdpClient.ConnectAsync(door.Port, Nla, "alice", Password, cancellationToken: ct);
        await TestRdpClient.ConnectAsync(door.Port, Nla, "alice", "wrong", cancellationToken: ct);
        await TestRdpClient.ConnectAsync(door.Port, Nla, "alice", "wrong", maxVersion: 4, policy: Protocol.CredSsp.EncryptionOraclePolicy.Vulnerable, cancellationToken: ct);
        await door.WaitForAuditAsync(3);
        await handshakes.WaitForMeasurementsAsync(3, TimeSpan.FromSeconds(10));

        var byResult = handshakes.GetMeasurementSnapshot().Select(m => ((string?)m.Tags["result"], (string?)m.Tags["credssp.version"])).ToList();
        Assert.Contains(("success", "6"), byResult);
        Assert.Contains(("failure", "6"), byResult);
        Assert.Contains(("failure", "4"), byResult);
        Assert.All(duration.GetMeasurementSnapshot(), m => Assert.InRange(m.Value, 0, 30));

        // The pending gauge drops when a connection's task ends, a moment after its audit row: scrape until it settles.
        using var http = new HttpClient();
        string text = "";
        for (int i = 0; i < 100 && !text.Contains("rdpnla_server_connections_pending 0", StringComparison.Ordinal); i++)
        {
            await Task.Delay(i == 0 ? 0 : 50, ct);
            text = await http.GetStringAsync($"http://127.0.0.1:{metricsPort}/metrics/", ct);
        }

        Assert.Contains("rdpnla_server_handshakes_total{credssp_version=\"6\",result=\"success\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("rdpnla_server_handshakes_total{credssp_version=\"6\",result=\"failure\"} 1", text, StringComparison.Ordinal);
        Assert.Contains("# TYPE rdpnla_server_handshake_duration histogram", text, StringComparison.Ordinal);
        Assert.Contains("rdpnla_server_handshake_duration_count{result=\"failure\"} 2", text, StringComparison.Ordinal);
        Assert.Contains("rdpnla_server_connections_pending 0", text, StringComparison.Ordinal);
    }
}
