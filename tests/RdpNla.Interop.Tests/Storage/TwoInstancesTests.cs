using System.Collections.Concurrent;
using System.Net;
using System.Text.Json;
using RdpNla.Cli.Bench;
using RdpNla.Client;
using RdpNla.Tests.Accounts;
using RdpNla.Tests.Client;
using RdpNla.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Server.Audit;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Storage;

/// <summary>
/// Two <c>rdpnla serve</c> processes sharing one PostgreSQL store (docs/high-availability.md): a user added once logs in
/// through both, the lockout threshold holds for the pair, the audit names both instances, logons fail closed while
/// PostgreSQL is away, and a SIGKILLed instance loses no acknowledged outcome's row.
/// </summary>
public sealed class TwoInstancesTests(PostgresServer postgres) : IAsyncDisposable
{
    private const string AlicePassword = "Passw0rd!";
    private const string BobPassword = "B0b-s3cret!";
    private const int WorkersPerInstance = 4;

    // The kill test: kill once this many outcomes were acknowledged by the victim, or after LoadDeadline once each
    // instance has told both kinds of outcome (a loaded machine may need longer for the first ones: at most LoadLimit).
    private const int KillAfterAcknowledged = 150;
    private static readonly TimeSpan LoadDeadline = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan LoadLimit = TimeSpan.FromSeconds(90);
    private readonly TempDirectory _directory = new();
    private readonly List<ServeProcess> _servers = [];

    // Threshold 3; no connection rate limit and no penalties, so that every attempt reaches the password check.
    private const string LockoutConfig = """{ "LockoutThreshold": 3, "Limits": { "MaxConnectionRatePerAddress": 0, "PenaltiesEnabled": false } }""";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A new database on <paramref name="server"/> holding alice (added with the CLI), and a settings file.</summary>
    private async Task<(string Store, string Config)> PrepareAsync(PostgresServer server, string settings)
    {
        string store = await server.CreateDatabaseAsync();
        CliResult add = await Accounts.Cli.RunAsync(new FakeCliConsole(AlicePassword + "\n"), "users", "add", "alice", "--password-stdin", "--store", store);
        Assert.True(add.ExitCode == 0, add.Output + add.Error);
        string config = Path.Combine(_directory.Path, "serve.json");
        await File.WriteAllTextAsync(config, settings, Ct);
        return (store, config);
    }

    [Fact]
    public async Task TwoInstances_OnePostgres_ShareUsersLockoutAndAudit()
    {
        (string store, string config) = await PrepareAsync(postgres, LockoutConfig);
        ServeProcess a = await StartAsync("gw-a", store, config);
        ServeProcess b = await StartAsync("gw-b", store, config);

        foreach (ServeProcess server in new[] { a, b })
        {
            (CliResult login, JsonElement json) = await ClientCli.LoginJsonAsync(server.Address, "alice", AlicePassword);
            Assert.True(login.ExitCode == 0, $"{login.Output}\n{login.Error}\n{server.Output}");
            Assert.Equal("success", json.Str("result"));
        }

        // A brute force spread over both instances: the third wrong password (threshold 3) locks the account for the
        // pair, whichever instance answers next.
        var statuses = new List<string?>();
        for (int i = 0; i < 6; i++)
        {
            (_, JsonElement json) = await ClientCli.LoginJsonAsync((i % 2 == 0 ? a : b).Address, "alice", "wrong-password-" + i);
            statuses.Add(json.Str("ntstatus"));
        }

        Assert.Equal(
            ["STATUS_LOGON_FAILURE", "STATUS_LOGON_FAILURE", "STATUS_LOGON_FAILURE", "STATUS_ACCOUNT_LOCKED_OUT", "STATUS_ACCOUNT_LOCKED_OUT", "STATUS_ACCOUNT_LOCKED_OUT"],
            statuses);
        (_, JsonElement locked) = await ClientCli.LoginJsonAsync(a.Address, "alice", AlicePassword);
        Assert.Equal("STATUS_ACCOUNT_LOCKED_OUT", locked.Str("ntstatus"));

        CliResult audit = await Accounts.Cli.RunAsync("audit", "--json", "--user", "alice", "--store", store);
        Assert.True(audit.ExitCode == 0, audit.Output + audit.Error);
        JsonElement[] rows = JsonDocument.Parse(audit.Output).RootElement.EnumerateArray().ToArray();
        Assert.Equal(9, rows.Length);
        Assert.Equal(["gw-a", "gw-b"], rows.Select(r => r.GetProperty("instance").GetString()).Distinct().Order());
        Assert.Equal(3, rows.Count(r => r.GetProperty("ntStatus").GetString() == "STATUS_LOGON_FAILURE"));
        Assert.All(rows, r => Assert.Equal("127.0.0.1", r.GetProperty("clientAddress").GetString()));
    }

