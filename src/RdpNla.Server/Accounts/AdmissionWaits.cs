namespace RdpNla.Server.Accounts;

/// <summary>
/// The logon attempts of this process that wait for a reservation (<see cref="AttemptAdmission.ThresholdInProgress"/>),
/// per account, at most a given number each; <see cref="Released"/> wakes them all when an attempt of the account is
/// recorded, which released a reservation. Attempts of other processes sharing the store are not seen here: waiters also
/// retry after a while (<see cref="AccountPolicy"/>).
/// </summary>
internal sealed class AdmissionWaits
{
    private readonly Dictionary<string, Queue> _queues = new(StringComparer.OrdinalIgnoreCase);
    private readonly Lock _lock = new();

    /// <summary>A place among the waiters of <paramref name="userName"/>, or null when <paramref name="maxWaiters"/> already wait.</summary>
    public Waiter? TryEnter(string userName, int maxWaiters)
    {
        lock (_lock)
        {
            if (!_queues.TryGetValue(userName, out Queue? queue))
            {
                if (maxWaiters < 1)
                {
                    return null;
                }

                queue = new Queue();
                _queues.Add(userName, queue);
            }
            else if (queue.Waiters >= maxWaiters)
            {
                return null;
            }

            queue.Waiters++;
            return new Waiter(this, userName, queue);
        }
    }

    /// <summary>An attempt of <paramref name="userName"/> was recorded: wakes every attempt waiting for that account.</summary>
    public void Released(string userName)
    {
        TaskCompletionSource? signal = null;
        lock (_lock)
        {
            if (_queues.TryGetValue(userName, out Queue? queue))
            {
                signal = queue.Signal;
                queue.Signal = NewSignal();
            }
        }

        signal?.TrySetResult();
    }

    /// <summary>How many attempts of <paramref name="userName"/> wait now.</summary>
    public int Waiting(string userName)
    {
        lock (_lock)
        {
            return _queues.TryGetValue(userName, out Queue? queue) ? queue.Waiters : 0;
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    internal sealed class Queue
    {
        public int Waiters;
        public TaskCompletionSource Signal = NewSignal();
    }

    /// <summary>One waiting attempt; dispose it to leave.</summary>
    internal sealed class Waiter : IDisposable
    {
        private readonly AdmissionWaits _owner;
        private readonly string _userName;
        private readonly Queue _queue;
        private bool _left;

        internal Waiter(AdmissionWaits owner, string userName, Queue queue)
        {
            _owner = owner;
            _userName = userName;
            _queue = queue;
        }

        /// <summary>Completes at the next <see cref="Released"/> of the account (take it before the reservation it follows).</summary>
        public Task NextRelease
        {
            get
            {
                lock (_owner._lock)
                {
                    return _queue.Signal.Task;
                }
            }
        }

        public void Dispose()
        {
            lock (_owner._lock)
            {
                if (_left)
                {
                    return;
                }

                _left = true;
                if (--_queue.Waiters == 0)
                {
                    _owner._queues.Remove(_userName);
                }
            }
        }
    }
}
