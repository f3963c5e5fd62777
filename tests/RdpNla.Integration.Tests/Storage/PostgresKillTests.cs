using System.Collections.Concurrent;
using System.Net;
using RdpNla.Integration.Tests.Accounts;
using RdpNla.Integration.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Server.Audit;
using RdpNla.Server.Storage;
using RdpNla.Transport.Client;

namespace RdpNla.Integration.Tests.Storage;

/// <summary>
/// Durability of the shared audit trail (docs/high-availability.md, "Faults"): two <c>rdpnla serve</c> processes on one
/// PostgreSQL under a mixed load (wrong passwords for alice, right ones for bob), one of them SIGKILLed mid-run. Every
/// outcome a client was told, by either instance, has its row, naming that instance, committed in PostgreSQL.
/// </summary>
public sealed class PostgresKillTests(PostgresServer postgres) : IAsyncDisposable
{
    private const string AlicePassword = "Passw0rd!";
    private const string BobPassword = "B0b-s3cret!";
    private const int WorkersPerInstance = 4;

    // Kill once this many outcomes were acknowledged by the victim, or at the deadline, whichever comes first.
    private const int KillAfterAcknowledged = 150;
    private static readonly TimeSpan LoadDeadline = TimeSpan.FromSeconds(10);

    private readonly TempDirectory _directory = new();
    private readonly List<ServeProcess> _servers = [];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task OneOfTwoInstancesKilledUnderLoad_EveryAcknowledgedOutcomeHasItsRowInPostgres()
    {
        string store = await postgres.CreateDatabaseAsync();
        foreach ((string user, string password) in new[] { ("alice", AlicePassword), ("bob", BobPassword) })
        {
            CliResult add = await Accounts.Cli.RunAsync(new FakeCliConsole(password + "\n"), "users", "add", user, "--password-stdin", "--store", store);
            Assert.True(add.ExitCode == 0, add.Output + add.Error);
        }

        // Lockout off: every wrong password is a real check answered STATUS_LOGON_FAILURE; no rate limit, no penalties.
        string config = Path.Combine(_directory.Path, "serve.json");
        await File.WriteAllTextAsync(config, """{ "LockoutThreshold": 0, "Limits": { "MaxConnectionRatePerAddress": 0, "PenaltiesEnabled": false } }""", Ct);
        ServeProcess victim = await StartAsync("gw-victim", store, config);
        ServeProcess survivor = await StartAsync("gw-survivor", store, config);

        var acknowledged = new ConcurrentDictionary<string, ConcurrentQueue<(string User, NlaClientResult Result)>>();
        var victimDone = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        using var stop = new CancellationTokenSource();
        int victimAcknowledged = 0;
        int inFlightOnVictim = 0;
        IReadOnlyList<IPAddress> sources = NlaBenchOptions.LoopbackSources(2_000);
        int next = 0;

        async Task WorkerAsync(ServeProcess server, string name)
        {
            await Task.Yield();
            while (!stop.IsCancellationRequested)
            {
                int n = Interlocked.Increment(ref next);
                (string user, string password) = n % 3 == 0 ? ("bob", BobPassword) : ("alice", "wrong-password");
                bool onVictim = server == victim;
                if (onVictim)
                {
                    Interlocked.Increment(ref inFlightOnVictim);
                }

                NlaClientResult result;
                try
                {
                    using var credentials = new NlaCredentials(user, "", password);
                    result = await NlaClient.RunAsync(
                        new NlaClientOptions
                        {
                            Host = "127.0.0.1",
                            Port = server.Port,
                            LocalAddress = sources[n % sources.Count],
                            Timeout = TimeSpan.FromSeconds(10),
                            Credentials = credentials,
                            StopAfter = NlaClientStage.Authentication,
                            PostAuthenticationWait = TimeSpan.Zero,
                            CertificatePolicy = ServerCertificatePolicy.Ignore,
                        },
                        Ct);
                }
                finally
                {
                    if (onVictim)
                    {
                        Interlocked.Decrement(ref inFlightOnVictim);
                    }
                }

                // Told: a success (the server's proof arrived) or a logon failure (the errorCode arrived).
                if (result.Outcome == NlaOutcome.Success || result.FailureKind == NlaFailureKind.LogonRefused)
                {
                    acknowledged.GetOrAdd(name, _ => new()).Enqueue((user, result));
                    if (onVictim && Interlocked.Increment(ref victimAcknowledged) >= KillAfterAcknowledged)
                    {
                        victimDone.TrySetResult();
                    }
                }
            }
        }

        Task[] workers =
        [
            .. Enumerable.Range(0, WorkersPerInstance).Select(_ => WorkerAsync(victim, "gw-victim")),
            .. Enumerable.Range(0, WorkersPerInstance).Select(_ => WorkerAsync(survivor, "gw-survivor")),
        ];
        await Task.WhenAny(victimDone.Task, Task.WhenAll(workers), Task.Delay(LoadDeadline, Ct));
        Assert.False(victim.Process.HasExited, victim.Output);
        int inFlightAtKill = Volatile.Read(ref inFlightOnVictim);
        victim.Process.Kill(); // SIGKILL: no drain, no shutdown code runs in the server
        await victim.Process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);

