using System.Data.Common;
using Microsoft.Extensions.Time.Testing;
using Npgsql;
using RdpNla.Tests.Support;
using RdpNla.Protocol.Ntlm;
using RdpNla.Server.Accounts;
using RdpNla.Server.Storage;
using RdpNla.Server.Storage.Postgres;

namespace RdpNla.Tests.Storage;

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

    [Theory]
    [InlineData("", true)]
    [InlineData(";Max Auto Prepare=0", false)]
    public async Task CredentialRead_RunRepeatedly_IsPreparedOnTheConnectionUnlessTheStringTurnsItOff(string extra, bool prepared)
    {
        StoreLocation location = Location(await postgres.CreateDatabaseAsync() + extra);
        await using PostgresDatabase database = await PostgresDatabase.OpenAsync(location, TimeProvider.System, Ct);
        await database.Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw"), Ct);
        for (int i = 0; i < 6; i++)
        {
            using UserCredential? credential = await database.Users.FindCredentialAsync("alice", Ct);
            Assert.NotNull(credential);
        }

        // One caller at a time gets the same pooled connection back; pg_prepared_statements lists that session's
        // prepared statements (https://www.postgresql.org/docs/15/view-pg-prepared-statements.html).
        var statements = new List<string>();
        ISqlSession session = await ((ISqlEngine)database).OpenAsync(Ct);
        await using (session)
        {
            DbDataReader reader = await session.Statement("SELECT statement FROM pg_prepared_statements;").ExecuteReaderAsync(Ct);
            await using (reader)
            {
                while (await reader.ReadAsync(Ct))
                {
                    statements.Add(reader.GetString(0));
                }
            }
        }

        Assert.Equal(prepared, statements.Any(s => s.Contains("nt_hash FROM users", StringComparison.Ordinal)));
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
        using ClosedPort closed = PeerPorts.HoldClosedPort();
        int port = closed.Port;
        StoreLocation location = Location($"Host=127.0.0.1;Port={port};Username=rdpnla;Database=rdpnla;Password=never-shown-secret;Timeout=3");

        var ex = await Assert.ThrowsAsync<StoreUnavailableException>(() => PostgresDatabase.OpenAsync(location, TimeProvider.System, Ct));

        Assert.Contains($"postgresql://rdpnla@127.0.0.1:{port}/rdpnla", ex.Message, StringComparison.Ordinal);
        Assert.DoesNotContain("never-shown-secret", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Attempts_WrongPasswordsFromTwoInstances_ExactlyThresholdVerifiedThenLockedEverywhere()
    {
        StoreLocation location = Location(await postgres.CreateDatabaseAsync());
        await using PostgresDatabase first = await PostgresDatabase.OpenAsync(location, TimeProvider.System, Ct);
        await using PostgresDatabase second = await PostgresDatabase.OpenAsync(location, TimeProvider.System, Ct);
        await first.Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw"), Ct);
        PostgresUserStore[] instances = [first.Users, second.Users];
        var rules = new LockoutRules(5, TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(30), TimeSpan.FromMinutes(1));

        // Each attempt as the front door makes it, half through each instance: reserve, then record the wrong password.
        async Task<bool> WrongPasswordAsync(PostgresUserStore store)
        {
            using AttemptReservation reservation = await store.ReserveAttemptAsync("alice", rules, s_start, Ct);
            if (reservation.Admission != AttemptAdmission.Admitted)
            {
                return false;
            }

            await store.RecordFailedAttemptAsync("alice", rules, s_start, Ct);
            return true;
        }

        bool[] verified = await Task.WhenAll(Enumerable.Range(0, 30).Select(i => Task.Run(() => WrongPasswordAsync(instances[i % 2]), Ct)));

        Assert.Equal(5, verified.Count(v => v));
        UserAccount stored = (await second.Users.FindAsync("alice", Ct))!;
        Assert.Equal(5, stored.FailedLogonCount);
        Assert.Equal(s_start.AddMinutes(30), stored.LockedUntil);
        Assert.Equal(0, LockoutRules.AttemptsInProgress(stored, s_start));
        using AttemptReservation afterwards = await first.Users.ReserveAttemptAsync("alice", rules, s_start, Ct);
        Assert.Equal(AttemptAdmission.LockedOut, afterwards.Admission);
    }

    [Fact]
    public async Task OpenAsync_Version1Database_MigratesAndCreatesTheDecoyRow()
    {
        string connectionString = await postgres.CreateDatabaseAsync();
        await using (var connection = new NpgsqlConnection(connectionString))
        {
            await connection.OpenAsync(Ct);
            await using var command = new NpgsqlCommand(
                "CREATE TABLE rdpnla_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());\n" +
                PostgresSchemaMigrations.Scripts[0] + "\nINSERT INTO rdpnla_schema (version) VALUES (1);\n" +
                "INSERT INTO users (name, name_key, nt_hash, password_last_set, created_at, updated_at) VALUES ('alice', 'ALICE', decode('00000000000000000000000000000000', 'hex'), now(), now(), now());",
                connection);
            await command.ExecuteNonQueryAsync(Ct);
        }

        await using PostgresDatabase database = await PostgresDatabase.OpenAsync(Location(connectionString), TimeProvider.System, Ct);
        var rules = new LockoutRules(1, TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(1));
        using AttemptReservation first = await database.Users.ReserveAttemptAsync("alice", rules, s_start, Ct);
        using AttemptReservation second = await database.Users.ReserveAttemptAsync("alice", rules, s_start, Ct);
        using AttemptReservation unknown = await database.Users.ReserveAttemptAsync("nobody", rules, s_start, Ct);

        Assert.Equal(PostgresSchemaMigrations.LatestVersion, database.SchemaVersion);
        Assert.Equal(AttemptAdmission.Admitted, first.Admission);
        Assert.Equal(AttemptAdmission.ThresholdInProgress, second.Admission);
        Assert.Equal(AttemptAdmission.UnknownUser, unknown.Admission);
        await using var decoy = new NpgsqlConnection(connectionString);
        await decoy.OpenAsync(Ct);
        await using var read = new NpgsqlCommand("SELECT attempts_in_progress FROM attempt_decoy WHERE id = 1;", decoy);
        Assert.Equal(1, (int)(await read.ExecuteScalarAsync(Ct))!);
    }
}
