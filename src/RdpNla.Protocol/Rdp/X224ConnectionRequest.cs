namespace RdpNla.Protocol.Rdp;

/// <summary>
/// Client X.224 Connection Request PDU (MS-RDPBCGR §2.2.1.1): TPKT header, X.224 Class 0 CR TPDU, then the
/// optional routingToken and/or cookie, the optional RDP_NEG_REQ and the optional RDP_NEG_CORRELATION_INFO.
/// </summary>
/// <remarks>
/// Server processing follows MS-RDPBCGR §3.3.5.3.1: the X.224 length indicator must agree with the TPKT length,
/// the TPDU code must be CR (0xE0) and the class 0; DST-REF and SRC-REF are ignored. A routingToken and a cookie
/// are both tolerated. Tokens and cookies are ANSI text: they are mapped byte for byte to chars (Latin-1),
/// so decoding and encoding round-trip exactly.
/// </remarks>
public sealed class X224ConnectionRequest
{
    /// <summary>X.224 TPDU code for a Connection Request with credit 0.</summary>
    public const byte ConnectionRequestCode = 0xE0;

    /// <summary>The smallest valid frame: TPKT header (4) + CR TPDU header (7) (MS-RDPBCGR §3.3.5.3.1).</summary>
    public const int MinimumLength = 11;

    /// <summary>The largest length indicator: one byte, 255 is reserved by X.224.</summary>
    public const int MaximumLengthIndicator = 254;

    /// <summary>The prefix of the cookie: <c>Cookie: mstshash=</c>.</summary>
    public const string CookiePrefix = "Cookie: mstshash=";

    private const string Spec = "MS-RDPBCGR §2.2.1.1";
    private const int X224HeaderLength = 7;

    /// <summary>Creates a Connection Request.</summary>
    /// <param name="cookie">The IDENTIFIER of <c>Cookie: mstshash=IDENTIFIER\r\n</c>, or null for no cookie.</param>
    /// <param name="negotiationRequest">The RDP_NEG_REQ, or null for a legacy request (Standard RDP Security only).</param>
    /// <param name="correlationInfo">The correlation info; requires <paramref name="negotiationRequest"/>.</param>
    /// <param name="routingToken">
    /// A routing token without its CR LF (e.g. <c>Cookie: msts=3640205228.15629.0000</c> or <c>tsv://MS Terminal Services Plugin.1.Pool</c>), or null.
    /// </param>
    /// <exception cref="ArgumentException">
    /// A token holds a char above U+00FF or a CR LF; the routing token looks like a cookie or starts with 0x01;
    /// correlation info without a negotiation request, or CORRELATION_INFO_PRESENT without correlation info; or the TPDU would exceed the 254-byte length indicator.
    /// </exception>
    public X224ConnectionRequest(
        string? cookie = null,
        RdpNegRequest? negotiationRequest = null,
        RdpNegCorrelationInfo? correlationInfo = null,
        string? routingToken = null)
    {
        ValidateToken(cookie, nameof(cookie));
        ValidateToken(routingToken, nameof(routingToken));
        if (routingToken is not null && (routingToken.StartsWith(CookiePrefix, StringComparison.Ordinal) || routingToken.StartsWith('\x01')))
        {
            throw new ArgumentException("A routing token must not start with \"Cookie: mstshash=\" or 0x01.", nameof(routingToken));
        }

        if (correlationInfo is not null && negotiationRequest is null)
        {
            throw new ArgumentException("RDP_NEG_CORRELATION_INFO needs an RDP_NEG_REQ before it.", nameof(correlationInfo));
        }

        if (correlationInfo is null && negotiationRequest is not null
            && (negotiationRequest.Flags & RdpNegRequestFlags.CorrelationInfoPresent) != 0)
        {
            throw new ArgumentException("RDP_NEG_REQ announces CORRELATION_INFO_PRESENT but no correlation info is given.", nameof(correlationInfo));
        }

        Cookie = cookie;
        RoutingToken = routingToken;
        NegotiationRequest = negotiationRequest;
        CorrelationInfo = correlationInfo;

        int variableLength = (routingToken is null ? 0 : routingToken.Length + 2)
            + (cookie is null ? 0 : CookiePrefix.Length + cookie.Length + 2)
            + (negotiationRequest is null ? 0 : RdpNegRequest.Length)
            + (correlationInfo is null ? 0 : RdpNegCorrelationInfo.Length);
        if (X224HeaderLength - 1 + variableLength > MaximumLengthIndicator)
        {
            throw new ArgumentException("The cookie and routing token are too long for one X.224 Connection Request.");
        }

        EncodedLength = Tpkt.HeaderLength + X224HeaderLength + variableLength;
    }

    /// <summary>The IDENTIFIER of <c>Cookie: mstshash=IDENTIFIER\r\n</c> (mstsc: the user name, cut to 9 chars). Servers ignore it.</summary>
    public string? Cookie { get; }

    /// <summary>The routingToken text without CR LF (see MS-RDPBCGR §2.2.1.1, §3.2.5.3.1).</summary>
    public string? RoutingToken { get; }

    /// <summary>The RDP_NEG_REQ; null when the client offers only Standard RDP Security (legacy client).</summary>
    public RdpNegRequest? NegotiationRequest { get; }

    /// <summary>The RDP_NEG_CORRELATION_INFO, when present.</summary>
    public RdpNegCorrelationInfo? CorrelationInfo { get; }

    /// <summary>The size of the whole frame <see cref="Encode()"/> produces.</summary>
    public int EncodedLength { get; }

