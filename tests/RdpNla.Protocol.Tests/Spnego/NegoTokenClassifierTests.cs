using RdpNla.Protocol.Spnego;
using static RdpNla.Protocol.Tests.CredSsp.HexVector;

namespace RdpNla.Protocol.Tests.Spnego;

public class NegoTokenClassifierTests
{
    [Theory]
    [InlineData("4e544c4d5353500001000000", NegoTokenKind.RawNtlm)]
    [InlineData("4e544c4d53535000", NegoTokenKind.RawNtlm)]
    [InlineData("4e544c4d535350", NegoTokenKind.Unknown)] // signature without the NUL
    [InlineData("6048060600", NegoTokenKind.SpnegoInit)]
    [InlineData("a00230", NegoTokenKind.SpnegoInit)]
    [InlineData("a11b3019", NegoTokenKind.SpnegoResp)]
    [InlineData("3037", NegoTokenKind.Unknown)]
    [InlineData("", NegoTokenKind.Unknown)]
    public void Classify_FirstBytes_Kind(string hex, NegoTokenKind expected)
    {
        Assert.Equal(expected, NegoTokenClassifier.Classify(Hex(hex)));
    }

    [Theory]
    [InlineData("spnego/negtokeninit-ntlm.hex", NegoTokenKind.SpnegoInit)]
    [InlineData("spnego/negtokeninit2-ntlm-neghints.hex", NegoTokenKind.SpnegoInit)]
    [InlineData("spnego/negtokenresp-challenge.hex", NegoTokenKind.SpnegoResp)]
    [InlineData("spnego/negtokenresp-ws2025-accept-incomplete-mic.hex", NegoTokenKind.SpnegoResp)]
    public void Classify_Vectors_Kind(string vector, NegoTokenKind expected)
    {
        Assert.Equal(expected, NegoTokenClassifier.Classify(Load(vector)));
    }
}
