namespace RdpNla.Server.Gateway;

/// <summary>
/// The stream under a relayed leg's <see cref="System.Net.Security.SslStream"/>, which buffers reads and writes once
/// the relay turns <see cref="BufferReads"/> and <see cref="BufferWrites"/> on. SslStream writes every TLS record (at
/// most 16 KiB of data, RFC 8446 §5.1) to its inner stream separately and reads about one record per call; here the
/// records of one relay batch are collected and leave in one send at <see cref="FlushAsync(CancellationToken)"/>, and
/// reads take up to 64 KiB from the socket at once. Most of a relay's CPU is the kernel's per-call work (TCP transmit,
/// delivery, the receiver's wake-up), so fewer, larger calls are what makes it cheaper (docs/BENCHMARKS.md (f)). Off
/// (the default, and during the handshakes; for writes also from the TLS shutdown on), both pass straight through. The
/// buffers come from the shared pool and go back as soon as they are empty, so an idle session holds none; they only
/// ever hold TLS ciphertext, so they are returned without clearing.
/// </summary>
internal sealed class RelayBufferingStream(Stream inner) : DelegatingStream(inner)
{
    // Three full TLS records with their headers and AEAD tags (RFC 8446 §5.2: at most 5 + 2^14 + 256 bytes each) fit.
    private const int Capacity = 64 * 1024;
    private byte[]? _pending;
    private int _count;
    private byte[]? _received;
    private int _receivedStart;
    private int _receivedEnd;

    /// <summary>Whether reads take what the socket has, up to 64 KiB, and serve SslStream from it (the relay turns it on for its source).</summary>
    public bool BufferReads { get; set; }

    /// <summary>Whether writes are held until the next flush (the relay turns it on for its destination, which it flushes after every batch).</summary>
    public bool BufferWrites { get; set; }

    /// <summary>Whether bytes read from the socket are waiting here to be taken.</summary>
    public bool HasReceivedData => _receivedEnd > _receivedStart;

    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (HasReceivedData)
        {
            return ValueTask.FromResult(TakeReceived(buffer.Span));
        }

        // A zero-byte read (the relay waiting for data) goes to the socket as it is: no buffer is taken for it.
        return BufferReads && buffer.Length is > 0 and < Capacity ? ReceiveAsync(buffer, cancellationToken) : Inner.ReadAsync(buffer, cancellationToken);
    }

    public override int Read(byte[] buffer, int offset, int count) =>
        HasReceivedData ? TakeReceived(buffer.AsSpan(offset, count)) : Inner.Read(buffer, offset, count);

    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
    {
        if (!BufferWrites || buffer.Length > Capacity - _count)
        {
            return WriteThroughAsync(buffer, cancellationToken);
        }

        _pending ??= ArrayPool<byte>.Shared.Rent(Capacity);
        buffer.Span.CopyTo(_pending.AsSpan(_count));
        _count += buffer.Length;
        return ValueTask.CompletedTask;
    }

    public override void Write(byte[] buffer, int offset, int count)
    {
        SendPending();
        Inner.Write(buffer, offset, count);
    }

    public override async Task FlushAsync(CancellationToken cancellationToken)
    {
        await SendPendingAsync(cancellationToken).ConfigureAwait(false);
        await Inner.FlushAsync(cancellationToken).ConfigureAwait(false);
    }

    public override void Flush()
    {
        SendPending();
        Inner.Flush();
    }

    private async ValueTask<int> ReceiveAsync(Memory<byte> buffer, CancellationToken cancellationToken)
    {
        _received = ArrayPool<byte>.Shared.Rent(Capacity);
        _receivedStart = 0;
        _receivedEnd = await Inner.ReadAsync(_received.AsMemory(0, Capacity), cancellationToken).ConfigureAwait(false);
        return TakeReceived(buffer.Span);
    }

    private int TakeReceived(Span<byte> destination)
    {
        int count = Math.Min(destination.Length, _receivedEnd - _receivedStart);
        _received.AsSpan(_receivedStart, count).CopyTo(destination);
        _receivedStart += count;
        if (_receivedStart == _receivedEnd)
        {
            ReturnReceived();
        }

        return count;
    }

    private void ReturnReceived()
    {
        if (_received is not null)
        {
            ArrayPool<byte>.Shared.Return(_received);
            _received = null;
            _receivedStart = _receivedEnd = 0;
        }
    }

    private async ValueTask WriteThroughAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken)
    {
        await SendPendingAsync(cancellationToken).ConfigureAwait(false);
        if (BufferWrites && buffer.Length <= Capacity)
        {
            _pending = ArrayPool<byte>.Shared.Rent(Capacity);
            buffer.Span.CopyTo(_pending);
            _count = buffer.Length;
            return;
        }

        await Inner.WriteAsync(buffer, cancellationToken).ConfigureAwait(false);
    }

    private async ValueTask SendPendingAsync(CancellationToken cancellationToken)
    {
        if (_count > 0)
        {
            int count = _count;
            _count = 0;
            await Inner.WriteAsync(_pending!.AsMemory(0, count), cancellationToken).ConfigureAwait(false);
            ReturnPending();
        }
    }

    private void ReturnPending()
    {
        if (_pending is not null)
        {
            ArrayPool<byte>.Shared.Return(_pending);
            _pending = null;
            _count = 0;
        }
    }

    private void SendPending()
    {
        if (_count > 0)
        {
            int count = _count;
            _count = 0;
            Inner.Write(_pending!, 0, count);
            ReturnPending();
        }
    }

    // The buffers are not returned here: a read or send of the other direction's teardown may still be using them, and
    // a returned array could then be filled or sent for another session. An abandoned buffer is left to the collector.
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            Inner.Dispose();
        }

        base.Dispose(disposing);
    }
}
