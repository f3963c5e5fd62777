namespace RdpNla.Server.Storage.Postgres;

/// <summary>
/// A PostgreSQL database holding the users and the audit trail that several rdpnla instances share. Opening it
/// checks that the server is reachable and migrates the schema (<see cref="PostgresSchemaMigrations"/>) under an
/// advisory lock. Connections come from one pooled <see cref="NpgsqlDataSource"/>; every write is one statement or
/// one transaction, committed before the call returns.
/// </summary>
public sealed class PostgresDatabase : IAsyncDisposable, IDisposable, ISqlEngine
{
    // pg_advisory_xact_lock key: "rdpnla" as ASCII, so other applications sharing the database do not collide by accident.
    private const long MigrationLockKey = 0x7264706E6C61;

    private readonly NpgsqlDataSource _dataSource;

    private PostgresDatabase(NpgsqlDataSource dataSource, StoreLocation location, int schemaVersion, TimeProvider timeProvider)
    {
        _dataSource = dataSource;
        Location = location;
        SchemaVersion = schemaVersion;
        Users = new PostgresUserStore(this, timeProvider);
        Audit = new PostgresAuditLog(this);
        Gateway = new GatewayStore(this, timeProvider);
    }

    /// <summary>Where the database is (its description never contains the password).</summary>
    public StoreLocation Location { get; }

    /// <summary>The schema version after migration.</summary>
    public int SchemaVersion { get; }

    /// <summary>The user store in this database.</summary>
    public PostgresUserStore Users { get; }

    /// <summary>The audit log in this database.</summary>
    public PostgresAuditLog Audit { get; }

    /// <summary>The gateway's tables in this database, shared by every instance.</summary>
    public GatewayStore Gateway { get; }

