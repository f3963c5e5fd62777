namespace RdpNla.Transport;

/// <summary>
/// A stream that passes reads, writes and flushes through to another stream: the base of the wrappers that watch or
/// limit the bytes of a connection, which override the members they look at. It cannot seek, and disposing it leaves
/// the inner stream open (the owner of the connection closes that).
/// </summary>
public abstract class DelegatingStream : Stream
{
    /// <summary>Wraps <paramref name="inner"/>.</summary>
    /// <param name="inner">The stream every call passes through to.</param>
    /// <exception cref="ArgumentNullException"><paramref name="inner"/> is null.</exception>
    protected DelegatingStream(Stream inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        Inner = inner;
    }

    /// <inheritdoc/>
    public override bool CanRead => Inner.CanRead;

    /// <summary>False: a connection cannot seek.</summary>
    public override bool CanSeek => false;

    /// <inheritdoc/>
    public override bool CanWrite => Inner.CanWrite;

    /// <summary>Not supported: a connection has no length.</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    public override long Length => throw new NotSupportedException();

    /// <summary>Not supported: a connection has no position.</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

    /// <summary>The stream every call passes through to.</summary>
    protected Stream Inner { get; }

#pragma warning disable RS0027 // The overloads and their optional parameters are Stream's; these only override them.
    /// <inheritdoc/>
    public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default) =>
        Inner.ReadAsync(buffer, cancellationToken);

    /// <inheritdoc/>
    /// <remarks>Reads through <see cref="ReadAsync(Memory{byte}, CancellationToken)"/>, so that a wrapper overrides only that one.</remarks>
    public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc/>
    public override int Read(byte[] buffer, int offset, int count) => Inner.Read(buffer, offset, count);

    /// <inheritdoc/>
    public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default) => Inner.WriteAsync(buffer, cancellationToken);
#pragma warning restore RS0027

    /// <inheritdoc/>
    /// <remarks>Writes through <see cref="WriteAsync(ReadOnlyMemory{byte}, CancellationToken)"/>, so that a wrapper overrides only that one.</remarks>
    public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
        WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

    /// <inheritdoc/>
    public override void Write(byte[] buffer, int offset, int count) => Inner.Write(buffer, offset, count);

    /// <inheritdoc/>
    public override Task FlushAsync(CancellationToken cancellationToken) => Inner.FlushAsync(cancellationToken);

    /// <inheritdoc/>
    public override void Flush() => Inner.Flush();

    /// <summary>Not supported: a connection cannot seek.</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

    /// <summary>Not supported: a connection has no length.</summary>
    /// <exception cref="NotSupportedException">Always.</exception>
    public override void SetLength(long value) => throw new NotSupportedException();
}
