using CsCheck;
using RdpNla.Protocol.Spnego;
using RdpNla.Protocol.Tests.CredSsp;
using static RdpNla.Protocol.Tests.CredSsp.HexVector;

namespace RdpNla.Protocol.Tests.Spnego;

public class NegTokenRespTests
{
    [Fact]
    public void Decode_WindowsServer2025AcceptIncompleteWithMic_ReadsStateAndMic()
    {
        byte[] encoded = Load("spnego/negtokenresp-ws2025-accept-incomplete-mic.hex");

        NegTokenResp token = NegTokenResp.Decode(encoded);

        Assert.Equal(NegState.AcceptIncomplete, token.State);
        Assert.Null(token.SupportedMech);
        Assert.Null(token.ResponseToken);
        Assert.Equal(Hex("01 00 00 00 49 c2 17 f5 39 8d 24 67 00 00 00 00"), token.MechListMic);
        Assert.Equal(encoded, token.Encode());
    }

    [Fact]
    public void Decode_ChallengeVector_ReadsSupportedMechAndResponseToken()
    {
        byte[] encoded = Load("spnego/negtokenresp-challenge.hex");

        NegTokenResp token = NegTokenResp.Decode(encoded);

        Assert.Equal(NegState.AcceptIncomplete, token.State);
        Assert.Equal(SpnegoOids.Ntlm, token.SupportedMech);
        Assert.Equal(0x78, token.ResponseToken!.Length);
        Assert.Equal(NegoTokenKind.RawNtlm, NegoTokenClassifier.Classify(token.ResponseToken));
        Assert.Equal(encoded, token.Encode());
    }

    [Fact]
    public void Encode_AcceptCompletedWithMic_DocumentedShape()
    {
        byte[] mic = [1, 0, 0, 0, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0];

        byte[] encoded = new NegTokenResp { State = NegState.AcceptCompleted, MechListMic = mic }.Encode();

        Assert.Equal([.. Hex("a1 1b 30 19 a0 03 0a 01 00 a3 12 04 10"), .. mic], encoded);
    }

    [Fact]
    public void Encode_Empty_IsEmptySequence()
    {
        Assert.Equal(Hex("a1 02 30 00"), new NegTokenResp().Encode());
        NegTokenResp decoded = NegTokenResp.Decode(Hex("a1 02 30 00"));
        Assert.Null(decoded.State);
        Assert.Null(decoded.MechListMic);
    }

    [Theory]
    [InlineData("a1 07 30 05 a0 03 0a 01 04", "negState 4 is not defined")]
    [InlineData("a1 07 30 05 a0 03 0a 01 ff", "negState -1 is not defined")]
    [InlineData("a1 07 30 05 a0 03 02 01 01", "UNIVERSAL 2 (primitive) where UNIVERSAL 10")] // INTEGER instead of ENUMERATED
    [InlineData("a1 0b 30 09 a2 02 04 00 a0 03 0a 01 01", "trailing")] // responseToken before negState
    [InlineData("a0 02 30 00", "[0] (constructed) where [1] (constructed)")] // a NegTokenInit
    [InlineData("a1 02 30 00 00", "trailing")]
    public void Decode_Invalid_ThrowsMalformedForTheRightReason(string hex, string expectedMessage)
    {
        var e = Assert.Throws<NlaProtocolException>(() => NegTokenResp.Decode(Hex(hex)));

        Assert.Equal(NlaFailureReason.Malformed, e.Reason);
        Assert.Contains(expectedMessage, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void EncodeDecode_RandomTokens_RoundTrip()
    {
        Gen<NegTokenResp> tokens =
            from state in Gen.Int[0, 3].Select(v => (NegState)v).Nullable()
            from mech in Gen.OneOf(SpnegoOids.Ntlm, SpnegoOids.Kerberos, SpnegoOids.NegoEx).Null()
            from response in Gen.Byte.Array[0, 300].Null()
            from mic in Gen.Byte.Array[0, 20].Null()
            select new NegTokenResp { State = state, SupportedMech = mech, ResponseToken = response, MechListMic = mic };

        tokens.Sample(
            token =>
            {
                byte[] encoded = token.Encode();
                NegTokenResp decoded = NegTokenResp.Decode(encoded);
                Assert.Equal(token.State, decoded.State);
                Assert.Equal(token.SupportedMech, decoded.SupportedMech);
                Assert.Equal(token.ResponseToken, decoded.ResponseToken);
                Assert.Equal(token.MechListMic, decoded.MechListMic);
                Assert.Equal(encoded, decoded.Encode());
            },
            iter: 2000,
            threads: 1);
    }

    [Fact]
    public void Decode_RandomAndMutatedInput_ReturnsOrThrowsNlaProtocolExceptionOnly()
    {
        byte[][] samples =
        [
            Load("spnego/negtokenresp-ws2025-accept-incomplete-mic.hex"),
            Load("spnego/negtokenresp-challenge.hex"),
            new NegTokenResp { State = NegState.RequestMic, SupportedMech = SpnegoOids.Ntlm }.Encode(),
        ];

        DecoderTotality.RandomBytes(b => NegTokenResp.Decode(b));
        DecoderTotality.Mutations(b => NegTokenResp.Decode(b), samples);
    }
}
