using System.Text.Json;
using RdpNla.Tests.Accounts;
using RdpNla.Tests.Support;

namespace RdpNla.Tests.Client;

/// <summary>
/// <c>probe</c> and <c>login</c> against xrdp 0.9 (TLS, no NLA): no false positive. nmap reports "CredSSP (NLA):
/// SUCCESS" here; xrdp never selects HYBRID (docs/interop.md#xrdp).
/// </summary>
public class XrdpClientTests(XrdpServers xrdp) : IClassFixture<XrdpServers>
{
    [Fact]
    public async Task Probe_Negotiate_RdpAndSslAcceptedNlaNotSupported()
    {
        (var result, JsonElement json) = await ClientCli.ProbeJsonAsync(xrdp.Negotiate.Address);

        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.False(json.GetProperty("nla_supported").GetBoolean());
        Assert.False(json.GetProperty("nla_required").GetBoolean());
        Assert.Equal(["PROTOCOL_RDP", "PROTOCOL_SSL"], json.GetProperty("protocols").GetProperty("accepted").Strings());
        Assert.Equal(JsonValueKind.Null, json.GetProperty("credssp_version").ValueKind);
        var answers = json.GetProperty("protocols").GetProperty("attempts").EnumerateArray().ToDictionary(a => a.Str("requested")!, a => a.Str("answer"));
        Assert.Equal("RDP_NEG_RSP PROTOCOL_RDP", answers["PROTOCOL_HYBRID"]);
        Assert.Equal("RDP_NEG_RSP PROTOCOL_RDP", answers["PROTOCOL_HYBRID|PROTOCOL_HYBRID_EX"]);
        Assert.Equal("RDP_NEG_RSP PROTOCOL_SSL", answers["PROTOCOL_SSL"]);
        Assert.Contains("nla-not-supported", json.FindingIds());
        Assert.Contains("standard-rdp-security", json.FindingIds());
        Assert.Contains("certificate-self-signed", json.FindingIds());
        Assert.Equal("CN=rdpnla-xrdp-test", json.GetProperty("tls").GetProperty("certificate").Str("subject"));
    }

    [Fact]
    public async Task Probe_Tls_SslOnlyNlaNotSupported()
    {
        (var result, JsonElement json) = await ClientCli.ProbeJsonAsync(xrdp.Tls.Address);

        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.False(json.GetProperty("nla_supported").GetBoolean());
        Assert.False(json.GetProperty("nla_required").GetBoolean());
        Assert.Equal(["PROTOCOL_SSL"], json.GetProperty("protocols").GetProperty("accepted").Strings());
        var answers = json.GetProperty("protocols").GetProperty("attempts").EnumerateArray().ToDictionary(a => a.Str("requested")!, a => a.Str("answer"));
        Assert.Equal("RDP_NEG_FAILURE SSL_REQUIRED_BY_SERVER", answers["PROTOCOL_RDP"]);
        Assert.Equal("RDP_NEG_FAILURE SSL_REQUIRED_BY_SERVER", answers["PROTOCOL_HYBRID"]);
        Assert.Contains("nla-not-supported", json.FindingIds());
        Assert.DoesNotContain("standard-rdp-security", json.FindingIds());
        Assert.Equal("accepted", json.GetProperty("tls").GetProperty("versions").Str("TLS 1.2"));
    }

    [Theory]
    [InlineData("negotiate")]
    [InlineData("tls")]
    public async Task Login_Indeterminate_NeverSuccess(string layer)
    {
        XrdpServer server = layer == "tls" ? xrdp.Tls : xrdp.Negotiate;

        (CliResult result, JsonElement json) = await ClientCli.LoginJsonAsync(server.Address, "nobody", "any-password");

        Assert.Equal(13, result.ExitCode);
        Assert.Equal("indeterminate", json.Str("result"));
        Assert.Equal("nla_not_offered", json.Str("failure_kind"));
        Assert.Equal("PROTOCOL_SSL", json.GetProperty("negotiation").Str("selected_protocol"));
        Assert.Contains("does not require NLA", json.Str("message"), StringComparison.Ordinal);
    }
}
