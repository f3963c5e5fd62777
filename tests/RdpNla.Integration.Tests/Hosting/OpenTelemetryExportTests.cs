using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using RdpNla.Integration.Tests.Gateway;
using RdpNla.Integration.Tests.Support;
using RdpNla.Server.Metrics;

namespace RdpNla.Integration.Tests.Hosting;

/// <summary>
/// <c>rdpnla serve --otlp-endpoint</c> exports with the OpenTelemetry SDK's real OTLP/HTTP protobuf exporter to a
/// loopback receiver: a span per connection with a child per handshake phase (X.224, TLS, CredSSP with the account
/// check inside it, backend connect), the front door's meter, and no password anywhere in what is sent.
/// </summary>
public sealed class OpenTelemetryExportTests : IAsyncDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("rdpnla-otlp-").FullName;
    private ServeProcess? _server;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task RelayedSession_ExportsTheHandshakePhaseSpansAndTheMeterOverOtlpHttp()
    {
        await using var collector = new OtlpReceiver();
        await using var backend = new TlsEchoBackend();
        string data = Path.Combine(_root, "data");
        await ServeProcess.AddUserAsync(data, "alice", GatewayTestClient.Password);
        string config = Path.Combine(_root, "serve.json");
        await File.WriteAllTextAsync(config, $$"""
            { "Gateway": { "DefaultBackend": "{{backend.Address}}", "CertificateValidation": "None" },
              "OpenTelemetry": { "ExportInterval": "00:00:00.2", "ServiceName": "rdpnla-test" } }
            """, Ct);
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

        foreach (byte[] body in collector.Bodies("/v1/traces").Concat(collector.Bodies("/v1/metrics")))
        {
            Assert.False(Contains(body, GatewayTestClient.Password), "the password was exported");
        }
    }

    private static bool Contains(byte[] body, string text) => body.AsSpan().IndexOf(Encoding.UTF8.GetBytes(text)) >= 0;

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        Directory.Delete(_root, recursive: true);
    }

    /// <summary>One span of an OTLP ExportTraceServiceRequest (opentelemetry-proto trace/v1/trace.proto).</summary>
    private sealed record OtlpSpan(string Name, byte[] SpanId, byte[] ParentSpanId)
    {
        // resource_spans = 1 → scope_spans = 2 → spans = 2; in Span: span_id = 2, parent_span_id = 4, name = 5.
        public static IEnumerable<OtlpSpan> Parse(byte[] request) =>
            Protobuf.Messages(request, 1, 2, 2).Select(span => new OtlpSpan(
                Encoding.UTF8.GetString(Protobuf.Field(span, 5) ?? []),
                Protobuf.Field(span, 2) ?? [],
                Protobuf.Field(span, 4) ?? []));
    }

    /// <summary>Just enough of the protobuf wire format to walk length-delimited fields.</summary>
    private static class Protobuf
    {
        public static IEnumerable<byte[]> Messages(byte[] message, params int[] path)
        {
            IEnumerable<byte[]> level = [message];
            foreach (int field in path)
            {
                level = level.SelectMany(m => Fields(m, field)).ToList();
            }

            return level;
        }

        public static IEnumerable<string> Strings(byte[] message, params int[] path) =>
            Messages(message, path).Select(Encoding.UTF8.GetString);

        public static byte[]? Field(byte[] message, int number) => Fields(message, number).FirstOrDefault();

        private static List<byte[]> Fields(byte[] message, int number)
        {
            var found = new List<byte[]>();
            int at = 0;
            while (at < message.Length)
            {
                ulong key = Varint(message, ref at);
                switch ((int)(key & 7))
                {
                    case 0:
                        Varint(message, ref at);
                        break;
                    case 1:
                        at += 8;
                        break;
                    case 2:
                        int length = checked((int)Varint(message, ref at));
                        if ((int)(key >> 3) == number)
                        {
                            found.Add(message[at..(at + length)]);
                        }

                        at += length;
                        break;
                    case 5:
                        at += 4;
                        break;
                    default:
                        throw new InvalidDataException($"protobuf wire type {key & 7} at {at}");
                }
            }

            return found;
        }

        private static ulong Varint(byte[] message, ref int at)
        {
            ulong value = 0;
            for (int shift = 0; ; shift += 7)
            {
                byte b = message[at++];
                value |= (ulong)(b & 0x7F) << shift;
                if ((b & 0x80) == 0)
                {
                    return value;
                }
            }
        }
    }

    /// <summary>An OTLP/HTTP collector on loopback: keeps each request body by path and answers 200.</summary>
    private sealed class OtlpReceiver : IAsyncDisposable
    {
        private readonly HttpListener _http = new();
        private readonly ConcurrentQueue<(string Path, byte[] Body)> _received = new();
        private readonly Task _serving;

        public OtlpReceiver()
        {
            int port = PeerPorts.GetFreePort();
            Endpoint = $"http://127.0.0.1:{port}";
            _http.Prefixes.Add(Endpoint + "/");
            _http.Start();
            _serving = ServeAsync();
        }

        public string Endpoint { get; }

        public IEnumerable<byte[]> Bodies(string path) => _received.Where(r => r.Path == path).Select(r => r.Body).ToList();

        private async Task ServeAsync()
        {
            while (_http.IsListening)
            {
                HttpListenerContext context;
                try
                {
                    context = await _http.GetContextAsync();
                }
                catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException)
                {
                    return;
                }

                using var body = new MemoryStream();
                await context.Request.InputStream.CopyToAsync(body);
                _received.Enqueue((context.Request.Url!.AbsolutePath, body.ToArray()));
                context.Response.StatusCode = 200;
                context.Response.ContentType = "application/x-protobuf";
                context.Response.Close();
            }
        }

        public async ValueTask DisposeAsync()
        {
            _http.Close();
            await _serving;
        }
    }
}
