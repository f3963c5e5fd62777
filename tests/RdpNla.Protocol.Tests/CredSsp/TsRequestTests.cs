using CsCheck;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Spnego;
using static RdpNla.Protocol.Tests.CredSsp.HexVector;

namespace RdpNla.Protocol.Tests.CredSsp;

public class TsRequestTests
{
    private static readonly string[] s_derVectorFiles =
    [
        "credssp/tsrequest-v6-all-fields.hex",
        "credssp/tsrequest-ntlm-negotiate-v6.hex",
        "credssp/tsrequest-ntlm-challenge-v6.hex",
        "credssp/tsrequest-ntlm-authenticate-pubkeyauth-v2.hex",
        "credssp/tsrequest-pubkeyauth-v6.hex",
        "credssp/tsrequest-errorcode-negative.hex",
    ];

    public static TheoryData<string> DerVectors => [.. s_derVectorFiles];

    [Fact]
    public void Decode_PyspnegoV6AllFields_ReadsEveryField()
    {
        TsRequest request = TsRequest.Decode(Load("credssp/tsrequest-v6-all-fields.hex"));

        Assert.Equal(6, request.Version);
        Assert.Equal("123"u8.ToArray(), Assert.Single(request.NegoTokens));
        Assert.Equal("auth info"u8.ToArray(), request.AuthInfo);
        Assert.Equal("pub key auth"u8.ToArray(), request.PubKeyAuth);
        Assert.Equal((NtStatus)10, request.ErrorCode);
        Assert.Equal("client nonce"u8.ToArray(), request.ClientNonce);
    }

    [Fact]
    public void Encode_PyspnegoV6AllFields_ReproducesVector()
    {
        var request = new TsRequest
        {
            Version = 6,
            NegoTokens = ["123"u8.ToArray()],
            AuthInfo = "auth info"u8.ToArray(),
            PubKeyAuth = "pub key auth"u8.ToArray(),
            ErrorCode = (NtStatus)10,
            ClientNonce = "client nonce"u8.ToArray(),
        };

        Assert.Equal(Load("credssp/tsrequest-v6-all-fields.hex"), request.Encode());
    }

    [Theory]
    [MemberData(nameof(DerVectors))]
    public void Decode_DerVector_ReEncodesByteForByte(string vector)
    {
        byte[] encoded = Load(vector);

        Assert.Equal(encoded, TsRequest.Decode(encoded).Encode());
    }

    [Fact]
    public void Decode_RedemptionNegotiate_ReadsRawNtlmNegotiate()
    {
        TsRequest request = TsRequest.Decode(Load("credssp/tsrequest-ntlm-negotiate-v6.hex"));

        Assert.Equal(6, request.Version);
        byte[] token = Assert.Single(request.NegoTokens);
        Assert.Equal(40, token.Length);
        Assert.Equal(NegoTokenKind.RawNtlm, NegoTokenClassifier.Classify(token));
        Assert.Null(request.AuthInfo);
        Assert.Null(request.PubKeyAuth);
        Assert.Null(request.ErrorCode);
        Assert.Null(request.ClientNonce);
    }

    [Fact]
    public void Decode_RedemptionAuthenticate_ReadsTokenAndPubKeyAuth()
    {
        TsRequest request = TsRequest.Decode(Load("credssp/tsrequest-ntlm-authenticate-pubkeyauth-v2.hex"));

        Assert.Equal(2, request.Version);
        Assert.Equal(0x11C, Assert.Single(request.NegoTokens).Length);
        Assert.Equal(32, request.PubKeyAuth!.Length);
    }

    [Theory]
    [InlineData("credssp/tsrequest-errorcode-negative.hex")]
    [InlineData("credssp/tsrequest-errorcode-positive.hex")]
    public void Decode_ErrorCodeEitherIntegerForm_ReadsLogonFailure(string vector)
    {
        Assert.Equal(NtStatus.LogonFailure, TsRequest.Decode(Load(vector)).ErrorCode);
    }

