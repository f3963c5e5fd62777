namespace RdpNla.Protocol.Rdp;

/// <summary>RDP_NEG_REQ.flags (MS-RDPBCGR §2.2.1.1.1).</summary>
[Flags]
public enum RdpNegRequestFlags : byte
{
    /// <summary>No flag set.</summary>
    None = 0x00,

    /// <summary>RESTRICTED_ADMIN_MODE_REQUIRED: the client requires Restricted Admin mode.</summary>
    RestrictedAdminModeRequired = 0x01,

    /// <summary>REDIRECTED_AUTHENTICATION_MODE_REQUIRED: the client requires Remote Credential Guard.</summary>
    RedirectedAuthenticationModeRequired = 0x02,

    /// <summary>CORRELATION_INFO_PRESENT: an RDP_NEG_CORRELATION_INFO follows the RDP_NEG_REQ.</summary>
    CorrelationInfoPresent = 0x08,
}

/// <summary>RDP Negotiation Request, RDP_NEG_REQ (MS-RDPBCGR §2.2.1.1.1): 8 bytes, little-endian.</summary>
/// <param name="Flags">The request flags; unknown bits are kept.</param>
/// <param name="RequestedProtocols">The security protocols the client supports; unknown bits are kept.</param>
public sealed record RdpNegRequest(RdpNegRequestFlags Flags, SecurityProtocols RequestedProtocols)
{
    /// <summary>TYPE_RDP_NEG_REQ.</summary>
    public const byte Type = 0x01;

    /// <summary>The fixed length of the structure.</summary>
    public const int Length = 8;

    /// <summary>Decodes exactly <see cref="Length"/> bytes.</summary>
    /// <exception cref="NlaProtocolException">The bytes are not an RDP_NEG_REQ.</exception>
    public static RdpNegRequest Decode(ReadOnlySpan<byte> source)
    {
        var reader = new WireReader(source, "RDP_NEG_REQ");
        NegotiationStructure.ReadHeader(ref reader, Type, Length, "RDP_NEG_REQ", "MS-RDPBCGR §2.2.1.1.1", out byte flags);
        var protocols = (SecurityProtocols)reader.ReadUInt32();
        NegotiationStructure.EnsureEnd(ref reader, "RDP_NEG_REQ", "MS-RDPBCGR §2.2.1.1.1");
        return new RdpNegRequest((RdpNegRequestFlags)flags, protocols);
    }

    /// <summary>Writes the 8 bytes.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than 8 bytes.</exception>
    public void Encode(Span<byte> destination) =>
        NegotiationStructure.Write(destination, Type, (byte)Flags, Length, (uint)RequestedProtocols);
}

/// <summary>The common 8-byte layout of RDP_NEG_REQ/RSP/FAILURE: type, flags, length (LE 16), a 32-bit value.</summary>
internal static class NegotiationStructure
{
    public static void ReadHeader(ref WireReader reader, byte expectedType, int expectedLength, string name, string spec, out byte flags)
    {
        byte type = reader.ReadByte();
        if (type != expectedType)
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, $"{name}.type is 0x{type:X2}, expected 0x{expectedType:X2}.", spec);
        }

        flags = reader.ReadByte();
        ushort length = reader.ReadUInt16();
        if (length != expectedLength)
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, $"{name}.length is {length}, expected {expectedLength}.", spec);
        }
    }

    public static void EnsureEnd(ref WireReader reader, string name, string spec)
    {
        if (reader.Remaining != 0)
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, $"{name} is followed by {reader.Remaining} unexpected bytes.", spec);
        }
    }

    public static void Write(Span<byte> destination, byte type, byte flags, int length, uint value)
    {
        if (destination.Length < 8)
        {
            throw new ArgumentException("The destination is shorter than 8 bytes.", nameof(destination));
        }

        destination[0] = type;
        destination[1] = flags;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], (ushort)length);
        BinaryPrimitives.WriteUInt32LittleEndian(destination[4..], value);
    }
}
