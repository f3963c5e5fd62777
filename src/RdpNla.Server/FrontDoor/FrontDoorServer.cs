using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Logging;

namespace RdpNla.Server.FrontDoor;

/// <summary>
/// The NLA front door's listener: accepts TCP connections on every configured endpoint, applies the pre-authentication
/// connection caps, and runs one <see cref="FrontDoorConnection"/> per client. Stopping closes the listeners, cancels
/// the handshakes in progress and waits for every connection task.
/// </summary>
public sealed class FrontDoorServer : IAsyncDisposable
{
    private readonly FrontDoorOptions _options;
    private readonly Func<Socket, FrontDoorConnection> _createConnection;
    private readonly ILogger _logger;
    private readonly List<Socket> _listeners = [];
    private readonly List<Task> _acceptLoops = [];
    private readonly ConcurrentDictionary<long, Task> _connections = new();
    private readonly ConcurrentDictionary<IPAddress, int> _unauthenticatedPerAddress = new();
    private readonly CancellationTokenSource _stopping = new();
    private int _unauthenticated;
    private long _nextConnectionId;

    internal FrontDoorServer(FrontDoorOptions options, Func<Socket, FrontDoorConnection> createConnection, ILogger logger)
    {
        _options = options;
        _createConnection = createConnection;
        _logger = logger;
    }

    /// <summary>The endpoints actually bound (useful with port 0).</summary>
    public IReadOnlyList<IPEndPoint> LocalEndPoints => _listeners.Select(l => (IPEndPoint)l.LocalEndPoint!).ToList();

    /// <summary>Connections currently running (handshake or session).</summary>
    public int ActiveConnections => _connections.Count;

    /// <summary>Binds every endpoint and starts accepting.</summary>
    /// <exception cref="SocketException">An endpoint cannot be bound (in use, or no permission for ports below 1024).</exception>
    public void Start()
    {
        IEnumerable<string> endpoints = _options.Listen.Count == 0 ? ["127.0.0.1:3389"] : _options.Listen;
        foreach (string text in endpoints)
        {
            if (!ListenEndpoint.TryParse(text, out IPEndPoint? endpoint, out string? problem))
            {
                throw new InvalidOperationException($"Listen '{text}': {problem}");
            }

            var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                if (endpoint.AddressFamily == AddressFamily.InterNetworkV6 && endpoint.Address.Equals(IPAddress.IPv6Any))
                {
                    socket.DualMode = false;
                }

                socket.Bind(endpoint);
                socket.Listen(512);
            }
            catch
            {
                socket.Dispose();
                throw;
            }

            _listeners.Add(socket);
            FrontDoorLog.Listening(_logger, (IPEndPoint)socket.LocalEndPoint!);
        }

        foreach (Socket listener in _listeners)
        {
            _acceptLoops.Add(AcceptLoopAsync(listener));
        }
    }

    private async Task AcceptLoopAsync(Socket listener)
    {
        while (!_stopping.IsCancellationRequested)
        {
            Socket client;
            try
            {
                client = await listener.AcceptAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (ObjectDisposedException)
            {
                return;
            }
            catch (SocketException ex)
            {
                // Transient accept failures (e.g. the client reset before accept): keep serving.
                FrontDoorLog.ConnectionError(_logger, "accept", ex.SocketErrorCode.ToString());
                continue;
            }

            Admit(client);
        }
    }

    private void Admit(Socket client)
    {
        var remote = (IPEndPoint)client.RemoteEndPoint!;
        IPAddress address = remote.Address.IsIPv4MappedToIPv6 ? remote.Address.MapToIPv4() : remote.Address;
        string? refusal = null;
        if (Interlocked.Increment(ref _unauthenticated) > _options.Limits.MaxUnauthenticatedConnections)
        {
            refusal = $"{_options.Limits.MaxUnauthenticatedConnections} unauthenticated connections already (Limits:MaxUnauthenticatedConnections)";
        }
        else if (_unauthenticatedPerAddress.AddOrUpdate(address, 1, (_, n) => n + 1) > _options.Limits.MaxUnauthenticatedConnectionsPerAddress)
        {
            refusal = $"{_options.Limits.MaxUnauthenticatedConnectionsPerAddress} unauthenticated connections from {address} already (Limits:MaxUnauthenticatedConnectionsPerAddress)";
            ReleaseAddress(address);
        }

        if (refusal is not null)
        {
            Interlocked.Decrement(ref _unauthenticated);
            using (_logger.BeginScope(new Dictionary<string, object> { ["RemoteEndPoint"] = remote.ToString() }))
            {
                FrontDoorLog.RefusedAtAccept(_logger, refusal);
            }

            client.LingerState = new LingerOption(true, 0);
            client.Dispose();
            return;
        }

        long id = Interlocked.Increment(ref _nextConnectionId);
        FrontDoorConnection connection = _createConnection(client);
        var released = 0;
        void ReleaseUnauthenticated()
        {
            if (Interlocked.Exchange(ref released, 1) == 0)
            {
                Interlocked.Decrement(ref _unauthenticated);
                ReleaseAddress(address);
            }
        }

        Task task = RunConnectionAsync(connection, id, ReleaseUnauthenticated);
        _connections[id] = task;
    }

    private async Task RunConnectionAsync(FrontDoorConnection connection, long id, Action releaseUnauthenticated)
    {
        try
        {
            await Task.Yield();
            await connection.RunAsync(id, releaseUnauthenticated, _stopping.Token).ConfigureAwait(false);
        }
        finally
        {
            releaseUnauthenticated();
            await connection.DisposeAsync().ConfigureAwait(false);
            _connections.TryRemove(id, out _);
        }
    }

    private void ReleaseAddress(IPAddress address)
    {
        while (_unauthenticatedPerAddress.TryGetValue(address, out int count))
        {
            if (count <= 1
                ? _unauthenticatedPerAddress.TryRemove(new KeyValuePair<IPAddress, int>(address, count))
                : _unauthenticatedPerAddress.TryUpdate(address, count - 1, count))
            {
                return;
            }
        }
    }

    /// <summary>Stops accepting, cancels handshakes in progress and waits for the connections to end.</summary>
    public async Task StopAsync(CancellationToken cancellationToken)
    {
        if (!_stopping.IsCancellationRequested)
        {
            await _stopping.CancelAsync().ConfigureAwait(false);
        }

        foreach (Socket listener in _listeners)
        {
            listener.Dispose();
        }

        await Task.WhenAll(_acceptLoops).WaitAsync(cancellationToken).ConfigureAwait(false);
        await Task.WhenAll(_connections.Values).WaitAsync(cancellationToken).ConfigureAwait(false);
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync(CancellationToken.None).ConfigureAwait(false);
        _stopping.Dispose();
    }
}
