using CsCheck;
using RdpNla.Protocol.Rdp;

namespace RdpNla.Protocol.Tests.Rdp;

public class X224ConnectionRequestTests
{
    [Fact]
    public void Decode_SpecExample411_CookieElitonsAndProtocolRdp()
    {
        byte[] frame = RdpTestData.Load(RdpTestData.SpecConnectionRequest);
        X224ConnectionRequest request = X224ConnectionRequest.Decode(frame);

        Assert.Equal("eltons", request.Cookie);
        Assert.Null(request.RoutingToken);
        Assert.Equal(new RdpNegRequest(RdpNegRequestFlags.None, SecurityProtocols.Rdp), request.NegotiationRequest);
        Assert.Null(request.CorrelationInfo);
        Assert.Equal(frame, request.Encode());
    }

    [Fact]
    public void Encode_SpecExample411Fields_ProducesSpecBytes()
    {
        var request = new X224ConnectionRequest("eltons", new RdpNegRequest(RdpNegRequestFlags.None, SecurityProtocols.Rdp));
        Assert.Equal(RdpTestData.Load(RdpTestData.SpecConnectionRequest), request.Encode());
        Assert.Equal(44, request.EncodedLength);
    }

    [Fact]
    public void Decode_Xfreerdp211Request_CookieUserAndSslHybrid()
    {
        byte[] frame = RdpTestData.Load(RdpTestData.XfreerdpConnectionRequest);
        Assert.Equal(
            "436f6f6b69653a206d737473686173683d557365720d0a0100080003000000",
            Convert.ToHexStringLower(frame.AsSpan(11)));

        X224ConnectionRequest request = X224ConnectionRequest.Decode(frame);

        Assert.Equal("User", request.Cookie);
        Assert.Equal(SecurityProtocols.Ssl | SecurityProtocols.Hybrid, request.NegotiationRequest!.RequestedProtocols);
        Assert.Equal(RdpNegRequestFlags.None, request.NegotiationRequest.Flags);
        Assert.Equal(frame, request.Encode());
    }

    [Fact]
    public void Decode_MstscRequest_RequestsSslHybridHybridEx()
    {
        byte[] frame = RdpTestData.Load(RdpTestData.MstscConnectionRequest);
        X224ConnectionRequest request = X224ConnectionRequest.Decode(frame);

        Assert.Equal("DESKTOP-J", request.Cookie);
        Assert.Equal((SecurityProtocols)0x0B, request.NegotiationRequest!.RequestedProtocols);
        Assert.Equal("PROTOCOL_SSL|PROTOCOL_HYBRID|PROTOCOL_HYBRID_EX", request.NegotiationRequest.RequestedProtocols.Name());
        Assert.Equal(frame, request.Encode());
    }

    [Fact]
    public void Decode_CorrelationInfoRequest_DecodesCorrelationId()
    {
        byte[] frame = RdpTestData.Load(RdpTestData.CorrelationInfoConnectionRequest);
        X224ConnectionRequest request = X224ConnectionRequest.Decode(frame);

        Assert.Equal("alice", request.Cookie);
        Assert.Equal(RdpNegRequestFlags.CorrelationInfoPresent, request.NegotiationRequest!.Flags);
        Assert.Equal("c12f5a3e77104b9a8e21a45c9f036be2", Convert.ToHexStringLower(request.CorrelationInfo!.CorrelationId.Span));
        Assert.True(request.CorrelationInfo.IsSpecCompliant);
        Assert.Equal(frame, request.Encode());
    }

    [Theory]
    [InlineData("00")] // first byte 0x00
    [InlineData("f4")] // first byte 0xF4
    public void Decode_CorrelationIdBreakingShouldNots_IsToleratedAndReported(string firstByte)
    {
        byte[] frame = RdpTestData.Load(RdpTestData.CorrelationInfoConnectionRequest);
        int idOffset = frame.Length - 32;
        frame[idOffset] = RdpTestData.Hex(firstByte)[0];
        frame[idOffset + 5] = 0x0D;
        frame[^1] = 0xAA; // reserved not zero: ignored

        X224ConnectionRequest request = X224ConnectionRequest.Decode(frame);

        Assert.False(request.CorrelationInfo!.IsSpecCompliant);
        Assert.Equal(frame[idOffset..(idOffset + 16)], request.CorrelationInfo.CorrelationId.ToArray());
    }

    [Fact]
    public void Decode_RoutingTokenRequest_KeepsTokenWithoutCrLf()
    {
        byte[] frame = RdpTestData.Load(RdpTestData.RoutingTokenConnectionRequest);
        X224ConnectionRequest request = X224ConnectionRequest.Decode(frame);

        Assert.Null(request.Cookie);
        Assert.Equal("Cookie: msts=3640205228.15629.0000", request.RoutingToken);
        Assert.Equal(SecurityProtocols.Ssl | SecurityProtocols.Hybrid, request.NegotiationRequest!.RequestedProtocols);
        Assert.Equal(frame, request.Encode());
    }

