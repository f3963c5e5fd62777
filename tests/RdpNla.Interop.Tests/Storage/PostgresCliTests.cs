using System.Text.Json;
using RdpNla.Tests.Accounts;
using RdpNla.Tests.Support;
using RdpNla.Protocol.Ntlm;
using RdpNla.Server.Accounts;
using RdpNla.Server.Audit;
using RdpNla.Server.Gateway;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Storage;

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
    public async Task UsersRequireMfaAndGroupsRequireMfa_WithPostgresStore_StoredInPostgresAndNothingLocal()
    {
        string store = await postgres.CreateDatabaseAsync();
        CliResult add = await Accounts.Cli.RunAsync(new FakeCliConsole("Passw0rd!\n"), "users", "add", "alice", "--password-stdin", "--store", store);
        CliResult addBob = await Accounts.Cli.RunAsync(new FakeCliConsole("Passw0rd!\n"), "users", "add", "bob", "--password-stdin", "--store", store);
        CliResult group = await Accounts.Cli.RunAsync("groups", "add", "Admins", "--store", store);
        CliResult member = await Accounts.Cli.RunAsync("groups", "add-member", "admins", "bob", "--store", store);

        CliResult user = await Accounts.Cli.RunAsync("users", "require-mfa", "alice", "--data", _directory.Path, "--store", store);
        CliResult groupMfa = await Accounts.Cli.RunAsync("groups", "require-mfa", "admins", "--data", _directory.Path, "--store", store);

        foreach (CliResult result in new[] { add, addBob, group, member, user, groupMfa })
        {
            Assert.True(result.ExitCode == 0, result.Output + result.Error);
        }

        Assert.Contains("it has no authenticator yet", user.Output, StringComparison.Ordinal);
        await using RdpNlaStore shared = await RdpNlaStore.OpenAsync(StoreLocation.Parse(store, _directory.Path), _directory.Path, TimeProvider.System, Ct);
        Assert.True(await shared.SelfService.IsMfaRequiredAsync("alice", Ct));
        Assert.True(await shared.SelfService.IsMfaRequiredAsync("bob", Ct));
        Assert.False(File.Exists(Path.Combine(_directory.Path, "rdpnla.db")));
    }

    [Fact]
    public async Task Users_PostgresUnreachable_OneLineAndExitCode3()
    {
        using ClosedPort closed = PeerPorts.HoldClosedPort();
        int port = closed.Port;

        CliResult result = await Accounts.Cli.RunAsync("users", "list", "--store", $"Host=127.0.0.1;Port={port};Username=rdpnla;Database=rdpnla;Timeout=3");

        Assert.Equal(3, result.ExitCode);
        Assert.StartsWith($"error: cannot connect to PostgreSQL at postgresql://rdpnla@127.0.0.1:{port}/rdpnla", result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.TrimEnd().Split('\n'));
    }

    [Fact]
    public async Task GroupsAndBackends_WithPostgresStore_SharedByEveryHandleAndNothingLocal()
    {
        string store = await postgres.CreateDatabaseAsync();
        CliResult add = await Accounts.Cli.RunAsync(new FakeCliConsole("Passw0rd!\n"), "users", "add", "alice", "--password-stdin", "--store", store);
        CliResult group = await Accounts.Cli.RunAsync("groups", "add", "Sales", "--store", store);
        CliResult member = await Accounts.Cli.RunAsync("groups", "add-member", "sales", "alice", "--store", store);
        CliResult backend = await Accounts.Cli.RunAsync("groups", "set-backend", "sales", "10.0.0.7:3389", "--store", store);
        CliResult security = await Accounts.Cli.RunAsync("backends", "set-security", "10.0.0.7:3389", "tls", "--store", store);

        CliResult list = await Accounts.Cli.RunAsync("groups", "list", "--store", store);
        CliResult backends = await Accounts.Cli.RunAsync("backends", "list", "--store", store);

        foreach (CliResult result in new[] { add, group, member, backend, security, list, backends })
        {
            Assert.True(result.ExitCode == 0, result.Output + result.Error);
        }

        Assert.Contains("Sales", list.Output, StringComparison.Ordinal);
        Assert.Contains("alice", list.Output, StringComparison.Ordinal);
        Assert.Contains("10.0.0.7:3389", backends.Output, StringComparison.Ordinal);
        await using RdpNlaStore shared = await RdpNlaStore.OpenAsync(StoreLocation.Parse(store, _directory.Path), _directory.Path, TimeProvider.System, Ct);
        Assert.Equal(("Sales", "10.0.0.7:3389"), await shared.Gateway.GetGroupBackendAsync("ALICE", Ct));
        Assert.Equal((BackendSecurity?)BackendSecurity.Tls, (await shared.Gateway.GetBackendSecurityAsync("10.0.0.7:3389", Ct))!.Security);
        Assert.False(File.Exists(Path.Combine(_directory.Path, "rdpnla.db")));
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
            await SeedGatewayAndPortalAsync(sqlite, time, users);
        }

        string store = await postgres.CreateDatabaseAsync();
        CliResult copy = await Accounts.Cli.RunAsync("store", "copy", "--from", _directory.DatabasePath, "--to", store);
        CliResult again = await Accounts.Cli.RunAsync("store", "copy", "--from", _directory.DatabasePath, "--to", store);

        Assert.True(copy.ExitCode == 0, copy.Output + copy.Error);
        Assert.Contains("copied 2 users, 7 audit rows, 9 gateway rows and 3 portal rows", copy.Output, StringComparison.Ordinal);
        Assert.Equal(2, again.ExitCode);
        Assert.Contains("already holds users, audit rows or gateway settings", again.Error, StringComparison.Ordinal);
        await using RdpNlaStore copied = await RdpNlaStore.OpenAsync(StoreLocation.Parse(store, _directory.Path), _directory.Path, time, Ct);
        Assert.Equal(users.Select(u => u with { Id = 0 }), (await copied.Users.ListAsync(Ct)).Select(u => u with { Id = 0 }));
        Assert.Equal(audit.Select(e => e with { Id = 0 }), (await copied.Audit.QueryAsync(new AuditQuery(), Ct)).Select(e => e with { Id = 0 }));
        using UserCredential? bob = await copied.Users.FindCredentialAsync("bob", Ct);
        Assert.Equal(NtlmCrypto.NtOwfV1("B0b-s3cret!"), bob!.NtHash.ToArray());
        await AssertGatewayAndPortalCopiedAsync(copied, time);
    }

    // 9 gateway rows (2 groups, 1 membership, 1 mapped credential, 1 certificate, 1 backend security, 1 session, 1 domain
    // account's mapped credential, 1 domain group's backend) and 3
    // portal rows (2 history entries, 1 authenticator); alice's own backend and second-factor flag ride on her user row.
    private static async Task SeedGatewayAndPortalAsync(RdpNlaDatabase sqlite, Microsoft.Extensions.Time.Testing.FakeTimeProvider time, IReadOnlyList<UserAccount> users)
    {
        var store = new Server.Portal.SelfServiceStore(sqlite, time);
        using GatewayKey key = GatewayKey.Load(Path.GetDirectoryName(sqlite.FilePath)!, null, create: true);
        await sqlite.Gateway.SetUserBackendAsync("alice", "10.0.0.5:3389", Ct);
        await sqlite.Gateway.AddGroupAsync("Sales", "10.0.0.7:3389", Ct);
        await sqlite.Gateway.AddGroupAsync("Empty", null, Ct);
        await sqlite.Gateway.AddMemberAsync("sales", "bob", Ct);
        await sqlite.Gateway.SetMappedCredentialAsync("alice", "10.0.0.5:3389", "svc", "LAB", System.Text.Encoding.Unicode.GetBytes("Backend-Secret1"), key, Ct);
        await sqlite.Gateway.TrustOnFirstUseAsync("10.0.0.5:3389", new string('A', 64), "CN=backend", Ct);
        await sqlite.Gateway.SetBackendSecurityAsync("10.0.0.5:3389", BackendSecurity.Nla, Ct);
        await sqlite.Gateway.RecordProtocolAsync("10.0.0.5:3389", "HYBRID_EX", 3, new string('A', 64), Ct);
        await sqlite.Gateway.AppendSessionAsync(new GatewaySessionRecord
        {
            ConnectionId = "c1", UserName = "alice", Backend = "10.0.0.5:3389", Started = time.GetUtcNow(), Ended = time.GetUtcNow().AddMinutes(1),
            BytesToBackend = 10, BytesToClient = 20, Outcome = "closed", Reason = "the client hung up",
        }, Ct);
        await sqlite.Gateway.SetDomainMappedCredentialAsync(@"LAB\CAROL", @"LAB\carol", "10.0.0.5:3389", "svc", "", System.Text.Encoding.Unicode.GetBytes("Backend-Secret3"), key, Ct);
        await sqlite.Gateway.SetDomainGroupBackendAsync("S-1-5-21-1-2-3-1105", "Sales", "10.0.0.7:3389", Ct);
        await store.SetUserMfaRequiredAsync("alice", true, Ct);
        await store.SetGroupMfaRequiredAsync("empty", true, Ct);
        await store.SetPendingTotpAsync("alice", [9, 8, 7], Ct);
        await store.ConsumeStepAsync("alice", 77, confirm: true, Ct);
        long aliceId = users.Single(u => u.UserName == "alice").Id;
        await store.RecordReplacedAsync(aliceId, NtlmCrypto.NtOwfV1("old-1"), keep: 5, Ct);
        await store.RecordReplacedAsync(aliceId, NtlmCrypto.NtOwfV1("old-2"), keep: 5, Ct);
    }

    private async Task AssertGatewayAndPortalCopiedAsync(RdpNlaStore copied, Microsoft.Extensions.Time.Testing.FakeTimeProvider time)
    {
        Assert.Equal("10.0.0.5:3389", await copied.Gateway.GetUserBackendAsync("alice", Ct));
        Assert.Equal(
            [new GatewayGroup("Empty", null, []), new GatewayGroup("Sales", "10.0.0.7:3389", ["Bob"])],
            await copied.Gateway.ListGroupsAsync(Ct),
            new GroupComparer());
        using GatewayKey key = GatewayKey.Load(_directory.Path, null, create: false);
        MappedCredential mapped = (await copied.Gateway.GetMappedCredentialAsync("alice", Ct))!;
        Assert.Equal("Backend-Secret1", System.Text.Encoding.Unicode.GetString(GatewayStore.OpenPassword(mapped, "alice", "10.0.0.5:3389", key)));
        Assert.Equal(new TrustedCertificate("10.0.0.5:3389", new string('A', 64), "CN=backend", time.GetUtcNow()), await copied.Gateway.GetTrustedCertificateAsync("10.0.0.5:3389", Ct));
        Assert.Equal(new BackendSecurityRecord("10.0.0.5:3389", BackendSecurity.Nla, "HYBRID_EX", 3, new string('A', 64), time.GetUtcNow()), await copied.Gateway.GetBackendSecurityAsync("10.0.0.5:3389", Ct));
        MappedCredential carol = (await copied.Gateway.GetDomainMappedCredentialAsync(@"LAB\CAROL", Ct))!;
        Assert.Equal("Backend-Secret3", System.Text.Encoding.Unicode.GetString(GatewayStore.OpenPassword(carol, @"LAB\CAROL", "10.0.0.5:3389", key)));
        Assert.Equal([new DomainGroupBackend("S-1-5-21-1-2-3-1105", "Sales", "10.0.0.7:3389")], await copied.Gateway.ListDomainGroupBackendsAsync(Ct));
        GatewaySessionRecord session = Assert.Single(await copied.Gateway.ListSessionsAsync(null, 10, Ct));
        Assert.Equal(("c1", "alice", time.GetUtcNow().AddMinutes(1), 10L, 20L), (session.ConnectionId, session.UserName, session.Ended, session.BytesToBackend, session.BytesToClient));
        Assert.True(await copied.SelfService.IsMfaRequiredAsync("alice", Ct));
        Assert.False(await copied.SelfService.IsMfaRequiredAsync("bob", Ct));
        Assert.Equal((true, 77L, "090807"), (await copied.SelfService.GetTotpAsync("alice", Ct)) is { } t ? (t.Confirmed, t.LastStep, Convert.ToHexString(t.SealedSecret)) : default);
        long aliceId = (await copied.Users.FindAsync("alice", Ct))!.Id;
        Assert.True(await copied.SelfService.IsInHistoryAsync(aliceId, NtlmCrypto.NtOwfV1("old-1"), 2, Ct));
        Assert.True(await copied.SelfService.IsInHistoryAsync(aliceId, NtlmCrypto.NtOwfV1("old-2"), 1, Ct));
        Assert.False(await copied.SelfService.IsInHistoryAsync(aliceId, NtlmCrypto.NtOwfV1("old-1"), 1, Ct));
    }

    private sealed class GroupComparer : IEqualityComparer<GatewayGroup>
    {
        public bool Equals(GatewayGroup? x, GatewayGroup? y) => x!.Name == y!.Name && x.Backend == y.Backend && x.Members.SequenceEqual(y.Members);

        public int GetHashCode(GatewayGroup obj) => obj.Name.GetHashCode(StringComparison.Ordinal);
    }
}
