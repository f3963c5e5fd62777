using RdpNla.Server.Accounts;
using RdpNla.Tests.Support;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Accounts;

/// <summary>
/// The contract for <see cref="Server.Storage.Postgres.PostgresUserStore"/> against a real PostgreSQL 15 started by the
/// test run; the racing calls share one data source, each on its own pooled connection, as instances do.
/// </summary>
public sealed class PostgresUserStoreContractTests(PostgresServer postgres) : UserStoreContractTests
{
    private Server.Storage.Postgres.PostgresDatabase? _database;

    protected override async Task<IUserStore> CreateStoreAsync()
    {
        StoreLocation location = StoreLocation.Parse(await postgres.CreateDatabaseAsync(), Path.GetTempPath());
        _database = await Server.Storage.Postgres.PostgresDatabase.OpenAsync(location, TimeProvider.System, Ct);
        return _database.Users;
    }

    protected override async ValueTask DisposeStoreAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }
    }
}