    /// <summary>Decodes one whole TPKT frame holding an X.224 Connection Request.</summary>
    /// <exception cref="NlaProtocolException">The frame is not a valid Connection Request.</exception>
    public static X224ConnectionRequest Decode(ReadOnlySpan<byte> frame)
    {
        if (frame.Length < MinimumLength)
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, $"X.224 Connection Request is {frame.Length} bytes, at least 11 needed.", "MS-RDPBCGR §3.3.5.3.1");
        }

        var reader = new WireReader(Tpkt.GetPayload(frame), "X.224 Connection Request");
        byte lengthIndicator = reader.ReadByte();
        if (lengthIndicator != reader.Remaining || lengthIndicator > MaximumLengthIndicator)
        {
            throw new NlaProtocolException(
                NlaFailureReason.Malformed,
                $"X.224 length indicator {lengthIndicator} is inconsistent with the TPKT length ({reader.Remaining} bytes follow it).",
                "MS-RDPBCGR §3.3.5.3.1");
        }

        byte code = reader.ReadByte();
        if (code != ConnectionRequestCode)
        {
            throw new NlaProtocolException(NlaFailureReason.UnexpectedMessage, $"X.224 TPDU code is 0x{code:X2}, expected 0xE0 (Connection Request).", "MS-RDPBCGR §3.3.5.3.1");
        }

        reader.Skip(4); // DST-REF, SRC-REF: ignored (MS-RDPBCGR §3.3.5.3.1).
        byte classOption = reader.ReadByte();
        if (classOption >> 4 != 0)
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, $"X.224 class is {classOption >> 4}, expected class 0.", "MS-RDPBCGR §3.3.5.3.1");
        }

        string? cookie = null;
        string? routingToken = null;

        // Tokens are CR LF terminated text; the RDP_NEG_REQ starts with its type byte 0x01 (FreeRDP
        // nego_read_request_token_or_cookie). A routingToken and a cookie are both tolerated (§3.3.5.3.1).
        while (reader.Remaining > 0 && reader.RemainingBytes[0] != RdpNegRequest.Type)
        {
            int end = reader.RemainingBytes.IndexOf("\r\n"u8);
            if (end < 0)
            {
                throw new NlaProtocolException(NlaFailureReason.Malformed, "X.224 Connection Request token is not terminated by CR LF.", Spec);
            }

            string token = Encoding.Latin1.GetString(reader.ReadBytes(end));
            reader.Skip(2);
            if (token.StartsWith(CookiePrefix, StringComparison.Ordinal))
            {
                if (cookie is not null)
                {
                    throw new NlaProtocolException(NlaFailureReason.Malformed, "X.224 Connection Request carries two cookies.", Spec);
                }

                cookie = token[CookiePrefix.Length..];
            }
            else
            {
                if (routingToken is not null)
                {
                    throw new NlaProtocolException(NlaFailureReason.Malformed, "X.224 Connection Request carries two routing tokens.", Spec);
                }

                routingToken = token;
            }
        }

        RdpNegRequest? negotiationRequest = null;
        RdpNegCorrelationInfo? correlationInfo = null;
        if (reader.Remaining > 0)
        {
            negotiationRequest = RdpNegRequest.Decode(reader.ReadBytes(Math.Min(reader.Remaining, RdpNegRequest.Length)));

            // Correlation info is decoded when the flag announces it; trailing bytes are refused.
            if ((negotiationRequest.Flags & RdpNegRequestFlags.CorrelationInfoPresent) != 0 || reader.Remaining > 0)
            {
                correlationInfo = RdpNegCorrelationInfo.Decode(reader.ReadBytes(reader.Remaining));
            }
        }

        return new X224ConnectionRequest(cookie, negotiationRequest, correlationInfo, routingToken);
    }

    /// <summary>Encodes the whole frame: TPKT header, CR TPDU (DST-REF = SRC-REF = 0, class 0), tokens, RDP_NEG_REQ, correlation info.</summary>
    public byte[] Encode()
    {
        byte[] frame = Tpkt.NewConnectionFrame(EncodedLength, ConnectionRequestCode, out Span<byte> tpdu);
        int offset = X224HeaderLength; // DST-REF, SRC-REF and class stay 0.
        if (RoutingToken is not null)
        {
            offset += WriteToken(tpdu[offset..], "", RoutingToken);
        }

        if (Cookie is not null)
        {
            offset += WriteToken(tpdu[offset..], CookiePrefix, Cookie);
        }

        if (NegotiationRequest is not null)
        {
            NegotiationRequest.Encode(tpdu[offset..]);
            offset += RdpNegRequest.Length;
        }

        CorrelationInfo?.Encode(tpdu[offset..]);
        return frame;
    }

    /// <summary>The request's cookie, routing token, requested protocols and flags, for the log (the correlation info is left out).</summary>
    public override string ToString() =>
        $"X.224 Connection Request {{ cookie = {Cookie ?? "(none)"}, routingToken = {RoutingToken ?? "(none)"}, "
        + $"requestedProtocols = {NegotiationRequest?.RequestedProtocols.Name() ?? "(no RDP_NEG_REQ)"}, flags = {NegotiationRequest?.Flags} }}";

    private static int WriteToken(Span<byte> destination, string prefix, string value)
    {
        int written = Encoding.Latin1.GetBytes(prefix, destination);
        written += Encoding.Latin1.GetBytes(value, destination[written..]);
        destination[written++] = 0x0D;
        destination[written++] = 0x0A;
        return written;
    }

    private static void ValidateToken(string? token, string parameterName)
    {
        if (token is null)
        {
            return;
        }

        foreach (char c in token)
        {
            if (c > '\u00FF')
            {
                throw new ArgumentException("Tokens are single-byte (ANSI) text: chars above U+00FF cannot be sent.", parameterName);
            }
        }

        if (token.Contains("\r\n", StringComparison.Ordinal))
        {
            throw new ArgumentException("A token must not contain CR LF: it terminates the token.", parameterName);
        }
    }
}
