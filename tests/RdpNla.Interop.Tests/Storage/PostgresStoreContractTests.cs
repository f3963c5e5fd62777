using RdpNla.Tests.Support;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Storage;

/// <summary>The store contract against a real PostgreSQL 15 started by the test run.</summary>
public sealed class PostgresStoreContractTests(PostgresServer postgres) : StoreContractTests
{
    protected override async Task<StoreLocation> CreateLocationAsync() =>
        StoreLocation.Parse(await postgres.CreateDatabaseAsync(), Directory.Path);
}
