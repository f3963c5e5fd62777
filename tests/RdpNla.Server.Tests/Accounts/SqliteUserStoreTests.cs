using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using RdpNla.Protocol.Ntlm;
using RdpNla.Server.Accounts;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Accounts;

public class SqliteUserStoreTests : IDisposable
{
    private static readonly DateTimeOffset s_start = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);
    private readonly TempDirectory _directory = new();
    private readonly FakeTimeProvider _time = new(s_start);

    public void Dispose() => _directory.Dispose();

    private Task<RdpNlaDatabase> OpenAsync() =>
        RdpNlaDatabase.OpenAsync(_directory.DatabasePath, _time, TestContext.Current.CancellationToken);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task OpenAsync_EmptyFile_MigratesToLatestVersionInWalMode()
    {
        await File.WriteAllBytesAsync(_directory.DatabasePath, [], Ct);

        await using (RdpNlaDatabase database = await OpenAsync())
        {
            Assert.Equal(SchemaMigrations.LatestVersion, database.SchemaVersion);
        }

        using var connection = new SqliteConnection($"Data Source={_directory.DatabasePath};Pooling=False");
        await connection.OpenAsync(Ct);
        using SqliteCommand command = connection.CreateCommand();
        command.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("wal", (string?)await command.ExecuteScalarAsync(Ct));
        command.CommandText = "PRAGMA user_version;";
        Assert.Equal((long)SchemaMigrations.LatestVersion, (long?)await command.ExecuteScalarAsync(Ct));
    }

    [Fact]
    public async Task OpenAsync_Version2DatabaseWithAUser_UpgradesAndTheUsersAttemptsAreReserved()
    {
        using (var connection = new SqliteConnection($"Data Source={_directory.DatabasePath};Pooling=False"))
        {
            await connection.OpenAsync(Ct);
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = SchemaMigrations.Scripts[0] + "\n" + SchemaMigrations.Scripts[1] +
                "\nINSERT INTO users (name, name_key, nt_hash, password_last_set, created_at, updated_at) VALUES ('alice', 'ALICE', zeroblob(16), '2026-01-01T00:00:00.0000000Z', '2026-01-01T00:00:00.0000000Z', '2026-01-01T00:00:00.0000000Z');\nPRAGMA user_version = 2;";
            await command.ExecuteNonQueryAsync(Ct);
        }

        await using RdpNlaDatabase database = await OpenAsync();
        var rules = new LockoutRules(1, TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(1));
        using AttemptReservation first = await database.Users.ReserveAttemptAsync("alice", rules, s_start, Ct);
        using AttemptReservation second = await database.Users.ReserveAttemptAsync("alice", rules, s_start, Ct);

        Assert.Equal(SchemaMigrations.LatestVersion, database.SchemaVersion);
        Assert.Equal(AttemptAdmission.Admitted, first.Admission);
        Assert.Equal(AttemptAdmission.ThresholdInProgress, second.Admission);
        Assert.Equal(1, (await database.Users.FindAsync("alice", Ct))!.AttemptsInProgress);
    }

    [Fact]
    public async Task Attempts_KnownAndUnknownUser_WriteTheSameNumberOfPagesToTheLog()
    {
        await using RdpNlaDatabase database = await OpenAsync();
        await database.Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw"), Ct);
        var rules = new LockoutRules(0, TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(1));
        string wal = _directory.DatabasePath + "-wal";

        // Tests running in parallel clear every connection pool (SqliteConnection.ClearAllPools); when the last connection
        // to a database closes, SQLite checkpoints and deletes its WAL (https://www.sqlite.org/wal.html#the_wal_file), and
        // the measured growth would be negative. A connection outside the pool that has read the database (and so holds
        // the WAL index open) keeps the WAL for the whole measurement.
        await using var keepWal = new SqliteConnection($"Data Source={_directory.DatabasePath};Pooling=False");
        await keepWal.OpenAsync(Ct);
        using (SqliteCommand read = keepWal.CreateCommand())
        {
            read.CommandText = "SELECT count(*) FROM sqlite_master;";
            await read.ExecuteScalarAsync(Ct);
        }

        async Task<long> WalGrowthAsync(string user)
        {
            long before = new FileInfo(wal).Length;
            using (await database.Users.ReserveAttemptAsync(user, rules, s_start, Ct))
            {
                await database.Users.RecordFailedAttemptAsync(user, rules, s_start, Ct);
            }

            return new FileInfo(wal).Length - before;
        }

        // Warm both rows' pages once, then compare: each attempt is two durable commits of one page.
        await WalGrowthAsync("alice");
        await WalGrowthAsync("nobody");
        long known = await WalGrowthAsync("alice");
        long unknown = await WalGrowthAsync("nobody");

        Assert.True(known > 0);
        Assert.Equal(known, unknown);
    }

    [Fact]
    public async Task WriteTransaction_SurvivingAProcessCrashOnly_CommitsAtNormal_AndTheNextConnectionIsFullAgain()
    {
        await using RdpNlaDatabase database = await OpenAsync();

        // A command of its own, compiled now (some pragmas take effect while compiled: https://www.sqlite.org/pragma.html).
        static async Task<long> SynchronousAsync(SqliteSession session, SqliteTransaction? transaction)
        {
            using SqliteCommand command = session.Connection.CreateCommand(transaction, "PRAGMA synchronous;");
            return (long)(await command.ExecuteScalarAsync(Ct))!;
        }

        // https://www.sqlite.org/pragma.html#pragma_synchronous: 1 = NORMAL, 2 = FULL.
        long crashOnly = await database.InWriteTransactionAsync(SynchronousAsync, Ct, CommitDurability.SurvivesProcessCrash);
        long byDefault = await database.InWriteTransactionAsync(SynchronousAsync, Ct);
        SqliteSession next = await database.OpenSessionAsync(Ct);
        long nextConnection;
        await using (next)
        {
            // The pooled connection the NORMAL transaction returned is set back to FULL when it is lent again.
            nextConnection = await SynchronousAsync(next, null);
        }

        Assert.Equal((1L, 2L, 2L), (crashOnly, byDefault, nextConnection));
    }

    [Fact]
    public async Task OpenAsync_NewerSchema_ThrowsWithExplanation()
    {
        await using (await OpenAsync())
        {
        }

        using (var connection = new SqliteConnection($"Data Source={_directory.DatabasePath};Pooling=False"))
        {
            await connection.OpenAsync(Ct);
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = "PRAGMA user_version = 99;";
            await command.ExecuteNonQueryAsync(Ct);
        }

        var ex = await Assert.ThrowsAsync<InvalidOperationException>(OpenAsync);
        Assert.Contains("schema version 99", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task DatabaseFile_AfterAddAndSetPassword_ContainsNoPasswordBytes()
    {
        const string password = "Tr0ub4dor&3-unique-marker";
        const string newPassword = "c0rrect-h0rse-unique-marker";
        await using (RdpNlaDatabase database = await OpenAsync())
        {
            await database.Users.AddAsync("alice", NtlmCrypto.NtOwfV1(password), Ct);
            await database.Users.SetNtHashAsync("alice", NtlmCrypto.NtOwfV1(newPassword), mustChangePassword: false, Ct);
        }

        SqliteConnection.ClearAllPools();
        byte[] contents = await ReadAllDatabaseBytesAsync();
        foreach (string secret in new[] { password, newPassword })
        {
            Assert.Equal(-1, contents.AsSpan().IndexOf(Encoding.UTF8.GetBytes(secret)));
            Assert.Equal(-1, contents.AsSpan().IndexOf(Encoding.Unicode.GetBytes(secret)));
        }

        Assert.NotEqual(-1, contents.AsSpan().IndexOf(NtlmCrypto.NtOwfV1(newPassword)));
    }

    private async Task<byte[]> ReadAllDatabaseBytesAsync()
    {
        using var all = new MemoryStream();
        foreach (string file in Directory.GetFiles(_directory.Path))
        {
            byte[] bytes = await File.ReadAllBytesAsync(file, Ct);
            all.Write(bytes);
        }

        return all.ToArray();
    }

    [Fact]
    public async Task OpenDatabaseAsync_MissingDirectory_CreatesItAndTheDatabase()
    {
        string dataDir = Path.Combine(_directory.Path, "nested", "data");

        await using (RdpNlaDatabase database = await DataDirectory.OpenDatabaseAsync(dataDir, _time, Ct))
        {
            Assert.Equal(Path.Combine(dataDir, "rdpnla.db"), database.FilePath);
        }

        Assert.True(File.Exists(Path.Combine(dataDir, "rdpnla.db")));
    }

    [Fact]
    public void Resolve_PathIsAFile_ThrowsIOException()
    {
        string file = Path.Combine(_directory.Path, "afile");
        File.WriteAllText(file, "x");

        Assert.Throws<IOException>(() => DataDirectory.Resolve(file));
    }
}
