using CsCheck;
using RdpNla.Protocol.Rdp;

namespace RdpNla.Protocol.Tests.Rdp;

public class X224ConnectionConfirmTests
{
    [Fact]
    public void Decode_SpecExample412_ResponseProtocolRdp()
    {
        byte[] frame = RdpTestData.Load(RdpTestData.SpecConnectionConfirm);
        X224ConnectionConfirm confirm = X224ConnectionConfirm.Decode(frame);

        Assert.Equal(new RdpNegResponse(RdpNegResponseFlags.None, SecurityProtocols.Rdp), confirm.Response);
        Assert.Null(confirm.Failure);
        Assert.Equal(0x1234, confirm.SourceReference);
        Assert.Equal(frame, confirm.Encode());
    }

    [Fact]
    public void Decode_WindowsSslRequired_FailureSslRequiredByServer()
    {
        byte[] frame = RdpTestData.Load(RdpTestData.WindowsSslRequiredConfirm);
        X224ConnectionConfirm confirm = X224ConnectionConfirm.Decode(frame);

        Assert.Null(confirm.Response);
        Assert.Equal(NegotiationFailureCode.SslRequiredByServer, confirm.Failure!.FailureCode);
        Assert.Equal("SSL_REQUIRED_BY_SERVER", confirm.Failure.FailureCode.Name());
        Assert.Equal(frame, confirm.Encode());
    }

    [Fact]
    public void Decode_LengthIndicator6_LegacyServerWithoutNegotiationData()
    {
        X224ConnectionConfirm confirm = X224ConnectionConfirm.Decode(RdpTestData.Hex("03 00 00 0b 06 d0 00 00 12 34 00"));
        Assert.Null(confirm.NegotiationData);
        Assert.Equal(RdpTestData.Hex("03 00 00 0b 06 d0 00 00 12 34 00"), new X224ConnectionConfirm(null).Encode());
    }

    [Theory]
    [InlineData("03 00 00 13 0e d0 00 00 12 34 00 02 03 08 00 02 00 00 00", 0x03, 0x02)] // freerdp-shadow /sec:nla (docs/interop.md#freerdp-shadow)
    [InlineData("03 00 00 13 0e d0 00 00 12 34 00 02 01 08 00 01 00 00 00", 0x01, 0x01)] // xrdp security_layer=tls
    [InlineData("03 00 00 13 0e d0 00 00 00 00 00 02 1f 08 00 08 00 00 00", 0x1F, 0x08)] // all flags, HYBRID_EX, SRC-REF 0
    public void Decode_PeerResponses_DecodeFlagsAndProtocol(string hex, int flags, uint selected)
    {
        byte[] frame = RdpTestData.Hex(hex);
        X224ConnectionConfirm confirm = X224ConnectionConfirm.Decode(frame);
        Assert.Equal(new RdpNegResponse((RdpNegResponseFlags)flags, (SecurityProtocols)selected), confirm.Response);
        Assert.Equal(frame, confirm.Encode());
    }

    [Theory]
    [InlineData("03 00 00 13 0e d0 00 00 12 34 00 03 00 08 00 05 00 00 00", "HYBRID_REQUIRED_BY_SERVER")] // freerdp-shadow
    [InlineData("03 00 00 13 0e d0 00 00 12 34 00 03 00 08 00 03 00 00 00", "SSL_CERT_NOT_ON_SERVER")]
    [InlineData("03 00 00 13 0e d0 00 00 12 34 00 03 00 08 00 63 00 00 00", "0x00000063")]
    public void Decode_Failures_NameTheCode(string hex, string name)
    {
        Assert.Equal(name, X224ConnectionConfirm.Decode(RdpTestData.Hex(hex)).Failure!.FailureCode.Name());
    }

    [Theory]
    [InlineData("03 00 00 13 0e e0 00 00 12 34 00 02 00 08 00 00 00 00 00", NlaFailureReason.UnexpectedMessage)] // a CR
    [InlineData("03 00 00 13 0d d0 00 00 12 34 00 02 00 08 00 00 00 00 00", NlaFailureReason.Malformed)] // LI inconsistent
    [InlineData("03 00 00 13 0e d0 00 00 12 34 00 04 00 08 00 00 00 00 00", NlaFailureReason.Malformed)] // unknown type
    [InlineData("03 00 00 13 0e d0 00 00 12 34 00 02 00 07 00 00 00 00 00", NlaFailureReason.Malformed)] // length 7
    [InlineData("03 00 00 0f 0a d0 00 00 12 34 00 02 00 08 00", NlaFailureReason.Malformed)] // 4 bytes of rdpNegData
    [InlineData("03 00 00 14 0f d0 00 00 12 34 00 02 00 08 00 00 00 00 00 00", NlaFailureReason.Malformed)] // 9 bytes
    [InlineData("03 00 00 0b 06 d0 00 00 12 34 10", NlaFailureReason.Malformed)] // class 1
    [InlineData("03 00 00 0a 05 d0 00 00 12 34", NlaFailureReason.Malformed)] // TPDU header truncated
    [InlineData("03 00 00 07 02 f0 80", NlaFailureReason.UnexpectedMessage)] // a data TPDU
    public void Decode_InvalidFrame_ThrowsNlaProtocolException(string hex, NlaFailureReason reason)
    {
        var exception = Assert.Throws<NlaProtocolException>(() => X224ConnectionConfirm.Decode(RdpTestData.Hex(hex)));
        Assert.Equal(reason, exception.Reason);
    }

    [Fact]
    public void EncodeDecode_RandomConfirms_RoundTrip()
    {
        Gen<RdpNegData?> data = Gen.Int[0, 2].SelectMany(kind => kind switch
        {
            0 => Gen.Const((RdpNegData?)null),
            1 => Gen.Select(Gen.Byte, Gen.UInt, (f, p) => (RdpNegData?)new RdpNegResponse((RdpNegResponseFlags)f, (SecurityProtocols)p)),
            _ => Gen.UInt.Select(c => (RdpNegData?)new RdpNegFailure((NegotiationFailureCode)c)),
        });
        Gen.Select(data, Gen.UShort).Sample((d, sourceReference) =>
        {
            var confirm = new X224ConnectionConfirm(d, sourceReference);
            byte[] frame = confirm.Encode();
            Assert.Equal(confirm.EncodedLength, frame.Length);
            Assert.Equal(confirm, X224ConnectionConfirm.Decode(frame));
        });
    }
}