    [Theory]
    [InlineData("tsv://MS Terminal Services Plugin.1.Sessions")]
    [InlineData("mth://10.0.0.5:3389")]
    public void Decode_OtherRoutingTokenPrefixes_AreRoutingTokens(string token)
    {
        byte[] frame = new X224ConnectionRequest(null, new RdpNegRequest(RdpNegRequestFlags.None, (SecurityProtocols)0x0B), routingToken: token).Encode();
        X224ConnectionRequest request = X224ConnectionRequest.Decode(frame);
        Assert.Equal(token, request.RoutingToken);
        Assert.Null(request.Cookie);
    }

    [Fact]
    public void Decode_RoutingTokenAndCookie_BothTolerated()
    {
        byte[] frame = Cr("Cookie: msts=1.2.3\r\nCookie: mstshash=bob\r\n"u8.ToArray(), "01 00 08 00 03 00 00 00");
        X224ConnectionRequest request = X224ConnectionRequest.Decode(frame);
        Assert.Equal("bob", request.Cookie);
        Assert.Equal("Cookie: msts=1.2.3", request.RoutingToken);
        Assert.Equal(frame, request.Encode());
    }

    [Fact]
    public void Decode_NoVariablePart_LegacyRequest()
    {
        X224ConnectionRequest request = X224ConnectionRequest.Decode(RdpTestData.Hex("03 00 00 0b 06 e0 00 00 00 00 00"));
        Assert.Null(request.NegotiationRequest);
        Assert.Null(request.Cookie);
    }

    [Fact]
    public void Decode_CookieOnly_LegacyRequestWithCookie()
    {
        X224ConnectionRequest request = X224ConnectionRequest.Decode(Cr("Cookie: mstshash=admin\r\n"u8.ToArray(), ""));
        Assert.Null(request.NegotiationRequest);
        Assert.Equal("admin", request.Cookie);
    }

    [Fact]
    public void Decode_RefsAndClassOptionsIgnored_Decodes()
    {
        byte[] frame = RdpTestData.Load(RdpTestData.XfreerdpConnectionRequest);
        frame[6] = 0x12; frame[7] = 0x34; frame[8] = 0x56; frame[9] = 0x78; // DST-REF, SRC-REF
        frame[10] = 0x02; // class 0, option bits set
        Assert.Equal("User", X224ConnectionRequest.Decode(frame).Cookie);
    }

    [Theory]
    [InlineData("03 00 00 0a 05 e0 00 00 00 00", NlaFailureReason.Malformed)] // shorter than 11 bytes
    [InlineData("03 00 00 0b 07 e0 00 00 00 00 00", NlaFailureReason.Malformed)] // LI too large for the TPKT length
    [InlineData("03 00 00 0c 06 e0 00 00 00 00 00 00", NlaFailureReason.Malformed)] // LI too small: stray byte
    [InlineData("03 00 00 0c 06 e0 00 00 00 00 00", NlaFailureReason.Malformed)] // TPKT length > frame
    [InlineData("03 00 00 0b 06 d0 00 00 00 00 00", NlaFailureReason.UnexpectedMessage)] // a CC, not a CR
    [InlineData("03 00 00 0b 06 e1 00 00 00 00 00", NlaFailureReason.UnexpectedMessage)] // credit not 0
    [InlineData("03 00 00 0b 06 e0 00 00 00 00 40", NlaFailureReason.Malformed)] // class 4
    [InlineData("03 00 00 13 0e e0 00 00 00 00 00 01 00 09 00 03 00 00 00", NlaFailureReason.Malformed)] // RDP_NEG_REQ length 9
    [InlineData("03 00 00 12 0d e0 00 00 00 00 00 01 00 08 00 03 00 00", NlaFailureReason.Malformed)] // truncated RDP_NEG_REQ
    [InlineData("03 00 00 14 0f e0 00 00 00 00 00 01 00 08 00 03 00 00 00 00", NlaFailureReason.Malformed)] // trailing byte
    [InlineData("03 00 00 13 0e e0 00 00 00 00 00 01 08 08 00 03 00 00 00", NlaFailureReason.Malformed)] // CORRELATION_INFO_PRESENT, none follows
    [InlineData("03 00 00 0f 0a e0 00 00 00 00 00 41 42 43 44", NlaFailureReason.Malformed)] // token without CR LF
    [InlineData("03 00 00 10 0b e0 00 00 00 00 00 41 0d 0a 42 0d", NlaFailureReason.Malformed)] // two routing tokens, second unterminated
    public void Decode_InvalidFrame_ThrowsNlaProtocolException(string hex, NlaFailureReason reason)
    {
        var exception = Assert.Throws<NlaProtocolException>(() => X224ConnectionRequest.Decode(RdpTestData.Hex(hex)));
        Assert.Equal(reason, exception.Reason);
    }

    [Fact]
    public void Decode_TwoCookies_Throws()
    {
        byte[] frame = Cr("Cookie: mstshash=a\r\nCookie: mstshash=b\r\n"u8.ToArray(), "");
        Assert.Throws<NlaProtocolException>(() => X224ConnectionRequest.Decode(frame));
    }

