namespace RdpNla.Server.Gateway;

/// <summary>
/// One relayed session of this instance while it runs, as the portal's admin page shows it (docs/portal.md): who, from
/// where, to which backend, since when, and the bytes relayed each way so far. <see cref="Relaying"/> is false while the
/// backend leg is still being connected.
/// </summary>
public sealed record LiveSession(
    string ConnectionId,
    string? UserName,
    string ClientAddress,
    int ClientPort,
    string Backend,
    string FrontProtocol,
    string? BackendProtocol,
    DateTimeOffset Started,
    long BytesToBackend,
    long BytesToClient,
    bool Relaying);

/// <summary>
/// The relayed sessions running in this process. Each session adds itself when its relay starts and removes itself when
/// it ends (its row then goes to <c>gateway_sessions</c>); the list lives in memory, so it is per instance.
/// </summary>
public sealed class LiveSessions
{
    private readonly ConcurrentDictionary<object, Func<LiveSession>> _sessions = new();

    /// <summary>How many sessions run now.</summary>
    public int Count => _sessions.Count;

    /// <summary>The running sessions, oldest first, each read at this moment.</summary>
    public IReadOnlyList<LiveSession> Snapshot() =>
        [.. _sessions.Values.Select(read => read()).OrderBy(s => s.Started).ThenBy(s => s.ConnectionId, StringComparer.Ordinal)];

    /// <summary>Adds a running session, read through <paramref name="read"/>; disposing the result removes it.</summary>
    public IDisposable Add(Func<LiveSession> read)
    {
        ArgumentNullException.ThrowIfNull(read);
        var key = new object();
        _sessions[key] = read;
        return new Registration(this, key);
    }

    private sealed class Registration(LiveSessions owner, object key) : IDisposable
    {
        public void Dispose() => owner._sessions.TryRemove(key, out _);
    }
}
