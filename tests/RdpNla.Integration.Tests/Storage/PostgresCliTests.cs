using System.Text.Json;
using RdpNla.Integration.Tests.Accounts;
using RdpNla.Integration.Tests.Support;
using RdpNla.Protocol.Ntlm;
using RdpNla.Server.Accounts;
using RdpNla.Server.Audit;
using RdpNla.Server.Storage;

namespace RdpNla.Integration.Tests.Storage;

/// <summary>The admin commands with <c>--store</c> against a real PostgreSQL, and <c>rdpnla store copy</c>.</summary>
public sealed class PostgresCliTests(PostgresServer postgres) : IDisposable
{
    private readonly TempDirectory _directory = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task UsersAddListAndUnlock_WithPostgresStore_WorkOnTheSharedTables()
    {
        string store = await postgres.CreateDatabaseAsync();

        CliResult add = await Accounts.Cli.RunAsync(new FakeCliConsole("Passw0rd!\n"), "users", "add", "alice", "--password-stdin", "--store", store);
        CliResult lockResult = await Accounts.Cli.RunAsync("users", "lock", "alice", "--store", store);
        CliResult list = await Accounts.Cli.RunAsync("users", "list", "--json", "--store", store);

        Assert.True(add.ExitCode == 0, add.Output + add.Error);
        Assert.True(lockResult.ExitCode == 0, lockResult.Output + lockResult.Error);
        JsonElement user = Assert.Single(JsonDocument.Parse(list.Output).RootElement.EnumerateArray());
        Assert.Equal("alice", user.GetProperty("name").GetString());
        await using RdpNlaStore opened = await RdpNlaStore.OpenAsync(StoreLocation.Parse(store, _directory.Path), _directory.Path, TimeProvider.System, Ct);
        using UserCredential? credential = await opened.Users.FindCredentialAsync("alice", Ct);
        Assert.Equal(NtlmCrypto.NtOwfV1("Passw0rd!"), credential!.NtHash.ToArray());
        Assert.Equal(DateTimeOffset.MaxValue, credential.Account.LockedUntil);
        Assert.False(File.Exists(Path.Combine(_directory.Path, "rdpnla.db")));
    }

    [Fact]
    public async Task Audit_WithPostgresStore_ShowsRowsOfEveryInstanceWithTheirNames()
    {
        string store = await postgres.CreateDatabaseAsync();
        await using (RdpNlaStore opened = await RdpNlaStore.OpenAsync(StoreLocation.Parse(store, _directory.Path), _directory.Path, TimeProvider.System, Ct))
        {
            await opened.Audit.AppendAsync(StoreContractTests.Entry(0, "alice", "10.0.0.1", AuditOutcome.Success), Ct);
            await opened.Audit.AppendAsync(StoreContractTests.Entry(1, "alice", "10.0.0.2", AuditOutcome.Failure), Ct);
        }

        CliResult audit = await Accounts.Cli.RunAsync("audit", "--json", "--since", "2026-01-01T00:00:00Z", "--store", store);

        Assert.True(audit.ExitCode == 0, audit.Output + audit.Error);
        Assert.Equal(["gw-b", "gw-a"], JsonDocument.Parse(audit.Output).RootElement.EnumerateArray().Select(e => e.GetProperty("instance").GetString()));
    }

