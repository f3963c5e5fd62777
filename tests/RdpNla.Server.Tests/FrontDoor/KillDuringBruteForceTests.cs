using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Text.Json;
using Microsoft.Data.Sqlite;
using RdpNla.Cli.Bench;
using RdpNla.Client;
using RdpNla.Tests.Accounts;
using RdpNla.Tests.Client;
using RdpNla.Tests.Support;
using RdpNla.Protocol;

namespace RdpNla.Tests.FrontDoor;

/// <summary>
/// Durability of the audit trail (docs/BENCHMARKS.md, section e): <c>rdpnla serve</c> runs as a separate process, a
/// wrong-password brute force runs against it from many source addresses, and the server is SIGKILLed while attempts
/// are in flight. Every failure the client saw acknowledged must have its audit row, the database must be intact, and
/// the server must start again on the same data folder and serve another user.
/// </summary>
public sealed class KillDuringBruteForceTests : IAsyncDisposable
{
    private const string AlicePassword = "Passw0rd!";
    private const string BobPassword = "B0b-s3cret!";
    private const int Workers = 8;

    // Kill once this many failures were acknowledged (a few seconds of brute force), or at the deadline below,
    // whichever comes first; a slow machine then still gets a kill in the middle of the run.
    private const int KillAfterAcknowledged = 1_000;
    private static readonly TimeSpan BruteForceDeadline = TimeSpan.FromSeconds(8);

    private readonly string _root = Directory.CreateTempSubdirectory("rdpnla-kill9-").FullName;
    private ServeProcess? _server;

    private string DataDirectory => Path.Combine(_root, "data");

    private string DatabasePath => Path.Combine(DataDirectory, "rdpnla.db");

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Serve_KilledDuringBruteForce_KeepsEveryAcknowledgedFailureAndRestarts()
    {
        // The users exist before the server starts: while it runs, the server process owns the database.
        Directory.CreateDirectory(DataDirectory);
        await ServeProcess.AddUserAsync(DataDirectory, "alice", AlicePassword);
        await ServeProcess.AddUserAsync(DataDirectory, "bob", BobPassword);
        SqliteConnection.ClearAllPools();

        // As the bench: no per-address connection rate limit. Lockout off, so that every attempt is a real password
        // check answered STATUS_LOGON_FAILURE (with the default threshold alice would be locked after 5 failures and
        // the rest answered without a password check).
        string config = Path.Combine(_root, "serve.json");
        await File.WriteAllTextAsync(config, """{ "LockoutThreshold": 0, "Limits": { "MaxConnectionRatePerAddress": 0 } }""", Ct);
        int port = await StartServerAsync(config);

        BruteForce run = await BruteForceUntilKilledAsync(port);

        NlaClientResult[] acknowledged = run.Results.Where(r => r.FailureKind == NlaFailureKind.LogonRefused).ToArray();
        string summary = $"{run.Results.Count} attempts, {acknowledged.Length} acknowledged failures, {run.InFlightAtKill} in flight at the kill after {run.KilledAfter.TotalSeconds:F1} s; "
            + string.Join(", ", run.Results.GroupBy(r => r.FailureKind).OrderBy(g => g.Key).Select(g => $"{g.Key} {g.Count()}"));
        Assert.True(run.InFlightAtKill > 0, $"no attempt in flight at the kill: {summary}");
        Assert.True(acknowledged.Length > 0, $"no failure acknowledged before the kill: {summary}\n{ServerOutput}");
        Assert.DoesNotContain(run.Results, r => r.Outcome == NlaOutcome.Success);
        Assert.All(acknowledged, r => Assert.Equal(NtStatus.LogonFailure, r.CredSsp?.ErrorCode));

        // Rows may exceed acknowledgements (a row committed for an attempt whose answer the kill cut off), never the
        // reverse: the server commits the row before it sends the errorCode. Each attempt is one connection, one row.
        (long failureRows, long successRows, string integrity) = await ReadDatabaseAsync();
        TestContext.Current.SendDiagnosticMessage($"{summary}; audit failure rows for alice: {failureRows}");
        Assert.True(failureRows >= acknowledged.Length, $"acknowledged failures without an audit row: {acknowledged.Length - failureRows} ({summary}; rows {failureRows})");
        Assert.True(failureRows <= run.Results.Count, $"more failure rows ({failureRows}) than attempts ({summary})");
        Assert.Equal(0, successRows);
        Assert.Equal("ok", integrity);

        await _server!.DisposeAsync();
        _server = null;

        // Restart on the same data folder (new port: the old one may linger in TIME_WAIT); bob's account is in that
        // database only, so his login proves the restarted server reads it.
        port = await StartServerAsync(config);
        (CliResult login, JsonElement json) = await ClientCli.LoginJsonAsync($"127.0.0.1:{port}", "bob", BobPassword);
        Assert.True(login.ExitCode == 0, $"{login.Output}\n{login.Error}\n{ServerOutput}");
        Assert.Equal("success", json.Str("result"));
    }

