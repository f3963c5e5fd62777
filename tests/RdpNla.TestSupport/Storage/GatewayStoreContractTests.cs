using System.Security.Cryptography;
using System.Text;
using RdpNla.Tests.Accounts;
using RdpNla.Tests.Support;
using RdpNla.Protocol.Ntlm;
using RdpNla.Server.Gateway;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Storage;

/// <summary>
/// The contract of <see cref="GatewayStore"/> (groups, backends, mapped credentials, trusted certificates, backend
/// security and protocol pins, relayed sessions), run against SQLite and a real PostgreSQL 15. What one handle writes,
/// another handle on the same store (a second instance) reads.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public abstract class GatewayStoreContractTests : StoreTestBase
{
    private GatewayStore Gateway => Store.Gateway;

    [Fact]
    public async Task UserBackend_SetThroughOneInstance_IsReadThroughAnotherAndCleared()
    {
        await Users.AddAsync("Alice", NtlmCrypto.NtOwfV1("pw"), Ct);
        RdpNlaStore other = await OpenAnotherAsync();

        Assert.True(await Gateway.SetUserBackendAsync("alice", "10.0.0.5:3389", Ct));
        Assert.False(await Gateway.SetUserBackendAsync("nobody", "10.0.0.5:3389", Ct));

        Assert.Equal("10.0.0.5:3389", await other.Gateway.GetUserBackendAsync("ALICE", Ct));
        Assert.True(await other.Gateway.SetUserBackendAsync("alice", null, Ct));
        Assert.Null(await Gateway.GetUserBackendAsync("alice", Ct));
    }

    [Fact]
    public async Task Groups_MembersAndBackends_ListedByNameAndFirstGroupWithABackendWins()
    {
        await Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw"), Ct);
        await Users.AddAsync("Bob", NtlmCrypto.NtOwfV1("pw"), Ct);
        Assert.True(await Gateway.AddGroupAsync("Sales", null, Ct));
        Assert.True(await Gateway.AddGroupAsync("Admins", "10.0.0.9:3389", Ct));
        Assert.False(await Gateway.AddGroupAsync("ADMINS", null, Ct));
        Assert.True(await Gateway.AddMemberAsync("sales", "alice", Ct));
        Assert.True(await Gateway.AddMemberAsync("admins", "bob", Ct));
        Assert.True(await Gateway.AddMemberAsync("admins", "ALICE", Ct));
        Assert.False(await Gateway.AddMemberAsync("admins", "alice", Ct));
        Assert.False(await Gateway.AddMemberAsync("admins", "nobody", Ct));
        Assert.False(await Gateway.AddMemberAsync("nogroup", "alice", Ct));

        RdpNlaStore other = await OpenAnotherAsync();
        IReadOnlyList<GatewayGroup> groups = await other.Gateway.ListGroupsAsync(Ct);

        Assert.Equal(["Admins", "Sales"], groups.Select(g => g.Name));
        Assert.Equal(["alice", "Bob"], groups[0].Members);
        Assert.Equal("10.0.0.9:3389", groups[0].Backend);
        Assert.Equal(["alice"], groups[1].Members);
        Assert.Equal(("Admins", "10.0.0.9:3389"), await other.Gateway.GetGroupBackendAsync("alice", Ct));
        Assert.True(await Gateway.SetGroupBackendAsync("sales", "10.0.0.1:3389", Ct));
        Assert.Equal(("Admins", "10.0.0.9:3389"), await other.Gateway.GetGroupBackendAsync("alice", Ct));
        Assert.True(await Gateway.SetGroupBackendAsync("admins", null, Ct));
        Assert.Equal(("Sales", "10.0.0.1:3389"), await other.Gateway.GetGroupBackendAsync("alice", Ct));
        Assert.Null(await other.Gateway.GetGroupBackendAsync("bob", Ct));
        Assert.False(await Gateway.SetGroupBackendAsync("nogroup", null, Ct));
        await Gateway.SetUserBackendAsync("bob", "10.0.0.2:3389", Ct);
        Assert.Equal(((string?)null, ("Sales", "10.0.0.1:3389")), await other.Gateway.GetBackendsAsync("ALICE", Ct));
        Assert.Equal(("10.0.0.2:3389", ((string, string)?)null), await other.Gateway.GetBackendsAsync("bob", Ct));
        Assert.Equal(((string?)null, ((string, string)?)null), await other.Gateway.GetBackendsAsync("nobody", Ct));
    }

    [Fact]
    public async Task FindGroup_AnyCase_WithItsMembers_NullWhenThereIsNone()
    {
        await Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw"), Ct);
        await Gateway.AddGroupAsync("Sales", "10.0.0.1:3389", Ct);
        await Gateway.AddGroupAsync("Admins", null, Ct);
        await Gateway.AddMemberAsync("sales", "alice", Ct);
        RdpNlaStore other = await OpenAnotherAsync();

        GatewayGroup? sales = await other.Gateway.FindGroupAsync("SALES", Ct);
        GatewayGroup? admins = await other.Gateway.FindGroupAsync("admins", Ct);

        Assert.Equal(("Sales", "10.0.0.1:3389"), (sales!.Name, sales.Backend));
        Assert.Equal(["alice"], sales.Members);
        Assert.Equal(("Admins", (string?)null, 0), (admins!.Name, admins.Backend, admins.Members.Count));
        Assert.Null(await other.Gateway.FindGroupAsync("nogroup", Ct));
    }

    [Fact]
    public async Task Groups_RemovingAMemberTheGroupOrTheUser_RemovesTheMembership()
    {
        await Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw"), Ct);
        await Users.AddAsync("bob", NtlmCrypto.NtOwfV1("pw"), Ct);
        await Gateway.AddGroupAsync("Sales", "10.0.0.1:3389", Ct);
        await Gateway.AddGroupAsync("Admins", "10.0.0.9:3389", Ct);
        await Gateway.AddMemberAsync("sales", "alice", Ct);
        await Gateway.AddMemberAsync("sales", "bob", Ct);
        await Gateway.AddMemberAsync("admins", "bob", Ct);

        Assert.True(await Gateway.RemoveMemberAsync("sales", "ALICE", Ct));
        Assert.False(await Gateway.RemoveMemberAsync("sales", "alice", Ct));
        Assert.True(await Users.RemoveAsync("bob", Ct));
        Assert.True(await Gateway.RemoveGroupAsync("admins", Ct));
        Assert.False(await Gateway.RemoveGroupAsync("admins", Ct));

        GatewayGroup sales = Assert.Single(await Gateway.ListGroupsAsync(Ct));
        Assert.Equal("Sales", sales.Name);
        Assert.Empty(sales.Members);
        Assert.Null(await Gateway.GetGroupBackendAsync("alice", Ct));
        // A user of the same name added later is not a member of the removed user's groups.
        await Users.AddAsync("bob", NtlmCrypto.NtOwfV1("pw"), Ct);
        Assert.Null(await Gateway.GetGroupBackendAsync("bob", Ct));
    }

    [Fact]
    public async Task MappedCredential_SealedThroughOneInstance_OpensThroughAnotherWithTheSameKeyAndGoesWithTheUser()
    {
        await Users.AddAsync("carol", NtlmCrypto.NtOwfV1("x"), Ct);
        using GatewayKey key = GatewayKey.Load(Directory.Path, null, create: true);
        Assert.True(await Gateway.SetMappedCredentialAsync("carol", "10.0.0.5:3389", "svc", "LAB", Encoding.Unicode.GetBytes("Backend-Secret1"), key, Ct));
        Assert.False(await Gateway.SetMappedCredentialAsync("nobody", "10.0.0.5:3389", "svc", "LAB", Encoding.Unicode.GetBytes("x"), key, Ct));
        Time.Advance(TimeSpan.FromMinutes(1));
        Assert.True(await Gateway.SetMappedCredentialAsync("CAROL", "10.0.0.6:3389", "svc2", "LAB", Encoding.Unicode.GetBytes("Backend-Secret2"), key, Ct));

        RdpNlaStore other = await OpenAnotherAsync();
        MappedCredential stored = (await other.Gateway.GetMappedCredentialAsync("Carol", Ct))!;

        Assert.Equal(("svc2", "LAB", "10.0.0.6:3389", s_start.AddMinutes(1)), (stored.BackendUser, stored.BackendDomain, stored.Backend, stored.Updated));
        Assert.DoesNotContain("Backend-Secret2", Encoding.Unicode.GetString(stored.SealedPassword));
        Assert.Equal("Backend-Secret2", Encoding.Unicode.GetString(GatewayStore.OpenPassword(stored, "carol", "10.0.0.6:3389", key)));
        Assert.Throws<AuthenticationTagMismatchException>(() => GatewayStore.OpenPassword(stored, "carol", "10.0.0.5:3389", key));
        await Users.RemoveAsync("carol", Ct);
        Assert.Null(await other.Gateway.GetMappedCredentialAsync("carol", Ct));
        Assert.False(await Gateway.RemoveMappedCredentialAsync("carol", Ct));
    }

    [Fact]
    public async Task MappedCredential_Removed_IsGone()
    {
        await Users.AddAsync("carol", NtlmCrypto.NtOwfV1("x"), Ct);
        using GatewayKey key = GatewayKey.Load(Directory.Path, null, create: true);
        await Gateway.SetMappedCredentialAsync("carol", "10.0.0.5:3389", "svc", string.Empty, Encoding.Unicode.GetBytes("s"), key, Ct);

        Assert.True(await Gateway.RemoveMappedCredentialAsync("CAROL", Ct));

        Assert.Null(await Gateway.GetMappedCredentialAsync("carol", Ct));
    }

    [Fact]
    public async Task DomainMappedCredential_KeyedByTheAccount_OpensThroughAnotherInstanceAndIsRemoved()
    {
        using GatewayKey key = GatewayKey.Load(Directory.Path, null, create: true);
        await Gateway.SetDomainMappedCredentialAsync(@"LAB\ALICE", @"LAB\alice", "10.0.0.5:3389", "svc", "BACKEND", Encoding.Unicode.GetBytes("Backend-Secret1"), key, Ct);
        Time.Advance(TimeSpan.FromMinutes(1));
        await Gateway.SetDomainMappedCredentialAsync(@"LAB\ALICE", @"LAB\Alice", "Host:3390", "svc2", "BACKEND", Encoding.Unicode.GetBytes("Backend-Secret2"), key, Ct);
        await Gateway.SetDomainMappedCredentialAsync(@"LAB\BOB", @"LAB\bob", "10.0.0.5:3389", "svc", "", Encoding.Unicode.GetBytes("s"), key, Ct);
        RdpNlaStore other = await OpenAnotherAsync();

        MappedCredential alice = (await other.Gateway.GetDomainMappedCredentialAsync(@"LAB\ALICE", Ct))!;
        IReadOnlyList<DomainMappedAccount> listed = await other.Gateway.ListDomainMappedCredentialsAsync(Ct);

        Assert.Equal(("svc2", "host:3390", s_start.AddMinutes(1)), (alice.BackendUser, alice.Backend, alice.Updated));
        Assert.Equal("Backend-Secret2", Encoding.Unicode.GetString(key.Open(alice.SealedPassword, new MappedCredentialBinding(@"LAB\ALICE", "host:3390", "svc2", "BACKEND"))));
        Assert.Equal(
            [new DomainMappedAccount(@"LAB\ALICE", @"LAB\Alice", "svc2", "BACKEND", "host:3390", s_start.AddMinutes(1)),
             new DomainMappedAccount(@"LAB\BOB", @"LAB\bob", "svc", "", "10.0.0.5:3389", s_start.AddMinutes(1))],
            listed);
        Assert.True(await other.Gateway.RemoveDomainMappedCredentialAsync(@"LAB\BOB", Ct));
        Assert.False(await Gateway.RemoveDomainMappedCredentialAsync(@"LAB\BOB", Ct));
        Assert.Null(await Gateway.GetDomainMappedCredentialAsync(@"LAB\BOB", Ct));
    }

    [Fact]
    public async Task DomainGroupBackends_ByGroupNameOrder_FirstGroupOfTheUserWins()
    {
        await Gateway.SetDomainGroupBackendAsync("s-1-5-21-1-2-3-1105", "Sales", "10.0.0.7:3389", Ct);
        await Gateway.SetDomainGroupBackendAsync("S-1-5-21-1-2-3-1106", "admins", "10.0.0.9:3389", Ct);
        RdpNlaStore other = await OpenAnotherAsync();
        await other.Gateway.SetDomainGroupBackendAsync("S-1-5-21-1-2-3-1105", "Sales", "Host:3389", Ct);

        Assert.Equal(
            [new DomainGroupBackend("S-1-5-21-1-2-3-1106", "admins", "10.0.0.9:3389"), new DomainGroupBackend("S-1-5-21-1-2-3-1105", "Sales", "host:3389")],
            await Gateway.ListDomainGroupBackendsAsync(Ct));
        Assert.Equal("admins", (await Gateway.GetDomainGroupBackendAsync(["S-1-5-21-1-2-3-1105", "s-1-5-21-1-2-3-1106"], Ct))!.Name);
        Assert.Null(await Gateway.GetDomainGroupBackendAsync(["S-1-5-21-1-2-3-513"], Ct));
        Assert.True(await other.Gateway.RemoveDomainGroupBackendAsync("s-1-5-21-1-2-3-1106", Ct));
        Assert.False(await Gateway.RemoveDomainGroupBackendAsync("S-1-5-21-1-2-3-1106", Ct));
        Assert.Equal("Sales", (await Gateway.GetDomainGroupBackendAsync(["S-1-5-21-1-2-3-1105", "S-1-5-21-1-2-3-1106"], Ct))!.Name);
    }

    [Fact]
    public async Task TrustOnFirstUse_SecondCertificate_KeepsTheFirstUntilForgotten()
    {
        TrustedCertificate first = await Gateway.TrustOnFirstUseAsync("Host:3389", new string('A', 64), "CN=host", Ct);
        Time.Advance(TimeSpan.FromHours(1));
        RdpNlaStore other = await OpenAnotherAsync();

        TrustedCertificate second = await other.Gateway.TrustOnFirstUseAsync("host:3389", new string('B', 64), null, Ct);

        Assert.Equal(new TrustedCertificate("host:3389", new string('A', 64), "CN=host", s_start), first);
        Assert.Equal(first, second);
        Assert.True(await other.Gateway.ForgetCertificateAsync("HOST:3389", Ct));
        Assert.False(await Gateway.ForgetCertificateAsync("host:3389", Ct));
        Assert.Null(await Gateway.GetTrustedCertificateAsync("host:3389", Ct));
        Assert.Equal(new string('B', 64), (await Gateway.TrustOnFirstUseAsync("host:3389", new string('B', 64), null, Ct)).Sha256);
    }

    [Fact]
    public async Task BackendSecurity_PinKeepsTheStrongestSelection_AndForgettingItKeepsTheSetting()
    {
        await Gateway.SetBackendSecurityAsync("Host:3389", BackendSecurity.Negotiate, Ct);
        await Gateway.RecordProtocolAsync("host:3389", "HYBRID_EX", 3, new string('A', 64), Ct);
        Time.Advance(TimeSpan.FromMinutes(5));
        RdpNlaStore other = await OpenAnotherAsync();
        await other.Gateway.RecordProtocolAsync("host:3389", "SSL", 1, new string('B', 64), Ct);
        await other.Gateway.RecordProtocolAsync("other:3389", "SSL", 1, new string('C', 64), Ct);

        IReadOnlyList<BackendSecurityRecord> all = await Gateway.ListBackendSecurityAsync(null, Ct);

        Assert.Equal(
            [new BackendSecurityRecord("host:3389", BackendSecurity.Negotiate, "HYBRID_EX", 3, new string('A', 64), s_start),
             new BackendSecurityRecord("other:3389", null, "SSL", 1, new string('C', 64), s_start.AddMinutes(5))],
            all);
        Assert.True(await other.Gateway.ForgetProtocolAsync("HOST:3389", Ct));
        Assert.False(await Gateway.ForgetProtocolAsync("host:3389", Ct));
        Assert.Equal(new BackendSecurityRecord("host:3389", BackendSecurity.Negotiate, null, null, null, null), await Gateway.GetBackendSecurityAsync("host:3389", Ct));
        await Gateway.SetBackendSecurityAsync("host:3389", null, Ct);
        Assert.Null((await Gateway.GetBackendSecurityAsync("host:3389", Ct))!.Security);
        Assert.Null(await Gateway.GetBackendSecurityAsync("nowhere:3389", Ct));
    }

    [Fact]
    public async Task Sessions_FromTwoInstances_ListedNewestFirstPerUserAndLimited()
    {
        RdpNlaStore other = await OpenAnotherAsync();
        long first = await Gateway.AppendSessionAsync(Session("c1", "Alice", null), Ct);
        long second = await other.Gateway.AppendSessionAsync(Session("c2", null, 3389), Ct);
        long third = await other.Gateway.AppendSessionAsync(Session("c3", "alice", 50000), Ct);

        IReadOnlyList<GatewaySessionRecord> all = await Gateway.ListSessionsAsync(null, 100, Ct);
        IReadOnlyList<GatewaySessionRecord> alice = await Gateway.ListSessionsAsync("ALICE", 100, Ct);
        IReadOnlyList<GatewaySessionRecord> newest = await Gateway.ListSessionsAsync(null, 1, Ct);

        Assert.True(first < second && second < third);
        Assert.Equal(["c3", "c2", "c1"], all.Select(s => s.ConnectionId));
        Assert.Equal(Session("c3", "alice", 50000) with { Id = third }, all[0]);
        Assert.Equal(Session("c2", null, 3389) with { Id = second }, all[1]);
        Assert.Equal(["c3", "c1"], alice.Select(s => s.ConnectionId));
        Assert.Equal(["c3"], newest.Select(s => s.ConnectionId));
    }

    private static GatewaySessionRecord Session(string connectionId, string? user, int? port) => new()
    {
        ConnectionId = connectionId,
        UserName = user,
        ClientAddress = port is null ? null : "192.0.2.7",
        ClientPort = port,
        Backend = "10.0.0.5:3389",
        BackendAccount = user is null ? null : @"LAB\svc",
        CredentialMode = user is null ? null : "mapped",
        FrontProtocol = "HYBRID",
        BackendProtocol = port is null ? null : "HYBRID_EX",
        Started = s_start.AddSeconds(1.5),
        Ended = s_start.AddMinutes(10),
        BytesToBackend = 5_000_000_000,
        BytesToClient = 42,
        Outcome = "closed",
        Reason = "the client hung up",
    };
}
