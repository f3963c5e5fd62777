using RdpNla.Tests.Support;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Storage;

/// <summary>The gateway's store contract against a real PostgreSQL 15 started by the test run.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class PostgresGatewayStoreContractTests(PostgresServer postgres) : GatewayStoreContractTests
{
    protected override async Task<StoreLocation> CreateLocationAsync() =>
        StoreLocation.Parse(await postgres.CreateDatabaseAsync(), Directory.Path);
}
