using System.Net;
using System.Net.Http;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using RdpNla.Tests.Gateway;
using RdpNla.Tests.Support;
using RdpNla.Protocol.Rdp;
using RdpNla.Server.Metrics;
using RdpNla.Transport;

namespace RdpNla.Tests.Hosting;

/// <summary>
/// The real <c>rdpnla serve</c> process under a service manager (deploy/rdpnla.service, docs/deploy.md): the systemd
/// notifications and their order on a fake <c>NOTIFY_SOCKET</c>, SIGHUP re-reading the settings file and the
/// certificate files while a relayed session goes on, refusing an invalid file on one line, <c>/health</c>, and the
/// OTLP export (the SDK's real OTLP/HTTP protobuf exporter to a loopback receiver): a span per connection with a child per
/// handshake phase (X.224, TLS, CredSSP with the account check inside it, backend connect), the front door's meter,
/// and no password anywhere in what is sent.
/// </summary>
public sealed class ServiceManagerTests : IAsyncDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("rdpnla-service-").FullName;
    private ServeProcess? _server;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task NotifySocket_ReadyAfterBindAndStore_ReloadingThenReadyOnSighup_StoppingOnSigterm(bool abstractName)
    {
        // sd_notify(3): a path, or an abstract name written with '@' for the leading NUL.
        string name = abstractName ? $"@rdpnla-test-{Guid.NewGuid():N}" : Path.Combine(_root, "notify.sock");
        using var notify = new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified);
        notify.Bind(new UnixDomainSocketEndPoint(abstractName ? "\0" + name[1..] : name));
        string data = Path.Combine(_root, "data");
        string config = Path.Combine(_root, "serve.json");
        await File.WriteAllTextAsync(config, "{}", Ct);

        _server = await ServeProcess.StartAsync(data, config, new Dictionary<string, string> { ["NOTIFY_SOCKET"] = name });
        string ready = await ReceiveAsync(notify);
        Assert.StartsWith("READY=1\n", ready, StringComparison.Ordinal);
        // The port is chosen by the test and bound by the server: READY=1 names it, so it came after the bind; the
        // store is opened before the listeners.
        Assert.Contains($"STATUS=Listening on 127.0.0.1:{_server.Port}", ready, StringComparison.Ordinal);
        Assert.Contains($"MAINPID={_server.Process.Id}", ready, StringComparison.Ordinal);
        Assert.True(File.Exists(RdpNla.Server.Storage.DataDirectory.GetDatabasePath(data)), "READY=1 before the store exists");

        await _server.SignalAsync("HUP");
        string reloading = await ReceiveAsync(notify);
        Assert.StartsWith("RELOADING=1\nMONOTONIC_USEC=", reloading, StringComparison.Ordinal);
        Assert.StartsWith("READY=1\n", await ReceiveAsync(notify), StringComparison.Ordinal);
        await _server.WaitForOutputAsync("Reloaded the settings");

        await _server.SignalAsync("TERM");
        Assert.StartsWith("STOPPING=1\n", await ReceiveAsync(notify), StringComparison.Ordinal);
        await _server.Process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct);
        Assert.True(_server.Process.ExitCode == 0, $"exit code {_server.Process.ExitCode}:\n{_server.Output}");
        Assert.Equal(0, notify.Available);
    }

    [Fact]
    public async Task Sighup_NewConnectionsGetTheNewCertificateAndSettings_RelayedSessionGoesOn_InvalidFileRefusedOnOneLine()
    {
        await using var backend = new TlsEchoBackend();
        string certificatePath = Path.Combine(_root, "tls.pem");
        string keyPath = Path.Combine(_root, "tls.key");
        (string data, string config) = await RelayToAsync(backend);
        string Settings(int maxVersion, string more = "") => RelaySettings(
            backend,
            $$""", "MaxCredSspVersion": {{maxVersion}}, "Certificate": { "CertificatePath": "{{certificatePath}}", "KeyPath": "{{keyPath}}" }{{more}}""");
        using X509Certificate2 first = TestCertificates.Create("rdpnla-reload-first");
        using X509Certificate2 second = TestCertificates.Create("rdpnla-reload-second");
        await WritePemAsync(first, certificatePath, keyPath);
        await File.WriteAllTextAsync(config, Settings(6), Ct);
        _server = await ServeProcess.StartAsync(data, config, "--domain", TestFrontDoor.Domain);

        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, _server.Port, Ct);
        using SslStream session = await GatewayTestClient.ConnectAsync(tcp.GetStream());
        Assert.Equal(Hash(first), Hash(session.RemoteCertificate!));
        await GatewayTestClient.EchoAsync(session, 1);
        Assert.Equal(6, (await NewConnectionAsync()).CredSspVersion);

        // Rotate the certificate and change a setting, then SIGHUP.
        await WritePemAsync(second, certificatePath, keyPath);
        await File.WriteAllTextAsync(config, Settings(5), Ct);
        await _server.SignalAsync("HUP");
        await _server.WaitForOutputAsync("Reloaded the settings: TLS certificate CN=rdpnla-reload-second");
        (byte[] certificate, int version) = await NewConnectionAsync();
        Assert.Equal(Hash(second), certificate);
        Assert.Equal(5, version);
        await GatewayTestClient.EchoAsync(session, 2);
        Assert.Equal(0, _server.Occurrences("takes effect after a restart"));

        // An invalid settings file: one line says why, and the settings of the last reload stay.
        await File.WriteAllTextAsync(config, Settings(9), Ct);
        await _server.SignalAsync("HUP");
        await _server.WaitForOutputAsync("Reload refused");
        string refusal = Assert.Single(_server.Output.Split('\n'), line => line.Contains("Reload refused", StringComparison.Ordinal));
        Assert.Contains("Reload refused, the previous settings stay in use: MaxCredSspVersion must be between 2 and 6; got 9.", refusal, StringComparison.Ordinal);

        // A settings file that does not parse, and a certificate whose key is gone: refused the same way.
        await File.WriteAllTextAsync(config, "{ \"MaxCredSspVersion\": ", Ct);
        await _server.SignalAsync("HUP");
        await _server.WaitForOutputAsync("Reload refused", 2);
        await File.WriteAllTextAsync(config, Settings(4), Ct);
        await File.WriteAllTextAsync(keyPath, "not a key", Ct);
        await _server.SignalAsync("HUP");
        await _server.WaitForOutputAsync("Reload refused", 3);
        Assert.Contains($"Cannot load the certificate '{certificatePath}'", _server.Output, StringComparison.Ordinal);
        Assert.Equal(1, _server.Occurrences("Reloaded the settings"));

        (certificate, version) = await NewConnectionAsync();
        Assert.Equal(Hash(second), certificate);
        Assert.Equal(5, version);
        await GatewayTestClient.EchoAsync(session, 3);

        // A setting that needs a restart: one line names it; the rest of the file is applied.
        await WritePemAsync(second, certificatePath, keyPath);
        await File.WriteAllTextAsync(config, Settings(6, """, "Limits": { "HandshakeTimeout": "00:00:15" }"""), Ct);
        await _server.SignalAsync("HUP");
        await _server.WaitForOutputAsync("Reloaded the settings", 2);
        Assert.Equal(1, _server.Occurrences("Reload: Limits changed in the settings; it takes effect after a restart"));
        Assert.Equal(6, (await NewConnectionAsync()).CredSspVersion);

        // The session relayed before the first reload still carries data (the gateway also opens a backend leg for each
        // new authenticated connection, so the backend's accept count says nothing about the old session).
        await GatewayTestClient.EchoAsync(session, 4);
        Assert.False(_server.Process.HasExited);
    }

    [Fact]
    public async Task Health_200WhileServing_503OnceTheListenersCloseForTheDrain()
    {
        await using var backend = new TlsEchoBackend();
        (string data, string config) = await RelayToAsync(backend);
        int metricsPort = PeerPorts.GetFreePort();
        _server = await ServeProcess.StartAsync(data, config, "--domain", TestFrontDoor.Domain, "--metrics-listen", $"127.0.0.1:{metricsPort}");
        await _server.WaitForOutputAsync("Serving Prometheus metrics"); // bound just after the RDP listener
        using var http = new HttpClient { BaseAddress = new Uri($"http://127.0.0.1:{metricsPort}") };

        using (HttpResponseMessage healthy = await http.GetAsync(new Uri("/health", UriKind.Relative), Ct))
        {
            Assert.Equal(HttpStatusCode.OK, healthy.StatusCode);
            Assert.Equal("ok\n", await healthy.Content.ReadAsStringAsync(Ct));
        }

        // A relayed session keeps the process in its drain after SIGTERM: the listeners are closed, /health says so.
        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, _server.Port, Ct);
        using SslStream session = await GatewayTestClient.ConnectAsync(tcp.GetStream());
        await GatewayTestClient.EchoAsync(session, 1);
        await _server.SignalAsync("TERM");
        HttpResponseMessage draining = await http.GetAsync(new Uri("/health", UriKind.Relative), Ct);
        for (int i = 0; draining.StatusCode == HttpStatusCode.OK && i < 100; i++)
        {
            draining.Dispose();
            await Task.Delay(50, Ct);
            draining = await http.GetAsync(new Uri("/health", UriKind.Relative), Ct);
        }

        using (draining)
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, draining.StatusCode);
            Assert.Equal("unhealthy: the listeners are closed (the server is stopping)\n", await draining.Content.ReadAsStringAsync(Ct));
        }

        await GatewayTestClient.EchoAsync(session, 2);
    }

    [Fact]
    public async Task RelayedSession_ExportsTheHandshakePhaseSpansAndTheMeterOverOtlpHttp()
    {
        await using var collector = new OtlpReceiver();
        await using var backend = new TlsEchoBackend();
        (string data, string config) = await RelayToAsync(backend, """, "OpenTelemetry": { "ExportInterval": "00:00:00.2", "ServiceName": "rdpnla-test" }""");
        _server = await ServeProcess.StartAsync(data, config, "--domain", TestFrontDoor.Domain, "--otlp-endpoint", collector.Endpoint);

        using (var tcp = new TcpClient { NoDelay = true })
        {
            await tcp.ConnectAsync(IPAddress.Loopback, _server.Port, Ct);
            using SslStream session = await GatewayTestClient.ConnectAsync(tcp.GetStream());
            await GatewayTestClient.EchoAsync(session, 1);
        }

        // SIGTERM: the process flushes its exporters before it exits.
        await _server.SignalAsync("TERM");
        await _server.Process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct);
        Assert.True(_server.Process.ExitCode == 0, $"exit code {_server.Process.ExitCode}:\n{_server.Output}");

        List<OtlpSpan> spans = collector.Bodies("/v1/traces").SelectMany(OtlpSpan.Parse).ToList();
        OtlpSpan connection = Assert.Single(spans, s => s.Name == FrontDoorTracing.Connection);
        foreach (string phase in new[] { FrontDoorTracing.X224, FrontDoorTracing.Tls, FrontDoorTracing.CredSsp, FrontDoorTracing.BackendConnect })
        {
            OtlpSpan span = Assert.Single(spans, s => s.Name == phase);
            Assert.Equal(Convert.ToHexString(connection.SpanId), Convert.ToHexString(span.ParentSpanId));
        }

        OtlpSpan credSsp = spans.Single(s => s.Name == FrontDoorTracing.CredSsp);
        OtlpSpan accountCheck = Assert.Single(spans, s => s.Name == FrontDoorTracing.AccountCheck);
        Assert.Equal(Convert.ToHexString(credSsp.SpanId), Convert.ToHexString(accountCheck.ParentSpanId));
        Assert.Contains(collector.Bodies("/v1/traces"), body => Contains(body, "rdpnla-test"));

        List<string> metrics = collector.Bodies("/v1/metrics").SelectMany(body => Protobuf.Strings(body, 1, 2, 2, 1)).ToList();
        Assert.Contains("rdpnla.server.handshakes", metrics);
        Assert.Contains("rdpnla.server.handshake.duration", metrics);
        Assert.Contains("rdpnla.gateway.backend.connects", metrics);
        Assert.Contains("rdpnla.gateway.relayed.bytes", metrics);

        foreach (byte[] body in collector.Bodies("/v1/traces").Concat(collector.Bodies("/v1/metrics")))
        {
            Assert.False(Contains(body, GatewayTestClient.Password), "the password was exported");
        }
    }

    private static bool Contains(byte[] body, string text) => body.AsSpan().IndexOf(Encoding.UTF8.GetBytes(text)) >= 0;

    /// <summary>A data folder with alice and a settings file relaying to <paramref name="backend"/>, plus <paramref name="settings"/>.</summary>
    private async Task<(string Data, string Config)> RelayToAsync(TlsEchoBackend backend, string settings = "")
    {
        string data = Path.Combine(_root, "data");
        await ServeProcess.AddUserAsync(data, "alice", GatewayTestClient.Password);
        string config = Path.Combine(_root, "serve.json");
        await File.WriteAllTextAsync(config, RelaySettings(backend, settings), Ct);
        return (data, config);
    }

    /// <summary>Settings relaying to <paramref name="backend"/>, with more JSON members (each starting with a comma).</summary>
    private static string RelaySettings(TlsEchoBackend backend, string more) =>
        $$"""{ "Gateway": { "DefaultBackend": "{{backend.Address}}", "CertificateValidation": "None", "BackendSecurity": "Tls", "DrainTimeout": "00:00:10" }{{more}} }""";

    private async Task<(byte[] Certificate, int CredSspVersion)> NewConnectionAsync()
    {
        byte[]? certificate = null;
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync(IPAddress.Loopback, _server!.Port, Ct);
            NetworkStream network = tcp.GetStream();
            await network.WriteAsync(new X224ConnectionRequest("reload", new RdpNegRequest(RdpNegRequestFlags.None, SecurityProtocols.Ssl | SecurityProtocols.Hybrid)).Encode(), Ct);
            X224ConnectionConfirm confirm = X224ConnectionConfirm.Decode(await MessageFraming.ReadTpktFrameAsync(network, 1024, Ct));
            Assert.Equal(SecurityProtocols.Hybrid, confirm.Response!.SelectedProtocol);
            await using var tls = new SslStream(network, false, (_, _, _, _) => true);
            await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost", EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13 }, Ct);
            certificate = Hash(tls.RemoteCertificate!);
        }

        // The CredSSP version the server announces (MaxCredSspVersion) with a full authentication.
        TestRdpOutcome outcome = await TestRdpClient.ConnectAsync(_server.Port, SecurityProtocols.Hybrid, "alice", GatewayTestClient.Password, TestFrontDoor.Domain, cancellationToken: Ct);
        Assert.Equal(RdpNla.Protocol.NlaStatus.Completed, outcome.CredSspStatus);
        return (certificate, outcome.ServerCredSspVersion);
    }

    private static byte[] Hash(X509Certificate certificate) => SHA256.HashData(certificate.GetRawCertData());

    private static async Task WritePemAsync(X509Certificate2 certificate, string certificatePath, string keyPath)
    {
        using RSA key = certificate.GetRSAPrivateKey()!;
        await File.WriteAllTextAsync(keyPath, key.ExportPkcs8PrivateKeyPem(), Ct);
        await File.WriteAllTextAsync(certificatePath, certificate.ExportCertificatePem(), Ct);
    }

    private static async Task<string> ReceiveAsync(Socket notify)
    {
        byte[] buffer = new byte[4096];
        int length = await notify.ReceiveAsync(buffer, SocketFlags.None, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(20), Ct);
        return Encoding.UTF8.GetString(buffer, 0, length);
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        Directory.Delete(_root, recursive: true);
    }
}
