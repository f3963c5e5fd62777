namespace RdpNla.Server.FrontDoor;

/// <summary>The account database failed, or did not answer within Limits:StoreTimeout.</summary>
internal sealed class AccountStoreException : Exception
{
    public AccountStoreException()
    {
        Operation = string.Empty;
    }

    public AccountStoreException(string message)
        : base(message)
    {
        Operation = string.Empty;
    }

    public AccountStoreException(string message, Exception innerException)
        : base(message, innerException)
    {
        Operation = string.Empty;
    }

    internal AccountStoreException(string operation, bool busy, string message, Exception? innerException)
        : base(message, innerException)
    {
        Operation = operation;
        Busy = busy;
    }

    /// <summary>What the server was doing, e.g. "the account lookup".</summary>
    public string Operation { get; }

    /// <summary>True when the database did not answer in time (locked or slow) rather than failing.</summary>
    public bool Busy { get; }
}

/// <summary>
/// Runs one connection's calls to its own database: off the connection's thread (Microsoft.Data.Sqlite blocks while
/// the file is locked), bounded by Limits:StoreTimeout, with the client's clocks (handshake and phase deadlines,
/// minimum data rate) paused meanwhile, because that time is the server's, not the client's. Database faults
/// (<see cref="DbException"/>, <see cref="InvalidDataException"/>) and timeouts become <see cref="AccountStoreException"/>.
/// </summary>
internal sealed class StoreWaits(TimeSpan timeout, TimeProvider timeProvider, ILogger logger, Action pause, Action resume)
{
    public TimeSpan Timeout => timeout;

    public async Task<T> RunAsync<T>(string operation, Func<CancellationToken, Task<T>> call, CancellationToken cancellationToken)
    {
        pause();
        FrontDoorLog.WaitingOnStore(logger, operation);
        try
        {
            using var bound = new CancellationTokenSource(timeout, timeProvider);
            using var linked = CancellationTokenSource.CreateLinkedTokenSource(bound.Token, cancellationToken);
            Task<T> task = Task.Run(() => call(linked.Token), CancellationToken.None);
            try
            {
                T result = await task.WaitAsync(timeout, timeProvider, cancellationToken).ConfigureAwait(false);
                FrontDoorLog.StoreAnswered(logger);
                return result;
            }
            catch (TimeoutException ex)
            {
                // The abandoned call finishes (or fails) on its own; observe it so that it is not reported as unobserved.
                _ = task.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
                throw new AccountStoreException(operation, busy: true, $"{operation} waited longer than {timeout} (Limits:StoreTimeout)", ex);
            }
            catch (OperationCanceledException ex) when (bound.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
            {
                throw new AccountStoreException(operation, busy: true, $"{operation} waited longer than {timeout} (Limits:StoreTimeout)", ex);
            }
            catch (Exception ex) when (ex is DbException or InvalidDataException)
            {
                throw new AccountStoreException(operation, busy: false, ex.Message, ex);
            }
        }
        finally
        {
            resume();
        }
    }
}

/// <summary>A timeout on a <see cref="CancellationTokenSource"/> that can be stopped and restarted (the server waits on itself).</summary>
internal sealed class PausableTimeout(CancellationTokenSource timer, TimeSpan timeout, TimeProvider timeProvider)
{
    private readonly long _start = timeProvider.GetTimestamp();
    private TimeSpan _paused;
    private long _pausedAt;
    private int _pauses;
    private bool _stopped;

    /// <summary>Stops the timeout for good (the handshake is over).</summary>
    public void Stop()
    {
        _stopped = true;
        Try(() => timer.CancelAfter(System.Threading.Timeout.InfiniteTimeSpan));
    }

    public void Pause()
    {
        if (_pauses++ == 0)
        {
            _pausedAt = timeProvider.GetTimestamp();
            Try(() => timer.CancelAfter(System.Threading.Timeout.InfiniteTimeSpan));
        }
    }

    public void Resume()
    {
        if (_pauses == 0 || --_pauses > 0)
        {
            return;
        }

        _paused += timeProvider.GetElapsedTime(_pausedAt);
        if (_stopped)
        {
            return;
        }

        TimeSpan remaining = timeout - (timeProvider.GetElapsedTime(_start) - _paused);
        Try(() => timer.CancelAfter(remaining > TimeSpan.Zero ? remaining : TimeSpan.FromTicks(1)));
    }

    private static void Try(Action action)
    {
        try
        {
            action();
        }
        catch (ObjectDisposedException)
        {
            // The phase or the connection ended meanwhile.
        }
    }
}
