using Microsoft.Extensions.Time.Testing;
using Npgsql;
using RdpNla.Integration.Tests.Support;
using RdpNla.Protocol.Ntlm;
using RdpNla.Server.Accounts;
using RdpNla.Server.Storage;
using RdpNla.Server.Storage.Postgres;

namespace RdpNla.Integration.Tests.Storage;

/// <summary>What is specific to PostgreSQL: migrations under an advisory lock, newer schemas, atomic lockout counting, faults at start.</summary>
public sealed class PostgresStoreTests(PostgresServer postgres)
{
    private static readonly DateTimeOffset s_start = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static StoreLocation Location(string connectionString) => StoreLocation.Parse(connectionString, Path.GetTempPath());

    [Fact]
    public async Task OpenAsync_EightInstancesAtOnceOnAnEmptyDatabase_MigrateOnceEach()
    {
        StoreLocation location = Location(await postgres.CreateDatabaseAsync());

        PostgresDatabase[] databases = await Task.WhenAll(Enumerable.Range(0, 8).Select(_ => PostgresDatabase.OpenAsync(location, TimeProvider.System, Ct)));

        try
        {
            Assert.All(databases, d => Assert.Equal(PostgresSchemaMigrations.LatestVersion, d.SchemaVersion));
            await using var connection = new NpgsqlConnection(location.Postgres!.ConnectionString);
            await connection.OpenAsync(Ct);
            using var command = new NpgsqlCommand("SELECT count(*), max(version) FROM rdpnla_schema;", connection);
            await using NpgsqlDataReader reader = await command.ExecuteReaderAsync(Ct);
            Assert.True(await reader.ReadAsync(Ct));
            Assert.Equal(PostgresSchemaMigrations.LatestVersion, reader.GetInt64(0));
            Assert.Equal(PostgresSchemaMigrations.LatestVersion, reader.GetInt32(1));
        }
        finally
        {
            foreach (PostgresDatabase database in databases)
            {
                await database.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task OpenAsync_NewerSchema_RefusesWithOneClearLine()
    {
        string connectionString = await postgres.CreateDatabaseAsync();
        await (await PostgresDatabase.OpenAsync(Location(connectionString), TimeProvider.System, Ct)).DisposeAsync();
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync(Ct);
            using var command = new NpgsqlCommand("INSERT INTO rdpnla_schema (version) VALUES (99);", connection);
            await command.ExecuteNonQueryAsync(Ct);
        }

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(() => PostgresDatabase.OpenAsync(Location(connectionString), TimeProvider.System, Ct));

        Assert.Contains("schema version 99", ex.Message, StringComparison.Ordinal);
        Assert.Contains($"understands up to {PostgresSchemaMigrations.LatestVersion}", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public async Task OpenAsync_NothingListens_ThrowsStoreUnavailableNamingTheServer()
    {
        int port = PeerPorts.GetFreePort();
        StoreLocation location = Location($"Host=127.0.0.1;Port={port};Username=rdpnla;Database=rdpnla;Password=never-shown-secret;Timeout=3");

        var ex = await Assert.ThrowsAsync<StoreUnavailableException>(() => PostgresDatabase.OpenAsync(location, TimeProvider.System, Ct));

        Assert.Contains($"postgresql://rdpnla@127.0.0.1:{port}/rdpnla", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("never-shown-secret", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task RecordFailedLogonAsync_ConcurrentFromTwoInstances_LocksAtExactlyTheThreshold()
    {
        StoreLocation location = Location(await postgres.CreateDatabaseAsync());
        var time = new FakeTimeProvider(s_start);
        await using PostgresDatabase first = await PostgresDatabase.OpenAsync(location, time, Ct);
        await using PostgresDatabase second = await PostgresDatabase.OpenAsync(location, time, Ct);
        await first.Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw"), Ct);
        PostgresUserStore[] instances = [first.Users, second.Users];

        var results = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => Task.Run(() =>
            instances[i % 2].RecordFailedLogonAsync("alice", threshold: 5, TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(30), Ct), Ct)));

        Assert.Single(results, r => r!.Value.LockedNow);
        UserAccount stored = (await second.Users.FindAsync("alice", Ct))!;
        Assert.Equal(5, stored.FailedLogonCount);
        Assert.Equal(s_start.AddMinutes(30), stored.LockedUntil);
    }

    [Fact]
    public async Task RecordFailedLogonAsync_AfterTheWindowOrAnExpiredLock_RestartsAtOne()
    {
        StoreLocation location = Location(await postgres.CreateDatabaseAsync());
        var time = new FakeTimeProvider(s_start);
        await using PostgresDatabase database = await PostgresDatabase.OpenAsync(location, time, Ct);
        await database.Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw"), Ct);
        TimeSpan window = TimeSpan.FromMinutes(15);
        TimeSpan duration = TimeSpan.FromMinutes(30);

        await database.Users.RecordFailedLogonAsync("alice", 3, window, duration, Ct);
        await database.Users.RecordFailedLogonAsync("alice", 3, window, duration, Ct);
        time.Advance(window);
        var afterWindow = await database.Users.RecordFailedLogonAsync("alice", 3, window, duration, Ct);
        await database.Users.RecordFailedLogonAsync("alice", 3, window, duration, Ct);
        var locking = await database.Users.RecordFailedLogonAsync("alice", 3, window, duration, Ct);
        var whileLocked = await database.Users.RecordFailedLogonAsync("alice", 3, window, duration, Ct);
        time.Advance(duration);
        var afterLock = await database.Users.RecordFailedLogonAsync("alice", 3, window, duration, Ct);

        Assert.Equal(1, afterWindow!.Value.Account.FailedLogonCount);
        Assert.True(locking!.Value.LockedNow);
        Assert.Equal(3, locking.Value.Account.FailedLogonCount);
        Assert.False(whileLocked!.Value.LockedNow);
        Assert.Equal(3, whileLocked.Value.Account.FailedLogonCount);
        Assert.Equal(1, afterLock!.Value.Account.FailedLogonCount);
        Assert.Null(afterLock.Value.Account.LockedUntil);
        Assert.Null(await database.Users.RecordFailedLogonAsync("nobody", 3, window, duration, Ct));
    }
}
