// Relay benchmark: the same client and the same TLS backend, once directly and once through a running `rdpnla serve`
// acting as the gateway (NLA on the front leg, TLS + Client Info injection on the backend leg), on loopback.
// The gateway is a separate process, so bench/run-benchmarks.sh can give it a CPU of its own (section f).
//   throughput: the backend streams N MiB to the client in 16 KiB writes (RDP-sized records); MiB/s at the client.
//   latency:    the client sends a 64-byte frame, the backend echoes it; median and p99 round trip of M exchanges.
//   CPU:        CPU time per MiB streamed, of this process (client + backend) and of the gateway process (GATEWAY_PID).
//   memory:     the gateway's resident memory per idle relayed session, over IDLE_SESSIONS sessions (GATEWAY_PID).
// Usage: RdpNla.GatewayBench GATEWAY_PORT BACKEND_PORT [MiB=256] [roundTrips=5000] [runs=3] [GATEWAY_PID] [IDLE_SESSIONS=0]
//   `rdpnla serve` must listen on 127.0.0.1:GATEWAY_PORT with Gateway:DefaultBackend=127.0.0.1:BACKEND_PORT, domain
//   BENCH and the user bench / Bench-Pass1, the backend declared TLS-only (rdpnla backends set-security HOST:PORT tls);
//   this program opens the backend on BACKEND_PORT.
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using RdpNla.Protocol;
using RdpNla.Protocol.Connection;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Rdp;
using RdpNla.Transport;

if (args.Length < 2 || !int.TryParse(args[0], out int gatewayPort) || !int.TryParse(args[1], out int backendPort))
{
    Console.Error.WriteLine("usage: RdpNla.GatewayBench GATEWAY_PORT BACKEND_PORT [MiB=256] [roundTrips=5000] [runs=3] [GATEWAY_PID] [IDLE_SESSIONS=0]");
    return 1;
}

int megabytes = args.Length > 2 ? int.Parse(args[2]) : 256;
int roundTrips = args.Length > 3 ? int.Parse(args[3]) : 5000;
int runs = args.Length > 4 ? int.Parse(args[4]) : 3;
int? gatewayPid = args.Length > 5 ? int.Parse(args[5]) : null;
int idleSessions = args.Length > 6 ? int.Parse(args[6]) : 0;
const string User = "bench";
const string Password = "Bench-Pass1";

using X509Certificate2 backendCertificate = CreateCertificate();
var backend = new FakeBackend(backendCertificate, backendPort);

Console.WriteLine($"runtime {Environment.Version}, {Environment.ProcessorCount} CPUs for this process, {megabytes} MiB per throughput run, {roundTrips} round trips per latency run, {runs} runs");
var results = new Dictionary<string, List<(double MiBs, double Median, double P99, double EndpointsCpu, double GatewayCpu)>> { ["direct"] = [], ["gateway"] = [] };
for (int run = 0; run < runs + 1; run++)
{
    foreach (string mode in (string[])["direct", "gateway"])
    {
        int port = mode == "direct" ? backendPort : gatewayPort;
        TimeSpan endpointsBefore = Process.GetCurrentProcess().TotalProcessorTime, gatewayBefore = GatewayCpu();
        double mibs = await ThroughputAsync(port, mode == "gateway", megabytes);
        double endpointsCpu = (Process.GetCurrentProcess().TotalProcessorTime - endpointsBefore).TotalMicroseconds / megabytes;
        double gatewayCpu = (GatewayCpu() - gatewayBefore).TotalMicroseconds / megabytes;
        (double median, double p99) = await LatencyAsync(port, mode == "gateway", roundTrips);
        if (run > 0)
        {
            results[mode].Add((mibs, median, p99, endpointsCpu, gatewayCpu)); // run 0 warms up the JIT and the TLS session caches.
            Console.WriteLine($"run {run} {mode,-8} throughput {mibs,8:F1} MiB/s   latency median {median,7:F1} us  p99 {p99,7:F1} us   CPU per MiB: endpoints {endpointsCpu,6:F0} us, gateway {gatewayCpu,6:F0} us");
        }
    }
}

double Median(IEnumerable<double> values) => values.Order().ElementAt(values.Count() / 2);
double directMibs = Median(results["direct"].Select(r => r.MiBs)), gatewayMibs = Median(results["gateway"].Select(r => r.MiBs));
double directLatency = Median(results["direct"].Select(r => r.Median)), gatewayLatency = Median(results["gateway"].Select(r => r.Median));
double directP99 = Median(results["direct"].Select(r => r.P99)), gatewayP99 = Median(results["gateway"].Select(r => r.P99));
Console.WriteLine($"median of runs: direct {directMibs:F1} MiB/s, gateway {gatewayMibs:F1} MiB/s, ratio {gatewayMibs / directMibs:F2}x");
Console.WriteLine($"median of runs: direct {directLatency:F1} us (p99 {directP99:F0}), gateway {gatewayLatency:F1} us (p99 {gatewayP99:F0}), added {gatewayLatency - directLatency:F1} us");
if (gatewayPid is not null)
{
    double directCpu = Median(results["direct"].Select(r => r.EndpointsCpu)), endpointsViaGateway = Median(results["gateway"].Select(r => r.EndpointsCpu));
    double relayCpu = Median(results["gateway"].Select(r => r.GatewayCpu));
    Console.WriteLine($"median of runs: CPU per MiB: endpoints direct {directCpu:F0} us, endpoints via gateway {endpointsViaGateway:F0} us, gateway {relayCpu:F0} us (one core relays up to {1e6 / relayCpu:F0} MiB/s)");
}

