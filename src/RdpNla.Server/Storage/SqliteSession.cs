namespace RdpNla.Server.Storage;

/// <summary>
/// One open connection of <see cref="RdpNlaDatabase"/>'s own pool, lent to one caller at a time, with the statements
/// prepared on it. SQLite compiles a statement's text on every prepare (https://www.sqlite.org/c3ref/prepare.html), and
/// a command of Microsoft.Data.Sqlite keeps its compiled statements only until it is disposed or its connection is
/// closed; a session keeps both, so a logon's statements are compiled once per connection instead of once per use
/// (docs/BENCHMARKS.md (a), "SQLite statements prepared once per connection"). Disposing the session gives it back to
/// the pool.
/// </summary>
internal sealed class SqliteSession : ISqlSession
{
    // A session keeps at most this many statements; beyond, it starts again (every statement the stores run has a
    // constant text, so this is a bound, not a size that is reached).
    private const int MaxStatements = 128;

    private readonly RdpNlaDatabase _pool;
    private readonly Dictionary<string, SqliteCommand> _statements = new(StringComparer.Ordinal);
    private int _lent;

    private SqliteSession(RdpNlaDatabase pool, SqliteConnection connection)
    {
        _pool = pool;
        Connection = connection;
    }

    /// <summary>The open connection. Commands created on it directly are the caller's to dispose.</summary>
    public SqliteConnection Connection { get; }

    DbConnection ISqlSession.Connection => Connection;

    /// <summary>How this connection's commits reach the disk now.</summary>
    public CommitDurability Durability { get; private set; }

    /// <summary>
    /// Whether the session can go back to the pool: the connection is open and no transaction was left open on it
    /// (https://www.sqlite.org/c3ref/get_autocommit.html).
    /// </summary>
    internal bool CanBeReused =>
        Connection.State == ConnectionState.Open && SQLitePCL.raw.sqlite3_get_autocommit(Connection.Handle) != 0;

    /// <summary>Opens a connection of <paramref name="connectionString"/> with the busy wait and FULL commits.</summary>
    internal static SqliteSession Open(RdpNlaDatabase pool, string connectionString)
    {
        var connection = new SqliteConnection(connectionString);
        try
        {
            connection.Open();
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = "PRAGMA busy_timeout = 10000; PRAGMA synchronous = FULL;";
            command.ExecuteNonQuery();
            return new SqliteSession(pool, connection);
        }
        catch
        {
            connection.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The command of <paramref name="sql"/> on this connection, in <paramref name="transaction"/> (none: autocommit),
    /// with no parameters: prepared at its first use and kept with the session. It belongs to the session: do not dispose
    /// it, and dispose its reader before the session. For statements of a text built at run time, or that bind a secret,
    /// create a command on <see cref="Connection"/> instead.
    /// </summary>
    public SqliteCommand Statement(string sql, SqliteTransaction? transaction = null)
    {
        if (!_statements.TryGetValue(sql, out SqliteCommand? command))
        {
            if (_statements.Count >= MaxStatements)
            {
                DisposeStatements();
            }

            command = Connection.CreateCommand();
            command.CommandText = sql;
            _statements.Add(sql, command);
        }

        command.Parameters.Clear();
        command.Transaction = transaction;
        return command;
    }

    DbCommand ISqlSession.Statement(string sql, DbTransaction? transaction) => Statement(sql, (SqliteTransaction?)transaction);

    /// <summary>
    /// Sets how commits reach the disk, when that changes. Some pragmas take effect while SQLite compiles them rather
    /// than when they run (https://www.sqlite.org/pragma.html), so this one is compiled afresh each time, on a command of
    /// its own.
    /// </summary>
    internal void SetDurability(CommitDurability durability)
    {
        if (durability == Durability)
        {
            return;
        }

        using SqliteCommand command = Connection.CreateCommand();
        command.CommandText = durability == CommitDurability.SurvivesPowerLoss ? "PRAGMA synchronous = FULL;" : "PRAGMA synchronous = NORMAL;";
        command.ExecuteNonQuery();
        Durability = durability;
    }

    /// <summary>Marks the session lent to one caller.</summary>
    internal void Lend() => Volatile.Write(ref _lent, 1);

    /// <summary>
    /// Gives the session back to the pool (or closes it when it cannot be reused); only the first call after it was
    /// lent does, so a second disposal cannot put one connection in the pool twice.
    /// </summary>
    public ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _lent, 0) == 1)
        {
            _pool.Return(this);
        }

        return ValueTask.CompletedTask;
    }

    /// <summary>Finalizes the statements and closes the connection.</summary>
    internal void Close()
    {
        DisposeStatements();
        Connection.Dispose();
    }

    private void DisposeStatements()
    {
        foreach (SqliteCommand command in _statements.Values)
        {
            command.Dispose();
        }

        _statements.Clear();
    }
}
