namespace RdpNla.Server.FrontDoor;

/// <summary>
/// The NLA front door's listener: accepts TCP connections on every configured endpoint, applies the pre-authentication
/// connection caps, and runs one <see cref="FrontDoorConnection"/> per client. Stopping closes the listeners, cancels
/// the handshakes in progress and waits for every connection task.
/// </summary>
public sealed class FrontDoorServer : IAsyncDisposable
{
    private readonly FrontDoorOptions _options;
    private readonly FrontDoorContext _context;
    private readonly ILogger _logger;
    private readonly List<Socket> _listeners = [];
    private readonly List<Task> _acceptLoops = [];
    private readonly ConcurrentDictionary<long, Task> _connections = new();
    private readonly CancellationTokenSource _stopping = new();
    private long _nextConnectionId;

    internal FrontDoorServer(FrontDoorContext context)
    {
        _context = context;
        _options = context.StartOptions;
        _logger = context.Logger;
    }

    /// <summary>The endpoints actually bound (useful with port 0).</summary>
    public IReadOnlyList<IPEndPoint> LocalEndPoints => _listeners.Select(l => (IPEndPoint)l.LocalEndPoint!).ToList();

    /// <summary>Whether every listener is bound and accepting (false once stopping).</summary>
    public bool IsListening => _listeners.Count > 0 && !_stopping.IsCancellationRequested;

    /// <summary>Connections currently running (handshake or session).</summary>
    public int ActiveConnections => _connections.Count;

    /// <summary>Binds every endpoint and starts accepting.</summary>
    /// <exception cref="ListenFailedException">
    /// An endpoint cannot be bound (in use, no permission for ports below 1024, not an address of this machine); the
    /// endpoints bound before it are closed again.
    /// </exception>
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
            catch (SocketException ex)
            {
                socket.Dispose();
                CloseListeners();
                throw new ListenFailedException(nameof(FrontDoorOptions.Listen), endpoint, ex);
            }
            catch
            {
                socket.Dispose();
                CloseListeners();
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
        // OpenSSH MaxStartups: the total cap and random early drop apply at accept, before anything is read.
        if (_context.Gate.TryEnter() is RejectionReason refusal)
        {
            _context.Reject(refusal, (IPEndPoint)client.RemoteEndPoint!, null);
            client.LingerState = new LingerOption(true, 0);
            client.Dispose();
            return;
        }

        long id = Interlocked.Increment(ref _nextConnectionId);
        var connection = new FrontDoorConnection(client, _context);
        Task task = RunConnectionAsync(connection, id);
        _connections[id] = task;
    }

    private async Task RunConnectionAsync(FrontDoorConnection connection, long id)
    {
        try
        {
            await Task.Yield();
            await connection.RunAsync(id, _stopping.Token).ConfigureAwait(false);
        }
        finally
        {
            await connection.DisposeAsync().ConfigureAwait(false);
            _connections.TryRemove(id, out _);
        }
    }

    /// <summary>Closes the endpoints <see cref="Start"/> bound before one failed: nothing stays bound.</summary>
    private void CloseListeners()
    {
        foreach (Socket listener in _listeners)
        {
            listener.Dispose();
        }

        _listeners.Clear();
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
