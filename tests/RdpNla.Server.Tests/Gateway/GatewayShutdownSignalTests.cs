using System.Diagnostics;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using RdpNla.Tests.Support;
using RdpNla.Server.Gateway;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Gateway;

/// <summary>
/// SIGTERM (systemd, docker stop) or Ctrl+C to the real <c>rdpnla serve</c> process with a relayed session open: the
/// listener closes at once, the session goes on for <c>Gateway:DrainTimeout</c>, then it is closed cleanly, audited as
/// a shutdown, and the process exits 0. (System.CommandLine's own signal handling used to end the process two seconds
/// after the signal, in the middle of the drain.)
/// </summary>
public sealed class GatewayShutdownSignalTests : IAsyncDisposable
{
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(5);
    private readonly string _root = Directory.CreateTempSubdirectory("rdpnla-sigterm-").FullName;
    private ServeProcess? _server;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData("TERM")]
    [InlineData("INT")]
    public async Task Signal_StopsListening_DrainsTheSessionForDrainTimeout_ThenClosesIt_AndExits0(string signal)
    {
        await using var backend = new TlsEchoBackend();
        string data = Path.Combine(_root, "data");
        await ServeProcess.AddUserAsync(data, "alice", GatewayTestClient.Password);
        Accounts.CliResult declared = await Accounts.Cli.RunAsync("backends", "set-security", backend.Address, "tls", "--data", data);
        Assert.True(declared.ExitCode == 0, declared.Output + declared.Error);
        string config = Path.Combine(_root, "serve.json");
        await File.WriteAllTextAsync(config, $$"""{ "Gateway": { "DefaultBackend": "{{backend.Address}}", "CertificateValidation": "None", "DrainTimeout": "{{DrainTimeout}}" } }""", Ct);
        _server = await ServeProcess.StartAsync(data, config, "--domain", TestFrontDoor.Domain);

        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, _server.Port, Ct);
        using SslStream session = await GatewayTestClient.ConnectAsync(tcp.GetStream());
        await GatewayTestClient.EchoAsync(session, 1);

        await _server.SignalAsync(signal);

        // The listener goes first: a new client is refused while the open session still works.
        Assert.True(await RefusedWithinAsync(_server.Port, TimeSpan.FromSeconds(2)), $"still accepting after SIG{signal}:\n{_server.Output}");
        await GatewayTestClient.EchoAsync(session, 2);

        // Then the session is closed cleanly (close_notify, FIN) when the drain time is over (its timing on the
        // gateway's clock: GatewayDrainTests).
        int read = await session.ReadAsync(new byte[1], Ct).AsTask().WaitAsync(DrainTimeout + TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(0, read);

        await _server.Process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(20), Ct);
        Assert.True(_server.Process.ExitCode == 0, $"exit code {_server.Process.ExitCode}:\n{_server.Output}");
        await using RdpNlaDatabase database = await RdpNlaDatabase.OpenAsync(DataDirectory.GetDatabasePath(data), null, Ct);
        GatewaySessionRecord record = Assert.Single(await database.Gateway.ListSessionsAsync("alice", 10, Ct));
        Assert.Equal("shutdown", record.Outcome);
        Assert.Equal($"the server stopped; the session was closed after the drain time of {DrainTimeout}", record.Reason);
        Assert.Equal(1, backend.Accepted);
    }

    private static async Task<bool> RefusedWithinAsync(int port, TimeSpan limit)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < limit)
        {
            using var probe = new TcpClient();
            try
            {
                await probe.ConnectAsync(IPAddress.Loopback, port, Ct);
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionRefused)
            {
                return true;
            }
            catch (SocketException ex) when (ex.SocketErrorCode == SocketError.ConnectionReset)
            {
                // Caught in the listener's backlog as it closed; the next attempt finds it closed.
            }

            await Task.Delay(50, Ct);
        }

        return false;
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
