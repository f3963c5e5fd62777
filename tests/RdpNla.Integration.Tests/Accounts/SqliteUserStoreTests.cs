using System.Text;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using RdpNla.Protocol.Ntlm;
using RdpNla.Server.Accounts;
using RdpNla.Server.Storage;

namespace RdpNla.Integration.Tests.Accounts;

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
    public async Task OpenAsync_Reopen_IsIdempotentAndKeepsData()
    {
        await using (RdpNlaDatabase database = await OpenAsync())
        {
            await database.Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw1"), Ct);
        }

        await using (RdpNlaDatabase database = await OpenAsync())
        {
            Assert.Equal(SchemaMigrations.LatestVersion, database.SchemaVersion);
            Assert.NotNull(await database.Users.FindAsync("alice", Ct));
        }

        await using (RdpNlaDatabase database = await OpenAsync())
        {
            Assert.Single(await database.Users.ListAsync(Ct));
        }
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
    public async Task AddAsync_NewUser_StoresOriginalSpellingAndTimes()
    {
        await using RdpNlaDatabase database = await OpenAsync();

        UserAccount added = await database.Users.AddAsync("Alice", NtlmCrypto.NtOwfV1("pw"), Ct);

        Assert.Equal("Alice", added.UserName);
        Assert.Equal(s_start, added.Created);
        Assert.Equal(s_start, added.PasswordLastSet);
        Assert.False(added.Disabled);
        Assert.True(added.RemoteLogonAllowed);
        Assert.Null(added.LockedUntil);
        UserAccount? found = await database.Users.FindAsync("ALICE", Ct);
        Assert.Equal(added, found);
    }

    [Fact]
    public async Task AddAsync_SameNameOtherCase_ThrowsUserAlreadyExists()
    {
        await using RdpNlaDatabase database = await OpenAsync();
        await database.Users.AddAsync("Alice", NtlmCrypto.NtOwfV1("pw"), Ct);

        var ex = await Assert.ThrowsAsync<UserAlreadyExistsException>(() => database.Users.AddAsync("aLICE", NtlmCrypto.NtOwfV1("pw2"), Ct));

        Assert.Equal("Alice", ex.UserName);
        Assert.Single(await database.Users.ListAsync(Ct));
    }

    [Fact]
    public async Task AddAsync_InvalidName_ThrowsArgumentException()
    {
        await using RdpNlaDatabase database = await OpenAsync();

        await Assert.ThrowsAsync<ArgumentException>(() => database.Users.AddAsync("a*b", NtlmCrypto.NtOwfV1("pw"), Ct));
        await Assert.ThrowsAsync<ArgumentException>(() => database.Users.AddAsync("ok", new byte[15], Ct));
    }

    [Fact]
    public async Task FindCredentialAsync_AddedUser_HashEqualsNtOwfV1AndIsWipedOnDispose()
    {
        await using RdpNlaDatabase database = await OpenAsync();
        await database.Users.AddAsync("alice", NtlmCrypto.NtOwfV1("Passw0rd!"), Ct);

        UserCredential? credential = await database.Users.FindCredentialAsync("Alice", Ct);

        Assert.NotNull(credential);
        // winpr-hash -u alice -p 'Passw0rd!' (docs/interop.md#freerdp-shadow)
        Assert.Equal(Convert.FromHexString("fc525c9683e8fe067095ba2ddc971889"), credential.NtHash.ToArray());
        credential.Dispose();
        Assert.True(credential.NtHash.IsEmpty);
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
    public async Task SetNtHashAsync_ExpiredUser_ReplacesHashAndClearsFlags()
    {
        await using RdpNlaDatabase database = await OpenAsync();
        await database.Users.AddAsync("alice", NtlmCrypto.NtOwfV1("old"), Ct);
        await database.Users.UpdateAsync("alice", a => a with { PasswordExpired = true, MustChangePassword = true }, Ct);
        _time.Advance(TimeSpan.FromDays(1));

        UserAccount? updated = await database.Users.SetNtHashAsync("ALICE", NtlmCrypto.NtOwfV1("new"), mustChangePassword: false, Ct);

        Assert.NotNull(updated);
        Assert.False(updated.PasswordExpired);
        Assert.False(updated.MustChangePassword);
        Assert.Equal(s_start.AddDays(1), updated.PasswordLastSet);
        using UserCredential? credential = await database.Users.FindCredentialAsync("alice", Ct);
        Assert.Equal(NtlmCrypto.NtOwfV1("new"), credential!.NtHash.ToArray());
    }

    [Fact]
    public async Task SetNtHashAsync_UnknownUser_ReturnsNull()
    {
        await using RdpNlaDatabase database = await OpenAsync();

        Assert.Null(await database.Users.SetNtHashAsync("nobody", NtlmCrypto.NtOwfV1("x"), false, Ct));
    }

    [Fact]
    public async Task UpdateAsync_Flags_PersistsAllStateFields()
    {
        await using RdpNlaDatabase database = await OpenAsync();
        await database.Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw"), Ct);
        _time.Advance(TimeSpan.FromMinutes(5));
        DateTimeOffset now = _time.GetUtcNow();

        await database.Users.UpdateAsync("alice", a => a with
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

        UserAccount found = (await database.Users.FindAsync("alice", Ct))!;
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
    public async Task UpdateAsync_UnknownUser_ReturnsNull()
    {
        await using RdpNlaDatabase database = await OpenAsync();

        Assert.Null(await database.Users.UpdateAsync("nobody", a => a with { Disabled = true }, Ct));
    }

    [Fact]
    public async Task UpdateAsync_ConcurrentIncrements_AreNotLost()
    {
        await using RdpNlaDatabase database = await OpenAsync();
        await database.Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw"), Ct);

        await Task.WhenAll(Enumerable.Range(0, 20).Select(_ => Task.Run(() =>
            database.Users.UpdateAsync("alice", a => a with { FailedLogonCount = a.FailedLogonCount + 1 }, Ct), Ct)));

        Assert.Equal(20, (await database.Users.FindAsync("alice", Ct))!.FailedLogonCount);
    }

    [Fact]
    public async Task RemoveAsync_ExistingUserAnyCase_RemovesIt()
    {
        await using RdpNlaDatabase database = await OpenAsync();
        await database.Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw"), Ct);

        Assert.True(await database.Users.RemoveAsync("ALICE", Ct));
        Assert.False(await database.Users.RemoveAsync("alice", Ct));
        Assert.Null(await database.Users.FindAsync("alice", Ct));
        Assert.Null(await database.Users.FindCredentialAsync("alice", Ct));
    }

    [Fact]
    public async Task ListAsync_SeveralUsers_OrdersCaseInsensitively()
    {
        await using RdpNlaDatabase database = await OpenAsync();
        foreach (string name in new[] { "carol", "Bob", "alice" })
        {
            await database.Users.AddAsync(name, NtlmCrypto.NtOwfV1("pw"), Ct);
        }

        IReadOnlyList<UserAccount> users = await database.Users.ListAsync(Ct);

        Assert.Equal(["alice", "Bob", "carol"], users.Select(u => u.UserName));
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