if (gatewayPid is not null && idleSessions > 0)
{
    // Sessions that have relayed a little (one echo each way) and then sit idle, as most RDP sessions do most of the time.
    long before = GatewayRssKiB();
    var held = new List<(Stream Stream, IDisposable Owner)>();
    byte[] ping = new byte[64];
    for (int i = 0; i < idleSessions; i++)
    {
        (Stream stream, IDisposable owner) = await ConnectAsync(gatewayPort, true, "echo");
        await stream.WriteAsync(ping);
        await stream.ReadExactlyAsync(ping);
        held.Add((stream, owner));
    }

    await Task.Delay(2000);
    long after = GatewayRssKiB();
    Console.WriteLine($"idle sessions: {idleSessions} relayed sessions held, gateway resident memory +{after - before} KiB, {(double)(after - before) / idleSessions:F1} KiB per session");
    foreach ((Stream stream, IDisposable owner) in held)
    {
        stream.Dispose();
        owner.Dispose();
    }
}
return 0;

// utime + stime of the gateway process, from /proc/PID/stat (fields 14 and 15, in clock ticks of 10 ms on Linux).
TimeSpan GatewayCpu()
{
    if (gatewayPid is null)
    {
        return TimeSpan.Zero;
    }

    string stat = File.ReadAllText($"/proc/{gatewayPid}/stat");
    string[] fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
    return TimeSpan.FromMilliseconds((long.Parse(fields[11]) + long.Parse(fields[12])) * 10);
}

long GatewayRssKiB() => long.Parse(File.ReadLines($"/proc/{gatewayPid}/status").First(l => l.StartsWith("VmRSS:", StringComparison.Ordinal)).Split(' ', StringSplitOptions.RemoveEmptyEntries)[1]);

async Task<double> ThroughputAsync(int port, bool viaGateway, int mib)
{
    (Stream stream, IDisposable owner) = await ConnectAsync(port, viaGateway, $"stream {mib}");
    using (owner)
    {
        byte[] buffer = new byte[64 * 1024];
        long total = (long)mib * 1024 * 1024, received = 0;
        var watch = Stopwatch.StartNew();
        while (received < total)
        {
            int n = await stream.ReadAsync(buffer);
            if (n == 0)
            {
                throw new EndOfStreamException();
            }

            received += n;
        }

        return mib / watch.Elapsed.TotalSeconds;
    }
}

async Task<(double Median, double P99)> LatencyAsync(int port, bool viaGateway, int count)
{
    (Stream stream, IDisposable owner) = await ConnectAsync(port, viaGateway, "echo");
    using (owner)
    {
        byte[] message = new byte[64];
        byte[] echo = new byte[64];
        var samples = new double[count];
        for (int i = 0; i < count; i++)
        {
            long start = Stopwatch.GetTimestamp();
            await stream.WriteAsync(message);
            await stream.ReadExactlyAsync(echo);
            samples[i] = Stopwatch.GetElapsedTime(start).TotalMicroseconds;
        }

        Array.Sort(samples);
        return (samples[count / 2], samples[(int)(count * 0.99)]);
    }
}

