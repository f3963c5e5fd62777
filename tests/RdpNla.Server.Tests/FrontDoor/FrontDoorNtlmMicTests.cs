using RdpNla.Tests.Accounts;
using RdpNla.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Protocol.Rdp;
using RdpNla.Server.Audit;

namespace RdpNla.Tests.FrontDoor;

/// <summary>
/// The front door with a client that sends its NTLMv2 AUTHENTICATE without MsvAvFlags and MIC: accepted as Windows
/// accepts it, refused with <c>RequireNtlmMic</c> (docs/serve.md, docs/protocol.md).
/// </summary>
public class FrontDoorNtlmMicTests
{
    private const string Password = "Passw0rd!";

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public async Task Connect_ClientWithOrWithoutNtlmMic_AcceptedUnlessRequireNtlmMicRefusesTheMicLessOne(bool requireNtlmMic, bool sendMic)
    {
        await using TestFrontDoor door = await TestFrontDoor.StartAsync(o => o.RequireNtlmMic = requireNtlmMic);
        await door.AddUserAsync("alice", Password);

        TestRdpOutcome outcome = await TestRdpClient.ConnectAsync(
            door.Port, SecurityProtocols.Ssl | SecurityProtocols.Hybrid, "alice", Password, sendNtlmMic: sendMic, cancellationToken: TestContext.Current.CancellationToken);

        AuditEntry row = Assert.Single(await door.WaitForAuditAsync(1));
        if (requireNtlmMic && !sendMic)
        {
            Assert.Equal(NlaStatus.Failed, outcome.CredSspStatus);
            Assert.Equal(NtStatus.LogonFailure, outcome.ServerErrorCode);
            Assert.Equal(AuditOutcome.Failure, row.Outcome);
        }
        else
        {
            Assert.Equal(NlaStatus.Completed, outcome.CredSspStatus);
            Assert.Equal(AuditOutcome.Success, row.Outcome);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Serve_RequireNtlmMicFlag_RefusesTheMicLessClientAndLogsThePolicy(bool flag)
    {
        // The real `rdpnla serve`: the flag reaches the NTLM acceptor through the options binding.
        using var root = new TempDirectory();
        string data = Path.Combine(root.Path, "data");
        await ServeProcess.AddUserAsync(data, "alice", Password);
        string config = Path.Combine(root.Path, "serve.json");
        await File.WriteAllTextAsync(config, "{}", TestContext.Current.CancellationToken);
        await using ServeProcess server = flag
            ? await ServeProcess.StartAsync(data, config, "--require-ntlm-mic")
            : await ServeProcess.StartAsync(data, config);

        TestRdpOutcome outcome = await TestRdpClient.ConnectAsync(
            server.Port, SecurityProtocols.Ssl | SecurityProtocols.Hybrid, "alice", Password, sendNtlmMic: false, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(flag ? NlaStatus.Failed : NlaStatus.Completed, outcome.CredSspStatus);
        Assert.Contains($"RequireNtlmMic={flag}", server.Output, StringComparison.Ordinal);
    }
}
