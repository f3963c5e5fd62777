namespace RdpNla.Server.Storage;

/// <summary>
/// The SQLite database (<c>rdpnla.db</c>) holding users and the audit trail. Opening it creates the file when needed,
/// switches it to WAL mode and migrates the schema. Each operation borrows a connection of the instance's own pool
/// (<see cref="SqliteSession"/>, which keeps the statements prepared on it), so one instance is safe to share between
/// concurrent callers; writes are one transaction each, committed with
/// <c>synchronous=FULL</c> so that a completed write survives a crash or power loss (the few that need not:
/// <see cref="CommitDurability"/>).
/// </summary>
public sealed class RdpNlaDatabase : IAsyncDisposable, IDisposable, ISqlEngine
{
    // Connections kept open for the next caller, by how their commits reach the disk, so that a logon's steps rarely
    // switch a connection's durability. Beyond MaxIdleSessions a returned connection is closed.
    private const int MaxIdleSessions = 32;
    private readonly ConcurrentStack<SqliteSession> _idleFull = new();
    private readonly ConcurrentStack<SqliteSession> _idleNormal = new();
    private readonly string _connectionString;
    private int _idleCount;
    private volatile bool _disposed;

    private RdpNlaDatabase(string path, string connectionString, int schemaVersion, TimeProvider timeProvider)
    {
        FilePath = path;
        _connectionString = connectionString;
        SchemaVersion = schemaVersion;
        Users = new SqliteUserStore(this, timeProvider);
        Audit = new SqliteAuditLog(this);
        Gateway = new GatewayStore(this, timeProvider);
    }

    /// <summary>The database file.</summary>
    public string FilePath { get; }

    /// <summary>The schema version after migration.</summary>
    public int SchemaVersion { get; }

    /// <summary>The user store in this database.</summary>
    public SqliteUserStore Users { get; }

    /// <summary>The audit log in this database.</summary>
    public SqliteAuditLog Audit { get; }

    /// <summary>The gateway's backends, groups, mapped credentials, trusted certificates and session audit.</summary>
    public GatewayStore Gateway { get; }

    /// <summary>Opens (creating if needed) and migrates the database file at <paramref name="path"/>.</summary>
    /// <remarks>Microsoft.Data.Sqlite does its I/O synchronously whichever API is used; this completes synchronously.</remarks>
    /// <exception cref="SqliteException">The file cannot be opened or is not an SQLite database.</exception>
    /// <exception cref="InvalidOperationException">The database was written by a newer version of rdpnla.</exception>
    public static Task<RdpNlaDatabase> OpenAsync(string path, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        cancellationToken.ThrowIfCancellationRequested();
        return Task.FromResult(Open(path, timeProvider));
    }

    /// <summary>Opens (creating if needed) and migrates the database file at <paramref name="path"/>.</summary>
    /// <exception cref="SqliteException">The file cannot be opened or is not an SQLite database.</exception>
    /// <exception cref="InvalidOperationException">The database was written by a newer version of rdpnla.</exception>
    public static RdpNlaDatabase Open(string path, TimeProvider? timeProvider = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        CreatePrivate(path);
        string connectionString = new SqliteConnectionStringBuilder
        {
            DataSource = path,
            Mode = SqliteOpenMode.ReadWriteCreate,
            Cache = SqliteCacheMode.Private,
            // The instance pools its connections itself, with their prepared statements (SqliteSession).
            Pooling = false,
            DefaultTimeout = 30,
        }.ToString();

        int version;
        using (var connection = new SqliteConnection(connectionString))
        {
            connection.Open();
            Execute(connection, null, "PRAGMA busy_timeout = 10000;");
            RefuseForeign(connection);
            Execute(connection, null, "PRAGMA journal_mode = WAL;");
            version = Migrate(connection);
        }

        // Only now: the file is an SQLite database with rdpnla's schema, not some other file named by mistake (--store
        // /etc/passwd must not change the mode of /etc/passwd).
        MakePrivate(path);

        return new RdpNlaDatabase(path, connectionString, version, timeProvider ?? TimeProvider.System);
    }

