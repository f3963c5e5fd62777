using RdpNla.Server.Storage;

namespace RdpNla.Tests.Storage;

/// <summary>The gateway's store contract against SQLite.</summary>
[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class SqliteGatewayStoreContractTests : GatewayStoreContractTests
{
    protected override Task<StoreLocation> CreateLocationAsync() =>
        Task.FromResult(StoreLocation.Parse(null, Directory.Path));
}
