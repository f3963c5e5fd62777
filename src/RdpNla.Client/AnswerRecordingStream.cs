namespace RdpNla.Client;

/// <summary>
/// Passes everything through to the connection and keeps a copy of the first bytes the server sent, so that an answer
/// that is not an X.224 Connection Confirm (an HTTP or SSH banner, a TLS alert) can be shown as it arrived.
/// </summary>
internal sealed class AnswerRecordingStream(Stream inner, int capacity) : DelegatingStream(inner)
{
    private readonly byte[] _received = new byte[capacity];
    private int _count;

    /// <summary>The first bytes read, up to the capacity.</summary>
    public ReadOnlySpan<byte> Received => _received.AsSpan(0, _count);

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int read = await Inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        Record(buffer.Span[..read]);
        return read;
    }

    public override int Read(byte[] buffer, int offset, int count)
    {
        int read = Inner.Read(buffer, offset, count);
        Record(buffer.AsSpan(offset, read));
        return read;
    }

    private void Record(ReadOnlySpan<byte> bytes)
    {
        int take = Math.Min(bytes.Length, _received.Length - _count);
        bytes[..take].CopyTo(_received.AsSpan(_count));
        _count += take;
    }
}
