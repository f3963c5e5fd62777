using System.Net;
using RdpNla.Protocol;
using RdpNla.Server.Audit;
using RdpNla.Server.Storage;

namespace RdpNla.Integration.Tests.Accounts;

public class SqliteAuditLogTests : IAsyncLifetime
{
    private static readonly DateTimeOffset s_t0 = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _directory = new();
    private RdpNlaDatabase _database = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public async ValueTask InitializeAsync() =>
        _database = await RdpNlaDatabase.OpenAsync(_directory.DatabasePath, TimeProvider.System, Ct);

    public async ValueTask DisposeAsync()
    {
        await _database.DisposeAsync();
        _directory.Dispose();
    }

    internal static AuditEntry Entry(int minute, string? user, string address, AuditOutcome outcome, NtStatus? status = null, string? domain = null) => new()
    {
        Time = s_t0.AddMinutes(minute),
        ClientAddress = address,
        ClientPort = 50000 + minute,
        UserName = user,
        Domain = domain,
        CredSspVersion = 6,
        SecurityProtocol = "HYBRID_EX",
        Outcome = outcome,
        Status = status,
        Reason = $"reason {minute}",
        ConnectionId = $"conn-{minute}",
    };

    private async Task SeedAsync()
    {
        await _database.Audit.AppendAsync(Entry(0, "alice", "10.0.0.1", AuditOutcome.Success, NtStatus.Success), Ct);
        await _database.Audit.AppendAsync(Entry(1, "bob", "10.0.0.2", AuditOutcome.Failure, NtStatus.LogonFailure), Ct);
        await _database.Audit.AppendAsync(Entry(2, "ALICE", "10.0.0.2", AuditOutcome.Failure, NtStatus.LogonFailure, "LAB"), Ct);
        await _database.Audit.AppendAsync(Entry(3, "alice@rdpgw01", "::ffff:10.0.0.1", AuditOutcome.Refused, null), Ct);
        await _database.Audit.AppendAsync(Entry(4, null, "2001:db8::1", AuditOutcome.Error), Ct);
    }

    [Fact]
    public async Task AppendAsync_FullEntry_RoundTripsAllFields()
    {
        AuditEntry entry = Entry(7, "alice", "192.0.2.7", AuditOutcome.Failure, NtStatus.AccountLockedOut, "LAB");

        long id = await _database.Audit.AppendAsync(entry, Ct);
        IReadOnlyList<AuditEntry> all = await _database.Audit.QueryAsync(new AuditQuery(), Ct);

        AuditEntry stored = Assert.Single(all);
        Assert.Equal(entry with { Id = id }, stored);
        Assert.Equal("STATUS_ACCOUNT_LOCKED_OUT", stored.StatusName);
    }

    [Fact]
    public async Task AppendAsync_MinimalEntry_KeepsNulls()
    {
        var entry = new AuditEntry { Time = s_t0, Outcome = AuditOutcome.Error, Reason = "TLS handshake failed", ConnectionId = "c1" };

        await _database.Audit.AppendAsync(entry, Ct);

        AuditEntry stored = Assert.Single(await _database.Audit.QueryAsync(new AuditQuery(), Ct));
        Assert.Null(stored.ClientAddress);
        Assert.Null(stored.ClientPort);
        Assert.Null(stored.UserName);
        Assert.Null(stored.CredSspVersion);
        Assert.Null(stored.SecurityProtocol);
        Assert.Null(stored.Status);
        Assert.Null(stored.StatusName);
    }

    [Fact]
    public async Task AppendAsync_CommittedEntry_IsVisibleToAnotherConnection()
    {
        await _database.Audit.AppendAsync(Entry(0, "alice", "10.0.0.1", AuditOutcome.Success), Ct);

        await using RdpNlaDatabase other = await RdpNlaDatabase.OpenAsync(_directory.DatabasePath, TimeProvider.System, Ct);
        Assert.Single(await other.Audit.QueryAsync(new AuditQuery(), Ct));
    }

