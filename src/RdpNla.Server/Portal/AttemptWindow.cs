namespace RdpNla.Server.Portal;

/// <summary>
/// Counts attempts per key (a user, a client address) in a sliding window of one minute and refuses those beyond
/// <c>limit()</c> (read at each attempt, so a reloaded setting applies); memory stays bounded by forgetting keys whose attempts have all aged out.
/// </summary>
internal sealed class AttemptWindow(TimeProvider timeProvider, Func<int> limit)
{
    private const int MaxKeys = 10_000;
    private static readonly TimeSpan Window = TimeSpan.FromMinutes(1);
    private readonly Dictionary<string, Queue<long>> _attempts = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>The attempts allowed per key per minute.</summary>
    public int Limit => limit();

    /// <summary>Counts an attempt of <paramref name="key"/>; false (not counted) when it made <see cref="Limit"/> in the last minute.</summary>
    public bool TryCount(string key)
    {
        long now = timeProvider.GetTimestamp();
        lock (_lock)
        {
            if (!_attempts.TryGetValue(key, out Queue<long>? attempts))
            {
                _attempts[key] = attempts = new Queue<long>();
            }

            while (attempts.Count > 0 && timeProvider.GetElapsedTime(attempts.Peek(), now) >= Window)
            {
                attempts.Dequeue();
            }

            if (attempts.Count >= limit())
            {
                return false;
            }

            attempts.Enqueue(now);
            if (_attempts.Count > MaxKeys)
            {
                foreach (string old in _attempts.Where(p => p.Value.Count == 0 || timeProvider.GetElapsedTime(p.Value.Last(), now) >= Window).Select(p => p.Key).ToList())
                {
                    _attempts.Remove(old);
                }
            }

            return true;
        }
    }
}