    /// <summary>Connects, then creates or migrates the schema.</summary>
    /// <exception cref="StoreUnavailableException">The server cannot be reached, or refuses the login.</exception>
    /// <exception cref="InvalidOperationException">The schema was written by a newer version of rdpnla.</exception>
    public static async Task<PostgresDatabase> OpenAsync(StoreLocation location, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(location);
        NpgsqlConnectionStringBuilder settings = location.Postgres ?? throw new ArgumentException("not a PostgreSQL location", nameof(location));
        var builder = new NpgsqlDataSourceBuilder(settings.ConnectionString);
        ApplyDefaults(builder.ConnectionStringBuilder);
        NpgsqlDataSource dataSource = builder.Build();
        try
        {
            int version = await MigrateAsync(dataSource, location, cancellationToken).ConfigureAwait(false);
            return new PostgresDatabase(dataSource, location, version, timeProvider ?? TimeProvider.System);
        }
        catch
        {
            await dataSource.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    /// <summary>The settings rdpnla adds to the connection string it was given.</summary>
    internal static void ApplyDefaults(NpgsqlConnectionStringBuilder settings)
    {
        settings.ApplicationName ??= "rdpnla";
        // rdpnla changes no session state, so a pooled connection needs no DISCARD ALL when it is returned (measured:
        // without this, two of the four statements per successful handshake were resets; docs/BENCHMARKS.md (i)).
        settings.NoResetOnClose = true;

        // The statements a logon runs are prepared on each connection once they have run a few times, so the server
        // stops parsing and planning them (https://www.npgsql.org/doc/prepare.html#automatic-preparation): measured,
        // 38 % less PostgreSQL CPU per handshake (docs/BENCHMARKS.md (i)). "Max Auto Prepare=0" in the connection string
        // turns it off, as a pooler that cannot keep prepared statements (PgBouncer in transaction mode without
        // max_prepared_statements) needs; docs/high-availability.md.
        // Keys lists the keywords the string sets, by their canonical names (ContainsKey answers for every valid keyword).
        if (!settings.Keys.Cast<string>().Contains("Max Auto Prepare", StringComparer.OrdinalIgnoreCase))
        {
            settings.MaxAutoPrepare = DefaultMaxAutoPrepare;
        }
    }

    /// <summary>How many statements a connection keeps prepared unless the connection string says otherwise.</summary>
    internal const int DefaultMaxAutoPrepare = 20;

    private static async Task<int> MigrateAsync(NpgsqlDataSource dataSource, StoreLocation location, CancellationToken cancellationToken)
    {
        NpgsqlConnection connection;
        try
        {
            connection = await dataSource.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is NpgsqlException or TimeoutException)
        {
            throw new StoreUnavailableException($"cannot connect to PostgreSQL at {location.Description}: {StoreUnavailableException.Describe(ex)}", ex);
        }

        await using (connection.ConfigureAwait(false))
        {
            NpgsqlTransaction transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                // One instance migrates at a time; the lock ends with the transaction.
                await ExecuteAsync(connection, string.Create(CultureInfo.InvariantCulture, $"SELECT pg_advisory_xact_lock({MigrationLockKey});"), cancellationToken).ConfigureAwait(false);
                await ExecuteAsync(connection,
                    "CREATE TABLE IF NOT EXISTS rdpnla_schema (version integer PRIMARY KEY, applied_at timestamptz NOT NULL DEFAULT now());",
                    cancellationToken).ConfigureAwait(false);
                using var query = new NpgsqlCommand("SELECT coalesce(max(version), 0) FROM rdpnla_schema;", connection);
                int version = Convert.ToInt32(await query.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), CultureInfo.InvariantCulture);
                if (version > PostgresSchemaMigrations.LatestVersion)
                {
                    throw new InvalidOperationException(
                        $"the PostgreSQL database {location.Description} has schema version {version}, but this version of rdpnla understands up to {PostgresSchemaMigrations.LatestVersion}; upgrade this instance to the version the others run");
                }

                for (int next = version + 1; next <= PostgresSchemaMigrations.LatestVersion; next++)
                {
                    await ExecuteAsync(connection, PostgresSchemaMigrations.Scripts[next - 1], cancellationToken).ConfigureAwait(false);
                    await ExecuteAsync(connection, string.Create(CultureInfo.InvariantCulture, $"INSERT INTO rdpnla_schema (version) VALUES ({next});"), cancellationToken).ConfigureAwait(false);
                }

                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return PostgresSchemaMigrations.LatestVersion;
            }
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken cancellationToken)
    {
        using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    /// <summary>A pooled connection, open.</summary>
    internal ValueTask<NpgsqlConnection> OpenConnectionAsync(CancellationToken cancellationToken) =>
        _dataSource.OpenConnectionAsync(cancellationToken);

    /// <summary>
    /// Runs <paramref name="work"/> in one transaction on a pooled connection of its own; <paramref name="work"/> commits,
    /// and a transaction it leaves uncommitted is rolled back.
    /// </summary>
    internal async Task<T> InTransactionAsync<T>(Func<NpgsqlConnection, NpgsqlTransaction, Task<T>> work, CancellationToken cancellationToken)
    {
        NpgsqlConnection connection = await OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            NpgsqlTransaction transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                return await work(connection, transaction).ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc cref="InTransactionAsync{T}"/>
    internal Task InTransactionAsync(Func<NpgsqlConnection, NpgsqlTransaction, Task> work, CancellationToken cancellationToken) =>
        InTransactionAsync(
            async (connection, transaction) =>
            {
                await work(connection, transaction).ConfigureAwait(false);
                return true;
            },
            cancellationToken);

    /// <summary>A command on a pooled connection that is returned to the pool when the command's reader or call completes.</summary>
    internal NpgsqlCommand CreateCommand(string sql) => _dataSource.CreateCommand(sql);

    async Task<ISqlSession> ISqlEngine.OpenAsync(CancellationToken cancellationToken) =>
        new PostgresSession(await OpenConnectionAsync(cancellationToken).ConfigureAwait(false));

    object ISqlEngine.Time(DateTimeOffset value) => PostgresTime.ToDb(value);

    DateTimeOffset ISqlEngine.ReadTime(DbDataReader reader, int ordinal) => PostgresTime.FromDb(reader.GetDateTime(ordinal));

    object ISqlEngine.Flag(bool value) => value;

    /// <summary>One round trip: the health endpoint's check that the server answers.</summary>
    public async Task CheckAsync(CancellationToken cancellationToken)
    {
        using NpgsqlCommand command = CreateCommand("SELECT 1;");
        await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
    }

    public void Dispose() => _dataSource.Dispose();

    public ValueTask DisposeAsync() => _dataSource.DisposeAsync();
}

/// <summary>A pooled connection lent to one caller; the commands it hands out are disposed with it.</summary>
internal sealed class PostgresSession(NpgsqlConnection connection) : ISqlSession
{
    private readonly List<NpgsqlCommand> _commands = [];

    public DbConnection Connection => connection;

    public DbCommand Statement(string sql, DbTransaction? transaction = null)
    {
        var command = new NpgsqlCommand(sql, connection, (NpgsqlTransaction?)transaction);
        _commands.Add(command);
        return command;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (NpgsqlCommand command in _commands)
        {
            await command.DisposeAsync().ConfigureAwait(false);
        }

        await connection.DisposeAsync().ConfigureAwait(false);
    }
}
