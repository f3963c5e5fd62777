using System.Text.Json;
using RdpNla.Cli.Interaction;
using RdpNla.Tests.Accounts;
using RdpNla.Tests.Client;
using RdpNla.Tests.Support;
using RdpNla.Protocol.Ntlm;
using RdpNla.Server.Accounts;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Cli;

/// <summary>
/// The password options shared by <c>login</c>, <c>doctor</c>, <c>bench</c> and <c>users</c>: standard input,
/// RDPNLA_PASSWORD and the no-echo prompt each work in every command, and a password given on the command line is
/// refused without being used or echoed (docs/login.md, "Giving the password").
/// </summary>
public class PasswordOptionsTests : IDisposable
{
    private const string Password = "Pr0mpt-or-pipe";
    private const string OtherPassword = "n0t-the-password";

    private readonly TempDirectory _directory = new();

    public static TheoryData<string> Commands => new() { "login", "doctor", "bench", "users" };

    public void Dispose() => _directory.Dispose();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>The command line of <paramref name="command"/> against <paramref name="server"/>, without a password option.</summary>
    private string[] Arguments(string command, TestFrontDoor server) => command switch
    {
        "login" => ["login", server.Address, "-u", "alice", "--cert-ignore", "--json"],
        "doctor" => ["doctor", server.Address, "-u", "alice", "--json"],
        "bench" => ["bench", server.Address, "-u", "alice", "--count", "1", "--duration", "60", "--json"],
        _ => ["users", "add", "bob", "--data", _directory.Path],
    };

    /// <summary>Whether the command used <see cref="Password"/>: the server proved it, or the store holds its hash.</summary>
    private async Task AssertUsedPasswordAsync(string command, CliResult result)
    {
        Assert.True(result.ExitCode == 0, $"exit {result.ExitCode}: {result.Output}\n{result.Error}");
        Assert.DoesNotContain(Password, result.Output + result.Error, StringComparison.Ordinal);
        switch (command)
        {
            case "login":
                Assert.Equal("success", ClientCli.Parse(result).Str("result"));
                break;
            case "doctor":
                Assert.Equal(JsonValueKind.Object, ClientCli.Parse(result).ValueKind);
                break;
            case "bench":
                Assert.Equal(1, ClientCli.Parse(result).GetProperty("successes").GetInt64());
                break;
            default:
                await using (RdpNlaDatabase database = await DataDirectory.OpenDatabaseAsync(_directory.Path, null, Ct))
                {
                    using UserCredential? credential = await database.Users.FindCredentialAsync("bob", Ct);
                    Assert.Equal(NtlmCrypto.NtOwfV1(Password), credential!.NtHash.ToArray());
                }

                break;
        }
    }

