namespace RdpNla.Protocol.Asn1;

/// <summary>
/// A strict reader over one level of untrusted ASN.1 content, built on <see cref="AsnDecoder"/>.
/// It reads BER definite lengths (so non-minimal long-form lengths from lenient peers are accepted, as MS-CSSP
/// implementations do) but rejects indefinite lengths and constructed (segmented) string encodings, which no
/// CredSSP or SPNEGO peer sends. Every failure is an <see cref="NlaProtocolException"/> or an exception that
/// <see cref="Der.IsDecodeFailure"/> recognises; public decoders wrap the latter with <see cref="Der.Malformed"/>.
/// </summary>
internal ref struct DerReader
{
    private const AsnEncodingRules Rules = AsnEncodingRules.BER;

    private ReadOnlySpan<byte> _data;
    private readonly string _structure;

    public DerReader(ReadOnlySpan<byte> data, string structure)
    {
        _data = data;
        _structure = structure;
    }

    public readonly bool HasData => !_data.IsEmpty;

    /// <summary>
    /// Reads <paramref name="encoded"/> as exactly one SEQUENCE (nothing may follow it) and returns a reader over its
    /// content: the outer level of every structure this layer decodes.
    /// </summary>
    public static DerReader ReadSingleSequence(ReadOnlySpan<byte> encoded, string structure)
    {
        var outer = new DerReader(encoded, structure);
        DerReader sequence = outer.ReadSequence();
        outer.End();
        return sequence;
    }

    /// <summary>True when the next element has exactly <paramref name="tag"/> (class, number and constructed bit).</summary>
    public readonly bool PeekTagIs(Asn1Tag tag) =>
        !_data.IsEmpty && Asn1Tag.TryDecode(_data, out Asn1Tag actual, out _) && actual == tag;

    /// <summary>The tag of the next element; throws when there is none or it does not decode.</summary>
    public readonly Asn1Tag PeekTag()
    {
        if (_data.IsEmpty)
        {
            throw Fail("is truncated: an element is missing");
        }

        return Asn1Tag.Decode(_data, out _);
    }

    /// <summary>Reads the whole next element (tag, length and content) and returns its encoding.</summary>
    public ReadOnlySpan<byte> ReadEncodedValue() => ReadTlv(out _, out _);

    /// <summary>Reads a SEQUENCE (or a constructed element with <paramref name="tag"/>) and returns a reader over its content.</summary>
    public DerReader ReadSequence(Asn1Tag? tag = null, string? structure = null)
    {
        Asn1Tag expected = tag ?? Asn1Tag.Sequence;
        ReadTlv(out Asn1Tag actual, out ReadOnlySpan<byte> content);
        Expect(actual, expected);
        return new DerReader(content, structure ?? _structure);
    }

    /// <summary>Reads an explicit context tag <c>[n]</c> and returns a reader over the element it wraps.</summary>
    public DerReader ReadExplicit(int contextNumber) => ReadSequence(Der.Context(contextNumber));

    /// <summary>Reads the optional explicit context tag <c>[n]</c> if it is the next element.</summary>
    public bool TryReadExplicit(int contextNumber, out DerReader inner)
    {
        if (PeekTagIs(Der.Context(contextNumber)))
        {
            inner = ReadExplicit(contextNumber);
            return true;
        }

        inner = default;
        return false;
    }

    /// <summary>Reads <c>[n] OCTET STRING</c> if it is the next element; null when absent.</summary>
    public byte[]? ReadOptionalExplicitOctetString(int contextNumber)
    {
        if (!TryReadExplicit(contextNumber, out DerReader field))
        {
            return null;
        }

        byte[] value = field.ReadOctetString().ToArray();
        field.End();
        return value;
    }

    /// <summary>Reads the mandatory <c>[n] OCTET STRING</c>; the span points into the input (no copy).</summary>
    public ReadOnlySpan<byte> ReadExplicitOctetString(int contextNumber)
    {
        DerReader field = ReadExplicit(contextNumber);
        ReadOnlySpan<byte> value = field.ReadOctetString();
        field.End();
        return value;
    }

    /// <summary>Reads the mandatory <c>[n] INTEGER</c> that must fit in an int.</summary>
    public int ReadExplicitInt32(int contextNumber)
    {
        DerReader field = ReadExplicit(contextNumber);
        int value = field.ReadInt32();
        field.End();
        return value;
    }

    /// <summary>Reads a primitive element with <paramref name="tag"/> and returns its content octets.</summary>
    public ReadOnlySpan<byte> ReadPrimitive(Asn1Tag tag)
    {
        ReadTlv(out Asn1Tag actual, out ReadOnlySpan<byte> content);
        Expect(actual, tag);
        return content;
    }

    /// <summary>Reads a primitive OCTET STRING. Constructed (BER segmented) OCTET STRINGs are refused.</summary>
    public ReadOnlySpan<byte> ReadOctetString() => ReadPrimitive(Asn1Tag.PrimitiveOctetString);

    public int ReadInt32() =>
        AsnDecoder.TryReadInt32(ReadTlv(Asn1Tag.Integer), Rules, out int value, out _)
            ? value
            : throw Fail("has an INTEGER that does not fit in 32 bits");

    public long ReadInt64() =>
        AsnDecoder.TryReadInt64(ReadTlv(Asn1Tag.Integer), Rules, out long value, out _)
            ? value
            : throw Fail("has an INTEGER that does not fit in 64 bits");

    /// <summary>Reads an ENUMERATED and returns its value when it fits in an int.</summary>
    public int ReadEnumerated()
    {
        ReadOnlySpan<byte> tlv = ReadTlv(Asn1Tag.Enumerated);
        ReadOnlySpan<byte> bytes = AsnDecoder.ReadEnumeratedBytes(tlv, Rules, out _);
        if (bytes.Length > 4)
        {
            throw Fail("has an ENUMERATED that does not fit in 32 bits");
        }

        return (int)new BigInteger(bytes, isUnsigned: false, isBigEndian: true);
    }

    public string ReadObjectIdentifier()
    {
        return AsnDecoder.ReadObjectIdentifier(ReadTlv(Asn1Tag.ObjectIdentifier), Rules, out _);
    }

    /// <summary>Reads a primitive BIT STRING; returns the content after the unused-bits octet.</summary>
    public ReadOnlySpan<byte> ReadBitString(out int unusedBitCount)
    {
        ReadOnlySpan<byte> tlv = ReadTlv(Asn1Tag.PrimitiveBitString);
        if (!AsnDecoder.TryReadPrimitiveBitString(tlv, Rules, out unusedBitCount, out ReadOnlySpan<byte> value, out _))
        {
            throw Fail("has a constructed BIT STRING");
        }

        return value;
    }

    /// <summary>Throws unless every byte of this level has been consumed (DER SEQUENCE: no unknown or out-of-order fields).</summary>
    public readonly void End()
    {
        if (!_data.IsEmpty)
        {
            throw Fail($"has {_data.Length} unexpected trailing bytes (unknown, duplicate or out-of-order field)");
        }
    }

    public readonly NlaProtocolException Fail(string problem) =>
        new(NlaFailureReason.Malformed, $"{_structure} {problem}.");

    private readonly void Expect(Asn1Tag actual, Asn1Tag expected)
    {
        if (actual != expected)
        {
            throw Fail($"has tag {Describe(actual)} where {Describe(expected)} was expected");
        }
    }

    private static string Describe(Asn1Tag tag) => tag.TagClass switch
    {
        TagClass.Universal => $"UNIVERSAL {tag.TagValue}",
        TagClass.ContextSpecific => $"[{tag.TagValue}]",
        TagClass.Application => $"[APPLICATION {tag.TagValue}]",
        _ => $"[PRIVATE {tag.TagValue}]",
    } + (tag.IsConstructed ? " (constructed)" : " (primitive)");

    /// <summary>Reads an element that must have <paramref name="expected"/> and returns its whole encoding (for AsnDecoder).</summary>
    private ReadOnlySpan<byte> ReadTlv(Asn1Tag expected)
    {
        ReadOnlySpan<byte> tlv = ReadTlv(out Asn1Tag actual, out _);
        Expect(actual, expected);
        return tlv;
    }

    private ReadOnlySpan<byte> ReadTlv(out Asn1Tag tag, out ReadOnlySpan<byte> content)
    {
        if (_data.IsEmpty)
        {
            throw Fail("is truncated: an element is missing");
        }

        tag = Asn1Tag.Decode(_data, out int tagLength);
        AsnDecoder.ReadEncodedValue(_data, Rules, out int contentOffset, out int contentLength, out int consumed);

        // BER allows the indefinite form (0x80) for constructed elements; DER forbids it and no peer uses it.
        if (_data[tagLength] == 0x80)
        {
            throw Fail("uses an indefinite length");
        }

        ReadOnlySpan<byte> tlv = _data[..consumed];
        content = tlv.Slice(contentOffset, contentLength);
        _data = _data[consumed..];
        return tlv;
    }
}