    [Fact]
    public async Task TwoInstances_OnePostgres_16ParallelCorrectPasswordsOfOneUserAllSucceedAndWrongOnesStayBounded()
    {
        (string store, string config) = await PrepareAsync(postgres, LockoutConfig);
        ServeProcess a = await StartAsync("gw-a", store, config);
        ServeProcess b = await StartAsync("gw-b", store, config);

        // Four bursts of 16 logons of alice, half on each instance, threshold 3: an attempt that finds the places held
        // by the other instance's attempts sees their release only by retrying.
        for (int round = 0; round < 4; round++)
        {
            NlaClientResult[] results = await Task.WhenAll(Enumerable.Range(0, 16).Select(i =>
                Task.Run(() => LogonAsync((i % 2 == 0 ? a : b).Port, $"127.0.{10 + round}.{i + 1}", AlicePassword), Ct)));
            Assert.All(results, r => Assert.True(r.Outcome == NlaOutcome.Success, $"{r.FailureKind}: {RdpNla.Cli.Commands.ClientResultText.Describe(r)}\n{a.Output}\n{b.Output}"));
        }

        // Wrong passwords at once on both: exactly the threshold are verified, the rest refused as locked out.
        NlaClientResult[] wrong = await Task.WhenAll(Enumerable.Range(0, 16).Select(i =>
            Task.Run(() => LogonAsync((i % 2 == 0 ? a : b).Port, $"127.0.20.{i + 1}", "wrong-password"), Ct)));
        Assert.Equal(3, wrong.Count(r => r.CredSsp?.ErrorCode == NtStatus.LogonFailure));
        Assert.Equal(13, wrong.Count(r => r.CredSsp?.ErrorCode == NtStatus.AccountLockedOut));
    }

