using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using RdpNla.Tests.Support;
using RdpNla.Server.Gateway;

namespace RdpNla.Tests.Gateway;

/// <summary>
/// The gateway's meter, read where an operator reads it: the Prometheus endpoint of <c>--metrics-listen</c>, after a
/// real relayed session to the TLS echo backend and a backend leg refused as a downgrade.
/// </summary>
public class GatewayMetricsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RelayedSession_AndRefusedDowngrade_AreExportedToPrometheus()
    {
        await using var echo = new TlsEchoBackend();
        (TestFrontDoor door, int metricsPort) = await TestFrontDoor.StartWithMetricsAsync(o =>
        {
            o.Gateway.DefaultBackend = echo.Address;
            o.Gateway.CertificateValidation = BackendCertificateValidation.None;
        });
        await using TestFrontDoor disposing = door;
        await door.Database.Gateway.SetBackendSecurityAsync(echo.Address, BackendSecurity.Tls, Ct);
        await door.AddUserAsync("alice", GatewayTestClient.Password);
        using var http = new HttpClient();
        string url = $"http://127.0.0.1:{metricsPort}/metrics/";

        using (var tcp = new TcpClient { NoDelay = true })
        {
            await tcp.ConnectAsync(IPAddress.Loopback, door.Port, Ct);
            using SslStream session = await GatewayTestClient.ConnectAsync(tcp.GetStream());
            await GatewayTestClient.EchoAsync(session, 0x5A);

            AssertSeries(
                await http.GetStringAsync(url, Ct),
                "rdpnla_gateway_sessions_active 1",
                "rdpnla_gateway_backend_connects_total{outcome=\"success\",reason=\"none\"} 1",
                "rdpnla_gateway_credential_injections_total{mode=\"pass-through\"} 1",
                "rdpnla_gateway_backend_connect_duration_count{outcome=\"success\"} 1");
        }

        GatewaySessionRecord relayed = await door.WaitForGatewaySessionAsync("alice");
        Assert.Equal("closed", relayed.Outcome);

        // The same backend now has to speak NLA; it still selects TLS: the gateway refuses the leg as a downgrade.
        await door.Database.Gateway.SetBackendSecurityAsync(echo.Address, BackendSecurity.Nla, Ct);
        using (var tcp = new TcpClient { NoDelay = true })
        {
            await tcp.ConnectAsync(IPAddress.Loopback, door.Port, Ct);
            using SslStream refused = await GatewayTestClient.ConnectAsync(tcp.GetStream(), expectConnectResponse: false);
            Assert.Equal(0, await refused.ReadAsync(new byte[1], Ct));
        }

        GatewaySessionRecord downgrade = await door.WaitForGatewaySessionAsync("alice", relayed.Id);
        Assert.Equal("protocol-downgrade", downgrade.Outcome);

        // The active gauge drops when the relay task ends, a moment after its audit row: scrape until it settles.
        string text = "";
        for (int i = 0; i < 100 && !text.Contains("rdpnla_gateway_sessions_active 0", StringComparison.Ordinal); i++)
        {
            await Task.Delay(i == 0 ? 0 : 50, Ct);
            text = await http.GetStringAsync(url, Ct);
        }

        AssertSeries(
            text,
            "rdpnla_gateway_sessions_active 0",
            "rdpnla_gateway_backend_connects_total{outcome=\"success\",reason=\"none\"} 1",
            "rdpnla_gateway_backend_connects_total{outcome=\"failure\",reason=\"protocol_downgrade\"} 1",
            "rdpnla_gateway_downgrade_refusals_total{reason=\"protocol_downgrade\"} 1",
            "rdpnla_gateway_credential_injections_total{mode=\"pass-through\"} 1",
            "# TYPE rdpnla_gateway_backend_connect_duration histogram",
            "rdpnla_gateway_backend_connect_duration_count{outcome=\"failure\"} 1");

        // Every byte the audit row counts went through the counters, each way (the echo's 100 bytes included).
        Assert.Equal(relayed.BytesToBackend, Counter(text, "rdpnla_gateway_relayed_bytes_total{direction=\"to_backend\"}"));
        Assert.Equal(relayed.BytesToClient, Counter(text, "rdpnla_gateway_relayed_bytes_total{direction=\"to_client\"}"));
        Assert.True(relayed.BytesToClient > 100, $"{relayed.BytesToClient} bytes to the client");
    }

    private static void AssertSeries(string exposition, params string[] series) =>
        Assert.All(series, line => Assert.Contains(line, exposition, StringComparison.Ordinal));

    private static long Counter(string exposition, string series)
    {
        Match match = Regex.Match(exposition, "^" + Regex.Escape(series) + " ([0-9]+)$", RegexOptions.Multiline);
        Assert.True(match.Success, $"{series} is missing:\n{exposition}");
        return long.Parse(match.Groups[1].Value, CultureInfo.InvariantCulture);
    }
}
