using Microsoft.Extensions.Time.Testing;
using RdpNla.Tests.Accounts;
using RdpNla.Server.Accounts;
using RdpNla.Server.Audit;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Storage;

/// <summary>
/// A fresh store per test, of the engine a subclass names (SQLite or a real PostgreSQL 15), with a fake clock and
/// further handles on the same store as other instances have: the base of the contract suites run on both engines.
/// </summary>
public abstract class StoreTestBase : IAsyncLifetime
{
    protected static readonly DateTimeOffset s_start = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);
    private readonly List<RdpNlaStore> _opened = [];
    private StoreLocation? _location;

    protected FakeTimeProvider Time { get; } = new(s_start);

    internal TempDirectory Directory { get; } = new();

    protected RdpNlaStore Store { get; private set; } = null!;

    protected IUserStore Users => Store.Users;

    protected IAuditLog Audit => Store.Audit;

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>A new, empty store for one test.</summary>
    protected abstract Task<StoreLocation> CreateLocationAsync();

    public async ValueTask InitializeAsync()
    {
        _location = await CreateLocationAsync();
        Store = await OpenAnotherAsync();
    }

    /// <summary>Another handle on the same store, as a second instance has (its own connections).</summary>
    protected async Task<RdpNlaStore> OpenAnotherAsync()
    {
        RdpNlaStore store = await RdpNlaStore.OpenAsync(_location!, Directory.Path, Time, Ct);
        _opened.Add(store);
        return store;
    }

    public async ValueTask DisposeAsync()
    {
        foreach (RdpNlaStore store in _opened)
        {
            await store.DisposeAsync();
        }

        Directory.Dispose();
        GC.SuppressFinalize(this);
    }
}
