namespace RdpNla.Server.Limits;

/// <summary>The client sent slower than the configured minimum data rate (a slowloris peer).</summary>
internal sealed class MinimumDataRateException : IOException
{
    public MinimumDataRateException()
    {
    }

    public MinimumDataRateException(string message)
        : base(message)
    {
    }

    public MinimumDataRateException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}

/// <summary>
/// Passes reads and writes through and, after a grace period, fails a read when the client's average rate since the
/// connection opened is below the minimum (Kestrel's MinRequestBodyDataRate). A peer that sends nothing at all is
/// ended by the handshake's phase deadlines instead. Time the server spends waiting on its own account database
/// (<see cref="Pause"/> to <see cref="Resume"/>) is not the client's and is left out of the rate.
/// </summary>
internal sealed class MinimumDataRateStream(Stream inner, double minimumBytesPerSecond, TimeSpan gracePeriod, TimeProvider timeProvider) : DelegatingStream(inner)
{
    private readonly long _start = timeProvider.GetTimestamp();
    private long _received;
    private TimeSpan _paused;
    private long _pausedAt;
    private int _pauses;

    public bool Enabled { get; set; } = minimumBytesPerSecond > 0;

    /// <summary>Stops the clock (nested calls allowed): the server waits on itself, not on the client.</summary>
    public void Pause()
    {
        if (_pauses++ == 0)
        {
            _pausedAt = timeProvider.GetTimestamp();
        }
    }

    /// <summary>Restarts the clock stopped by <see cref="Pause"/>.</summary>
    public void Resume()
    {
        if (_pauses > 0 && --_pauses == 0)
        {
            _paused += timeProvider.GetElapsedTime(_pausedAt);
        }
    }

    public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
    {
        int read = await Inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
        _received += read;
        Check();
        return read;
    }

    public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("Synchronous reads are not used.");

    private void Check()
    {
        if (!Enabled)
        {
            return;
        }

        TimeSpan elapsed = timeProvider.GetElapsedTime(_start) - _paused - (_pauses > 0 ? timeProvider.GetElapsedTime(_pausedAt) : TimeSpan.Zero);
        if (elapsed > gracePeriod && _received / elapsed.TotalSeconds < minimumBytesPerSecond)
        {
            throw new MinimumDataRateException(
                $"the client sent {_received} bytes in {elapsed.TotalSeconds:F1} s, below the minimum of {minimumBytesPerSecond} bytes/s (Limits:MinDataRate)");
        }
    }
}
