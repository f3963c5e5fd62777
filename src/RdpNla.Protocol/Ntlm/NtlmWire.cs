namespace RdpNla.Protocol.Ntlm;

/// <summary>Shared wire helpers for the three NTLM messages (MS-NLMP §2.2.1): header, fields, strings, payload layout.</summary>
internal static class NtlmWire
{
    /// <summary>"NTLMSSP\0".</summary>
    public static ReadOnlySpan<byte> Signature => "NTLMSSP\0"u8;

    private static readonly UnicodeEncoding s_strictUnicode = new(bigEndian: false, byteOrderMark: false, throwOnInvalidBytes: true);

    /// <summary>A "fields" triple (Len, MaxLen, BufferOffset); MaxLen is ignored on input.</summary>
    public readonly record struct Field(ushort Length, uint Offset);

    public static void ReadHeader(ref WireReader reader, uint expectedType, string structure)
    {
        if (!reader.ReadBytes(8).SequenceEqual(Signature))
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, $"{structure} does not start with \"NTLMSSP\\0\".", "MS-NLMP §2.2.1");
        }

        uint type = reader.ReadUInt32();
        if (type != expectedType)
        {
            throw new NlaProtocolException(
                NlaFailureReason.UnexpectedMessage,
                $"Expected NTLM message type {expectedType} ({structure}), got {type}.",
                "MS-NLMP §2.2.1");
        }
    }

    /// <summary>
    /// A reader past the signature and MessageType of a message that has fixed fields up to <paramref name="minimumLength"/>;
    /// a shorter message is refused, citing <paramref name="spec"/>.
    /// </summary>
    public static WireReader ReadHeader(ReadOnlySpan<byte> source, uint expectedType, string structure, int minimumLength, string spec)
    {
        var reader = new WireReader(source, structure);
        ReadHeader(ref reader, expectedType, structure);
        if (source.Length < minimumLength)
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, $"{structure} is shorter than {minimumLength} bytes.", spec);
        }

        return reader;
    }

    public static Field ReadField(ref WireReader reader)
    {
        ushort length = reader.ReadUInt16();
        reader.Skip(2);
        uint offset = reader.ReadUInt32();
        return new Field(length, offset);
    }

    /// <summary>The field's bytes; an empty field is empty whatever its offset.</summary>
    public static ReadOnlySpan<byte> Payload(ReadOnlySpan<byte> message, Field field, string structure, string name)
    {
        if (field.Length == 0)
        {
            return [];
        }

        if ((ulong)field.Offset + field.Length > (ulong)message.Length)
        {
            throw new NlaProtocolException(
                NlaFailureReason.Malformed,
                $"{structure}.{name} points outside the message (offset {field.Offset}, length {field.Length}, message {message.Length} bytes).",
                "MS-NLMP §2.2.1");
        }

        return message.Slice((int)field.Offset, field.Length);
    }

    /// <summary>The lowest offset of a non-empty field: where the payload starts, hence how long the fixed header is.</summary>
    public static long LowestPayloadOffset(int messageLength, params ReadOnlySpan<Field> fields)
    {
        long lowest = messageLength;
        foreach (Field field in fields)
        {
            if (field.Length > 0 && field.Offset < lowest)
            {
                lowest = field.Offset;
            }
        }

        return lowest;
    }

    public static string DecodeUnicode(ReadOnlySpan<byte> bytes, string name)
    {
        if (bytes.Length % 2 != 0)
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, $"{name} has an odd number of bytes for UTF-16.", "MS-NLMP §2.2");
        }

        try
        {
            return s_strictUnicode.GetString(bytes);
        }
        catch (ArgumentException)
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, $"{name} is not valid UTF-16.", "MS-NLMP §2.2");
        }
    }

    // OEM strings are read as Latin-1 so that every byte sequence round-trips; CredSSP always negotiates Unicode.
    public static string DecodeString(ReadOnlySpan<byte> bytes, NegotiateFlags flags, string name) =>
        (flags & NegotiateFlags.Unicode) != 0 ? DecodeUnicode(bytes, name) : Encoding.Latin1.GetString(bytes);

    public static byte[] EncodeString(string value, NegotiateFlags flags) =>
        (flags & NegotiateFlags.Unicode) != 0 ? Encoding.Unicode.GetBytes(value) : Encoding.Latin1.GetBytes(value);

    /// <summary>Lays out a message: a fixed header followed by the payload fields in the order they are written.</summary>
    public sealed class Builder
    {
        private readonly byte[] _buffer;
        private int _payloadPosition;

        public Builder(int headerLength, uint messageType, params ReadOnlySpan<int> payloadLengths)
        {
            int total = headerLength;
            foreach (int length in payloadLengths)
            {
                if (length > ushort.MaxValue)
                {
                    throw new InvalidOperationException("An NTLM message field is longer than 65535 bytes.");
                }

                total += length;
            }

            _buffer = new byte[total];
            _payloadPosition = headerLength;
            Signature.CopyTo(_buffer);
            BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(8), messageType);
        }

        public Span<byte> Buffer => _buffer;

        public void WriteUInt32(int offset, uint value) => BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(offset), value);

        /// <summary>Appends <paramref name="data"/> to the payload and points the field at <paramref name="fieldOffset"/> to it.</summary>
        public void WriteField(int fieldOffset, ReadOnlySpan<byte> data)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(fieldOffset), (ushort)data.Length);
            BinaryPrimitives.WriteUInt16LittleEndian(_buffer.AsSpan(fieldOffset + 2), (ushort)data.Length);
            BinaryPrimitives.WriteUInt32LittleEndian(_buffer.AsSpan(fieldOffset + 4), (uint)_payloadPosition);
            data.CopyTo(_buffer.AsSpan(_payloadPosition));
            _payloadPosition += data.Length;
        }

        public byte[] ToArray() => _buffer;
    }
}
