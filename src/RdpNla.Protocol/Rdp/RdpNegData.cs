namespace RdpNla.Protocol.Rdp;

/// <summary>
/// The optional 8-byte rdpNegData of an X.224 Connection Confirm (MS-RDPBCGR §2.2.1.2): either an
/// <see cref="RdpNegResponse"/> or an <see cref="RdpNegFailure"/>.
/// </summary>
public abstract record RdpNegData
{
    private protected RdpNegData()
    {
    }

    /// <summary>The fixed length of both variants.</summary>
    public const int Length = 8;

    /// <summary>Decodes exactly 8 bytes as RDP_NEG_RSP (type 0x02) or RDP_NEG_FAILURE (type 0x03).</summary>
    /// <exception cref="NlaProtocolException">The bytes are neither.</exception>
    public static RdpNegData Decode(ReadOnlySpan<byte> source)
    {
        if (source.IsEmpty)
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, "rdpNegData is empty.", "MS-RDPBCGR §2.2.1.2");
        }

        return source[0] switch
        {
            RdpNegResponse.Type => RdpNegResponse.Decode(source),
            RdpNegFailure.Type => RdpNegFailure.Decode(source),
            _ => throw new NlaProtocolException(
                NlaFailureReason.Malformed,
                $"rdpNegData.type is 0x{source[0]:X2}, expected 0x02 (RDP_NEG_RSP) or 0x03 (RDP_NEG_FAILURE).",
                "MS-RDPBCGR §2.2.1.2"),
        };
    }

    /// <summary>Writes the 8 bytes.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than 8 bytes.</exception>
    public abstract void Encode(Span<byte> destination);
}

/// <summary>RDP_NEG_RSP.flags (MS-RDPBCGR §2.2.1.2.1).</summary>
[Flags]
public enum RdpNegResponseFlags : byte
{
    /// <summary>No flag set.</summary>
    None = 0x00,

    /// <summary>EXTENDED_CLIENT_DATA_SUPPORTED: the server supports Extended Client Data Blocks.</summary>
    ExtendedClientDataSupported = 0x01,

    /// <summary>DYNVC_GFX_PROTOCOL_SUPPORTED: the server supports the Graphics Pipeline Extension.</summary>
    DynvcGfxProtocolSupported = 0x02,

    /// <summary>NEGRSP_FLAG_RESERVED: unused, ignored by clients.</summary>
    Reserved = 0x04,

    /// <summary>RESTRICTED_ADMIN_MODE_SUPPORTED: the server supports Restricted Admin mode.</summary>
    RestrictedAdminModeSupported = 0x08,

    /// <summary>REDIRECTED_AUTHENTICATION_MODE_SUPPORTED: the server supports Remote Credential Guard.</summary>
    RedirectedAuthenticationModeSupported = 0x10,
}

/// <summary>RDP Negotiation Response, RDP_NEG_RSP (MS-RDPBCGR §2.2.1.2.1).</summary>
/// <param name="Flags">The response flags; unknown bits are kept.</param>
/// <param name="SelectedProtocol">
/// The protocol the server selected: one PROTOCOL_* value. Decoding does not check that exactly one bit is set or
/// that the client requested it: that is the client's decision (FreeRDP fails the connection in that case).
/// </param>
public sealed record RdpNegResponse(RdpNegResponseFlags Flags, SecurityProtocols SelectedProtocol) : RdpNegData
{
    /// <summary>TYPE_RDP_NEG_RSP.</summary>
    public const byte Type = 0x02;

    /// <summary>Decodes exactly 8 bytes.</summary>
    /// <exception cref="NlaProtocolException">The bytes are not an RDP_NEG_RSP.</exception>
    public static new RdpNegResponse Decode(ReadOnlySpan<byte> source)
    {
        var reader = new WireReader(source, "RDP_NEG_RSP");
        NegotiationStructure.ReadHeader(ref reader, Type, Length, "RDP_NEG_RSP", "MS-RDPBCGR §2.2.1.2.1", out byte flags);
        var selected = (SecurityProtocols)reader.ReadUInt32();
        NegotiationStructure.EnsureEnd(ref reader, "RDP_NEG_RSP", "MS-RDPBCGR §2.2.1.2.1");
        return new RdpNegResponse((RdpNegResponseFlags)flags, selected);
    }

    /// <inheritdoc/>
    public override void Encode(Span<byte> destination) =>
        NegotiationStructure.Write(destination, Type, (byte)Flags, Length, (uint)SelectedProtocol);
}

/// <summary>RDP Negotiation Failure, RDP_NEG_FAILURE (MS-RDPBCGR §2.2.1.2.2). The server closes the connection after it.</summary>
/// <param name="FailureCode">The failure code; values outside 1..6 are kept as they are.</param>
public sealed record RdpNegFailure(NegotiationFailureCode FailureCode) : RdpNegData
{
    /// <summary>TYPE_RDP_NEG_FAILURE.</summary>
    public const byte Type = 0x03;

    /// <summary>Decodes exactly 8 bytes. The flags byte (MUST be 0) is ignored.</summary>
    /// <exception cref="NlaProtocolException">The bytes are not an RDP_NEG_FAILURE.</exception>
    public static new RdpNegFailure Decode(ReadOnlySpan<byte> source)
    {
        var reader = new WireReader(source, "RDP_NEG_FAILURE");
        NegotiationStructure.ReadHeader(ref reader, Type, Length, "RDP_NEG_FAILURE", "MS-RDPBCGR §2.2.1.2.2", out _);
        uint code = reader.ReadUInt32();
        NegotiationStructure.EnsureEnd(ref reader, "RDP_NEG_FAILURE", "MS-RDPBCGR §2.2.1.2.2");
        return new RdpNegFailure((NegotiationFailureCode)code);
    }

    /// <inheritdoc/>
    public override void Encode(Span<byte> destination) =>
        NegotiationStructure.Write(destination, Type, 0, Length, (uint)FailureCode);

    /// <summary>The structure with its failureCode's name, for the log.</summary>
    public override string ToString() => $"RDP_NEG_FAILURE {{ failureCode = {FailureCode.Name()} }}";
}
