using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using RdpNla.Cli.Commands;
using RdpNla.Client;
using RdpNla.Tests.Accounts;
using RdpNla.Tests.Support;
using RdpNla.Protocol.Rdp;
using RdpNla.Server.FrontDoor;

namespace RdpNla.Tests.Client;

/// <summary>Each way a target can fail, reported as its own failure within the timeout, by <c>login</c> and <c>probe</c>.</summary>
public class NetworkFailureTests
{
    // Only a guard against a hang: with a fake clock nothing here waits for real time.
    private static readonly TimeSpan HangGuard = TimeSpan.FromSeconds(60);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ClosedPort_ConnectionRefused()
    {
        using ClosedPort closed = PeerPorts.HoldClosedPort();

        (CliResult login, JsonElement json) = await ClientCli.LoginJsonAsync(closed.Address, "alice", "x");
        (CliResult probe, JsonElement probeJson) = await ClientCli.ProbeJsonAsync(closed.Address);

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
        // The clock is fake: the listener reading the X.224 Connection Request says the client is waiting for the
        // confirm, and only advancing the clock by the timeout ends the wait.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var accepted = new List<Socket>();
        using var requests = new SemaphoreSlim(0);
        Task accepting = LoopbackPeers.AcceptForeverAsync(listener, s =>
        {
            lock (accepted)
            {
                accepted.Add(s);
            }

            _ = LoopbackPeers.ReadThenHoldAsync(s, requests);
        });
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;

        var time = new FakeTimeProvider();
        Task<(CliResult, JsonElement)> running = ClientCli.LoginJsonAsync(time, $"127.0.0.1:{port}", "alice", "x", "--timeout", "1");
        await requests.WaitAsync(Ct);
        time.Advance(TimeSpan.FromSeconds(1));
        (CliResult login, JsonElement json) = await running.WaitAsync(HangGuard, Ct);

        var probeTime = new FakeTimeProvider();
        Task<(CliResult, JsonElement)> probing = ClientCli.ProbeJsonAsync(probeTime, $"127.0.0.1:{port}", "--timeout", "1");
        await requests.WaitAsync(Ct);
        probeTime.Advance(TimeSpan.FromSeconds(1));
        (CliResult probe, JsonElement probeJson) = await probing.WaitAsync(HangGuard, Ct);

        Assert.Equal((22, "no_answer", "negotiation"), (login.ExitCode, json.Str("failure_kind"), json.Str("phase")));
        Assert.Contains("accepted the TCP connection but did not answer the X.224 Connection Request within 1 s", json.Str("message"), StringComparison.Ordinal);
        Assert.Equal(1000, json.GetProperty("elapsed_ms").GetDouble());
        Assert.Equal("no_answer", probeJson.GetProperty("error").Str("kind"));
        Assert.Equal(1000, probeJson.GetProperty("elapsed_ms").GetDouble());
        listener.Stop();
        lock (accepted)
        {
            accepted.ForEach(s => s.Dispose());
        }
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
        // The clock is fake: the listener reading the TLS ClientHello says the client is in the TLS handshake.
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var sockets = new List<Socket>();
        using var clientHellos = new SemaphoreSlim(0);
        Task serving = LoopbackPeers.AcceptForeverAsync(listener, socket =>
        {
            lock (sockets)
            {
                sockets.Add(socket);
            }

            _ = SelectHybridThenSilenceAsync(socket, clientHellos);
        });
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;

        var time = new FakeTimeProvider();
        Task<(CliResult, JsonElement)> running = ClientCli.LoginJsonAsync(time, $"127.0.0.1:{port}", "alice", "x", "--timeout", "1");
        await clientHellos.WaitAsync(Ct);
        time.Advance(TimeSpan.FromSeconds(1));
        (CliResult login, JsonElement json) = await running.WaitAsync(HangGuard, Ct);

        Assert.Equal((25, "tls_failure", "tls"), (login.ExitCode, json.Str("failure_kind"), json.Str("phase")));
        Assert.Contains("selected PROTOCOL_HYBRID but did not complete the TLS handshake within 1 s", json.Str("message"), StringComparison.Ordinal);
        Assert.Equal(1000, json.GetProperty("elapsed_ms").GetDouble());
        listener.Stop();
        lock (sockets)
        {
            sockets.ForEach(s => s.Dispose());
        }
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

    private static async Task SelectHybridThenSilenceAsync(Socket socket, SemaphoreSlim clientHellos)
    {
        var buffer = new byte[1024];
        try
        {
            await socket.ReceiveAsync(buffer);
            await socket.SendAsync(new X224ConnectionConfirm(new RdpNegResponse(RdpNegResponseFlags.ExtendedClientDataSupported, SecurityProtocols.Hybrid)).Encode());
            if (await socket.ReceiveAsync(buffer) > 0)
            {
                clientHellos.Release();
            }

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
        int open = 0;
        int peak = 0;
        foreach (TcpListener listener in silent)
        {
            listener.Start();
            _ = LoopbackPeers.AcceptForeverAsync(listener, s =>
            {
                lock (held)
                {
                    held.Add(s);
                    peak = Math.Max(peak, ++open);
                }

                _ = LoopbackPeers.HoldUntilClosedAsync(s, () =>
                {
                    lock (held)
                    {
                        open--;
                    }
                });
            });
        }

        try
        {
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

            // Each silent target holds its slot until the prober gives up on it: a prober that ran the targets one at a
            // time would never hold two silent connections at once.
            lock (held)
            {
                Assert.InRange(peak, 2, 20);
            }
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
