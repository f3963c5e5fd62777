using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using RdpNla.Cli.Commands;
using RdpNla.Client;
using RdpNla.Integration.Tests.Accounts;
using RdpNla.Integration.Tests.Support;
using RdpNla.Protocol.Rdp;
using RdpNla.Server.FrontDoor;

namespace RdpNla.Integration.Tests.Client;

/// <summary>Each way a target can fail, reported as its own failure within the timeout, by <c>login</c> and <c>probe</c>.</summary>
public class NetworkFailureTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ClosedPort_ConnectionRefused()
    {
        int port = PeerPorts.GetFreePort();

        (CliResult login, JsonElement json) = await ClientCli.LoginJsonAsync($"127.0.0.1:{port}", "alice", "x");
        (CliResult probe, JsonElement probeJson) = await ClientCli.ProbeJsonAsync($"127.0.0.1:{port}");

        Assert.Equal((21, "error", "connection_refused"), (login.ExitCode, json.Str("result"), json.Str("failure_kind")));
        Assert.Equal((20, "error", "connection_refused"), (probe.ExitCode, probeJson.Str("result"), probeJson.GetProperty("error").Str("kind")));
    }

    [Fact]
    public async Task UnresolvableName_NameNotResolved()
    {
        (CliResult login, JsonElement json) = await ClientCli.LoginJsonAsync("no-such-host.invalid", "alice", "x", "--timeout", "5");

        Assert.Equal((20, "name_not_resolved"), (login.ExitCode, json.Str("failure_kind")));
    }

    [Fact]
    public async Task SilentListener_NoAnswerWithinTimeout()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accepted = new List<Socket>();
        Task accepting = LoopbackPeers.AcceptForeverAsync(listener, s => accepted.Add(s));
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;

        var watch = Stopwatch.StartNew();
        (CliResult login, JsonElement json) = await ClientCli.LoginJsonAsync($"127.0.0.1:{port}", "alice", "x", "--timeout", "1");
        TimeSpan loginTime = watch.Elapsed;
        (CliResult probe, JsonElement probeJson) = await ClientCli.ProbeJsonAsync($"127.0.0.1:{port}", "--timeout", "1");

        Assert.Equal((22, "no_answer", "negotiation"), (login.ExitCode, json.Str("failure_kind"), json.Str("phase")));
        Assert.Contains("accepted the TCP connection but did not answer the X.224 Connection Request within 1 s", json.Str("message"), StringComparison.Ordinal);
        Assert.InRange(loginTime, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(3));
        Assert.Equal("no_answer", probeJson.GetProperty("error").Str("kind"));
        listener.Stop();
        accepted.ForEach(s => s.Dispose());
    }

    [Fact]
    public async Task HttpListener_NotRdp()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        Task serving = LoopbackPeers.AcceptForeverAsync(listener, socket => _ = LoopbackPeers.AnswerHttpAsync(socket));
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;

        (CliResult login, JsonElement json) = await ClientCli.LoginJsonAsync($"127.0.0.1:{port}", "alice", "x", "--timeout", "5");
        (CliResult probe, JsonElement probeJson) = await ClientCli.ProbeJsonAsync($"127.0.0.1:{port}", "--timeout", "5");

        Assert.Equal((23, "not_rdp"), (login.ExitCode, json.Str("failure_kind")));
        Assert.Contains("\"HTTP\" (an HTTP server)", json.Str("message"), StringComparison.Ordinal);
        Assert.Equal("not_rdp", probeJson.GetProperty("error").Str("kind"));
        listener.Stop();
    }

    [Fact]
    public async Task SelectsHybridButNeverSpeaksTls_TlsFailureWithinTimeout()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var sockets = new List<Socket>();
        Task serving = LoopbackPeers.AcceptForeverAsync(listener, socket =>
        {
            sockets.Add(socket);
            _ = SelectHybridThenSilenceAsync(socket);
        });
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;

        var watch = Stopwatch.StartNew();
        (CliResult login, JsonElement json) = await ClientCli.LoginJsonAsync($"127.0.0.1:{port}", "alice", "x", "--timeout", "1");

        Assert.Equal((25, "tls_failure", "tls"), (login.ExitCode, json.Str("failure_kind"), json.Str("phase")));
        Assert.Contains("selected PROTOCOL_HYBRID but did not complete the TLS handshake within 1 s", json.Str("message"), StringComparison.Ordinal);
        Assert.InRange(watch.Elapsed, TimeSpan.FromSeconds(0.9), TimeSpan.FromSeconds(3));
        listener.Stop();
        sockets.ForEach(s => s.Dispose());
    }


    [Fact]
    public async Task Probe_ServerSelectsHybridThenStopsAnswering_NoteNamesTheProtocolItSelected()
    {
        // The survey connections (one per request set) get a real answer; every later connection is closed at once,
        // so the CredSSP pass never sees an X.224 confirm of its own.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int accepted = 0;
        Task serving = LoopbackPeers.AcceptForeverAsync(listener, socket =>
        {
            if (Interlocked.Increment(ref accepted) <= RdpProber.RequestSets.Count)
            {
                _ = AnswerSurveyThenCloseAsync(socket);
            }
            else
            {
                socket.Dispose();
            }
        });
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;

        ProbeResult result = await RdpProber.ProbeAsync("127.0.0.1", port, new ProbeOptions { Timeout = TimeSpan.FromSeconds(5), ScanTlsVersions = false, CheckUnpatchedClients = false }, Ct);

        Assert.False(result.NlaSupported);
        ProbeNote note = Assert.Single(result.Notes, n => n.Step == ProbeStep.CredSsp);
        Assert.Equal(SecurityProtocols.Hybrid, note.Selected);
        Assert.NotNull(note.Run);
        Assert.StartsWith("the server selected PROTOCOL_HYBRID but the CredSSP exchange did not reach a CHALLENGE: ", ClientResultText.Note(note), StringComparison.Ordinal);
        listener.Stop();
    }

    private static async Task AnswerSurveyThenCloseAsync(Socket socket)
    {
        using (socket)
        {
            var buffer = new byte[1024];
            try
            {
                int received = await socket.ReceiveAsync(buffer);
                SecurityProtocols requested = X224ConnectionRequest.Decode(buffer.AsSpan(0, received)).NegotiationRequest?.RequestedProtocols ?? SecurityProtocols.Rdp;
                RdpNegData answer = (requested & SecurityProtocols.Hybrid) != 0
                    ? new RdpNegResponse(RdpNegResponseFlags.None, SecurityProtocols.Hybrid)
                    : new RdpNegFailure(NegotiationFailureCode.HybridRequiredByServer);
                await socket.SendAsync(new X224ConnectionConfirm(answer).Encode());
            }
            catch (SocketException)
            {
            }
        }
    }

    private static async Task SelectHybridThenSilenceAsync(Socket socket)
    {
        var buffer = new byte[1024];
        try
        {
            await socket.ReceiveAsync(buffer);
            await socket.SendAsync(new X224ConnectionConfirm(new RdpNegResponse(RdpNegResponseFlags.ExtendedClientDataSupported, SecurityProtocols.Hybrid)).Encode());
            while (await socket.ReceiveAsync(buffer) > 0)
            {
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }

    [Fact]
    public async Task Probe_HundredsOfLoopbackListeners_BoundedConcurrencyNoTargetLost()
    {
        // 127.0.1.0/24 on one port: .1-.200 are our front door, .201-.220 accept TCP and never answer, the rest refuse.
        int port = PeerPorts.GetFreePort();
        var endpoints = Enumerable.Range(1, 200).Select(i => $"127.0.1.{i}:{port}").ToList();
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o =>
        {
            o.Listen = endpoints;
            o.Limits = new FrontDoorLimits { MaxUnauthenticatedConnectionsPerAddress = 256, MaxUnauthenticatedConnections = 1024, MaxConnectionRatePerAddress = 0 };
        });
        var silent = Enumerable.Range(201, 20).Select(i => new TcpListener(IPAddress.Parse($"127.0.1.{i}"), port)).ToList();
        var held = new List<Socket>();
        foreach (TcpListener listener in silent)
        {
            listener.Start();
            _ = LoopbackPeers.AcceptForeverAsync(listener, s => { lock (held) { held.Add(s); } });
        }

        try
        {
            var watch = Stopwatch.StartNew();
            (CliResult result, List<JsonElement> lines) = await ClientCli.ProbeManyAsync($"127.0.1.0/24:{port}", "--concurrency", "24", "--timeout", "6", "--no-tls-versions");

            Assert.Equal(20, result.ExitCode);
            Assert.Equal(256, lines.Count);
            Assert.Equal(Enumerable.Range(0, 256).Select(i => $"127.0.1.{i}:{port}"), lines.Select(l => l.Str("target")));
            for (int i = 0; i < 256; i++)
            {
                JsonElement line = lines[i];
                if (i is >= 1 and <= 200)
                {
                    Assert.True(line.Str("result") == "probed", line.ToString());
                    Assert.True(line.GetProperty("nla_required").GetBoolean(), line.ToString());
                    Assert.Equal(6, line.GetProperty("credssp_version").GetInt32());
                    Assert.Empty(line.GetProperty("notes").EnumerateArray());
                }
                else
                {
                    Assert.Equal(i is >= 201 and <= 220 ? "no_answer" : "connection_refused", line.GetProperty("error").Str("kind"));
                }
            }

            // 20 silent targets at 6 s each over 24 slots, the rest fast: far below the serial time (20 x 6 s + 200 targets).
            Assert.True(watch.Elapsed < TimeSpan.FromSeconds(60), $"took {watch.Elapsed}");
        }
        finally
        {
            silent.ForEach(l => l.Stop());
            lock (held)
            {
                held.ForEach(s => s.Dispose());
            }
        }
    }
}
