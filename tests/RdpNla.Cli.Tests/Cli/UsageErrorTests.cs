using RdpNla.Tests.Accounts;

namespace RdpNla.Tests.Cli;

/// <summary>
/// A command line that does not parse: one line on standard error that says what is wrong and where to look, the
/// nearest name for a misspelt option or subcommand, nothing on standard output (no help text where a script reads
/// <c>--json</c>), exit code 1. <c>--help</c> still prints the help.
/// </summary>
public class UsageErrorTests
{
    [Theory]
    [InlineData(new[] { "login", "127.0.0.1", "--json", "--cert-ingore" }, "error: Unrecognized command or argument '--cert-ingore'; did you mean '--cert-ignore'? 'rdpnla login --help' lists what it takes.")]
    [InlineData(new[] { "logn", "127.0.0.1" }, "error: Unrecognized command or argument 'logn'; did you mean 'login'? 'rdpnla --help' lists what it takes.")]
    [InlineData(new[] { "users", "ad", "alice" }, "error: Unrecognized command or argument 'ad'; did you mean 'add'? 'rdpnla users --help' lists what it takes.")]
    [InlineData(new[] { "serve", "--listne", "127.0.0.1:3389" }, "error: Unrecognized command or argument '--listne'; did you mean '--listen'? 'rdpnla serve --help' lists what it takes.")]
    [InlineData(new[] { "doctor", "127.0.0.1", "--cert-ignore" }, "error: Unrecognized command or argument '--cert-ignore'; 'rdpnla doctor --help' lists what it takes.")]
    [InlineData(new[] { "login", "127.0.0.1", "--passwrd" }, "error: Unrecognized command or argument '--passwrd'; 'rdpnla login --help' lists what it takes.")]
    [InlineData(new[] { "users", "add" }, "error: Required argument 'name' missing for command: 'add'; 'rdpnla users add --help' lists what it takes.")]
    [InlineData(new[] { "store" }, "error: 'rdpnla store' needs a subcommand: copy; 'rdpnla store --help' describes them.")]
    [InlineData(new[] { "probe", "127.0.0.1", "--jsn" }, "error: Unrecognized command or argument '--jsn'; did you mean '--json'? 'rdpnla probe --help' lists what it takes.")]
    [InlineData(new[] { "probe", "--no-tls-version", "127.0.0.1" }, "error: Unrecognized command or argument '--no-tls-version'; did you mean '--no-tls-versions'? 'rdpnla probe --help' lists what it takes.")]
    [InlineData(new[] { "users", "list", "--data", "" }, "error: --data is empty (an unset variable?); give a folder, or leave --data out for ./rdpnla.")]
    [InlineData(new[] { "users", "list", "--store", " " }, "error: --store is empty (an unset variable?); give an SQLite path or a PostgreSQL connection string, or leave --store out for rdpnla.db in --data.")]
    [InlineData(new[] { "serve", "--data", "" }, "error: --data is empty (an unset variable?); give a folder, or leave --data out for ./rdpnla.")]
    [InlineData(new[] { "serve", "--security-layer", "abc" }, "error: --security-layer: 'abc' is not a whole number; 'rdpnla serve --help' lists what it takes.")]
    [InlineData(new[] { "login", "h", "--timeout", "abc" }, "error: --timeout: 'abc' is not a number; 'rdpnla login --help' lists what it takes.")]
    [InlineData(new[] { "doctor", "h", "--client-credssp", "bogus" }, "error: --client-credssp: 'bogus' is not one of none, unpatched, patched; 'rdpnla doctor --help' lists what it takes.")]
    [InlineData(new[] { "serve", "--log-level", "bogus" }, "error: --log-level: 'bogus' is not one of Critical, Debug, Error, Information, None, Trace, Warning; 'rdpnla serve --help' lists what it takes.")]
    [InlineData(new[] { "store", "copy" }, "error: Option '--from' is required; Option '--to' is required; 'rdpnla store copy --help' lists what it takes.")]
    public async Task CommandLineThatDoesNotParse_OneLineOnStandardError_NothingOnStandardOutput_ExitCode1(string[] args, string expected)
    {
        CliResult result = await Accounts.Cli.RunAsync(args);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Output);
        Assert.Equal(expected + Environment.NewLine, result.Error);
    }

    [Fact]
    public async Task ErrorLine_QuotingWhatWasTyped_EscapesItsControlCharacters()
    {
        string data = Directory.CreateTempSubdirectory("rdpnla-usage-").FullName;
        try
        {
            CliResult result = await Accounts.Cli.RunAsync("backends", "set-security", "x\u001B[2Jy:3389", "tls", "--data", data);

            Assert.Equal(1, result.ExitCode);
            Assert.StartsWith("error: backend 'x\\u001B[2Jy:3389'", result.Error, StringComparison.Ordinal);
            Assert.DoesNotContain('\u001B', result.Error);
        }
        finally
        {
            Directory.Delete(data, recursive: true);
        }
    }

    [Fact]
    public async Task NoCommand_NamesTheCommands()
    {
        CliResult result = await Accounts.Cli.RunAsync();

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("", result.Output);
        string line = Assert.Single(result.Error.Split(Environment.NewLine, StringSplitOptions.RemoveEmptyEntries));
        Assert.StartsWith("error: 'rdpnla' needs a subcommand: serve, users, audit, doctor, login, probe,", line, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Help_IsStillPrinted_EvenAfterAnUnknownWord()
    {
        CliResult help = await Accounts.Cli.RunAsync("login", "--help");
        CliResult helpAfterTypo = await Accounts.Cli.RunAsync("login", "--cert-ingore", "--help");

        Assert.Equal(0, help.ExitCode);
        Assert.Contains("--cert-ignore", help.Output, StringComparison.Ordinal);
        Assert.Equal("", help.Error);
        Assert.Equal(0, helpAfterTypo.ExitCode);
        Assert.Equal(help.Output, helpAfterTypo.Output);
    }
}