// The client side of the RDP connection sequence as far as the gateway cares: X.224, TLS, CredSSP (via the gateway),
// MCS Connect Initial/Response, Client Info. The Client Info's alternate shell tells the fake backend what to do.
async Task<(Stream Stream, IDisposable Owner)> ConnectAsync(int port, bool viaGateway, string command)
{
    var tcp = new TcpClient { NoDelay = true };
    await tcp.ConnectAsync(IPAddress.Loopback, port);
    NetworkStream network = tcp.GetStream();
    SecurityProtocols requested = viaGateway ? SecurityProtocols.Ssl | SecurityProtocols.Hybrid : SecurityProtocols.Ssl;
    using var connector = new RdpClientConnector(new RdpClientConnectorOptions
    {
        ConnectionRequest = new X224ConnectionRequest("bench", new RdpNegRequest(RdpNegRequestFlags.None, requested)),
        AllowTlsWithoutNla = true, // the backend is TLS-only; the Client Info PDU carries the password to it
        CredSsp = key => new CredSspClientOptions
        {
            ServerPublicKey = key,
            Ntlm = new NtlmClientOptions { UserName = User, DomainName = "BENCH", Password = Password, TimeProvider = TimeProvider.System, RandomSource = SystemRandomSource.Instance },
        },
        RandomSource = SystemRandomSource.Instance,
    });
    ClientSecurityPhaseResult result = await SecurityPhaseDriver.RunClientAsync(
        network,
        connector,
        new ClientSecurityPhaseOptions
        {
            Tls = new SslClientAuthenticationOptions { TargetHost = "localhost", EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13 },
            ServerCertificateValidation = (_, _, _) => ValueTask.FromResult(true),
            LeaveInnerStreamOpen = false,
        },
        default);
    if (!result.Succeeded)
    {
        throw new InvalidOperationException($"security phase failed: {result.Step.FailureReason} ({connector.SelectionFailure})");
    }

    SslStream tls = result.Tls!;
    SecurityProtocols selected = connector.SelectedProtocol!.Value;
    await tls.WriteAsync(McsConnectPdu.EncodeConnectInitial([ClientCore(selected)]));
    _ = McsConnectPdu.Decode(await MessageFraming.ReadTpktFrameAsync(tls, 65535, default));
    using var info = new ClientInfoPdu(1007, 1003, 0, 0, InfoFlags.Mouse | InfoFlags.Unicode, "", User, Encoding.Unicode.GetBytes(Password), command, "", []);
    await tls.WriteAsync(info.Encode());
    return (tls, tcp);
}

static byte[] ClientCore(SecurityProtocols selected)
{
    byte[] block = new byte[216];
    BitConverter.TryWriteBytes(block.AsSpan(0), GccBlockType.ClientCore);
    BitConverter.TryWriteBytes(block.AsSpan(2), (ushort)216);
    BitConverter.TryWriteBytes(block.AsSpan(McsConnectPdu.ServerSelectedProtocolOffset), (uint)selected);
    return block;
}

static X509Certificate2 CreateCertificate()
{
    using RSA key = RSA.Create(2048);
    var request = new CertificateRequest("CN=bench-backend", key, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
    using X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
    return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
}

/// <summary>A TLS-only RDP backend reduced to what the benchmark needs; after Client Info it streams or echoes.</summary>
internal sealed class FakeBackend
{
    private readonly TcpListener _listener;
    private readonly SslStreamCertificateContext _certificate;

    public FakeBackend(X509Certificate2 certificate, int port)
    {
        _listener = new TcpListener(IPAddress.Loopback, port);
        _certificate = SslStreamCertificateContext.Create(certificate, null, offline: true);
        _listener.Start();
        _ = AcceptLoopAsync();
    }

    private async Task AcceptLoopAsync()
    {
        while (true)
        {
            TcpClient client = await _listener.AcceptTcpClientAsync();
            _ = ServeAsync(client);
        }
    }

    private async Task ServeAsync(TcpClient client)
    {
        using (client)
        {
            client.NoDelay = true;
            try
            {
                NetworkStream network = client.GetStream();
                X224ConnectionRequest request = X224ConnectionRequest.Decode(await MessageFraming.ReadTpktFrameAsync(network, 1024, default));
                await network.WriteAsync(new X224ConnectionConfirm(new RdpNegResponse(RdpNegResponseFlags.None, SecurityProtocols.Ssl)).Encode());
                await using var tls = new SslStream(network);
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificateContext = _certificate, EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13 });
                McsConnectPdu initial = McsConnectPdu.Decode(await MessageFraming.ReadTpktFrameAsync(tls, 65535, default));
                if (initial.ServerSelectedProtocol != SecurityProtocols.Ssl)
                {
                    throw new InvalidOperationException($"serverSelectedProtocol {initial.ServerSelectedProtocol}: downgrade check failed");
                }

                byte[] core = new byte[12];
                BitConverter.TryWriteBytes(core.AsSpan(0), GccBlockType.ServerCore);
                BitConverter.TryWriteBytes(core.AsSpan(2), (ushort)12);
                BitConverter.TryWriteBytes(core.AsSpan(8), (uint)(request.NegotiationRequest?.RequestedProtocols ?? 0));
                await tls.WriteAsync(McsConnectPdu.EncodeConnectResponse([core]));
                using ClientInfoPdu info = ClientInfoPdu.Decode(await MessageFraming.ReadTpktFrameAsync(tls, 65535, default));
                if (info.AlternateShell.StartsWith("stream ", StringComparison.Ordinal))
                {
                    long total = long.Parse(info.AlternateShell[7..]) * 1024 * 1024;
                    byte[] chunk = new byte[16 * 1024];
                    for (long sent = 0; sent < total; sent += chunk.Length)
                    {
                        await tls.WriteAsync(chunk);
                    }

                    await Task.Delay(1000);
                }
                else
                {
                    byte[] buffer = new byte[64];
                    while (true)
                    {
                        await tls.ReadExactlyAsync(buffer);
                        await tls.WriteAsync(buffer);
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or EndOfStreamException or SocketException or ObjectDisposedException)
            {
            }
        }
    }
}
