namespace RdpNla.Server.Limits;

/// <summary>
/// Bounds how often a kind of log message is written, so an attack cannot flood the log: at most
/// <c>burst</c> messages per key per <c>interval</c>; the next allowed message reports how many were suppressed.
/// </summary>
internal sealed class LogThrottle
{
    private readonly TimeProvider _timeProvider;
    private readonly int _burst;
    private readonly TimeSpan _interval;
    private readonly Lock _lock = new();
    private readonly Dictionary<string, Window> _windows = [];

    public LogThrottle(TimeProvider timeProvider, int burst = 10, TimeSpan? interval = null)
    {
        _timeProvider = timeProvider;
        _burst = burst;
        _interval = interval ?? TimeSpan.FromSeconds(10);
    }

    /// <summary>True when a message of <paramref name="key"/> may be written now; <paramref name="suppressed"/> is how many were dropped before it.</summary>
    public bool TryAcquire(string key, out long suppressed)
    {
        DateTimeOffset now = _timeProvider.GetUtcNow();
        lock (_lock)
        {
            if (!_windows.TryGetValue(key, out Window? window) || now - window.Start >= _interval)
            {
                long carried = window?.Suppressed ?? 0;
                window = new Window { Start = now, Suppressed = carried };
                _windows[key] = window;
            }

            if (window.Count < _burst)
            {
                window.Count++;
                suppressed = window.Suppressed;
                window.Suppressed = 0;
                return true;
            }

            window.Suppressed++;
            suppressed = 0;
            return false;
        }
    }

    private sealed class Window
    {
        public DateTimeOffset Start { get; init; }

        public int Count { get; set; }

        public long Suppressed { get; set; }
    }
}