    [Fact]
    public async Task Users_PasswordInStoreOnTheCommandLine_RefusedWithOneLine()
    {
        CliResult result = await Accounts.Cli.RunAsync("users", "list", "--store", "Host=127.0.0.1;Username=rdpnla;Password=not-here;Database=rdpnla");

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: --store: do not put the password on the command line", result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.TrimEnd().Split('\n'));
        Assert.DoesNotContain("not-here", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_PortalWithPostgresStore_RefusedAtStartWithOneLine()
    {
        string store = await postgres.CreateDatabaseAsync();
        string cli = Path.Combine(AppContext.BaseDirectory, "rdpnla.dll");

        ProcessResult result = await ExternalProcess.RunAsync(
            "dotnet",
            [cli, "serve", "--data", _directory.Path, "--listen", $"127.0.0.1:{PeerPorts.GetFreePort()}", "--portal-listen", $"127.0.0.1:{PeerPorts.GetFreePort()}", "--store", store],
            null,
            TimeSpan.FromSeconds(60),
            Ct);

        Assert.Equal(1, result.ExitCode);
        string error = Assert.Single(result.Output.TrimEnd().Split('\n'), l => l.StartsWith("error:", StringComparison.Ordinal));
        Assert.StartsWith("error: Portal:Listen '127.0.0.1:", error, StringComparison.Ordinal);
        Assert.Contains("needs an SQLite store", error, StringComparison.Ordinal);
        Assert.DoesNotContain("   at ", result.Output, StringComparison.Ordinal);
        Assert.False(File.Exists(Path.Combine(_directory.Path, "rdpnla.db")));
    }

    [Fact]
    public async Task UsersRequireMfa_WithPostgresStore_RefusedWithOneLineAndNothingWritten()
    {
        string store = await postgres.CreateDatabaseAsync();
        CliResult add = await Accounts.Cli.RunAsync(new FakeCliConsole("Passw0rd!\n"), "users", "add", "alice", "--password-stdin", "--store", store);

        CliResult result = await Accounts.Cli.RunAsync("users", "require-mfa", "alice", "--data", _directory.Path, "--store", store);

        Assert.True(add.ExitCode == 0, add.Output + add.Error);
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: the portal's second-factor settings", result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.TrimEnd().Split('\n'));
        Assert.False(File.Exists(Path.Combine(_directory.Path, "rdpnla.db")));
    }

    [Fact]
    public async Task Users_PostgresUnreachable_OneLineAndExitCode3()
    {
        int port = PeerPorts.GetFreePort();

        CliResult result = await Accounts.Cli.RunAsync("users", "list", "--store", $"Host=127.0.0.1;Port={port};Username=rdpnla;Database=rdpnla;Timeout=3");

        Assert.Equal(3, result.ExitCode);
        Assert.StartsWith($"error: cannot connect to PostgreSQL at postgresql://rdpnla@127.0.0.1:{port}/rdpnla", result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.TrimEnd().Split('\n'));
    }

    [Fact]
    public async Task Groups_WithPostgresStore_RefusedWithOneLineSayingWhy()
    {
        string store = await postgres.CreateDatabaseAsync();

        CliResult result = await Accounts.Cli.RunAsync("groups", "list", "--store", store);

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: the gateway's groups, backends, mapped credentials and certificates are not in PostgreSQL yet", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task StoreCopy_SqliteInstallation_CopiesUsersStateAndAuditThenRefusesASecondCopy()
    {
        var time = new Microsoft.Extensions.Time.Testing.FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero));
        IReadOnlyList<UserAccount> users;
        IReadOnlyList<AuditEntry> audit;
        await using (RdpNlaDatabase sqlite = await RdpNlaDatabase.OpenAsync(_directory.DatabasePath, time, Ct))
        {
            await sqlite.Users.AddAsync("alice", NtlmCrypto.NtOwfV1("Passw0rd!"), Ct);
            await sqlite.Users.AddAsync("Bob", NtlmCrypto.NtOwfV1("B0b-s3cret!"), Ct);
            time.Advance(TimeSpan.FromMinutes(3));
            await sqlite.Users.UpdateAsync("bob", a => a with { LockedUntil = DateTimeOffset.MaxValue, FailedLogonCount = 5, LastFailedLogon = time.GetUtcNow(), RemoteLogonDenied = true }, Ct);
            for (int i = 0; i < 7; i++)
            {
                await sqlite.Audit.AppendAsync(StoreContractTests.Entry(i, i % 2 == 0 ? "alice" : null, "10.0.0." + i, (AuditOutcome)(i % 4)), Ct);
            }

            users = await sqlite.Users.ListAsync(Ct);
            audit = await sqlite.Audit.QueryAsync(new AuditQuery(), Ct);
        }

        string store = await postgres.CreateDatabaseAsync();
        CliResult copy = await Accounts.Cli.RunAsync("store", "copy", "--from", _directory.DatabasePath, "--to", store);
        CliResult again = await Accounts.Cli.RunAsync("store", "copy", "--from", _directory.DatabasePath, "--to", store);

        Assert.True(copy.ExitCode == 0, copy.Output + copy.Error);
        Assert.Contains("copied 2 users and 7 audit rows", copy.Output, StringComparison.Ordinal);
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("already holds users or audit rows", again.Error, StringComparison.Ordinal);
        await using RdpNlaStore copied = await RdpNlaStore.OpenAsync(StoreLocation.Parse(store, _directory.Path), _directory.Path, time, Ct);
        Assert.Equal(users.Select(u => u with { Id = 0 }), (await copied.Users.ListAsync(Ct)).Select(u => u with { Id = 0 }));
        Assert.Equal(audit.Select(e => e with { Id = 0 }), (await copied.Audit.QueryAsync(new AuditQuery(), Ct)).Select(e => e with { Id = 0 }));
        using UserCredential? bob = await copied.Users.FindCredentialAsync("bob", Ct);
        Assert.Equal(NtlmCrypto.NtOwfV1("B0b-s3cret!"), bob!.NtHash.ToArray());
    }
}