    [Fact]
    public void Decode_LengthIndicator255_Throws()
    {
        byte[] frame = Cr([.. "Cookie: mstshash="u8, .. Enumerable.Repeat((byte)'x', 230), 0x0d, 0x0a], "");
        Assert.Equal(255, frame[4]);
        Assert.Throws<NlaProtocolException>(() => X224ConnectionRequest.Decode(frame));
    }

    [Fact]
    public void Decode_CookieWithHighBytes_MapsBytesToLatin1Chars()
    {
        byte[] frame = Cr([.. "Cookie: mstshash="u8, 0xE9, 0xFF, 0x0d, 0x0a], "01 00 08 00 00 00 00 00");
        X224ConnectionRequest request = X224ConnectionRequest.Decode(frame);
        Assert.Equal("\u00E9\u00FF", request.Cookie);
        Assert.Equal(frame, request.Encode());
    }

    [Theory]
    [InlineData("a\r\nb", null)]
    [InlineData(null, "x\r\ny")]
    [InlineData(null, "Cookie: mstshash=x")]
    [InlineData(null, "\u0001abc")]
    [InlineData("\u0100", null)]
    public void Constructor_InvalidTokens_ThrowArgumentException(string? cookie, string? routingToken)
    {
        Assert.ThrowsAny<ArgumentException>(() => new X224ConnectionRequest(cookie, routingToken: routingToken));
    }

    [Fact]
    public void Constructor_InconsistentCorrelationInfo_ThrowsArgumentException()
    {
        var info = new RdpNegCorrelationInfo(new byte[16]);
        Assert.Throws<ArgumentException>(() => new X224ConnectionRequest(correlationInfo: info));
        Assert.Throws<ArgumentException>(() => new X224ConnectionRequest(
            negotiationRequest: new RdpNegRequest(RdpNegRequestFlags.CorrelationInfoPresent, SecurityProtocols.Ssl)));
        Assert.Throws<ArgumentException>(() => new X224ConnectionRequest(new string('x', 230)));
    }

    [Fact]
    public void EncodeDecode_RandomRequests_RoundTrip()
    {
        Gen<string> tokenText = Gen.String[Gen.Char[(char)0, (char)0xFF], 0, 40].Where(s => !s.Contains("\r\n", StringComparison.Ordinal));
        Gen<string?> cookie = Gen.Bool.SelectMany(present => present ? tokenText.Select(s => (string?)s) : Gen.Const((string?)null));
        Gen<string?> routing = Gen.Bool.SelectMany(present => present
            ? tokenText.Where(s => !s.StartsWith("Cookie: mstshash=", StringComparison.Ordinal) && !s.StartsWith('\u0001')).Select(s => (string?)s)
            : Gen.Const((string?)null));
        Gen<(RdpNegRequest?, RdpNegCorrelationInfo?)> negotiation = Gen.Int[0, 2].SelectMany(kind => kind switch
        {
            0 => Gen.Const<(RdpNegRequest?, RdpNegCorrelationInfo?)>((null, null)),
            1 => Gen.Select(Gen.Byte, Gen.UInt, (flags, protocols) => ((RdpNegRequest?)new RdpNegRequest((RdpNegRequestFlags)(flags & ~0x08), (SecurityProtocols)protocols), (RdpNegCorrelationInfo?)null)),
            _ => Gen.Select(Gen.Byte, Gen.UInt, Gen.Byte.Array[16], (flags, protocols, id) => ((RdpNegRequest?)new RdpNegRequest((RdpNegRequestFlags)flags, (SecurityProtocols)protocols), (RdpNegCorrelationInfo?)new RdpNegCorrelationInfo(id))),
        });

        Gen.Select(cookie, routing, negotiation).Sample((c, r, n) =>
        {
            var request = new X224ConnectionRequest(c, n.Item1, n.Item2, r);
            byte[] frame = request.Encode();
            Assert.Equal(request.EncodedLength, frame.Length);
            X224ConnectionRequest decoded = X224ConnectionRequest.Decode(frame);
            Assert.Equal(request.Cookie, decoded.Cookie);
            Assert.Equal(request.RoutingToken, decoded.RoutingToken);
            Assert.Equal(request.NegotiationRequest, decoded.NegotiationRequest);
            Assert.Equal(request.CorrelationInfo, decoded.CorrelationInfo);
            Assert.Equal(frame, decoded.Encode());
        });
    }

    /// <summary>Builds a CR frame by hand (independent of the encoder).</summary>
    internal static byte[] Cr(byte[] tokens, string negotiationHex)
    {
        byte[] variable = [.. tokens, .. RdpTestData.Hex(negotiationHex)];
        int length = 11 + variable.Length;
        return [0x03, 0x00, (byte)(length >> 8), (byte)length, (byte)(6 + variable.Length), 0xE0, 0, 0, 0, 0, 0, .. variable];
    }
}