    [Fact]
    public void Encode_ErrorCodeLogonFailure_WritesFourByteNegativeInteger()
    {
        byte[] encoded = new TsRequest { Version = 6, ErrorCode = NtStatus.LogonFailure }.Encode();

        Assert.Equal(Load("credssp/tsrequest-errorcode-negative.hex"), encoded);
        Assert.Equal("a4060204c000006d", Convert.ToHexStringLower(encoded[7..]));
    }

    [Theory]
    [InlineData("02 01 00", 0x00000000u)]
    [InlineData("02 01 ff", 0xFFFFFFFFu)]
    [InlineData("02 05 00 ff ff ff ff", 0xFFFFFFFFu)]
    [InlineData("02 04 80 00 00 00", 0x80000000u)]
    public void Decode_ErrorCodeBoundaries_MapsToUInt32(string integer, uint expected)
    {
        byte[] inner = Hex(integer);
        byte[] encoded = [0x30, (byte)(7 + inner.Length), 0xA0, 0x03, 0x02, 0x01, 0x06, 0xA4, (byte)inner.Length, .. inner];

        Assert.Equal((NtStatus)expected, TsRequest.Decode(encoded).ErrorCode);
    }

    [Theory]
    [InlineData("30 0e a0 03 02 01 06 a4 07 02 05 01 00 00 00 00")] // 2^32: not an NTSTATUS
    [InlineData("30 0e a0 03 02 01 06 a4 07 02 05 ff 7f ff ff ff")] // below int.MinValue
    [InlineData("30 0d a0 03 02 01 06 a4 06 04 04 c0 00 00 6d")] // OCTET STRING instead of INTEGER
    public void Decode_ErrorCodeNotNtStatus_ThrowsMalformed(string hex)
    {
        var e = Assert.Throws<NlaProtocolException>(() => TsRequest.Decode(Hex(hex)));
        Assert.Equal(NlaFailureReason.Malformed, e.Reason);
    }