/// <summary>Small DER helpers shared by the CredSSP and SPNEGO codecs.</summary>
internal static class Der
{
    /// <summary>The constructed context-specific tag <c>[n]</c> used for EXPLICIT tagging.</summary>
    public static Asn1Tag Context(int number) => new(TagClass.ContextSpecific, number, isConstructed: true);

    /// <summary>The exceptions System.Formats.Asn1 and the text decoders raise for bad input.</summary>
    public static bool IsDecodeFailure(Exception exception) =>
        exception is AsnContentException or CryptographicException or ArgumentException
            or InvalidOperationException or OverflowException or FormatException;

    public static NlaProtocolException Malformed(string structure, Exception inner) =>
        new($"{structure} is not a valid encoding: {inner.Message}", inner);

    /// <summary>A decoder of one structure from its bytes.</summary>
    public delegate T Decoder<T>(ReadOnlySpan<byte> encoded);

    /// <summary>Runs <paramref name="decode"/>; a decode failure becomes <see cref="Malformed"/> for <paramref name="structure"/>.</summary>
    public static T Decode<T>(ReadOnlySpan<byte> encoded, string structure, Decoder<T> decode)
    {
        try
        {
            return decode(encoded);
        }
        catch (Exception e) when (IsDecodeFailure(e))
        {
            throw Malformed(structure, e);
        }
    }

