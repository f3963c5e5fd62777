namespace RdpNla.Protocol.Spnego;

/// <summary>
/// ContextFlags (RFC 4178 §4.2.1), a named BIT STRING; bit n of the ASN.1 type is value <c>1 &lt;&lt; n</c> here.
/// <code>
/// ContextFlags ::= BIT STRING {
///         delegFlag (0), mutualFlag (1), replayFlag (2), sequenceFlag (3),
///         anonFlag (4), confFlag (5), integFlag (6)
/// }
/// </code>
/// </summary>
[Flags]
public enum ContextFlags : uint
{
    /// <summary>No flag set.</summary>
    None = 0,

    /// <summary>delegFlag (0).</summary>
    Delegation = 1 << 0,

    /// <summary>mutualFlag (1).</summary>
    Mutual = 1 << 1,

    /// <summary>replayFlag (2).</summary>
    Replay = 1 << 2,

    /// <summary>sequenceFlag (3).</summary>
    Sequence = 1 << 3,

    /// <summary>anonFlag (4).</summary>
    Anonymous = 1 << 4,

    /// <summary>confFlag (5).</summary>
    Confidentiality = 1 << 5,

    /// <summary>integFlag (6).</summary>
    Integrity = 1 << 6,
}

internal static class ContextFlagsCodec
{
    /// <summary>Reads the named bit list; bits beyond 31 are ignored (no such flags are defined).</summary>
    public static ContextFlags Read(ref DerReader reader)
    {
        ReadOnlySpan<byte> bits = reader.ReadBitString(out int unusedBitCount);
        long bitCount = (bits.Length * 8L) - unusedBitCount;
        uint flags = 0;
        for (int i = 0; i < Math.Min(bitCount, 32); i++)
        {
            if ((bits[i >> 3] & (0x80 >> (i & 7))) != 0)
            {
                flags |= 1u << i;
            }
        }

        return (ContextFlags)flags;
    }

    /// <summary>Writes the DER named bit list: trailing zero bits removed (X.690 §11.2.2).</summary>
    public static void Write(AsnWriter writer, ContextFlags flags)
    {
        uint value = (uint)flags;
        if (value == 0)
        {
            writer.WriteBitString(ReadOnlySpan<byte>.Empty);
            return;
        }

        int highest = 31 - BitOperations.LeadingZeroCount(value);
        Span<byte> bytes = stackalloc byte[4];
        bytes.Clear();
        for (int i = 0; i <= highest; i++)
        {
            if ((value & (1u << i)) != 0)
            {
                bytes[i >> 3] |= (byte)(0x80 >> (i & 7));
            }
        }

        writer.WriteBitString(bytes[..((highest >> 3) + 1)], 7 - (highest & 7));
    }
}
