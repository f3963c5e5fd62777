namespace RdpNla.Protocol.Rdp;

/// <summary>
/// RDP Correlation Info, RDP_NEG_CORRELATION_INFO (MS-RDPBCGR §2.2.1.1.2): 36 bytes sent after an RDP_NEG_REQ
/// whose flags contain CORRELATION_INFO_PRESENT.
/// </summary>
/// <remarks>
/// Decoding is tolerant: the spec's SHOULD NOTs on correlationId (first byte 0x00 or 0xF4, any byte 0x0D) and
/// the flags and reserved fields are not enforced (FreeRDP rejects them; we only report
/// <see cref="IsSpecCompliant"/>). Only type and length must be right.
/// </remarks>
public sealed class RdpNegCorrelationInfo : IEquatable<RdpNegCorrelationInfo>
{
    /// <summary>TYPE_RDP_CORRELATION_INFO.</summary>
    public const byte Type = 0x06;

    /// <summary>The fixed length of the structure.</summary>
    public const int Length = 36;

    /// <summary>The length of correlationId.</summary>
    public const int CorrelationIdLength = 16;

    private readonly byte[] _correlationId;

    /// <summary>Creates the structure around a 16-byte correlation identifier.</summary>
    /// <exception cref="ArgumentException"><paramref name="correlationId"/> is not 16 bytes.</exception>
    public RdpNegCorrelationInfo(ReadOnlySpan<byte> correlationId)
    {
        if (correlationId.Length != CorrelationIdLength)
        {
            throw new ArgumentException("correlationId must be 16 bytes.", nameof(correlationId));
        }

        _correlationId = correlationId.ToArray();
    }

    /// <summary>The 16-byte correlationId.</summary>
    public ReadOnlyMemory<byte> CorrelationId => _correlationId;

    /// <summary>
    /// Whether correlationId follows the spec's SHOULD NOTs: first byte neither 0x00 nor 0xF4, no byte 0x0D.
    /// </summary>
    public bool IsSpecCompliant =>
        _correlationId[0] is not (0x00 or 0xF4) && !_correlationId.AsSpan().Contains((byte)0x0D);

    /// <summary>Decodes exactly <see cref="Length"/> bytes.</summary>
    /// <exception cref="NlaProtocolException">The type or length is wrong, or the size is not 36 bytes.</exception>
    public static RdpNegCorrelationInfo Decode(ReadOnlySpan<byte> source)
    {
        const string Spec = "MS-RDPBCGR §2.2.1.1.2";
        var reader = new WireReader(source, "RDP_NEG_CORRELATION_INFO");
        byte type = reader.ReadByte();
        if (type != Type)
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, $"RDP_NEG_CORRELATION_INFO.type is 0x{type:X2}, expected 0x06.", Spec);
        }

        reader.Skip(1); // flags: MUST be 0, ignored.
        ushort length = reader.ReadUInt16();
        if (length != Length)
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, $"RDP_NEG_CORRELATION_INFO.length is {length}, expected 36.", Spec);
        }

        var info = new RdpNegCorrelationInfo(reader.ReadBytes(CorrelationIdLength));
        reader.Skip(16); // reserved: MUST be 0, ignored.
        NegotiationStructure.EnsureEnd(ref reader, "RDP_NEG_CORRELATION_INFO", Spec);
        return info;
    }

    /// <summary>Writes the 36 bytes (flags and reserved as zero).</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than 36 bytes.</exception>
    public void Encode(Span<byte> destination)
    {
        if (destination.Length < Length)
        {
            throw new ArgumentException("The destination is shorter than 36 bytes.", nameof(destination));
        }

        destination[..Length].Clear();
        destination[0] = Type;
        destination[2] = Length;
        _correlationId.CopyTo(destination[4..]);
    }

    /// <summary>True when <paramref name="other"/> carries the same 16-byte correlationId.</summary>
    public bool Equals(RdpNegCorrelationInfo? other) =>
        other is not null && _correlationId.AsSpan().SequenceEqual(other._correlationId);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as RdpNegCorrelationInfo);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        hash.AddBytes(_correlationId);
        return hash.ToHashCode();
    }

    /// <summary>The structure with its correlationId in lowercase hex, for the log.</summary>
    public override string ToString() => $"RDP_NEG_CORRELATION_INFO {{ correlationId = {Convert.ToHexStringLower(_correlationId)} }}";
}
