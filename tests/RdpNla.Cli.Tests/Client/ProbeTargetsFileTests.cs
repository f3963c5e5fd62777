using RdpNla.Tests.Accounts;

namespace RdpNla.Tests.Client;

/// <summary>
/// <c>rdpnla probe --targets-file FILE</c> (docs/probe.md): a bad line is named by file and line number, a file with no
/// target says so; both before any connection is made.
/// </summary>
public sealed class ProbeTargetsFileTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("rdpnla-targets-").FullName;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task BadLine_IsNamedByFileAndLineNumber()
    {
        string file = Path.Combine(_root, "targets.txt");
        await File.WriteAllTextAsync(file, "# lab\n127.0.0.1:3389\n\n127.0.0.1:99999   # typo\n", TestContext.Current.CancellationToken);

        CliResult result = await Accounts.Cli.RunAsync("probe", "--targets-file", file);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"error: bad target: '127.0.0.1:99999': the port must be a number from 1 to 65535 (--targets-file '{file}', line 4){Environment.NewLine}", result.Error);
        Assert.Equal("", result.Output);
    }

    [Fact]
    public async Task FileWithOnlyComments_SaysItHoldsNoTarget()
    {
        string file = Path.Combine(_root, "empty.txt");
        await File.WriteAllTextAsync(file, "# nothing yet\n\n", TestContext.Current.CancellationToken);

        CliResult result = await Accounts.Cli.RunAsync("probe", "--targets-file", file);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"error: --targets-file '{file}' holds no target (only blank lines and # comments), and none is given on the command line{Environment.NewLine}", result.Error);
    }
}
