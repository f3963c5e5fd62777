using RdpNla.Server.Storage;
using RdpNla.Tests.Accounts;

namespace RdpNla.Tests.Cli;

/// <summary><c>rdpnla backends ...</c>: options checked as the other commands check them.</summary>
public class BackendsCommandTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private Task<CliResult> RunAsync(params string[] args) => Accounts.Cli.RunAsync([.. args, "--data", _directory.Path]);

    [Theory]
    [InlineData("0")]
    [InlineData("-5")]
    public async Task Sessions_LimitNotPositive_IsRefusedAsAuditRefusesIt(string limit)
    {
        CliResult sessions = await RunAsync("backends", "sessions", "--limit", limit);
        CliResult audit = await RunAsync("audit", "--limit", limit);

        Assert.Equal((1, "", $"error: --limit {limit} is not a positive number; give e.g. --limit 100\n"), (sessions.ExitCode, sessions.Output, sessions.Error));
        Assert.Equal((audit.ExitCode, audit.Error), (sessions.ExitCode, sessions.Error));
    }

    [Fact]
    public async Task Sessions_PositiveLimit_ListsWithoutError()
    {
        await (await DataDirectory.OpenDatabaseAsync(_directory.Path, null, TestContext.Current.CancellationToken)).DisposeAsync();
        CliResult sessions = await RunAsync("backends", "sessions", "--limit", "1");

        Assert.Equal((0, ""), (sessions.ExitCode, sessions.Error));
    }
}
