using RdpNla.Tests.Accounts;
using RdpNla.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Protocol.Rdp;
using RdpNla.Server.FrontDoor;
using RdpNla.Server.Gateway;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.FrontDoor;

/// <summary>
/// Names an unauthenticated client sends reach the log and the audit table with their control characters written as
/// \uXXXX (docs/hardening.md): a terminal reading them must not act on an escape sequence or a carriage return.
/// </summary>
public class ControlCharacterTests
{
    private const string Password = "Passw0rd!";

    [Fact]
    public async Task Serve_ClientNamesWithControlCharacters_AreEscapedInTheLogAndInTheAuditTable()
    {
        using var root = new TempDirectory();
        string data = Path.Combine(root.Path, "data");
        await ServeProcess.AddUserAsync(data, "alice", Password);
        string config = Path.Combine(root.Path, "serve.json");
        await File.WriteAllTextAsync(config, "{}", TestContext.Current.CancellationToken);
        await using ServeProcess server = await ServeProcess.StartAsync(data, config);

        // An OSC sequence that sets the terminal's title, a bell, a carriage return that would let the rest overwrite
        // the line, an erase-line sequence, and a right-to-left override in the domain.
        TestRdpOutcome outcome = await TestRdpClient.ConnectAsync(
            server.Port, SecurityProtocols.Ssl | SecurityProtocols.Hybrid, "ev\u001B]0;owned\u0007il\r\u001B[2Kadmin", Password, domain: "LAB\u202Etxt", cancellationToken: TestContext.Current.CancellationToken);
        Assert.Equal(NtStatus.LogonFailure, outcome.ServerErrorCode);

        const string escaped = "LAB\\u202Etxt\\ev\\u001B]0;owned\\u0007il\\u000D\\u001B[2Kadmin";
        await server.WaitForOutputAsync($"Authentication of {escaped} failed");
        CliResult audit = await Accounts.Cli.RunAsync("audit", "--data", data);

        Assert.Equal(0, audit.ExitCode);
        Assert.Contains("ev\\u001B]0;owned\\u0007il\\u000D\\u001B[2Kadmin", audit.Output, StringComparison.Ordinal);
        Assert.Contains("LAB\\u202Etxt", audit.Output, StringComparison.Ordinal);
        foreach (string output in (string[])[server.Output, audit.Output])
        {
            Assert.DoesNotContain(output, c => c is '\u001B' or '\u0007' or '\r' or '\u202E');
        }
    }

    [Fact]
    public async Task BackendsSessions_ReasonWithControlCharacters_IsEscaped()
    {
        using var root = new TempDirectory();
        await using (RdpNlaDatabase database = await RdpNlaDatabase.OpenAsync(DataDirectory.GetDatabasePath(root.Path), null, TestContext.Current.CancellationToken))
        {
            DateTimeOffset now = DateTimeOffset.UtcNow;
            await database.Gateway.AppendSessionAsync(
                new GatewaySessionRecord { ConnectionId = "1", UserName = "alice", Backend = "10.0.0.5:3389", Started = now, Ended = now, Outcome = "error", Reason = "backend said \u001B]0;owned\u0007\r" },
                TestContext.Current.CancellationToken);
        }

        CliResult sessions = await Accounts.Cli.RunAsync("backends", "sessions", "--data", root.Path);

        Assert.Equal(0, sessions.ExitCode);
        Assert.Contains("error: backend said \\u001B]0;owned\\u0007\\u000D", sessions.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(sessions.Output, c => c is '\u001B' or '\u0007' or '\r');
    }

    [Theory]
    [InlineData("ComputerName", "SERVER\n")]
    [InlineData("DomainName", "LAB\u001B")]
    [InlineData("DnsComputerName", "server.lab.test\r")]
    [InlineData("DnsDomainName", "lab\u202E.test")]
    public void Options_NameWithAControlCharacter_IsRefusedWithTheNameEscaped(string setting, string value)
    {
        var options = new FrontDoorOptions();
        typeof(FrontDoorOptions).GetProperty(setting)!.SetValue(options, value);

        string problem = Assert.Single(options.Validate(), p => p.StartsWith(setting + " '", StringComparison.Ordinal));

        Assert.EndsWith("contains a control character; a NetBIOS or DNS name cannot.", problem, StringComparison.Ordinal);
        Assert.DoesNotContain(problem, c => c is '\n' or '\r' or '\u001B' or '\u202E');
    }
}