    /// <summary>
    /// The database holds NT hashes, which log a user on over NTLM as well as the password: it is readable by its owner
    /// only (0600), whatever the umask. A new file is created so before SQLite opens it, and SQLite gives its -wal and
    /// -shm files the database file's permissions (findCreateFileMode in SQLite's src/os_unix.c).
    /// </summary>
    private static void CreatePrivate(string path)
    {
        if (OperatingSystem.IsWindows() || File.Exists(path))
        {
            return;
        }

        try
        {
            using var created = new FileStream(path, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                Share = FileShare.ReadWrite,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
        }
        catch (IOException) when (File.Exists(path))
        {
            // Another process created it first.
        }
    }

    /// <summary>
    /// A database, -wal or -shm file that group or others can read (written by an earlier rdpnla under umask 022, or
    /// copied in) is made private, when this user owns it. Called once the file proved to be rdpnla's database.
    /// </summary>
    private static void MakePrivate(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        const UnixFileMode GroupOrOthers = UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherWrite | UnixFileMode.OtherExecute;
        foreach (string file in (string[])[path, path + "-wal", path + "-shm"])
        {
            try
            {
                UnixFileMode mode = File.GetUnixFileMode(file);
                if ((mode & GroupOrOthers) != 0)
                {
                    File.SetUnixFileMode(file, mode & ~GroupOrOthers);
                }
            }
            catch (Exception ex) when (ex is FileNotFoundException or UnauthorizedAccessException)
            {
                // Absent (no -wal yet), or owned by another user: SQLite opens it as it is.
            }
        }
    }

    /// <summary>
    /// The schema version of the database at <paramref name="path"/>, read without changing the file: 0 for an empty
    /// file or an SQLite database that is not rdpnla's.
    /// </summary>
    /// <exception cref="SqliteException">The file cannot be opened or is not an SQLite database.</exception>
    public static int ReadSchemaVersion(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        using var connection = new SqliteConnection(new SqliteConnectionStringBuilder { DataSource = path, Mode = SqliteOpenMode.ReadOnly, Pooling = false }.ToString());
        connection.Open();
        using SqliteCommand query = connection.CreateCommand();
        query.CommandText = "PRAGMA user_version;";
        return Convert.ToInt32(query.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>
    /// A database with tables but no schema version is another program's (<c>--store</c> naming the wrong file): its
    /// journal mode and tables are left as they are, and the open fails. A migration sets the version in the transaction
    /// that creates the tables, so rdpnla's own database is never seen half made.
    /// </summary>
    private static void RefuseForeign(SqliteConnection connection)
    {
        using SqliteCommand query = connection.CreateCommand();
        query.CommandText = "SELECT (SELECT user_version FROM pragma_user_version) = 0 AND EXISTS (SELECT 1 FROM sqlite_schema);";
        if (Convert.ToInt64(query.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture) != 0)
        {
            throw new InvalidOperationException("it is an SQLite database of another program (it has tables, but no rdpnla schema version); give rdpnla's database");
        }
    }

    private static int Migrate(SqliteConnection connection)
    {
        // BEGIN IMMEDIATE: two processes opening a fresh file at once migrate one after the other.
        using SqliteTransaction transaction = connection.BeginTransaction(deferred: false);
        using SqliteCommand query = connection.CreateCommand();
        query.Transaction = transaction;
        query.CommandText = "PRAGMA user_version;";
        int version = Convert.ToInt32(query.ExecuteScalar(), System.Globalization.CultureInfo.InvariantCulture);
        if (version > SchemaMigrations.LatestVersion)
        {
            throw new InvalidOperationException(
                $"The database has schema version {version}, but this version of rdpnla understands up to {SchemaMigrations.LatestVersion}; use a newer rdpnla.");
        }

        for (int next = version + 1; next <= SchemaMigrations.LatestVersion; next++)
        {
            Execute(connection, transaction, SchemaMigrations.Scripts[next - 1] + $"\nPRAGMA user_version = {next};");
        }

        transaction.Commit();
        return SchemaMigrations.LatestVersion;
    }

    private static void Execute(SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        using SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        command.ExecuteNonQuery();
    }

    /// <summary>
    /// Lends an open connection whose commits reach the disk as <paramref name="durability"/> says: an idle one of the
    /// pool (preferably one already set that way), or a new one. Disposing the session gives it back.
    /// </summary>
    internal Task<SqliteSession> OpenSessionAsync(CancellationToken cancellationToken, CommitDurability durability = CommitDurability.SurvivesPowerLoss)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        cancellationToken.ThrowIfCancellationRequested();
        ConcurrentStack<SqliteSession> preferred = Idle(durability);
        ConcurrentStack<SqliteSession> other = preferred == _idleFull ? _idleNormal : _idleFull;
        SqliteSession session;
        if (preferred.TryPop(out SqliteSession? idle) || other.TryPop(out idle))
        {
            Interlocked.Decrement(ref _idleCount);
            session = idle;
        }
        else
        {
            // Microsoft.Data.Sqlite does its I/O synchronously whichever API is used.
            session = SqliteSession.Open(this, _connectionString);
        }

        try
        {
            session.SetDurability(durability);
            session.Lend();
            return Task.FromResult(session);
        }
        catch
        {
            session.Close();
            throw;
        }
    }

    /// <summary>Takes back a lent session: kept for the next caller when it can be reused and the pool has room, else closed.</summary>
    internal void Return(SqliteSession session)
    {
        if (!_disposed && session.CanBeReused)
        {
            if (Interlocked.Increment(ref _idleCount) <= MaxIdleSessions)
            {
                Idle(session.Durability).Push(session);
                if (_disposed)
                {
                    CloseIdleSessions();
                }

                return;
            }

            Interlocked.Decrement(ref _idleCount);
        }

        session.Close();
    }

    /// <summary>How many open connections wait in the pool.</summary>
    internal int IdleSessionCount => _idleFull.Count + _idleNormal.Count;

    private ConcurrentStack<SqliteSession> Idle(CommitDurability durability) =>
        durability == CommitDurability.SurvivesPowerLoss ? _idleFull : _idleNormal;

    private void CloseIdleSessions()
    {
        foreach (ConcurrentStack<SqliteSession> idle in (ConcurrentStack<SqliteSession>[])[_idleFull, _idleNormal])
        {
            while (idle.TryPop(out SqliteSession? session))
            {
                Interlocked.Decrement(ref _idleCount);
                session.Close();
            }
        }
    }

    async Task<ISqlSession> ISqlEngine.OpenAsync(CancellationToken cancellationToken) => await OpenSessionAsync(cancellationToken).ConfigureAwait(false);

    object ISqlEngine.Time(DateTimeOffset value) => SqliteTime.ToText(value);

    DateTimeOffset ISqlEngine.ReadTime(DbDataReader reader, int ordinal) => SqliteTime.FromText(reader.GetString(ordinal));

    object ISqlEngine.Flag(bool value) => value ? 1L : 0L;

    /// <summary>Checks that the database answers a query (the health endpoint's "store reachable").</summary>
    /// <exception cref="SqliteException">The file cannot be opened or read.</exception>
    public async Task CheckAsync(CancellationToken cancellationToken)
    {
        SqliteSession session = await OpenSessionAsync(cancellationToken).ConfigureAwait(false);
        await using (session.ConfigureAwait(false))
        {
            await session.Statement("SELECT count(*) FROM sqlite_master;").ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    /// <summary>Closes the pooled connections so the file is released (a connection still lent is closed when it is given back).</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        CloseIdleSessions();
    }

    /// <inheritdoc cref="Dispose"/>
    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>
/// What a committed SQLite write survives. In WAL mode a commit with <c>synchronous=FULL</c> syncs the log to disk;
/// with <c>NORMAL</c> it does not, and the transaction survives the crash of any process but may roll back after a
/// power loss or an operating system crash (https://www.sqlite.org/pragma.html#pragma_synchronous,
/// https://www.sqlite.org/wal.html). The next FULL commit syncs the log with every transaction before it.
/// </summary>
internal enum CommitDurability
{
    /// <summary><c>synchronous=FULL</c>: the default, for every fact (accounts, counted failures, audit rows).</summary>
    SurvivesPowerLoss,

    /// <summary>
    /// <c>synchronous=NORMAL</c>: for state whose loss in a power failure cannot weaken the account policy
    /// (<see cref="SqliteUserStore"/> says which).
    /// </summary>
    SurvivesProcessCrash,
}
