using RdpNla.Server.Accounts;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Accounts;

/// <summary>The contract for the default store, <see cref="SqliteUserStore"/>.</summary>
public sealed class SqliteUserStoreContractTests : UserStoreContractTests
{
    private readonly TempDirectory _directory = new();
    private RdpNlaDatabase? _database;

    protected override async Task<IUserStore> CreateStoreAsync()
    {
        _database = await RdpNlaDatabase.OpenAsync(_directory.DatabasePath, cancellationToken: Ct);
        return _database.Users;
    }

    protected override async ValueTask DisposeStoreAsync()
    {
        if (_database is not null)
        {
            await _database.DisposeAsync();
        }

        _directory.Dispose();
    }
}
