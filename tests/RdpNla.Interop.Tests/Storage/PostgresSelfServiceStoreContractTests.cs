using RdpNla.Tests.Support;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Storage;

/// <summary>The portal's store contract against a real PostgreSQL 15 started by the test run.</summary>
public sealed class PostgresSelfServiceStoreContractTests(PostgresServer postgres) : SelfServiceStoreContractTests
{
    protected override async Task<StoreLocation> CreateLocationAsync() =>
        StoreLocation.Parse(await postgres.CreateDatabaseAsync(), Directory.Path);
}
