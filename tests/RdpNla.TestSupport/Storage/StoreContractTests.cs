using Microsoft.Extensions.Time.Testing;
using RdpNla.Tests.Accounts;
using RdpNla.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Protocol.Ntlm;
using RdpNla.Server.Accounts;
using RdpNla.Server.Audit;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Storage;

/// <summary>
/// The contract of <see cref="IUserStore"/> and <see cref="IAuditLog"/>, run against every engine: SQLite
/// (<c>SqliteStoreContractTests</c>, a pure test) and a real PostgreSQL 15 (<c>PostgresStoreContractTests</c>, an
/// interop test).
/// </summary>
public abstract class StoreContractTests : StoreTestBase
{
    [Fact]
    public async Task Reopen_AfterAdd_KeepsDataAndSchema()
    {
        await Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw1"), Ct);

        RdpNlaStore again = await OpenAnotherAsync();

        Assert.NotNull(await again.Users.FindAsync("alice", Ct));
        Assert.Single(await again.Users.ListAsync(Ct));
    }

    [Fact]
    public async Task AddAsync_NewUser_StoresOriginalSpellingAndTimes()
    {
        UserAccount added = await Users.AddAsync("Alice", NtlmCrypto.NtOwfV1("pw"), Ct);

        Assert.Equal("Alice", added.UserName);
        Assert.Equal(s_start, added.Created);
        Assert.Equal(s_start, added.PasswordLastSet);
        Assert.False(added.Disabled);
        Assert.True(added.RemoteLogonAllowed);
        Assert.Null(added.LockedUntil);
        UserAccount? found = await Users.FindAsync("ALICE", Ct);
        Assert.Equal(added, found);
    }

    [Fact]
    public async Task AddAsync_SameNameOtherCase_ThrowsUserAlreadyExists()
    {
        await Users.AddAsync("Alice", NtlmCrypto.NtOwfV1("pw"), Ct);

        var ex = await Assert.ThrowsAsync<UserAlreadyExistsException>(() => Users.AddAsync("aLICE", NtlmCrypto.NtOwfV1("pw2"), Ct));

        Assert.Equal("Alice", ex.UserName);
        Assert.Single(await Users.ListAsync(Ct));
    }