    [Theory]
    [InlineData("30 05 a0 03 02 01 06 00", "trailing")] // byte after the SEQUENCE
    [InlineData("30 07 a0 03 02 01 06 00 00", "trailing")] // bytes inside the SEQUENCE
    [InlineData("30 0d a0 03 02 01 06 a3 02 04 00 a2 02 04 00", "trailing")] // pubKeyAuth before authInfo
    [InlineData("30 0d a0 03 02 01 06 a2 02 04 00 a2 02 04 00", "trailing")] // duplicate authInfo
    [InlineData("30 09 a0 03 02 01 06 a6 02 04 00", "trailing")] // unknown field [6]
    [InlineData("30 09 a1 02 30 00 a0 03 02 01 06", "where [0] (constructed) was expected")] // version not first
    [InlineData("30 04 a1 02 30 00", "where [0] (constructed) was expected")] // version missing
    [InlineData("30 09 a0 07 02 05 01 00 00 00 00", "does not fit in 32 bits")] // version
    [InlineData("30 05 a0 03 04 01 06", "UNIVERSAL 4 (primitive) where UNIVERSAL 2")] // version is an OCTET STRING
    [InlineData("30 06 a0 04 02 01 06 00", "trailing")] // extra byte inside [0]
    [InlineData("30 80 a0 03 02 01 06 00 00", "indefinite length")]
    [InlineData("30 09 a0 03 02 01 06 a2 02 24 00", "UNIVERSAL 4 (constructed) where UNIVERSAL 4 (primitive)")] // segmented OCTET STRING
    [InlineData("30 0b a0 03 02 01 06 a1 04 30 02 30 00", "element is missing")] // negoToken element without [0]
    [InlineData("31 05 a0 03 02 01 06", "UNIVERSAL 17 (constructed) where UNIVERSAL 16")] // SET
    [InlineData("30 05 80 03 02 01 06", "[0] (primitive) where [0] (constructed)")] // IMPLICIT version
    [InlineData("", "element is missing")] // empty input
    public void Decode_InvalidStructure_ThrowsMalformedForTheRightReason(string hex, string expectedMessage)
    {
        var e = Assert.Throws<NlaProtocolException>(() => TsRequest.Decode(Hex(hex)));
        Assert.Equal(NlaFailureReason.Malformed, e.Reason);
        Assert.Contains(expectedMessage, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_NonMinimalLongFormLengths_AcceptedAndReEncodedMinimal()
    {
        // 30 81 09 / a0 84 00 00 00 03: BER long form where DER would use one byte (accepted defensively, MS-CSSP peers vary).
        TsRequest request = TsRequest.Decode(Hex("30 81 09 a0 84 00 00 00 03 02 01 06"));

        Assert.Equal(6, request.Version);
        Assert.Equal(Hex("30 05 a0 03 02 01 06"), request.Encode());
    }

    [Fact]
    public void Decode_EmptyOctetStringsAndEmptyNegoData_Accepted()
    {
        TsRequest request = TsRequest.Decode(Hex("30 15 a0 03 02 01 05 a1 02 30 00 a2 02 04 00 a3 02 04 00 a5 02 04 00"));

        Assert.Empty(request.NegoTokens);
        Assert.Empty(request.AuthInfo!);
        Assert.Empty(request.PubKeyAuth!);
        Assert.Empty(request.ClientNonce!);
    }

    [Fact]
    public void Decode_SeveralNegoTokens_ReadsAllInOrder()
    {
        var request = new TsRequest { Version = 6, NegoTokens = [[1], [2, 2], []] };

        TsRequest decoded = TsRequest.Decode(request.Encode());

        Assert.Equal(request.NegoTokens, decoded.NegoTokens);
    }

    [Fact]
    public void Encode_NegativeVersion_IsRepresentable()
    {
        // The codec does not police the version range: the contexts do.
        Assert.Equal(-1, TsRequest.Decode(new TsRequest { Version = -1 }.Encode()).Version);
    }

    [Fact]
    public void EncodeDecode_RandomRequests_RoundTrip()
    {
        Gen<byte[]?> optionalBytes = Gen.Byte.Array[0, 300].Null();
        Gen<TsRequest> requests =
            from version in Gen.Int
            from tokens in Gen.Byte.Array[0, 200].List[0, 3]
            from authInfo in optionalBytes
            from pubKeyAuth in optionalBytes
            from error in Gen.UInt.Select(v => (NtStatus)v).Nullable()
            from nonce in optionalBytes
            select new TsRequest
            {
                Version = version, NegoTokens = tokens, AuthInfo = authInfo, PubKeyAuth = pubKeyAuth, ErrorCode = error, ClientNonce = nonce,
            };

        requests.Sample(
            request =>
            {
                byte[] encoded = request.Encode();
                TsRequest decoded = TsRequest.Decode(encoded);
                Assert.Equal(request.Version, decoded.Version);
                Assert.Equal(request.NegoTokens, decoded.NegoTokens);
                Assert.Equal(request.AuthInfo, decoded.AuthInfo);
                Assert.Equal(request.PubKeyAuth, decoded.PubKeyAuth);
                Assert.Equal(request.ErrorCode, decoded.ErrorCode);
                Assert.Equal(request.ClientNonce, decoded.ClientNonce);
                Assert.Equal(encoded, decoded.Encode());
            },
            iter: 2000,
            threads: 1);
    }

    [Fact]
    public void Decode_RandomBytes_ReturnsOrThrowsNlaProtocolExceptionOnly()
    {
        Gen.Byte.Array[0, 128].Sample(
            bytes =>
            {
                try
                {
                    TsRequest.Decode(bytes);
                }
                catch (NlaProtocolException)
                {
                }
            },
            iter: 5000,
            threads: 1);
        DecoderTotality.RandomBytes(b => TsRequest.Decode(b));
    }

    [Fact]
    public void Decode_MutatedValidEncodings_ReturnsOrThrowsNlaProtocolExceptionOnly()
    {
        DecoderTotality.Mutations(b => TsRequest.Decode(b), [.. s_derVectorFiles.Select(Load)]);
    }
}
