using RdpNla.Server.Accounts;
using RdpNla.Server.Audit;
using RdpNla.Server.Storage.Postgres;

namespace RdpNla.Server.Storage;

/// <summary>
/// The store an instance or an admin command works on (<see cref="StoreLocation"/>): users and the audit trail in
/// SQLite or PostgreSQL. The gateway's tables (<see cref="Gateway"/>) are in SQLite only for now: with PostgreSQL they
/// stay in <c>rdpnla.db</c> of the data directory, opened on first use (docs/high-availability.md).
/// </summary>
public sealed class RdpNlaStore : IAsyncDisposable
{
    private readonly TimeProvider _timeProvider;
    private readonly Lock _gate = new();
    private RdpNlaDatabase? _sqlite;
    private bool _disposed;

    private RdpNlaStore(StoreLocation location, string dataDirectory, RdpNlaDatabase? sqlite, PostgresDatabase? postgres, TimeProvider timeProvider)
    {
        Location = location;
        DataDirectory = dataDirectory;
        _sqlite = sqlite;
        Postgres = postgres;
        _timeProvider = timeProvider;
        Users = postgres is not null ? postgres.Users : sqlite!.Users;
        Audit = postgres is not null ? postgres.Audit : sqlite!.Audit;
    }

    /// <summary>Where users and audit live.</summary>
    public StoreLocation Location { get; }

    /// <summary>The resolved data directory (certificate, gateway key, and the gateway's SQLite tables).</summary>
    public string DataDirectory { get; }

    /// <summary>The PostgreSQL database, when the store is one.</summary>
    public PostgresDatabase? Postgres { get; }

    /// <summary>The user store.</summary>
    public IUserStore Users { get; }

    /// <summary>The audit log.</summary>
    public IAuditLog Audit { get; }

    /// <summary>The SQLite database of the gateway's tables (the store itself with SQLite), opened on first use.</summary>
    public RdpNlaDatabase Sqlite
    {
        get
        {
            lock (_gate)
            {
                ObjectDisposedException.ThrowIf(_disposed, this);
                return _sqlite ??= RdpNlaDatabase.Open(Storage.DataDirectory.GetDatabasePath(DataDirectory), _timeProvider);
            }
        }
    }

    /// <summary>The gateway's backends, groups, mapped credentials, trusted certificates and session audit (SQLite stores only).</summary>
    /// <exception cref="StoreNotSupportedException">The store is PostgreSQL, which does not hold the gateway's tables yet.</exception>
    public GatewayStore Gateway => Postgres is null
        ? Sqlite.Gateway
        : throw new StoreNotSupportedException(
            "the gateway's groups, backends, mapped credentials and certificates are not in PostgreSQL yet; manage them on an SQLite store (--store PATH or the default in --data)");

    /// <summary>The SQLite database holding the portal's tables (second-factor flags, password history, TOTP secrets).</summary>
    /// <exception cref="StoreNotSupportedException">The store is PostgreSQL, which does not hold the portal's tables.</exception>
    public RdpNlaDatabase SelfService => Postgres is null
        ? Sqlite
        : throw new StoreNotSupportedException(PortalNotSupported);

    /// <summary>Why the portal and the second factor are refused with a PostgreSQL store (docs/high-availability.md).</summary>
    public const string PortalNotSupported =
        "the portal's second-factor settings, password history and TOTP secrets are not in PostgreSQL yet; use an SQLite store (--store PATH or the default in --data) for Portal and Mfa";

    /// <summary>Checks that the store answers (the health endpoint).</summary>
    public Task CheckAsync(CancellationToken cancellationToken) =>
        Postgres is not null ? Postgres.CheckAsync(cancellationToken) : Sqlite.CheckAsync(cancellationToken);

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
        RdpNlaDatabase? sqlite;
        lock (_gate)
        {
            _disposed = true;
            sqlite = _sqlite;
        }

        if (sqlite is not null)
        {
            await sqlite.DisposeAsync().ConfigureAwait(false);
        }

        if (Postgres is not null)
        {
            await Postgres.DisposeAsync().ConfigureAwait(false);
        }
    }
}