    private sealed record BruteForce(IReadOnlyCollection<NlaClientResult> Results, int InFlightAtKill, TimeSpan KilledAfter);

    /// <summary>
    /// <see cref="Workers"/> closed-loop wrong-password handshakes for alice (as <c>rdpnla bench --sources</c>: each from
    /// the next loopback source, so per-source penalties stay out of the way), SIGKILL of the server mid-run, then
    /// every in-flight attempt is let finish.
    /// </summary>
    private async Task<BruteForce> BruteForceUntilKilledAsync(int port)
    {
        using var credentials = new NlaCredentials("alice", "", "wrong-password");
        IReadOnlyList<IPAddress> sources = NlaBenchOptions.LoopbackSources(4_000);
        var results = new ConcurrentQueue<NlaClientResult>();
        var enough = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        int started = 0;
        int inFlight = 0;
        int acknowledged = 0;

        async Task WorkerAsync()
        {
            await Task.Yield();
            while (!stop.IsCancellationRequested)
            {
                int number = Interlocked.Increment(ref started);
                Interlocked.Increment(ref inFlight);
                NlaClientResult result;
                try
                {
                    result = await NlaClient.RunAsync(
                        new NlaClientOptions
                        {
                            Host = "127.0.0.1",
                            Port = port,
                            LocalAddress = sources[number % sources.Count],
                            Timeout = TimeSpan.FromSeconds(5),
                            Credentials = credentials,
                            StopAfter = NlaClientStage.Authentication,
                            PostAuthenticationWait = TimeSpan.Zero,
                            CertificatePolicy = ServerCertificatePolicy.Ignore,
                        },
                        Ct);
                }
                finally
                {
                    Interlocked.Decrement(ref inFlight);
                }

                results.Enqueue(result);
                if (result.FailureKind == NlaFailureKind.LogonRefused && Interlocked.Increment(ref acknowledged) >= KillAfterAcknowledged)
                {
                    enough.TrySetResult();
                }
            }
        }

        var clock = Stopwatch.StartNew();
        Task all = Task.WhenAll(Enumerable.Range(0, Workers).Select(_ => WorkerAsync()));
        try
        {
            await Task.WhenAny(enough.Task, all, Task.Delay(BruteForceDeadline, Ct));
            Ct.ThrowIfCancellationRequested();
            if (all.IsCompleted)
            {
                await all; // a worker threw: report it
            }

            Assert.False(_server!.Process.HasExited, $"rdpnla serve stopped on its own:\n{ServerOutput}");
        }
        finally
        {
            // Stopping the workers before the kill: every attempt counted started while the server was alive (it was
            // acknowledged, or the kill cut it). Also on failure, so that no worker outlives the test.
            await stop.CancelAsync();
        }

        int inFlightAtKill = Volatile.Read(ref inFlight);
        TimeSpan elapsed = clock.Elapsed;
        _server.Process.Kill(); // SIGKILL on Linux: no drain, no shutdown code runs in the server
        await _server.Process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);
        Assert.Equal(128 + 9, _server.Process.ExitCode); // killed by signal 9, as the shell reports it

        // Attempts cut by the kill end at once (reset or closed by the kernel); none waits longer than its own timeout.
        await all.WaitAsync(TimeSpan.FromSeconds(15), Ct);
        return new BruteForce(results, inFlightAtKill, elapsed);
    }

    /// <summary>Starts <c>rdpnla serve</c> as a child process and returns its port.</summary>
    private async Task<int> StartServerAsync(string config)
    {
        _server = await ServeProcess.StartAsync(DataDirectory, config, "--log-level", "Warning");
        return _server.Port;
    }

    private async Task<(long FailureRows, long SuccessRows, string Integrity)> ReadDatabaseAsync()
    {
        // No pooling: the restarted server must find no handle of this process on its database.
        string connectionString = new SqliteConnectionStringBuilder { DataSource = DatabasePath, Pooling = false }.ToString();
        await using var connection = new SqliteConnection(connectionString);
        await connection.OpenAsync(Ct);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "PRAGMA integrity_check;";
        string integrity = string.Join("\n", await ReadStringsAsync(command));
        command.CommandText = "SELECT count(*) FROM audit WHERE user_name = 'alice' AND outcome = 'failure';";
        long failures = (long)(await command.ExecuteScalarAsync(Ct))!;
        command.CommandText = "SELECT count(*) FROM audit WHERE user_name = 'alice' AND outcome = 'success';";
        long successes = (long)(await command.ExecuteScalarAsync(Ct))!;
        return (failures, successes, integrity);
    }

    private static async Task<List<string>> ReadStringsAsync(SqliteCommand command)
    {
        var values = new List<string>();
        await using SqliteDataReader reader = await command.ExecuteReaderAsync(Ct);
        while (await reader.ReadAsync(Ct))
        {
            values.Add(reader.GetString(0));
        }

        return values;
    }

    private string ServerOutput => _server?.Output ?? "";

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(_root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
