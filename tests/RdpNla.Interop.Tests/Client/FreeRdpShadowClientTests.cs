using System.Text.Json;
using RdpNla.Tests.Accounts;
using RdpNla.Tests.Support;

namespace RdpNla.Tests.Client;

/// <summary><c>login</c> and <c>probe</c> against FreeRDP 2.11's NLA server (freerdp-shadow-cli /sec:nla, SAM file from winpr-hash).</summary>
public class FreeRdpShadowClientTests(FreeRdpShadowServer shadow) : IClassFixture<FreeRdpShadowServer>
{
    [Fact]
    public async Task Login_RightPasswordWithoutDomain_Success()
    {
        (var result, JsonElement json) = await ClientCli.LoginJsonAsync(shadow.Address, "alice", FreeRdpShadowServer.AlicePassword);

        Assert.True(result.ExitCode == 0, $"{result.Output}\n{shadow.Output}");
        Assert.Equal("success", json.Str("result"));
        Assert.Null(json.Str("ntstatus"));
        Assert.Equal("PROTOCOL_HYBRID", json.GetProperty("negotiation").Str("selected_protocol"));
        Assert.True(json.GetProperty("credssp").GetProperty("server_binding_verified").GetBoolean());
        Assert.True(json.GetProperty("credssp").GetProperty("credentials_sent").GetBoolean());
        Assert.Equal(6, json.GetProperty("credssp").GetProperty("server_version").GetInt32());
    }

    [Theory]
    [InlineData("LAB\\bob", null)]
    [InlineData("bob", "LAB")]
    public async Task Login_RightPasswordWithDomain_Success(string user, string? domain)
    {
        (var result, JsonElement json) = await ClientCli.LoginJsonAsync(shadow.Address, user, FreeRdpShadowServer.BobPassword, domain is null ? [] : ["--domain", domain]);

        Assert.True(result.ExitCode == 0, $"{result.Output}\n{shadow.Output}");
        Assert.Equal("success", json.Str("result"));
        Assert.Equal("LAB\\bob", json.Str("account"));
    }

    [Fact]
    public async Task Login_WrongPassword_RejectedNoReasonGiven()
    {
        (var result, JsonElement json) = await ClientCli.LoginJsonAsync(shadow.Address, "alice", "wrong-password");

        Assert.Equal(11, result.ExitCode);
        Assert.Equal("failure", json.Str("result"));
        Assert.Null(json.Str("ntstatus"));
        Assert.Equal("rejected_without_reason", json.Str("failure_kind"));
        Assert.Contains("rejected, no reason given", json.Str("message"), StringComparison.Ordinal);
        Assert.False(json.GetProperty("credssp").GetProperty("credentials_sent").GetBoolean());
    }

    [Fact]
    public async Task Login_DomainUserWithoutDomain_RejectedNoReasonGiven()
    {
        // docs/interop.md#freerdp-shadow: a SAM line with a domain matches only when the client sends that domain.
        CliResult result = await ClientCli.LoginAsync(shadow.Address, "bob", FreeRdpShadowServer.BobPassword);

        Assert.Equal(11, result.ExitCode);
    }

    [Fact]
    public async Task Login_Text_SaysRejectedNoReasonGiven()
    {
        CliResult result = await Accounts.Cli.RunAsync(new Accounts.FakeCliConsole("nope\n"), "login", shadow.Address, "-u", "alice", "--password-stdin", "--cert-ignore");

        Assert.Equal(11, result.ExitCode);
        Assert.StartsWith("result: failure\n", result.Output, StringComparison.Ordinal);
        Assert.Contains("rejected, no reason given", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Probe_NlaRequiredHybridOnlyVersion6WinPrNames()
    {
        (var result, JsonElement json) = await ClientCli.ProbeJsonAsync(shadow.Address);

        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.True(json.GetProperty("nla_required").GetBoolean());
        Assert.True(json.GetProperty("nla_supported").GetBoolean());
        Assert.Equal(["PROTOCOL_HYBRID"], json.GetProperty("protocols").GetProperty("accepted").Strings());
        Assert.Equal(6, json.GetProperty("credssp_version").GetInt32());
        Assert.True(json.GetProperty("credssp_cve_2018_0886_fixed").GetBoolean());
        JsonElement ntlm = json.GetProperty("ntlm");
        Assert.Equal("VM", ntlm.Str("target_name"));
        Assert.Equal("vm", ntlm.Str("dns_computer_name"));
        Assert.Equal("6.1.7601", ntlm.Str("os_version"));

        // docs/interop.md#freerdp-shadow: RDP, SSL, HYBRID_EX alone -> RDP_NEG_FAILURE 5; HYBRID (also with HYBRID_EX) -> HYBRID.
        var answers = json.GetProperty("protocols").GetProperty("attempts").EnumerateArray()
            .ToDictionary(a => a.Str("requested")!, a => a.Str("answer") ?? a.Str("error"));
        Assert.Equal("RDP_NEG_FAILURE HYBRID_REQUIRED_BY_SERVER", answers["PROTOCOL_RDP"]);
        Assert.Equal("RDP_NEG_FAILURE HYBRID_REQUIRED_BY_SERVER", answers["PROTOCOL_SSL"]);
        Assert.Equal("RDP_NEG_RSP PROTOCOL_HYBRID", answers["PROTOCOL_HYBRID"]);
        Assert.Equal("RDP_NEG_RSP PROTOCOL_HYBRID", answers["PROTOCOL_HYBRID|PROTOCOL_HYBRID_EX"]);
        Assert.Contains("no-early-user-authorization", json.FindingIds());
        Assert.DoesNotContain("nla-not-required", json.FindingIds());
        Assert.Equal("accepted", json.GetProperty("tls").GetProperty("versions").Str("TLS 1.2"));
    }
}
