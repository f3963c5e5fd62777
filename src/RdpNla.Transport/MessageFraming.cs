namespace RdpNla.Transport;

/// <summary>
/// Reads whole TPKT frames and whole DER TSRequests from a stream without reading a byte past them: the bytes that
/// follow belong to the next layer (the TLS handshake after the X.224 Connection Request, MCS after CredSSP).
/// </summary>
public static class MessageFraming
{
    private const int TpktHeaderSize = Tpkt.HeaderLength;

    /// <summary>Reads one TPKT frame (header included).</summary>
    /// <exception cref="NlaProtocolException">The bytes are not a TPKT frame or exceed <paramref name="maxSize"/>.</exception>
    /// <exception cref="EndOfStreamException">The peer closed the connection before a whole frame arrived
    /// (<see cref="PeerClosedException"/> when it closed before the frame's first byte).</exception>
    public static async ValueTask<byte[]> ReadTpktFrameAsync(Stream stream, int maxSize, CancellationToken cancellationToken) =>
        await ReadTpktFrameOrEndAsync(stream, maxSize, cancellationToken).ConfigureAwait(false) ?? throw new PeerClosedException();

    /// <summary>
    /// Reads one TPKT frame (header included), or returns null when the peer closes the connection cleanly before the
    /// frame's first byte: for a reader to which that close is an ordinary end, not an error worth an exception.
    /// </summary>
    /// <exception cref="NlaProtocolException">The bytes are not a TPKT frame or exceed <paramref name="maxSize"/>.</exception>
    /// <exception cref="EndOfStreamException">The peer closed the connection in the middle of the frame.</exception>
    public static async ValueTask<byte[]?> ReadTpktFrameOrEndAsync(Stream stream, int maxSize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var header = new byte[TpktHeaderSize];
        if (!await TryReadFirstAsync(stream, header, cancellationToken).ConfigureAwait(false))
        {
            return null;
        }

        // With the 4-byte header alone, TryReadFrame answers NeedMoreData with the announced length, or InvalidData.
        OperationStatus status = Tpkt.TryReadFrame(new ReadOnlySequence<byte>(header), out int frameLength);
        if (status == OperationStatus.InvalidData)
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, $"Not a TPKT header: {header[0]:X2} {header[1]:X2} {header[2]:X2} {header[3]:X2}.", "T.123 §8");
        }

        if (frameLength > maxSize)
        {
            throw new NlaProtocolException(NlaFailureReason.MessageTooLarge, $"The TPKT frame announces {frameLength} bytes; the limit is {maxSize}.");
        }

        var frame = new byte[frameLength];
        header.CopyTo(frame, 0);
        await stream.ReadExactlyAsync(frame.AsMemory(TpktHeaderSize), cancellationToken).ConfigureAwait(false);
        return frame;
    }

    /// <summary>Reads one DER-encoded TSRequest (MS-CSSP §3.1: no TPKT; the end comes from the outer DER length).</summary>
    /// <exception cref="NlaProtocolException">The bytes are not a DER SEQUENCE or exceed <paramref name="maxSize"/>.</exception>
    /// <exception cref="EndOfStreamException">The peer closed the connection before a whole message arrived.</exception>
    public static async ValueTask<byte[]> ReadTsRequestAsync(Stream stream, int maxSize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);

        // The header (tag and length) is at most 6 bytes: read it byte by byte so nothing beyond the message is consumed.
        var header = new byte[6];
        int headerLength = 0;
        int messageLength;
        while (true)
        {
            if (headerLength == header.Length)
            {
                throw new NlaProtocolException(NlaFailureReason.Malformed, "The DER length of the TSRequest is too long.", "X.690 §8.1.3");
            }

            Memory<byte> next = header.AsMemory(headerLength, 1);
            if (headerLength == 0)
            {
                await ReadFirstAsync(stream, next, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await stream.ReadExactlyAsync(next, cancellationToken).ConfigureAwait(false);
            }

            headerLength++;
            // NeedMoreData with a non-zero length: the header is complete and announces the total length.
            OperationStatus status = TsRequest.TryGetMessageLength(new ReadOnlySequence<byte>(header, 0, headerLength), maxSize, out messageLength, out NlaFailureReason invalidReason);
            if (status == OperationStatus.Done || (status == OperationStatus.NeedMoreData && messageLength > 0))
            {
                break;
            }

            if (status == OperationStatus.InvalidData)
            {
                throw invalidReason == NlaFailureReason.MessageTooLarge
                    ? new NlaProtocolException(NlaFailureReason.MessageTooLarge, $"The TSRequest announces more than the {maxSize}-byte limit.")
                    : new NlaProtocolException(NlaFailureReason.Malformed, $"Not a DER TSRequest (first byte {header[0]:X2}).", "MS-CSSP §2.2.1");
            }
        }

        var message = new byte[messageLength];
        header.AsSpan(0, headerLength).CopyTo(message);
        await stream.ReadExactlyAsync(message.AsMemory(headerLength), cancellationToken).ConfigureAwait(false);
        return message;
    }

    /// <summary>Writes one TSRequest in a single write, so it travels in one TLS record (MS-CSSP §3.1.5 note &lt;8&gt;).</summary>
    public static async ValueTask WriteMessageAsync(Stream stream, byte[] message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        await stream.WriteAsync(message, cancellationToken).ConfigureAwait(false);
        await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    private static async ValueTask ReadFirstAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        if (!await TryReadFirstAsync(stream, buffer, cancellationToken).ConfigureAwait(false))
        {
            throw new PeerClosedException();
        }
    }

    /// <summary>Fills <paramref name="buffer"/>; false when the peer closed before its first byte.</summary>
    private static async ValueTask<bool> TryReadFirstAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        int read = await stream.ReadAtLeastAsync(buffer, buffer.Length, throwOnEndOfStream: false, cancellationToken).ConfigureAwait(false);
        if (read > 0 && read < buffer.Length)
        {
            throw new EndOfStreamException($"The peer closed the connection after {read} of {buffer.Length} header bytes.");
        }

        return read > 0;
    }
}

/// <summary>The peer closed the connection cleanly between two messages.</summary>
public sealed class PeerClosedException : EndOfStreamException
{
    /// <summary>Creates the exception with a generic message.</summary>
    public PeerClosedException()
        : base("The peer closed the connection.")
    {
    }

    /// <summary>Creates the exception with a message saying where the connection ended.</summary>
    /// <param name="message">What was expected when the peer closed.</param>
    public PeerClosedException(string message)
        : base(message)
    {
    }

    /// <summary>Creates the exception with a message and the exception of the stream that reported the close.</summary>
    /// <param name="message">What was expected when the peer closed.</param>
    /// <param name="innerException">The stream's exception.</param>
    public PeerClosedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
