using System.Net;
using System.Text.Json;
using RdpNla.Client;
using RdpNla.Integration.Tests.Accounts;
using RdpNla.Integration.Tests.Client;
using RdpNla.Integration.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Server.Audit;
using RdpNla.Server.Storage;

namespace RdpNla.Integration.Tests.Storage;

/// <summary>
/// Two <c>rdpnla serve</c> processes sharing one PostgreSQL store (docs/high-availability.md): a user added once logs in
/// through both, the lockout threshold holds for the pair, and the audit names both instances.
/// </summary>
public sealed class TwoInstancesTests(PostgresServer postgres) : IAsyncDisposable
{
    private const string AlicePassword = "Passw0rd!";
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
    public async Task Serve_PostgresUnreachableAtStart_OneClearLineAndExitCode3()
    {
        int port = PeerPorts.GetFreePort();
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
    public async Task PostgresRestartedDuringARun_ServerStaysUpAndLogonsResume()
    {
        // Its own PostgreSQL: stopping it must not disturb the other tests' server.
        await using var own = new PostgresServer();
        (string store, string config) = await PrepareAsync(own, """{ "Limits": { "MaxConnectionRatePerAddress": 0, "PenaltiesEnabled": false } }""");
        ServeProcess server = await StartAsync("gw-a", store, config);
        (CliResult before, _) = await ClientCli.LoginJsonAsync(server.Address, "alice", AlicePassword);
        Assert.True(before.ExitCode == 0, before.Output + before.Error + server.Output);

        await own.StopAsync();
        (CliResult during, JsonElement duringJson) = await ClientCli.LoginJsonAsync(server.Address, "alice", AlicePassword);
        await own.EnsureStartedAsync();
        int attempts = 0;
        CliResult after;
        do
        {
            attempts++;
            (after, _) = await ClientCli.LoginJsonAsync(server.Address, "alice", AlicePassword);
        }
        while (after.ExitCode != 0 && attempts < 10);

        Assert.NotEqual(0, during.ExitCode);
        Assert.NotEqual("success", duringJson.Str("result"));
        Assert.False(server.Process.HasExited, server.Output);
        Assert.True(after.ExitCode == 0, $"no logon succeeded in {attempts} attempts after PostgreSQL returned:\n{after.Output}\n{server.Output}");
        TestContext.Current.SendDiagnosticMessage($"logons resumed at attempt {attempts} after PostgreSQL restarted");
    }

    private static async Task<NlaClientResult> LogonAsync(int port, string source, string password)
    {
        using var credentials = new NlaCredentials("alice", "", password);
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