        // The survivor keeps serving for a moment after the kill, then the load stops.
        await Task.Delay(TimeSpan.FromSeconds(1), Ct);
        await stop.CancelAsync();
        await Task.WhenAll(workers).WaitAsync(TimeSpan.FromSeconds(30), Ct);

        await using RdpNlaStore shared = await RdpNlaStore.OpenAsync(StoreLocation.Parse(store, _directory.Path), _directory.Path, TimeProvider.System, Ct);
        IReadOnlyList<AuditEntry> rows = await shared.Audit.QueryAsync(new AuditQuery { Limit = 100_000 }, Ct);
        var summary = new List<string> { $"{inFlightAtKill} in flight on the victim at the kill" };
        foreach (string instance in new[] { "gw-victim", "gw-survivor" })
        {
            (string User, NlaClientResult Result)[] told = acknowledged.TryGetValue(instance, out var queue) ? [.. queue] : [];
            foreach ((string user, AuditOutcome outcome) in new[] { ("alice", AuditOutcome.Failure), ("bob", AuditOutcome.Success) })
            {
                int toldCount = told.Count(t => t.User == user);
                int rowCount = rows.Count(r => r.InstanceName == instance && r.UserName == user && r.Outcome == outcome);
                summary.Add($"{instance} {user}: told {toldCount}, rows {rowCount}");
                Assert.True(toldCount > 0, $"no acknowledged {outcome} on {instance}: {string.Join("; ", summary)}");
                Assert.True(rowCount >= toldCount, $"acknowledged {outcome}s of {user} on {instance} without a row: {string.Join("; ", summary)}");
            }

            Assert.All(told.Where(t => t.User == "alice"), t => Assert.Equal(NtStatus.LogonFailure, t.Result.CredSsp?.ErrorCode));
            Assert.All(told.Where(t => t.User == "bob"), t => Assert.Equal(NlaOutcome.Success, t.Result.Outcome));
        }

        TestContext.Current.SendDiagnosticMessage(string.Join("; ", summary));
        Assert.False(survivor.Process.HasExited, survivor.Output);
        Assert.Equal(137, victim.Process.ExitCode);
    }

    private async Task<ServeProcess> StartAsync(string name, string store, string config)
    {
        string data = Path.Combine(_directory.Path, name);
        Directory.CreateDirectory(data);
        ServeProcess server = await ServeProcess.StartAsync(data, config, ["--store", store, "--instance-name", name, "--log-level", "Warning"]);
        _servers.Add(server);
        return server;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (ServeProcess server in _servers)
        {
            await server.DisposeAsync();
        }

        _directory.Dispose();
    }
}
