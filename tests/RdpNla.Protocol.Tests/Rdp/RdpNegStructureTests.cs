using CsCheck;
using RdpNla.Protocol.Rdp;

namespace RdpNla.Protocol.Tests.Rdp;

public class RdpNegStructureTests
{
    [Fact]
    public void RdpNegRequest_EncodeDecode_RoundTrips()
    {
        Gen.Select(Gen.Byte, Gen.UInt).Sample((flags, protocols) =>
        {
            var request = new RdpNegRequest((RdpNegRequestFlags)flags, (SecurityProtocols)protocols);
            byte[] bytes = new byte[RdpNegRequest.Length];
            request.Encode(bytes);
            Assert.Equal(0x01, bytes[0]);
            Assert.Equal(request, RdpNegRequest.Decode(bytes));
        });
    }

    [Fact]
    public void RdpNegRequest_Encode_MatchesMstscBytes()
    {
        byte[] bytes = new byte[8];
        new RdpNegRequest(RdpNegRequestFlags.None, SecurityProtocols.Ssl | SecurityProtocols.Hybrid | SecurityProtocols.HybridEx).Encode(bytes);
        Assert.Equal(RdpTestData.Hex("01 00 08 00 0b 00 00 00"), bytes);
    }

    [Fact]
    public void RdpNegResponse_EncodeDecode_RoundTrips()
    {
        Gen.Select(Gen.Byte, Gen.UInt).Sample((flags, protocol) =>
        {
            var response = new RdpNegResponse((RdpNegResponseFlags)flags, (SecurityProtocols)protocol);
            byte[] bytes = new byte[8];
            response.Encode(bytes);
            Assert.Equal(response, RdpNegResponse.Decode(bytes));
            Assert.Equal(response, RdpNegData.Decode(bytes));
        });
    }

    [Fact]
    public void RdpNegFailure_EncodeDecode_RoundTrips()
    {
        Gen.UInt.Sample(code =>
        {
            var failure = new RdpNegFailure((NegotiationFailureCode)code);
            byte[] bytes = new byte[8];
            failure.Encode(bytes);
            Assert.Equal(failure, RdpNegFailure.Decode(bytes));
            Assert.Equal(failure, RdpNegData.Decode(bytes));
        });
    }

    [Fact]
    public void RdpNegCorrelationInfo_EncodeDecode_RoundTrips()
    {
        Gen.Byte.Array[16].Sample(id =>
        {
            var info = new RdpNegCorrelationInfo(id);
            byte[] bytes = new byte[RdpNegCorrelationInfo.Length];
            info.Encode(bytes);
            Assert.Equal(RdpTestData.Hex("06 00 24 00"), bytes[..4]);
            Assert.Equal(new byte[16], bytes[20..]);
            Assert.Equal(info, RdpNegCorrelationInfo.Decode(bytes));
            Assert.Equal(info.GetHashCode(), RdpNegCorrelationInfo.Decode(bytes).GetHashCode());
        });
    }

    [Theory]
    [InlineData("02 00 08 00 00 00 00 00")] // wrong type
    [InlineData("01 00 0c 00 00 00 00 00")] // wrong length
    [InlineData("01 00 08 00 00 00 00")] // truncated
    [InlineData("01 00 08 00 00 00 00 00 00")] // too long
    [InlineData("")]
    public void RdpNegRequest_Decode_Invalid_Throws(string hex)
    {
        Assert.Throws<NlaProtocolException>(() => RdpNegRequest.Decode(RdpTestData.Hex(hex)));
    }

    [Theory]
    [InlineData("")]
    [InlineData("01 00 08 00 00 00 00 00")]
    [InlineData("02 00 08 00 00 00 00")]
    [InlineData("03 00 09 00 01 00 00 00")]
    public void RdpNegData_Decode_Invalid_Throws(string hex)
    {
        Assert.Throws<NlaProtocolException>(() => RdpNegData.Decode(RdpTestData.Hex(hex)));
    }

    [Theory]
    [InlineData(NegotiationFailureCode.SslRequiredByServer, "SSL_REQUIRED_BY_SERVER")]
    [InlineData(NegotiationFailureCode.SslNotAllowedByServer, "SSL_NOT_ALLOWED_BY_SERVER")]
    [InlineData(NegotiationFailureCode.SslCertNotOnServer, "SSL_CERT_NOT_ON_SERVER")]
    [InlineData(NegotiationFailureCode.InconsistentFlags, "INCONSISTENT_FLAGS")]
    [InlineData(NegotiationFailureCode.HybridRequiredByServer, "HYBRID_REQUIRED_BY_SERVER")]
    [InlineData(NegotiationFailureCode.SslWithUserAuthRequiredByServer, "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER")]
    [InlineData((NegotiationFailureCode)7, "0x00000007")]
    public void Name_FailureCode_IsSpecName(NegotiationFailureCode code, string expected)
    {
        Assert.Equal(expected, code.Name());
        Assert.False(string.IsNullOrEmpty(code.Describe()));
    }

    [Theory]
    [InlineData(0x00u, "PROTOCOL_RDP")]
    [InlineData(0x01u, "PROTOCOL_SSL")]
    [InlineData(0x03u, "PROTOCOL_SSL|PROTOCOL_HYBRID")]
    [InlineData(0x1Fu, "PROTOCOL_SSL|PROTOCOL_HYBRID|PROTOCOL_RDSTLS|PROTOCOL_HYBRID_EX|PROTOCOL_RDSAAD")]
    [InlineData(0x108u, "PROTOCOL_HYBRID_EX|0x00000100")]
    public void Name_SecurityProtocols_JoinsSpecNames(uint protocols, string expected)
    {
        Assert.Equal(expected, ((SecurityProtocols)protocols).Name());
    }
}
