using RdpNla.Server.Storage;

namespace RdpNla.Tests.Storage;

/// <summary>
/// The data folder and the database (NT hashes: a password equivalent for NTLM) are their owner's only, whatever the
/// umask the command runs under; a database an earlier version left readable is made private when opened.
/// </summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class DataFilePermissionsTests : IDisposable
{
    private const UnixFileMode GroupOrOthers = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;

    private readonly string _root = Directory.CreateTempSubdirectory("rdpnla-perm-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task NewDataFolder_AndDatabaseWithItsWalAndShm_AreOwnerOnly_UnderUmask022()
    {
        // This test process's umask is usually 022: a file created without a mode of its own would be 0644.
        string data = Path.Combine(_root, "data");
        await using (RdpNlaDatabase database = await DataDirectory.OpenDatabaseAsync(data, cancellationToken: TestContext.Current.CancellationToken))
        {
            await database.Users.AddAsync("alice", new byte[16], TestContext.Current.CancellationToken);
            string db = DataDirectory.GetDatabasePath(data);
            Assert.True(File.Exists(db + "-wal") && File.Exists(db + "-shm"), "WAL mode writes -wal and -shm beside the database");
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(data));
            foreach (string file in (string[])[db, db + "-wal", db + "-shm"])
            {
                Assert.True((File.GetUnixFileMode(file) & GroupOrOthers) == 0, $"{file} is {File.GetUnixFileMode(file)}");
            }
        }
    }

    [Fact]
    public async Task DatabaseLeftReadableByAnEarlierVersion_IsMadePrivateWhenOpened()
    {
        string data = Path.Combine(_root, "old");
        await (await DataDirectory.OpenDatabaseAsync(data, cancellationToken: TestContext.Current.CancellationToken)).DisposeAsync();
        string db = DataDirectory.GetDatabasePath(data);
        File.SetUnixFileMode(db, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        await (await DataDirectory.OpenDatabaseAsync(data, cancellationToken: TestContext.Current.CancellationToken)).DisposeAsync();

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(db));
    }

    [Fact]
    public void FileThatIsNotADatabase_KeepsItsMode()
    {
        // --store naming the wrong file (/etc/passwd, as root): refused, and its mode untouched.
        string file = Path.Combine(_root, "passwd");
        File.WriteAllText(file, "root:x:0:0:root:/root:/bin/bash\n");
        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        Assert.Throws<Microsoft.Data.Sqlite.SqliteException>(() => RdpNlaDatabase.Open(file));

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(file));
    }

    [Fact]
    public void SqliteDatabaseOfAnotherProgram_IsRefused_AndLeftAsItWas()
    {
        string file = Path.Combine(_root, "app.db");
        using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={file};Pooling=False"))
        {
            connection.Open();
            using var create = connection.CreateCommand();
            create.CommandText = "CREATE TABLE settings(name TEXT);";
            create.ExecuteNonQuery();
        }

        File.SetUnixFileMode(file, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead);

        InvalidOperationException refused = Assert.Throws<InvalidOperationException>(() => RdpNlaDatabase.Open(file));

        Assert.Contains("an SQLite database of another program", refused.Message, StringComparison.Ordinal);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead | UnixFileMode.OtherRead, File.GetUnixFileMode(file));
        using var check = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={file};Mode=ReadOnly;Pooling=False");
        check.Open();
        using var query = check.CreateCommand();
        query.CommandText = "SELECT group_concat(name) FROM sqlite_schema; ";
        Assert.Equal("settings", query.ExecuteScalar());
        query.CommandText = "PRAGMA journal_mode;";
        Assert.Equal("delete", query.ExecuteScalar());
    }
}
