using RdpNla.Server.Storage;

namespace RdpNla.Tests.Storage;

/// <summary>The portal's store contract against SQLite.</summary>
public sealed class SqliteSelfServiceStoreContractTests : SelfServiceStoreContractTests
{
    protected override Task<StoreLocation> CreateLocationAsync() =>
        Task.FromResult(StoreLocation.Parse(null, Directory.Path));
}
