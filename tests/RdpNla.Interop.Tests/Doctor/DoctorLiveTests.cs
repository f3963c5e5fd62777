using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using RdpNla.Tests.Accounts;
using RdpNla.Tests.Client;
using RdpNla.Tests.Support;
using RdpNla.Protocol.Rdp;
using RdpNla.Transport;
using static RdpNla.Tests.Doctor.DoctorCli;

namespace RdpNla.Tests.Doctor;

/// <summary>
/// <c>rdpnla doctor HOST</c> against a TLS-1.0-only listener (<c>openssl s_server</c>): the interop half of the live
/// doctor tests; the others run on loopback alone (tests/RdpNla.Cli.Tests/Doctor/DoctorLiveTests.cs).
/// </summary>
public class DoctorLiveTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Tls10OnlyListener_IsTlsHandshakeFailed_WithTheServersVersion()
    {
        // An RDP front (X.224 answered here) relaying TLS to `openssl s_server -tls1`, a server limited to TLS 1.0 as
        // Windows 7 / 2008 R2 without KB3080079. `-cipher DEFAULT@SECLEVEL=0` because OpenSSL 3 refuses TLS 1.0 at its
        // default security level — on this machine .NET's SslStream (OpenSSL 3.0) cannot complete a TLS 1.0 handshake
        // at all, so doctor's fallback handshake fails too and its raw ClientHello probe reads the ServerHello version.
        await using Tls10Server server = await Tls10Server.StartAsync(Ct);

        (CliResult result, JsonElement json) = await JsonAsync($"127.0.0.1:{server.Port}", "--timeout", "5");

        Assert.Equal((12, "tls-handshake-failed", "Tls"), (result.ExitCode, json.Str("result"), json.Str("phase")));
        string evidence = Evidence(json)[0];
        Assert.StartsWith($"TLS handshake with 127.0.0.1:{server.Port} failed: offering TLS 1.2 and 1.3: ", evidence, StringComparison.Ordinal);
        Assert.Contains("; offering only TLS 1.0 and 1.1: ", evidence, StringComparison.Ordinal);
        Assert.Contains("answered with a ServerHello for TLS 1.0: the server speaks at most TLS 1.0", evidence, StringComparison.Ordinal);
        Assert.EndsWith("; the server accepts TLS 1.0/1.1 only.", evidence, StringComparison.Ordinal);
        Assert.Contains("The server selected PROTOCOL_HYBRID_EX for a request of PROTOCOL_SSL|PROTOCOL_HYBRID|PROTOCOL_HYBRID_EX.", Evidence(json));
        JsonElement[] fixes = [.. json.GetProperty("cause").GetProperty("fixes").EnumerateArray()];
        Assert.Equal("Safe", fixes[0].Str("safety"));
        Assert.Contains(fixes, f => f.Str("safety") == "Insecure" && f.GetProperty("revert").GetArrayLength() > 0);
    }

    /// <summary>An RDP server limited to TLS 1.0: X.224 answered here, TLS relayed to <c>openssl s_server -tls1</c>.</summary>
    private sealed class Tls10Server : IAsyncDisposable
    {
        private readonly TcpListener _listener;
        private readonly Process _openssl;
        private readonly string _directory;
        private readonly int _backendPort;

        private Tls10Server(TcpListener listener, Process openssl, string directory, int backendPort)
        {
            _listener = listener;
            _openssl = openssl;
            _directory = directory;
            _backendPort = backendPort;
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public static async Task<Tls10Server> StartAsync(CancellationToken ct)
        {
            string directory = Path.Combine(Path.GetTempPath(), "rdpnla-tests", "tls10-" + Guid.NewGuid().ToString("N"));
            Directory.CreateDirectory(directory);
            string cert = Path.Combine(directory, "cert.pem");
            string key = Path.Combine(directory, "key.pem");
            ProcessResult made;
            try
            {
                made = await ExternalProcess.RunAsync("openssl", ["req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "2", "-subj", "/CN=tls10-only"], null, TimeSpan.FromSeconds(30), ct);
            }
            catch (System.ComponentModel.Win32Exception)
            {
                Assert.Skip("openssl is not installed");
                throw;
            }

            Assert.True(made.ExitCode == 0, made.Output);
            int backendPort = PeerPorts.GetFreePort();
            var info = new ProcessStartInfo(Peers.Require("openssl")) { RedirectStandardOutput = true, RedirectStandardError = true, RedirectStandardInput = true, UseShellExecute = false };
            foreach (string argument in (string[])["s_server", "-accept", $"127.0.0.1:{backendPort}", "-tls1", "-cipher", "DEFAULT@SECLEVEL=0", "-cert", cert, "-key", key, "-quiet"])
            {
                info.ArgumentList.Add(argument);
            }

            Process openssl = Process.Start(info)!;
            openssl.OutputDataReceived += (_, _) => { };
            openssl.ErrorDataReceived += (_, _) => { };
            openssl.BeginOutputReadLine();
            openssl.BeginErrorReadLine();
            Assert.True(await PeerPorts.WaitForListenerAsync(backendPort, TimeSpan.FromSeconds(10), openssl), "openssl s_server -tls1 did not start");
            var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            var server = new Tls10Server(listener, openssl, directory, backendPort);
            _ = LoopbackPeers.AcceptForeverAsync(listener, socket => _ = server.RelayAsync(socket));
            return server;
        }

        private async Task RelayAsync(Socket socket)
        {
            using (socket)
            {
                try
                {
                    await using var front = new NetworkStream(socket, ownsSocket: false);
                    X224ConnectionRequest request = X224ConnectionRequest.Decode(await MessageFraming.ReadTpktFrameAsync(front, 1024, CancellationToken.None));
                    SecurityProtocols requested = request.NegotiationRequest?.RequestedProtocols ?? SecurityProtocols.Rdp;
                    SecurityProtocols selected = (requested & SecurityProtocols.HybridEx) != 0 ? SecurityProtocols.HybridEx
                        : (requested & SecurityProtocols.Hybrid) != 0 ? SecurityProtocols.Hybrid : SecurityProtocols.Ssl;
                    await front.WriteAsync(new X224ConnectionConfirm(new RdpNegResponse(RdpNegResponseFlags.ExtendedClientDataSupported, selected)).Encode());
                    using var backend = new TcpClient();
                    await backend.ConnectAsync(IPAddress.Loopback, _backendPort);
                    NetworkStream back = backend.GetStream();
                    Task up = CopyThenShutdownAsync(front, back, backend.Client);
                    Task down = CopyThenShutdownAsync(back, front, socket);
                    await Task.WhenAll(up, down);
                }
                catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or RdpNla.Protocol.NlaProtocolException)
                {
                }
            }
        }

        private static async Task CopyThenShutdownAsync(Stream from, Stream to, Socket toSocket)
        {
            try
            {
                await from.CopyToAsync(to);
            }
            finally
            {
                try
                {
                    toSocket.Shutdown(SocketShutdown.Send);
                }
                catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
                {
                }
            }
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            try
            {
                _openssl.Kill();
                await _openssl.WaitForExitAsync();
            }
            catch (InvalidOperationException)
            {
            }

            _openssl.Dispose();
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