    [Fact]
    public async Task Serve_PostgresUnreachableAtStart_OneClearLineAndExitCode3()
    {
        using ClosedPort closed = PeerPorts.HoldClosedPort();
        int port = closed.Port;
        string cli = Path.Combine(AppContext.BaseDirectory, "rdpnla.dll");

        ProcessResult result = await ExternalProcess.RunAsync(
            "dotnet",
            [cli, "serve", "--data", _directory.Path, "--listen", $"127.0.0.1:{PeerPorts.GetFreePort()}", "--store", $"Host=127.0.0.1;Port={port};Username=rdpnla;Database=rdpnla;Timeout=3"],
            null,
            TimeSpan.FromSeconds(60),
            Ct);

        Assert.Equal(3, result.ExitCode);
        string[] lines = result.Output.TrimEnd().Split('\n');
        string error = Assert.Single(lines, l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.StartsWith($"error: cannot connect to PostgreSQL at postgresql://rdpnla@127.0.0.1:{port}/rdpnla", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task TwoInstancesBehindHaproxy_LockoutHoldsAndAuditShowsRealClientsAndBothInstances()
    {
        (string store, string config) = await PrepareAsync(postgres, LockoutConfig);
        ServeProcess a = await StartAsync("gw-a", store, config, "--trusted-proxy", "127.0.0.1");
        ServeProcess b = await StartAsync("gw-b", store, config, "--trusted-proxy", "127.0.0.1");
        await using HaproxyProcess balancer = await HaproxyProcess.StartAsync(a.Port, b.Port);

        // Round robin: the two logons land one on each instance; each client has its own loopback address.
        NlaClientResult first = await LogonAsync(balancer.Port, "127.0.0.21", AlicePassword);
        NlaClientResult second = await LogonAsync(balancer.Port, "127.0.0.22", AlicePassword);
        var statuses = new List<NtStatus?>();
        for (int i = 0; i < 6; i++)
        {
            NlaClientResult wrong = await LogonAsync(balancer.Port, $"127.0.0.{31 + i}", "wrong-password-" + i);
            statuses.Add(wrong.CredSsp?.ErrorCode);
        }

        Assert.True(first.Outcome == NlaOutcome.Success, $"{first.FailureKind}: {RdpNla.Cli.Commands.ClientResultText.Describe(first)}\n{balancer.Output}\n{a.Output}\n{b.Output}");
        Assert.Equal(NlaOutcome.Success, second.Outcome);
        Assert.Equal(
            [NtStatus.LogonFailure, NtStatus.LogonFailure, NtStatus.LogonFailure, NtStatus.AccountLockedOut, NtStatus.AccountLockedOut, NtStatus.AccountLockedOut],
            statuses);
        await using RdpNlaStore shared = await RdpNlaStore.OpenAsync(StoreLocation.Parse(store, _directory.Path), _directory.Path, TimeProvider.System, Ct);
        IReadOnlyList<AuditEntry> rows = await shared.Audit.QueryAsync(new AuditQuery { UserName = "alice" }, Ct);
        Assert.Equal(8, rows.Count);
        Assert.Equal(["gw-a", "gw-b"], rows.Select(r => r.InstanceName).Distinct().Order());
        Assert.Equal(
            ["127.0.0.21", "127.0.0.22", .. Enumerable.Range(31, 6).Select(n => $"127.0.0.{n}")],
            rows.Select(r => r.ClientAddress).Order(StringComparer.Ordinal));
    }

    [Fact]
    public async Task PostgresRestartedDuringARun_LogonsFailClosedWithInternalDbErrorBoundedLogThenResume()
    {
        // Its own PostgreSQL: stopping it must not disturb the other tests' server.
        await using var own = new PostgresServer();
        (string store, string config) = await PrepareAsync(own, """{ "Limits": { "MaxConnectionRatePerAddress": 0, "PenaltiesEnabled": false } }""");
        ServeProcess server = await StartAsync("gw-a", store, config);
        (CliResult before, _) = await ClientCli.LoginJsonAsync(server.Address, "alice", AlicePassword);
        Assert.True(before.ExitCode == 0, before.Output + before.Error + server.Output);

        await own.StopAsync();
        var outage = System.Diagnostics.Stopwatch.StartNew();
        var during = new List<(CliResult Result, JsonElement Json)>();
        for (int i = 0; i < 8; i++)
        {
            during.Add(await ClientCli.LoginJsonAsync(server.Address, "alice", i % 2 == 0 ? AlicePassword : "wrong-password"));
        }

        TimeSpan outageLength = outage.Elapsed;
        await own.EnsureStartedAsync();
        int attempts = 0;
        CliResult after;
        do
        {
            attempts++;
            (after, _) = await ClientCli.LoginJsonAsync(server.Address, "alice", AlicePassword);
        }
        while (after.ExitCode != 0 && attempts < 10);

        // Fail closed: right and wrong passwords alike get the status of a server that cannot read its account
        // database, and none is counted as a wrong password (the account is not locked afterwards).
        Assert.All(during, d => Assert.Equal("STATUS_INTERNAL_DB_ERROR", d.Json.Str("ntstatus")));
        Assert.All(during, d => Assert.Equal((14, "error"), (d.Result.ExitCode, d.Json.Str("result")))); // no verdict on the password
        Assert.False(server.Process.HasExited, server.Output);
        Assert.True(after.ExitCode == 0, $"no logon succeeded in {attempts} attempts after PostgreSQL returned:\n{after.Output}\n{server.Output}");

        // The log: the first fault at once, then at most one line per 10 s (each saying how many it held back), and
        // one line when the store answers again.
        int faultLines = Occurrences(server.Output, "The account database failed during");
        Assert.InRange(faultLines, 1, 1 + (int)(outageLength.TotalSeconds / 10));
        Assert.InRange(Occurrences(server.Output, "Writing the audit record failed"), 0, 1 + (int)(outageLength.TotalSeconds / 10));
        Assert.Equal(1, Occurrences(server.Output, "The account database answers again after"));
        TestContext.Current.SendDiagnosticMessage($"{during.Count} logons in {outageLength.TotalSeconds:F1} s of outage, {faultLines} fault line(s); logons resumed at attempt {attempts}");
    }

    [Fact]
    public async Task AuditInsertFailsAfterTheWrongPasswordWasCounted_ClientGetsInternalDbErrorBoundedLogThenLogonsResume()
    {
        (string store, string config) = await PrepareAsync(postgres, """{ "Limits": { "MaxConnectionRatePerAddress": 0, "PenaltiesEnabled": false } }""");
        ServeProcess server = await StartAsync("gw-a", store, config);

        // The audit table refuses every insert on the server while the users table still takes the failure count.
        await ExecutePostgresAsync(store, """
            CREATE FUNCTION audit_refuses() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'audit refused by the test'; END $$;
            CREATE TRIGGER audit_refuses BEFORE INSERT ON audit FOR EACH ROW EXECUTE FUNCTION audit_refuses();
            """);
        var fault = System.Diagnostics.Stopwatch.StartNew();
        var during = new List<(CliResult Result, JsonElement Json)>();
        for (int i = 0; i < 3; i++)
        {
            during.Add(await ClientCli.LoginJsonAsync(server.Address, "alice", "wrong-password-" + i));
        }

        TimeSpan faultLength = fault.Elapsed;
        int counted;
        await using (RdpNlaStore shared = await RdpNlaStore.OpenAsync(StoreLocation.Parse(store, _directory.Path), _directory.Path, TimeProvider.System, Ct))
        {
            counted = (await shared.Users.FindAsync("alice", Ct))!.FailedLogonCount;
        }

        await ExecutePostgresAsync(store, "DROP TRIGGER audit_refuses ON audit; DROP FUNCTION audit_refuses();");
        (CliResult after, JsonElement afterJson) = await ClientCli.LoginJsonAsync(server.Address, "alice", AlicePassword);

        // Counted, but not on record: the client is told the server's fault, never STATUS_LOGON_FAILURE.
        Assert.All(during, d => Assert.Equal("STATUS_INTERNAL_DB_ERROR", d.Json.Str("ntstatus")));
        Assert.Equal(3, counted);
        Assert.InRange(Occurrences(server.Output, "Writing the audit record failed: PostgresException"), 1, 1 + (int)(faultLength.TotalSeconds / 10));
        Assert.Contains("audit refused by the test", server.Output, StringComparison.Ordinal);
        Assert.Equal(0, Occurrences(server.Output, "The account database answers again after"));

        // Without a restart: the next logon succeeds and every row in the audit is one the server could commit.
        Assert.True(after.ExitCode == 0, $"{after.Output}\n{after.Error}\n{server.Output}");
        Assert.Equal("success", afterJson.Str("result"));
        await using RdpNlaStore reopened = await RdpNlaStore.OpenAsync(StoreLocation.Parse(store, _directory.Path), _directory.Path, TimeProvider.System, Ct);
        AuditEntry row = Assert.Single(await reopened.Audit.QueryAsync(new AuditQuery { UserName = "alice" }, Ct));
        Assert.Equal(AuditOutcome.Success, row.Outcome);
    }

    private static async Task ExecutePostgresAsync(string store, string sql)
    {
        await using var connection = new Npgsql.NpgsqlConnection(store);
        await connection.OpenAsync(Ct);
        await using var command = new Npgsql.NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(Ct);
    }

    [Fact]
    public async Task OneOfTwoInstancesKilledUnderLoad_EveryAcknowledgedOutcomeHasItsRowInPostgres()
    {
        // Lockout off: every wrong password is a real check answered STATUS_LOGON_FAILURE; no rate limit, no penalties.
        (string store, string config) = await PrepareAsync(postgres, """{ "LockoutThreshold": 0, "Limits": { "MaxConnectionRatePerAddress": 0, "PenaltiesEnabled": false } }""");
        CliResult addBob = await Accounts.Cli.RunAsync(new FakeCliConsole(BobPassword + "\n"), "users", "add", "bob", "--password-stdin", "--store", store);
        Assert.True(addBob.ExitCode == 0, addBob.Output + addBob.Error);
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
                    result = await LogonAsync(server.Port, sources[n % sources.Count].ToString(), password, user);
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
        bool BothKindsTold(string instance) =>
            acknowledged.TryGetValue(instance, out var told) && told.Any(t => t.User == "alice") && told.Any(t => t.User == "bob");
        var load = System.Diagnostics.Stopwatch.StartNew();
        while (!victimDone.Task.IsCompleted && !workers.Any(w => w.IsFaulted) && load.Elapsed < LoadLimit
               && !(load.Elapsed >= LoadDeadline && BothKindsTold("gw-victim")))
        {
            await Task.Delay(100, Ct);
        }

        Assert.False(victim.Process.HasExited, victim.Output);
        int inFlightAtKill = Volatile.Read(ref inFlightOnVictim);
        victim.Process.Kill(); // SIGKILL: no drain, no shutdown code runs in the server
        await victim.Process.WaitForExitAsync(Ct).WaitAsync(TimeSpan.FromSeconds(10), Ct);

        // The survivor keeps serving after the kill (at least a second, and until it told both kinds), then the load stops.
        var afterKill = System.Diagnostics.Stopwatch.StartNew();
        while ((afterKill.Elapsed < TimeSpan.FromSeconds(1) || !BothKindsTold("gw-survivor")) && afterKill.Elapsed < LoadLimit && !workers.Any(w => w.IsFaulted))
        {
            await Task.Delay(100, Ct);
        }

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

    private static int Occurrences(string text, string value)
    {
        int count = 0;
        for (int at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + value.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    private static async Task<NlaClientResult> LogonAsync(int port, string source, string password, string user = "alice")
    {
        using var credentials = new NlaCredentials(user, "", password);
        return await NlaClient.RunAsync(
            new NlaClientOptions
            {
                Host = "127.0.0.1",
                Port = port,
                LocalAddress = IPAddress.Parse(source),
                Timeout = TimeSpan.FromSeconds(15),
                Credentials = credentials,
                StopAfter = NlaClientStage.Authentication,
                PostAuthenticationWait = TimeSpan.Zero,
                CertificatePolicy = ServerCertificatePolicy.Ignore,
            },
            Ct);
    }

    private async Task<ServeProcess> StartAsync(string name, string store, string config, params string[] more)
    {
        string data = Path.Combine(_directory.Path, name);
        Directory.CreateDirectory(data);
        ServeProcess server = await ServeProcess.StartAsync(data, config, ["--store", store, "--instance-name", name, "--log-level", "Warning", .. more]);
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
