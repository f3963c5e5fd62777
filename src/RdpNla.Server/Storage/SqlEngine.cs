namespace RdpNla.Server.Storage;

/// <summary>
/// What differs between SQLite and PostgreSQL for the tables both hold with the same shape (the gateway's and the
/// portal's): how a connection is opened, and how a time and a flag are stored (SQLite: fixed-format UTC text and
/// 0/1; PostgreSQL: <c>timestamptz</c> and <c>boolean</c>). Statements are written once, with <c>@name</c>
/// parameters, which both Microsoft.Data.Sqlite and Npgsql accept.
/// </summary>
internal interface ISqlEngine
{
    /// <summary>An open pooled connection, lent until the session is disposed.</summary>
    Task<ISqlSession> OpenAsync(CancellationToken cancellationToken);

    /// <summary>A time as stored.</summary>
    object Time(DateTimeOffset value);

    /// <summary>A stored time.</summary>
    DateTimeOffset ReadTime(DbDataReader reader, int ordinal);

    /// <summary>A flag as stored.</summary>
    object Flag(bool value);
}

/// <summary>
/// An open pooled connection lent to one caller, and the commands it runs on it: SQLite keeps them prepared with the
/// connection (<see cref="SqliteSession"/>); PostgreSQL creates them for the session and disposes them with it.
/// </summary>
internal interface ISqlSession : IAsyncDisposable
{
    /// <summary>The open connection.</summary>
    DbConnection Connection { get; }

    /// <summary>
    /// The command of <paramref name="sql"/> (a constant text) in <paramref name="transaction"/>, with no parameters. It
    /// belongs to the session: do not dispose it, and dispose its reader before the session.
    /// </summary>
    DbCommand Statement(string sql, DbTransaction? transaction = null);
}

/// <summary>One statement on its own pooled connection (a single statement is its own transaction), for either engine.</summary>
internal static class SqlStatements
{
    /// <summary>Adds <c>@<paramref name="name"/></c>; a null value is bound as SQL NULL of <paramref name="type"/> (PostgreSQL needs the type).</summary>
    public static DbCommand With(this DbCommand command, string name, object? value, DbType type = DbType.String)
    {
        DbParameter parameter = command.CreateParameter();
        parameter.ParameterName = "@" + name;
        parameter.Value = value ?? DBNull.Value;
        if (value is null)
        {
            parameter.DbType = type;
        }

        command.Parameters.Add(parameter);
        return command;
    }

    /// <summary>Runs <paramref name="sql"/>; true when it changed at least one row.</summary>
    public static async Task<bool> ExecuteAsync(this ISqlEngine engine, string sql, Action<DbCommand> bind, CancellationToken cancellationToken)
    {
        ISqlSession session = await engine.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (session.ConfigureAwait(false))
        {
            DbCommand command = session.Statement(sql);
            bind(command);
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
        }
    }

    /// <summary>The first column of the first row of <paramref name="sql"/>, or null (also for SQL NULL).</summary>
    public static async Task<object?> ScalarAsync(this ISqlEngine engine, string sql, Action<DbCommand> bind, CancellationToken cancellationToken)
    {
        ISqlSession session = await engine.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (session.ConfigureAwait(false))
        {
            DbCommand command = session.Statement(sql);
            bind(command);
            object? value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return value is DBNull ? null : value;
        }
    }

    /// <summary>Every row of <paramref name="sql"/>, each read by <paramref name="read"/>.</summary>
    public static async Task<List<T>> QueryAsync<T>(this ISqlEngine engine, string sql, Action<DbCommand> bind, Func<DbDataReader, T> read, CancellationToken cancellationToken)
    {
        ISqlSession session = await engine.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (session.ConfigureAwait(false))
        {
            DbCommand command = session.Statement(sql);
            bind(command);
            DbDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                var rows = new List<T>();
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    rows.Add(read(reader));
                }

                return rows;
            }
        }
    }

    /// <summary>The text in column <paramref name="ordinal"/>, or null.</summary>
    public static string? TextOrNull(this DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetString(ordinal);

    /// <summary>The integer in column <paramref name="ordinal"/>, or null.</summary>
    public static int? Int32OrNull(this DbDataReader reader, int ordinal) => reader.IsDBNull(ordinal) ? null : reader.GetInt32(ordinal);

    /// <summary>A flag (SQLite 0/1, PostgreSQL boolean).</summary>
    public static bool Flag(this DbDataReader reader, int ordinal) => Convert.ToBoolean(reader.GetValue(ordinal), System.Globalization.CultureInfo.InvariantCulture);
}
