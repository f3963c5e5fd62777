namespace RdpNla.Server.Mfa;

/// <summary>A connection held at the NLA step until its user approves it on the portal.</summary>
public sealed record PendingConnection(long ConnectionId, string UserName, IPEndPoint Client, DateTimeOffset Since, string Backend);

/// <summary>How a hold ended.</summary>
public enum ApprovalOutcome
{
    /// <summary>The user approved it with a current code.</summary>
    Approved,

    /// <summary>A wrong code was presented for it.</summary>
    Denied,

    /// <summary>Nobody approved it within <see cref="MfaOptions.ApprovalTimeout"/>.</summary>
    TimedOut,

    /// <summary>The user already has <see cref="MfaOptions.MaxPendingPerUser"/> connections held.</summary>
    TooManyPending,
}

/// <summary>The connections held for approval, per user, oldest first. Thread-safe; in memory (a restart drops them with their connections).</summary>
public sealed class ConnectionApprovals
{
    private readonly Lock _lock = new();
    private readonly Dictionary<string, List<Held>> _byUser = new(StringComparer.Ordinal);
    private readonly TimeProvider _timeProvider;
    private readonly int _maxPerUser;

    public ConnectionApprovals(TimeProvider timeProvider, int maxPerUser)
    {
        _timeProvider = timeProvider;
        _maxPerUser = maxPerUser;
    }

    /// <summary>The user's held connections, oldest first.</summary>
    public IReadOnlyList<PendingConnection> Pending(string userName)
    {
        lock (_lock)
        {
            return _byUser.TryGetValue(AccountName.NormalizeUserName(userName), out List<Held>? list) ? list.Select(h => h.Connection).ToList() : [];
        }
    }

    /// <summary>Every held connection (for the count in metrics and tests).</summary>
    public int Count
    {
        get
        {
            lock (_lock)
            {
                return _byUser.Values.Sum(l => l.Count);
            }
        }
    }

    /// <summary>Holds <paramref name="connection"/> until it is resolved or <paramref name="timeout"/> passes.</summary>
    public async Task<ApprovalOutcome> WaitAsync(PendingConnection connection, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(connection);
        var held = new Held(connection);
        string key = AccountName.NormalizeUserName(connection.UserName);
        lock (_lock)
        {
            if (!_byUser.TryGetValue(key, out List<Held>? list))
            {
                _byUser[key] = list = [];
            }

            if (list.Count >= _maxPerUser)
            {
                return ApprovalOutcome.TooManyPending;
            }

            list.Add(held);
        }

        try
        {
            return await held.Outcome.Task.WaitAsync(timeout, _timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            return ApprovalOutcome.TimedOut;
        }
        finally
        {
            lock (_lock)
            {
                if (_byUser.TryGetValue(key, out List<Held>? list))
                {
                    list.Remove(held);
                    if (list.Count == 0)
                    {
                        _byUser.Remove(key);
                    }
                }
            }
        }
    }

    /// <summary>Approves or denies the user's oldest held connection; returns it, or null when none is held.</summary>
    public PendingConnection? ResolveOldest(string userName, bool approve)
    {
        lock (_lock)
        {
            if (!_byUser.TryGetValue(AccountName.NormalizeUserName(userName), out List<Held>? list))
            {
                return null;
            }

            foreach (Held held in list)
            {
                if (held.Outcome.TrySetResult(approve ? ApprovalOutcome.Approved : ApprovalOutcome.Denied))
                {
                    return held.Connection;
                }
            }

            return null;
        }
    }

    private sealed class Held(PendingConnection connection)
    {
        public PendingConnection Connection { get; } = connection;

        public TaskCompletionSource<ApprovalOutcome> Outcome { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
    }
}
