namespace RdpNla.Protocol.Wire;

/// <summary>
/// A bounds-checked little-endian reader over untrusted bytes. Every read that would run past the end raises
/// <see cref="NlaProtocolException"/>, so decoders built on it are total.
/// </summary>
internal ref struct WireReader
{
    private readonly ReadOnlySpan<byte> _buffer;
    private readonly string _structure;

    public WireReader(ReadOnlySpan<byte> buffer, string structure)
    {
        _buffer = buffer;
        _structure = structure;
        Position = 0;
    }

    public int Position { get; private set; }

    public readonly int Remaining => _buffer.Length - Position;

    public readonly ReadOnlySpan<byte> RemainingBytes => _buffer[Position..];

    public byte ReadByte() => Take(1)[0];

    public ushort ReadUInt16() => BinaryPrimitives.ReadUInt16LittleEndian(Take(2));

    public ushort ReadUInt16BigEndian() => BinaryPrimitives.ReadUInt16BigEndian(Take(2));

    public uint ReadUInt32() => BinaryPrimitives.ReadUInt32LittleEndian(Take(4));

    public ulong ReadUInt64() => BinaryPrimitives.ReadUInt64LittleEndian(Take(8));

    public ReadOnlySpan<byte> ReadBytes(int count) => Take(count);

    public void Skip(int count) => Take(count);

    public ReadOnlySpan<byte> Take(int count)
    {
        if (count < 0 || count > Remaining)
        {
            throw new NlaProtocolException(
                NlaFailureReason.Malformed,
                $"{_structure} is truncated: {count} more bytes needed at offset {Position}, {Remaining} left.");
        }

        ReadOnlySpan<byte> slice = _buffer.Slice(Position, count);
        Position += count;
        return slice;
    }

    /// <summary>Returns the <paramref name="length"/> bytes at <paramref name="offset"/> of the whole buffer (for offset/length fields).</summary>
    public readonly ReadOnlySpan<byte> Slice(uint offset, uint length, string field)
    {
        if ((ulong)offset + length > (ulong)_buffer.Length)
        {
            throw new NlaProtocolException(
                NlaFailureReason.Malformed,
                $"{_structure}.{field} points outside the message (offset {offset}, length {length}, message {_buffer.Length} bytes).");
        }

        return _buffer.Slice((int)offset, (int)length);
    }
}