    [Fact]
    public async Task AddAsync_InvalidName_ThrowsArgumentException()
    {
        await Assert.ThrowsAsync<ArgumentException>(() => Users.AddAsync("a*b", NtlmCrypto.NtOwfV1("pw"), Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => Users.AddAsync("ok", new byte[15], Ct));
        Assert.Empty(await Users.ListAsync(Ct));
    }

    [Fact]
    public async Task AddAsync_AddedThroughOneInstance_IsFoundThroughAnother()
    {
        RdpNlaStore other = await OpenAnotherAsync();

        await Users.AddAsync("alice", NtlmCrypto.NtOwfV1("Passw0rd!"), Ct);

        using UserCredential? credential = await other.Users.FindCredentialAsync("ALICE", Ct);
        Assert.NotNull(credential);
        Assert.Equal(NtlmCrypto.NtOwfV1("Passw0rd!"), credential.NtHash.ToArray());
    }

    [Fact]
    public async Task FindCredentialAsync_AddedUser_HashEqualsNtOwfV1AndIsWipedOnDispose()
    {
        await Users.AddAsync("alice", NtlmCrypto.NtOwfV1("Passw0rd!"), Ct);

        UserCredential? credential = await Users.FindCredentialAsync("Alice", Ct);

        Assert.NotNull(credential);
        // winpr-hash -u alice -p 'Passw0rd!'
        Assert.Equal(Convert.FromHexString("fc525c9683e8fe067095ba2ddc971889"), credential.NtHash.ToArray());
        credential.Dispose();
        Assert.True(credential.NtHash.IsEmpty);
    }

    [Fact]
    public async Task SetNtHashAsync_ExpiredUser_ReplacesHashAndClearsFlags()
    {
        await Users.AddAsync("alice", NtlmCrypto.NtOwfV1("old"), Ct);
        await Users.UpdateAsync("alice", a => a with { PasswordExpired = true, MustChangePassword = true }, Ct);
        Time.Advance(TimeSpan.FromDays(1));

        UserAccount? updated = await Users.SetNtHashAsync("ALICE", NtlmCrypto.NtOwfV1("new"), mustChangePassword: false, Ct);

        Assert.NotNull(updated);
        Assert.False(updated.PasswordExpired);
        Assert.False(updated.MustChangePassword);
        Assert.Equal(s_start.AddDays(1), updated.PasswordLastSet);
        using UserCredential? credential = await Users.FindCredentialAsync("alice", Ct);
        Assert.Equal(NtlmCrypto.NtOwfV1("new"), credential!.NtHash.ToArray());
    }

    [Fact]
    public async Task SetNtHashAsync_MustChange_SetsTheFlag()
    {
        await Users.AddAsync("alice", NtlmCrypto.NtOwfV1("old"), Ct);

        UserAccount? updated = await Users.SetNtHashAsync("alice", NtlmCrypto.NtOwfV1("new"), mustChangePassword: true, Ct);

        Assert.True(updated!.MustChangePassword);
        Assert.True((await Users.FindAsync("alice", Ct))!.MustChangePassword);
    }

    [Fact]
    public async Task SetNtHashAsync_UnknownUser_ReturnsNull() =>
        Assert.Null(await Users.SetNtHashAsync("nobody", NtlmCrypto.NtOwfV1("x"), false, Ct));

    [Fact]
    public async Task UpdateAsync_Flags_PersistsAllStateFields()
    {
        await Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw"), Ct);
        Time.Advance(TimeSpan.FromMinutes(5));
        DateTimeOffset now = Time.GetUtcNow();

        await Users.UpdateAsync("alice", a => a with
        {
            Disabled = true,
            LockedUntil = DateTimeOffset.MaxValue,
            FailedLogonCount = 3,
            LastFailedLogon = now,
            LastLogon = now,
            PasswordExpired = true,
            MustChangePassword = true,
            RemoteLogonDenied = true,
        }, Ct);

        UserAccount found = (await Users.FindAsync("alice", Ct))!;
        Assert.True(found.Disabled);
        Assert.Equal(DateTimeOffset.MaxValue, found.LockedUntil);
        Assert.Equal(3, found.FailedLogonCount);
        Assert.Equal(now, found.LastFailedLogon);
        Assert.Equal(now, found.LastLogon);
        Assert.True(found.PasswordExpired);
        Assert.True(found.MustChangePassword);
        Assert.True(found.RemoteLogonDenied);
        Assert.False(found.RemoteLogonAllowed);
        Assert.Equal(now, found.Updated);
        Assert.Equal(s_start, found.Created);
    }

    [Fact]
    public async Task UpdateAsync_LockedUntilAFiniteTime_RoundTrips()
    {
        await Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw"), Ct);
        DateTimeOffset until = s_start.AddMinutes(15);

        UserAccount? updated = await Users.UpdateAsync("alice", a => a with { LockedUntil = until }, Ct);

        Assert.Equal(until, updated!.LockedUntil);
        Assert.True((await Users.FindAsync("alice", Ct))!.IsLockedOut(s_start));
        Assert.False((await Users.FindAsync("alice", Ct))!.IsLockedOut(until));
    }

    [Fact]
    public async Task UpdateAsync_UnknownUser_ReturnsNull() =>
        Assert.Null(await Users.UpdateAsync("nobody", a => a with { Disabled = true }, Ct));

    [Fact]
    public async Task UpdateAsync_ConcurrentIncrementsFromTwoInstances_AreNotLost()
    {
        await Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw"), Ct);
        RdpNlaStore other = await OpenAnotherAsync();
        IUserStore[] instances = [Users, other.Users];

        await Task.WhenAll(Enumerable.Range(0, 20).Select(i => Task.Run(() =>
            instances[i % 2].UpdateAsync("alice", a => a with { FailedLogonCount = a.FailedLogonCount + 1 }, Ct), Ct)));

        Assert.Equal(20, (await Users.FindAsync("alice", Ct))!.FailedLogonCount);
    }

    [Fact]
    public async Task RemoveAsync_ExistingUserAnyCase_RemovesIt()
    {
        await Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw"), Ct);

        Assert.True(await Users.RemoveAsync("ALICE", Ct));
        Assert.False(await Users.RemoveAsync("alice", Ct));
        Assert.Null(await Users.FindAsync("alice", Ct));
        Assert.Null(await Users.FindCredentialAsync("alice", Ct));
    }

    [Fact]
    public async Task ListAsync_SeveralUsers_OrdersCaseInsensitively()
    {
        foreach (string name in new[] { "carol", "Bob", "alice" })
        {
            await Users.AddAsync(name, NtlmCrypto.NtOwfV1("pw"), Ct);
        }

        IReadOnlyList<UserAccount> users = await Users.ListAsync(Ct);

        Assert.Equal(["alice", "Bob", "carol"], users.Select(u => u.UserName));
    }

    internal static AuditEntry Entry(int minute, string? user, string address, AuditOutcome outcome, NtStatus? status = null, string? domain = null) => new()
    {
        Time = s_start.AddMinutes(minute),
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
        InstanceName = minute % 2 == 0 ? "gw-a" : "gw-b",
    };

    private async Task SeedAuditAsync()
    {
        await Audit.AppendAsync(Entry(0, "alice", "10.0.0.1", AuditOutcome.Success, NtStatus.Success), Ct);
        await Audit.AppendAsync(Entry(1, "bob", "10.0.0.2", AuditOutcome.Failure, NtStatus.LogonFailure), Ct);
        await Audit.AppendAsync(Entry(2, "ALICE", "10.0.0.2", AuditOutcome.Failure, NtStatus.LogonFailure, "LAB"), Ct);
        await Audit.AppendAsync(Entry(3, "alice@rdpgw01", "::ffff:10.0.0.1", AuditOutcome.Refused, null), Ct);
        await Audit.AppendAsync(Entry(4, null, "2001:db8::1", AuditOutcome.Error), Ct);
    }

    [Fact]
    public async Task AuditAppendAsync_FullEntry_RoundTripsAllFieldsWithInstanceName()
    {
        AuditEntry entry = Entry(7, "alice", "192.0.2.7", AuditOutcome.Failure, NtStatus.AccountLockedOut, "LAB");

        long id = await Audit.AppendAsync(entry, Ct);
        IReadOnlyList<AuditEntry> all = await Audit.QueryAsync(new AuditQuery(), Ct);

        AuditEntry stored = Assert.Single(all);
        Assert.Equal(entry with { Id = id }, stored);
        Assert.Equal("gw-b", stored.InstanceName);
        Assert.Equal("STATUS_ACCOUNT_LOCKED_OUT", stored.StatusName);
    }

    [Fact]
    public async Task AuditAppendAsync_MinimalEntry_KeepsNulls()
    {
        var entry = new AuditEntry { Time = s_start, Outcome = AuditOutcome.Error, Reason = "TLS handshake failed", ConnectionId = "c1" };

        await Audit.AppendAsync(entry, Ct);

        AuditEntry stored = Assert.Single(await Audit.QueryAsync(new AuditQuery(), Ct));
        Assert.Null(stored.ClientAddress);
        Assert.Null(stored.ClientPort);
        Assert.Null(stored.UserName);
        Assert.Null(stored.CredSspVersion);
        Assert.Null(stored.SecurityProtocol);
        Assert.Null(stored.Status);
        Assert.Null(stored.StatusName);
        Assert.Null(stored.InstanceName);
    }

    [Fact]
    public async Task AuditAppendAsync_FromTwoInstances_BothVisibleToEach()
    {
        RdpNlaStore other = await OpenAnotherAsync();

        await Audit.AppendAsync(Entry(0, "alice", "10.0.0.1", AuditOutcome.Success), Ct);
        await other.Audit.AppendAsync(Entry(1, "alice", "10.0.0.2", AuditOutcome.Failure), Ct);

        Assert.Equal(["gw-b", "gw-a"], (await other.Audit.QueryAsync(new AuditQuery(), Ct)).Select(e => e.InstanceName));
        Assert.Equal(2, (await Audit.QueryAsync(new AuditQuery(), Ct)).Count);
    }

    [Fact]
    public async Task AuditQueryAsync_NoFilter_NewestFirst()
    {
        await SeedAuditAsync();

        IReadOnlyList<AuditEntry> all = await Audit.QueryAsync(new AuditQuery(), Ct);

        Assert.Equal(["conn-4", "conn-3", "conn-2", "conn-1", "conn-0"], all.Select(e => e.ConnectionId));
    }

    [Theory]
    [InlineData("alice")]
    [InlineData("Alice")]
    [InlineData(@"LAB\alice")]
    public async Task AuditQueryAsync_UserFilter_MatchesAnyFormCaseInsensitively(string user)
    {
        await SeedAuditAsync();

        IReadOnlyList<AuditEntry> found = await Audit.QueryAsync(new AuditQuery { UserName = user }, Ct);

        Assert.Equal(["conn-3", "conn-2", "conn-0"], found.Select(e => e.ConnectionId));
    }

    [Fact]
    public async Task AuditQueryAsync_AddressFilter_MatchesMappedIpv4()
    {
        await SeedAuditAsync();

        IReadOnlyList<AuditEntry> found = await Audit.QueryAsync(new AuditQuery { ClientAddress = "10.0.0.1" }, Ct);

        Assert.Equal(["conn-3", "conn-0"], found.Select(e => e.ConnectionId));
        Assert.All(found, e => Assert.Equal("10.0.0.1", e.ClientAddress));
    }

    [Fact]
    public async Task AuditQueryAsync_OutcomeFilter_MatchesOnlyThatOutcome()
    {
        await SeedAuditAsync();

        IReadOnlyList<AuditEntry> found = await Audit.QueryAsync(new AuditQuery { Outcome = AuditOutcome.Failure }, Ct);

        Assert.Equal(["conn-2", "conn-1"], found.Select(e => e.ConnectionId));
    }

    [Fact]
    public async Task AuditQueryAsync_SinceUntil_IsHalfOpenRange()
    {
        await SeedAuditAsync();

        IReadOnlyList<AuditEntry> found = await Audit.QueryAsync(new AuditQuery { Since = s_start.AddMinutes(1), Until = s_start.AddMinutes(3) }, Ct);

        Assert.Equal(["conn-2", "conn-1"], found.Select(e => e.ConnectionId));
    }

    [Fact]
    public async Task AuditQueryAsync_SinceWithOffset_ComparesInUtc()
    {
        await SeedAuditAsync();

        // 10:02 at +02:00 is 08:02 UTC.
        IReadOnlyList<AuditEntry> found = await Audit.QueryAsync(new AuditQuery { Since = new DateTimeOffset(2026, 3, 1, 10, 2, 0, TimeSpan.FromHours(2)) }, Ct);

        Assert.Equal(["conn-4", "conn-3", "conn-2"], found.Select(e => e.ConnectionId));
    }

    [Fact]
    public async Task AuditQueryAsync_CombinedFiltersAndLimit_AppliesAll()
    {
        await SeedAuditAsync();

        IReadOnlyList<AuditEntry> found = await Audit.QueryAsync(
            new AuditQuery { UserName = "alice", ClientAddress = "10.0.0.2", Outcome = AuditOutcome.Failure, Limit = 1 }, Ct);
        IReadOnlyList<AuditEntry> limited = await Audit.QueryAsync(new AuditQuery { Limit = 2 }, Ct);

        Assert.Equal(["conn-2"], found.Select(e => e.ConnectionId));
        Assert.Equal(["conn-4", "conn-3"], limited.Select(e => e.ConnectionId));
    }

    [Fact]
    public async Task AuditQueryAsync_LimitZero_Throws() =>
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Audit.QueryAsync(new AuditQuery { Limit = 0 }, Ct));
}
