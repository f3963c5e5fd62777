namespace RdpNla.Protocol.Rdp;

/// <summary>
/// TPKT framing (RFC 1006 / ITU-T T.123 §8, as used by MS-RDPBCGR §2.2.1.1): a 4-byte header
/// <c>version=3, reserved=0, length (big-endian, including the header)</c> followed by an X.224 TPDU.
/// </summary>
public static class Tpkt
{
    /// <summary>The TPKT version byte.</summary>
    public const byte Version = 3;

    /// <summary>The size of the TPKT header.</summary>
    public const int HeaderLength = 4;

    /// <summary>
    /// The smallest frame accepted: the header plus the shortest X.224 TPDU (a 3-byte Data TPDU).
    /// An X.224 Connection Request needs at least 11 bytes; <see cref="X224ConnectionRequest"/> checks that.
    /// </summary>
    public const int MinimumFrameLength = 7;

    /// <summary>The largest frame the 16-bit length can describe.</summary>
    public const int MaximumFrameLength = ushort.MaxValue;

    /// <summary>
    /// Looks for one complete TPKT frame at the start of <paramref name="buffer"/> (streaming framing).
    /// </summary>
    /// <param name="buffer">The bytes received so far; may hold more than one frame.</param>
    /// <param name="frameLength">
    /// On <see cref="OperationStatus.Done"/>, the length of the first frame (header included). On
    /// <see cref="OperationStatus.NeedMoreData"/>, the announced length once the header is complete, otherwise 0.
    /// On <see cref="OperationStatus.InvalidData"/>, 0.
    /// </param>
    /// <returns>
    /// <see cref="OperationStatus.Done"/>; <see cref="OperationStatus.NeedMoreData"/>; or
    /// <see cref="OperationStatus.InvalidData"/> when the first byte is not 3, the reserved byte is not 0, or the
    /// length is below <see cref="MinimumFrameLength"/>. Never throws.
    /// </returns>
    public static OperationStatus TryReadFrame(ReadOnlySequence<byte> buffer, out int frameLength)
    {
        Span<byte> header = stackalloc byte[HeaderLength];
        int available = (int)Math.Min(buffer.Length, HeaderLength);
        buffer.Slice(0, available).CopyTo(header);
        return TryReadFrame(header[..available], buffer.Length, out frameLength);
    }

    /// <summary>Span overload of <see cref="TryReadFrame(ReadOnlySequence{byte}, out int)"/>.</summary>
    public static OperationStatus TryReadFrame(ReadOnlySpan<byte> buffer, out int frameLength) =>
        TryReadFrame(buffer[..Math.Min(buffer.Length, HeaderLength)], buffer.Length, out frameLength);

    private static OperationStatus TryReadFrame(ReadOnlySpan<byte> header, long totalLength, out int frameLength)
    {
        frameLength = 0;

        // Reject as early as possible, e.g. a TLS ClientHello (0x16) or HTTP sent to the RDP port.
        if (header.Length >= 1 && header[0] != Version)
        {
            return OperationStatus.InvalidData;
        }

        if (header.Length >= 2 && header[1] != 0)
        {
            return OperationStatus.InvalidData;
        }

        if (header.Length < HeaderLength)
        {
            return OperationStatus.NeedMoreData;
        }

        int length = BinaryPrimitives.ReadUInt16BigEndian(header[2..]);
        if (length < MinimumFrameLength)
        {
            return OperationStatus.InvalidData;
        }

        frameLength = length;
        return totalLength >= length ? OperationStatus.Done : OperationStatus.NeedMoreData;
    }

    /// <summary>
    /// Checks the TPKT header of a whole frame and returns its payload (the X.224 TPDU).
    /// </summary>
    /// <exception cref="NlaProtocolException">The header is invalid or its length differs from the frame's.</exception>
    public static ReadOnlySpan<byte> GetPayload(ReadOnlySpan<byte> frame)
    {
        OperationStatus status = TryReadFrame(frame, out int length);
        if (status != OperationStatus.Done || length != frame.Length)
        {
            throw new NlaProtocolException(
                NlaFailureReason.Malformed,
                status switch
                {
                    OperationStatus.InvalidData => "TPKT header is invalid (version, reserved byte or length).",
                    OperationStatus.NeedMoreData => $"TPKT frame is truncated: {frame.Length} bytes, header announces {length}.",
                    _ => $"TPKT length {length} differs from the frame size {frame.Length}.",
                },
                "T.123 §8");
        }

        return frame[HeaderLength..];
    }

    /// <summary>Writes a TPKT header announcing <paramref name="frameLength"/> bytes (header included).</summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="frameLength"/> is outside 7..65535.</exception>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than 4 bytes.</exception>
    public static void WriteHeader(Span<byte> destination, int frameLength)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(frameLength, MinimumFrameLength);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(frameLength, MaximumFrameLength);
        if (destination.Length < HeaderLength)
        {
            throw new ArgumentException("The destination is shorter than a TPKT header.", nameof(destination));
        }

        destination[0] = Version;
        destination[1] = 0;
        BinaryPrimitives.WriteUInt16BigEndian(destination[2..], (ushort)frameLength);
    }

    /// <summary>
    /// A frame of <paramref name="frameLength"/> bytes for an X.224 connection TPDU (MS-RDPBCGR §2.2.1.1, §2.2.1.2):
    /// the TPKT header, the length indicator and <paramref name="tpduCode"/> written, DST-REF, SRC-REF and class left 0.
    /// </summary>
    /// <param name="frameLength">The frame's length, header included.</param>
    /// <param name="tpduCode">The TPDU code (CR or CC, credit 0).</param>
    /// <param name="tpdu">The frame after the TPKT header.</param>
    internal static byte[] NewConnectionFrame(int frameLength, byte tpduCode, out Span<byte> tpdu)
    {
        byte[] frame = new byte[frameLength];
        WriteHeader(frame, frame.Length);
        tpdu = frame.AsSpan(HeaderLength);
        tpdu[0] = (byte)(tpdu.Length - 1);
        tpdu[1] = tpduCode;
        return frame;
    }

    /// <summary>Returns <paramref name="payload"/> wrapped in a TPKT frame.</summary>
    /// <exception cref="ArgumentOutOfRangeException">The frame would be shorter than 7 or longer than 65535 bytes.</exception>
    public static byte[] Wrap(ReadOnlySpan<byte> payload)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(payload.Length, MaximumFrameLength - HeaderLength, nameof(payload));
        ArgumentOutOfRangeException.ThrowIfLessThan(payload.Length, MinimumFrameLength - HeaderLength, nameof(payload));
        byte[] frame = new byte[HeaderLength + payload.Length];
        WriteHeader(frame, frame.Length);
        payload.CopyTo(frame.AsSpan(HeaderLength));
        return frame;
    }
}