    /// <summary>A DER writer; secrets written into it are cleared by <see cref="AsnWriter.Reset"/>.</summary>
    public static AsnWriter CreateWriter(int initialCapacity = 0) => new(AsnEncodingRules.DER, initialCapacity);

    /// <summary>Writes <c>[n] OCTET STRING</c> when <paramref name="value"/> is not null.</summary>
    public static void WriteOptionalExplicitOctetString(AsnWriter writer, int contextNumber, byte[]? value)
    {
        if (value is not null)
        {
            WriteExplicitOctetString(writer, contextNumber, value);
        }
    }

    public static void WriteExplicitOctetString(AsnWriter writer, int contextNumber, ReadOnlySpan<byte> value)
    {
        using (writer.PushSequence(Context(contextNumber)))
        {
            writer.WriteOctetString(value);
        }
    }

    public static void WriteExplicitInteger(AsnWriter writer, int contextNumber, long value)
    {
        using (writer.PushSequence(Context(contextNumber)))
        {
            writer.WriteInteger(value);
        }
    }

    /// <summary>
    /// Writes a primitive element with a universal tag AsnWriter has no writer for (e.g. GeneralString, 0x1B),
    /// with a minimal DER length.
    /// </summary>
    public static void WritePrimitive(AsnWriter writer, byte tag, ReadOnlySpan<byte> content)
    {
        int lengthOctets = content.Length < 0x80 ? 0 : content.Length <= 0xFF ? 1 : content.Length <= 0xFFFF ? 2 : content.Length <= 0xFFFFFF ? 3 : 4;
        byte[] tlv = new byte[2 + lengthOctets + content.Length];
        tlv[0] = tag;
        if (lengthOctets == 0)
        {
            tlv[1] = (byte)content.Length;
        }
        else
        {
            tlv[1] = (byte)(0x80 | lengthOctets);
            for (int i = 0; i < lengthOctets; i++)
            {
                tlv[2 + i] = (byte)(content.Length >> (8 * (lengthOctets - 1 - i)));
            }
        }

        content.CopyTo(tlv.AsSpan(2 + lengthOctets));
        writer.WriteEncodedValue(tlv);
    }

    /// <summary>Encodes the writer's content into a new array and wipes the writer's buffer.</summary>
    public static byte[] EncodeAndReset(AsnWriter writer)
    {
        byte[] encoded = writer.Encode();
        writer.Reset();
        return encoded;
    }
}