    /// <summary>Standard error without login's warning about --cert-ignore, which the tests use against the test certificate.</summary>
    private static string[] ErrorLines(CliResult result) =>
        result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries).Where(l => !l.StartsWith("warning: --cert-ignore", StringComparison.Ordinal)).ToArray();

    private static async Task<TestFrontDoor> StartServerAsync()
    {
        TestFrontDoor server = await TestFrontDoor.StartAsync();
        await server.AddUserAsync("alice", Password);
        return server;
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task PasswordStdin_IsRead(string command)
    {
        await using TestFrontDoor server = await StartServerAsync();

        CliResult result = await Accounts.Cli.RunAsync(new FakeCliConsole(Password + "\n"), [.. Arguments(command, server), "--password-stdin"]);

        await AssertUsedPasswordAsync(command, result);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task EnvironmentVariable_IsUsedWhenNoOptionIsGiven(string command)
    {
        await using TestFrontDoor server = await StartServerAsync();
        var console = new FakeCliConsole() { Environment = { [PasswordInput.EnvironmentVariable] = Password } };

        CliResult result = await Accounts.Cli.RunAsync(console, Arguments(command, server));

        await AssertUsedPasswordAsync(command, result);
        Assert.Equal(0, console.SecretPrompts);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task PasswordStdin_WinsOverTheEnvironmentVariable(string command)
    {
        await using TestFrontDoor server = await StartServerAsync();
        var console = new FakeCliConsole(Password + "\n") { Environment = { [PasswordInput.EnvironmentVariable] = OtherPassword } };

        CliResult result = await Accounts.Cli.RunAsync(console, [.. Arguments(command, server), "--password-stdin"]);

        await AssertUsedPasswordAsync(command, result);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task PromptOption_OnATerminal_PromptsWithoutEcho(string command)
    {
        await using TestFrontDoor server = await StartServerAsync();
        // users asks twice (a new password), the client commands once; the environment variable is ignored with -p.
        var console = new FakeCliConsole(isTerminal: true, secretLines: [Password, Password]) { Environment = { [PasswordInput.EnvironmentVariable] = OtherPassword } };

        CliResult result = await Accounts.Cli.RunAsync(console, [.. Arguments(command, server), "-p"]);

        await AssertUsedPasswordAsync(command, result);
        Assert.Equal(command == "users" ? 2 : 1, console.SecretPrompts);
        Assert.Contains(command == "users" ? "Password for bob: " : "Password for alice: ", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("login", "-p")]
    [InlineData("doctor", "-p")]
    [InlineData("bench", "-p")]
    [InlineData("users", "-p")]
    [InlineData("login", "--password-prompt")]
    [InlineData("login", "--password")]
    [InlineData("users", "--password")]
    public async Task PasswordAsValue_IsRefusedWithOneLineAndNeverUsed(string command, string option)
    {
        await using TestFrontDoor server = await StartServerAsync();
        var console = new FakeCliConsole(isTerminal: true, secretLines: [Password, Password]);

        CliResult result = await Accounts.Cli.RunAsync(console, [.. Arguments(command, server), option, Password]);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(PasswordOptions.ValueRefused, Assert.Single(result.Error.Split('\n', StringSplitOptions.RemoveEmptyEntries)).Trim());
        Assert.DoesNotContain(Password, result.Output + result.Error, StringComparison.Ordinal);
        Assert.Equal(0, console.SecretPrompts);
        Assert.Empty(await server.AuditAsync());
    }

    [Fact]
    public async Task PasswordAsValueBeforeTheHost_IsRefusedAndNotTakenAsTheHost()
    {
        // The old `login -p PASS HOST` must not turn the password into a host name looked up in DNS.
        CliResult result = await Accounts.Cli.RunAsync(new FakeCliConsole(isTerminal: true), ["login", "-p", Password, "-u", "alice"]);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains(PasswordOptions.ValueRefused, result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, result.Output + result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task PromptOption_WithoutATerminal_SaysWhatToUseInOneLine(string command)
    {
        await using TestFrontDoor server = await StartServerAsync();
        var console = new FakeCliConsole(Password + "\n", isTerminal: false);

        CliResult result = await Accounts.Cli.RunAsync(console, [.. Arguments(command, server), "-p"]);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(
            "error: -p prompts on a terminal and standard input is not one; pipe the password with --password-stdin, or set RDPNLA_PASSWORD",
            Assert.Single(ErrorLines(result)));
        Assert.Equal(0, console.SecretPrompts);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task NoSourceWithoutATerminal_NamesStdinAndTheEnvironmentVariable(string command)
    {
        await using TestFrontDoor server = await StartServerAsync();
        // An empty RDPNLA_PASSWORD counts as unset.
        var console = new FakeCliConsole(Password + "\n", isTerminal: false) { Environment = { [PasswordInput.EnvironmentVariable] = "" } };

        CliResult result = await Accounts.Cli.RunAsync(console, Arguments(command, server));

        Assert.Equal(1, result.ExitCode);
        string line = Assert.Single(ErrorLines(result));
        Assert.StartsWith("error: standard input is not a terminal, so rdpnla cannot prompt for the password; pipe it with rdpnla ", line, StringComparison.Ordinal);
        Assert.EndsWith(" --password-stdin, or set RDPNLA_PASSWORD", line, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public async Task PromptAndStdinTogether_AreRefused(string command)
    {
        await using TestFrontDoor server = await StartServerAsync();

        CliResult result = await Accounts.Cli.RunAsync(new FakeCliConsole(Password + "\n", isTerminal: true), [.. Arguments(command, server), "-p", "--password-stdin"]);

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: give one password source: -p (prompt) or --password-stdin, not both", result.Error, StringComparison.Ordinal);
    }
}
