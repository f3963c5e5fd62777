using RdpNla.Tests.Accounts;

namespace RdpNla.Tests.Cli;

/// <summary>
/// <c>rdpnla store copy --from FILE</c> only reads FILE (docs/high-availability.md): a file that is not rdpnla's database
/// is refused before anything is written to it or PostgreSQL is asked.
/// </summary>
public sealed class StoreCopySourceTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task EmptySourceFile_IsRefused_AndLeftEmpty()
    {
        // A truncated backup: SQLite would open it as a new database, and the copy would report "0 users".
        string source = Path.Combine(_directory.Path, "backup.db");
        await File.WriteAllBytesAsync(source, [], TestContext.Current.CancellationToken);

        CliResult result = await Accounts.Cli.RunAsync("store", "copy", "--from", source, "--to", "Host=127.0.0.1;Port=1;Username=rdpnla;Database=rdpnla");

        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: --from: '{source}' is not an rdpnla database (empty, or without rdpnla's schema); give the rdpnla.db that serve wrote{Environment.NewLine}", result.Error);
        Assert.Equal(0, new FileInfo(source).Length);
        Assert.False(File.Exists(source + "-wal"));
    }
}
