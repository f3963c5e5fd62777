namespace RdpNla.Server.Storage;

/// <summary>
/// The store an instance or an admin command works on (<see cref="StoreLocation"/>): users, the audit trail, the
/// gateway's tables and the portal's, all in one SQLite file or all in one PostgreSQL database shared by several
/// instances (docs/high-availability.md).
/// </summary>
public sealed class RdpNlaStore : IAsyncDisposable
{
    private RdpNlaStore(StoreLocation location, string dataDirectory, RdpNlaDatabase? sqlite, PostgresDatabase? postgres, TimeProvider timeProvider)
    {
        Location = location;
        DataDirectory = dataDirectory;
        Sqlite = sqlite;
        Postgres = postgres;
        Users = postgres is not null ? postgres.Users : sqlite!.Users;
        Audit = postgres is not null ? postgres.Audit : sqlite!.Audit;
        Gateway = postgres is not null ? postgres.Gateway : sqlite!.Gateway;
        SelfService = new SelfServiceStore(postgres is not null ? postgres : (ISqlEngine)sqlite!, timeProvider);
    }

    /// <summary>Where the store is.</summary>
    public StoreLocation Location { get; }

    /// <summary>The resolved data directory (certificate and gateway key).</summary>
    public string DataDirectory { get; }

    /// <summary>The PostgreSQL database, when the store is one.</summary>
    public PostgresDatabase? Postgres { get; }

    /// <summary>The user store.</summary>
    public IUserStore Users { get; }

    /// <summary>The audit log.</summary>
    public IAuditLog Audit { get; }

    /// <summary>The SQLite database, when the store is one.</summary>
    public RdpNlaDatabase? Sqlite { get; }

    /// <summary>The schema version of the store.</summary>
    public int SchemaVersion => Postgres?.SchemaVersion ?? Sqlite!.SchemaVersion;

    /// <summary>The gateway's backends, groups, mapped credentials, trusted certificates and session audit.</summary>
    public GatewayStore Gateway { get; }

    /// <summary>The portal's tables: second-factor requirements, password history and TOTP authenticators.</summary>
    public SelfServiceStore SelfService { get; }

    /// <summary>Checks that the store answers (the health endpoint).</summary>
    public Task CheckAsync(CancellationToken cancellationToken) =>
        Postgres is not null ? Postgres.CheckAsync(cancellationToken) : Sqlite!.CheckAsync(cancellationToken);

    /// <summary>Opens (creating and migrating) the store at <paramref name="location"/>.</summary>
    /// <exception cref="Microsoft.Data.Sqlite.SqliteException">The SQLite file cannot be opened.</exception>
    /// <exception cref="StoreUnavailableException">PostgreSQL cannot be reached or refuses the login.</exception>
    /// <exception cref="InvalidOperationException">The schema is newer than this version of rdpnla understands.</exception>
    public static async Task<RdpNlaStore> OpenAsync(StoreLocation location, string dataDirectory, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(location);
        TimeProvider time = timeProvider ?? TimeProvider.System;
        if (location.IsPostgres)
        {
            PostgresDatabase postgres = await PostgresDatabase.OpenAsync(location, time, cancellationToken).ConfigureAwait(false);
            return new RdpNlaStore(location, dataDirectory, null, postgres, time);
        }

        RdpNlaDatabase sqlite = await RdpNlaDatabase.OpenAsync(location.SqlitePath!, time, cancellationToken).ConfigureAwait(false);
        return new RdpNlaStore(location, dataDirectory, sqlite, null, time);
    }

    public async ValueTask DisposeAsync()
    {
        if (Sqlite is not null)
        {
            await Sqlite.DisposeAsync().ConfigureAwait(false);
        }

        if (Postgres is not null)
        {
            await Postgres.DisposeAsync().ConfigureAwait(false);
        }
    }
}
