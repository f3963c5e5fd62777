using CsCheck;
using RdpNla.Protocol.Rdp;

namespace RdpNla.Protocol.Tests.Rdp;

public class EarlyUserAuthorizationResultTests
{
    [Theory]
    [InlineData("00 00 00 00", true, "AUTHZ_SUCCESS")]
    [InlineData("05 00 00 00", false, "AUTHZ_ACCESS_DENIED")]
    [InlineData("2e 05 00 00", false, "AUTHZ_ACCESS_DENIED (0x0000052E, older MS-RDPBCGR)")]
    [InlineData("00 00 00 01", false, "0x01000000 (denial)")]
    public void Decode_Values_AnyNonZeroIsDenial(string hex, bool success, string name)
    {
        EarlyUserAuthorizationResult result = EarlyUserAuthorizationResult.Decode(RdpTestData.Hex(hex));
        Assert.Equal(success, result.IsSuccess);
        Assert.Equal(name, result.Name);
    }

    [Fact]
    public void Encode_SuccessAndAccessDenied_AreLittleEndian()
    {
        Assert.Equal(RdpTestData.Hex("00 00 00 00"), EarlyUserAuthorizationResult.Success.Encode());
        Assert.Equal(RdpTestData.Hex("05 00 00 00"), EarlyUserAuthorizationResult.AccessDenied.Encode());
    }

    [Fact]
    public void EncodeDecode_AnyValue_RoundTrips()
    {
        Gen.UInt.Sample(value =>
            Assert.Equal(new EarlyUserAuthorizationResult(value), EarlyUserAuthorizationResult.Decode(new EarlyUserAuthorizationResult(value).Encode())));
    }

    [Theory]
    [InlineData("")]
    [InlineData("00 00 00")]
    [InlineData("00 00 00 00 00")]
    public void Decode_WrongLength_Throws(string hex)
    {
        Assert.Throws<NlaProtocolException>(() => EarlyUserAuthorizationResult.Decode(RdpTestData.Hex(hex)));
    }
}
