namespace RdpNla.Server.FrontDoor;

/// <summary>
/// Bounds the rate of one log line that every connection would otherwise write during an outage (a failing account
/// database): the first line passes, then at most one per <see cref="Interval"/>, and the line that passes says how
/// many were held back since the previous one. <see cref="Recovered"/> reports, once, that the fault is over.
/// </summary>
internal sealed class LogRateGate(TimeSpan interval, TimeProvider timeProvider)
{
    /// <summary>The interval of the store fault lines (docs/high-availability.md, "Faults").</summary>
    public static readonly TimeSpan StoreFaultInterval = TimeSpan.FromSeconds(10);

    private readonly Lock _lock = new();
    private long _lastPassed;
    private bool _passedAny;
    private int _held;
    private int _faultsSinceRecovery;

    public TimeSpan Interval => interval;

    /// <summary>Whether a line may be written now; <paramref name="held"/> lines were held back since the last one that passed.</summary>
    public bool TryPass(out int held)
    {
        lock (_lock)
        {
            _faultsSinceRecovery++;
            long now = timeProvider.GetTimestamp();
            if (_passedAny && timeProvider.GetElapsedTime(_lastPassed, now) < interval)
            {
                _held++;
                held = 0;
                return false;
            }

            held = _held;
            _held = 0;
            _passedAny = true;
            _lastPassed = now;
            return true;
        }
    }

    /// <summary>After a success: the number of faults since the last recovery (once, then 0); 0 when there were none.</summary>
    public int Recovered()
    {
        if (Volatile.Read(ref _faultsSinceRecovery) == 0)
        {
            return 0;
        }

        lock (_lock)
        {
            int faults = _faultsSinceRecovery;
            _faultsSinceRecovery = 0;
            _held = 0;
            _passedAny = false;
            return faults;
        }
    }
}