    [Fact]
    public async Task QueryAsync_NoFilter_NewestFirst()
    {
        await SeedAsync();

        IReadOnlyList<AuditEntry> all = await _database.Audit.QueryAsync(new AuditQuery(), Ct);

        Assert.Equal(["conn-4", "conn-3", "conn-2", "conn-1", "conn-0"], all.Select(e => e.ConnectionId));
    }

    [Theory]
    [InlineData("alice")]
    [InlineData("Alice")]
    [InlineData(@"LAB\alice")]
    public async Task QueryAsync_UserFilter_MatchesAnyFormCaseInsensitively(string user)
    {
        await SeedAsync();

        IReadOnlyList<AuditEntry> found = await _database.Audit.QueryAsync(new AuditQuery { UserName = user }, Ct);

        Assert.Equal(["conn-3", "conn-2", "conn-0"], found.Select(e => e.ConnectionId));
    }

    [Fact]
    public async Task QueryAsync_AddressFilter_MatchesMappedIpv4()
    {
        await SeedAsync();

        IReadOnlyList<AuditEntry> found = await _database.Audit.QueryAsync(new AuditQuery { ClientAddress = "10.0.0.1" }, Ct);

        Assert.Equal(["conn-3", "conn-0"], found.Select(e => e.ConnectionId));
        Assert.All(found, e => Assert.Equal("10.0.0.1", e.ClientAddress));
    }

    [Fact]
    public async Task QueryAsync_OutcomeFilter_MatchesOnlyThatOutcome()
    {
        await SeedAsync();

        IReadOnlyList<AuditEntry> found = await _database.Audit.QueryAsync(new AuditQuery { Outcome = AuditOutcome.Failure }, Ct);

        Assert.Equal(["conn-2", "conn-1"], found.Select(e => e.ConnectionId));
    }

    [Fact]
    public async Task QueryAsync_SinceUntil_IsHalfOpenRange()
    {
        await SeedAsync();

        IReadOnlyList<AuditEntry> found = await _database.Audit.QueryAsync(new AuditQuery { Since = s_t0.AddMinutes(1), Until = s_t0.AddMinutes(3) }, Ct);

        Assert.Equal(["conn-2", "conn-1"], found.Select(e => e.ConnectionId));
    }

    [Fact]
    public async Task QueryAsync_SinceWithOffset_ComparesInUtc()
    {
        await SeedAsync();

        // 10:02 at +02:00 is 08:02 UTC.
        IReadOnlyList<AuditEntry> found = await _database.Audit.QueryAsync(new AuditQuery { Since = new DateTimeOffset(2026, 3, 1, 10, 2, 0, TimeSpan.FromHours(2)) }, Ct);

        Assert.Equal(["conn-4", "conn-3", "conn-2"], found.Select(e => e.ConnectionId));
    }

    [Fact]
    public async Task QueryAsync_CombinedFiltersAndLimit_AppliesAll()
    {
        await SeedAsync();

        IReadOnlyList<AuditEntry> found = await _database.Audit.QueryAsync(
            new AuditQuery { UserName = "alice", ClientAddress = "10.0.0.2", Outcome = AuditOutcome.Failure, Limit = 1 }, Ct);
        IReadOnlyList<AuditEntry> limited = await _database.Audit.QueryAsync(new AuditQuery { Limit = 2 }, Ct);

        Assert.Equal(["conn-2"], found.Select(e => e.ConnectionId));
        Assert.Equal(["conn-4", "conn-3"], limited.Select(e => e.ConnectionId));
    }

    [Fact]
    public async Task QueryAsync_LimitZero_Throws() =>
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => _database.Audit.QueryAsync(new AuditQuery { Limit = 0 }, Ct));

    [Fact]
    public void NormalizeAddress_MappedIpv4_IsPlainIpv4()
    {
        Assert.Equal("10.1.2.3", AuditEntry.NormalizeAddress(IPAddress.Parse("::ffff:10.1.2.3")));
        Assert.Equal("2001:db8::1", AuditEntry.NormalizeAddress("2001:DB8:0::1"));
        Assert.Equal("not-an-ip", AuditEntry.NormalizeAddress(" not-an-ip "));
    }
}
