using RdpNla.Server.Storage;

namespace RdpNla.Tests.Storage;

/// <summary>The store contract against SQLite (the default engine).</summary>
public sealed class SqliteStoreContractTests : StoreContractTests
{
    protected override Task<StoreLocation> CreateLocationAsync() =>
        Task.FromResult(StoreLocation.Parse(null, Directory.Path));
}
