namespace RdpNla.Cli.Bench;

/// <summary>Settings of one <see cref="NlaBench"/> run.</summary>
public sealed class NlaBenchOptions
{
    /// <summary>Most idle plus slowloris connections one run may hold.</summary>
    public const int MaxHeldConnections = 60_000;

    /// <summary>Most closed-loop handshake workers.</summary>
    public const int MaxWorkers = 4_096;

    /// <summary>Longest run.</summary>
    public static readonly TimeSpan MaxDuration = TimeSpan.FromHours(1);

    /// <summary>Host name or IP address.</summary>
    public required string Host { get; init; }

    public int Port { get; init; } = NlaClientOptions.DefaultPort;

    /// <summary>Closed-loop workers, each running one full NLA handshake after the other (0: none).</summary>
    public int Connections { get; init; } = 1;

    /// <summary>Needed when <see cref="Connections"/> is above 0.</summary>
    public NlaCredentials? Credentials { get; init; }

    /// <summary>The security package of every handshake (<see cref="NlaClientOptions.Authentication"/>).</summary>
    public NlaAuthentication Authentication { get; init; } = NlaAuthentication.Ntlm;

    /// <summary>The Kerberos service principal (<see cref="NlaClientOptions.ServicePrincipal"/>).</summary>
    public string? ServicePrincipal { get; init; }

    /// <summary>How long the run lasts: workers start no handshake after it, held connections are closed at it.</summary>
    public TimeSpan Duration { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Stop starting handshakes after this many (null: only <see cref="Duration"/> ends the run).</summary>
    public long? MaxHandshakes { get; init; }

    /// <summary>Connections to open and hold without sending a byte (loopback targets only).</summary>
    public int Idle { get; init; }

    /// <summary>Connections to open and trickle bytes on, one every <see cref="SlowlorisInterval"/> (loopback targets only).</summary>
    public int Slowloris { get; init; }

    /// <summary>The pause between two bytes of a slowloris connection.</summary>
    public TimeSpan SlowlorisInterval { get; init; } = TimeSpan.FromSeconds(1);

    /// <summary>Open a new idle or slowloris connection when the server closes one (an attacker keeps the pressure on).</summary>
    public bool Reconnect { get; init; } = true;

    /// <summary>Local addresses to bind the connections to, used in turn (empty: the OS chooses).</summary>
    public IReadOnlyList<IPAddress> SourceAddresses { get; init; } = [];

    /// <summary>Timeout of one handshake.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    public SslProtocols TlsProtocols { get; init; } = SslProtocols.Tls12 | SslProtocols.Tls13;

    public SecurityProtocols RequestedProtocols { get; init; } = SecurityProtocols.Ssl | SecurityProtocols.Hybrid | SecurityProtocols.HybridEx;

    /// <summary>Connections opened at once while ramping up the held connections.</summary>
    public int RampConcurrency { get; init; } = 64;

    /// <summary>Called once every idle and slowloris connection asked for is open (a signal to start measuring).</summary>
    public Action<NlaBenchResult>? OnHeldTargetReached { get; init; }

    /// <summary>
    /// <c>127.x.y.z</c> addresses for <paramref name="count"/> sources, spread so that consecutive sources fall in
    /// different /24 networks (per-prefix limits see as few of them together as possible). Never 127.0.0.0/16.
    /// </summary>
    public static IReadOnlyList<IPAddress> LoopbackSources(int count)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        ArgumentOutOfRangeException.ThrowIfGreaterThan(count, 250 * 250 * 250);
        var addresses = new IPAddress[count];
        for (int k = 0; k < count; k++)
        {
            addresses[k] = new IPAddress([127, (byte)((k / 250 % 250) + 1), (byte)((k % 250) + 1), (byte)((k / 62_500) + 1)]);
        }

        return addresses;
    }

    /// <summary>Checks the settings; one message per problem.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Connections is < 0 or > MaxWorkers)
        {
            errors.Add($"the number of connections must be between 0 and {MaxWorkers}");
        }

        if (Connections > 0 && Credentials is null)
        {
            errors.Add("handshakes need credentials");
        }

        if (Idle < 0 || Slowloris < 0 || Idle + Slowloris > MaxHeldConnections)
        {
            errors.Add($"idle plus slowloris connections must be between 0 and {MaxHeldConnections}");
        }

        if (Duration <= TimeSpan.Zero || Duration > MaxDuration)
        {
            errors.Add($"the duration must be positive and at most {MaxDuration.TotalSeconds} s");
        }

        if (MaxHandshakes is <= 0)
        {
            errors.Add("the handshake count must be positive");
        }

        if (Connections == 0 && Idle == 0 && Slowloris == 0)
        {
            errors.Add("nothing to do: give handshake connections, idle connections or slowloris connections");
        }

        if (SlowlorisInterval <= TimeSpan.Zero)
        {
            errors.Add("the slowloris interval must be positive");
        }

        if ((Idle > 0 || Slowloris > 0 || SourceAddresses.Count > 0) && !IsLoopbackName(Host))
        {
            errors.Add($"idle, slowloris and spread-source modes only target loopback (127.0.0.0/8, ::1, localhost); '{Host}' is not loopback. They are attack tools: run them against a server on this machine only");
        }

        if (SourceAddresses.Any(a => !IPAddress.IsLoopback(a)))
        {
            errors.Add("source addresses must be loopback addresses (127.0.0.0/8 or ::1)");
        }

        return errors;
    }

    /// <summary>True for a loopback address literal or the name localhost.</summary>
    public static bool IsLoopbackName(string host) =>
        IPAddress.TryParse(host, out IPAddress? address) ? IPAddress.IsLoopback(address) : string.Equals(host, "localhost", StringComparison.OrdinalIgnoreCase);
}

/// <summary>What a held (idle or slowloris) connection mode did.</summary>
public sealed class HeldConnectionStats
{
    /// <summary>Connections asked for.</summary>
    public int Target { get; internal set; }

    /// <summary>TCP connections established (reconnections included).</summary>
    public long Opened { get; internal set; }

    /// <summary>Connection attempts that failed (refused, reset before established, timeout).</summary>
    public long ConnectFailures { get; internal set; }

    /// <summary>Established connections the server closed or reset.</summary>
    public long ClosedByServer { get; internal set; }

    /// <summary>The most connections open at once.</summary>
    public int PeakHeld { get; internal set; }

    /// <summary>Connections open when the run ended.</summary>
    public int HeldAtEnd { get; internal set; }

    /// <summary>Bytes sent (slowloris).</summary>
    public long BytesSent { get; internal set; }

    /// <summary>Time from the start until <see cref="Target"/> connections were open at once (null if never).</summary>
    public TimeSpan? TimeToTarget { get; internal set; }

    /// <summary>How long established connections lived until the server closed them (median, ms; null when none closed).</summary>
    public double? MedianLifetimeMs { get; internal set; }
}

/// <summary>The result of an <see cref="NlaBench"/> run.</summary>
public sealed class NlaBenchResult
{
    public required string Target { get; init; }

    public int Connections { get; init; }

    /// <summary>From the start until the last handshake ended and every held connection was closed.</summary>
    public TimeSpan Elapsed { get; internal set; }

    /// <summary>Handshakes run (each a full attempt: X.224, TLS, CredSSP).</summary>
    public long Attempts { get; internal set; }

    /// <summary>Handshakes in which the server proved the password (CredSSP completed; HYBRID_EX: AUTHZ_SUCCESS).</summary>
    public long Successes { get; internal set; }

    /// <summary>Successes per second of <see cref="HandshakeElapsed"/>.</summary>
    public double HandshakesPerSecond => HandshakeElapsed > TimeSpan.Zero ? Successes / HandshakeElapsed.TotalSeconds : 0;

    /// <summary>Attempts per second of <see cref="HandshakeElapsed"/>.</summary>
    public double AttemptsPerSecond => HandshakeElapsed > TimeSpan.Zero ? Attempts / HandshakeElapsed.TotalSeconds : 0;

    /// <summary>From the start until the last handshake ended.</summary>
    public TimeSpan HandshakeElapsed { get; internal set; }

    /// <summary>Latency of the successful handshakes (connect to verdict), in milliseconds.</summary>
    public LatencySummary? SuccessLatency { get; internal set; }

    /// <summary>Latency of every handshake, in milliseconds.</summary>
    public LatencySummary? AllLatency { get; internal set; }

    /// <summary>Unsuccessful handshakes by <see cref="NlaFailureKind"/> (and the outcome when it has no kind).</summary>
    public IReadOnlyDictionary<NlaFailureKind, long> Errors { get; internal set; } = new Dictionary<NlaFailureKind, long>();

    /// <summary>Negotiated TLS versions of the handshakes that reached TLS.</summary>
    public IReadOnlyDictionary<SslProtocols, long> TlsVersions { get; internal set; } = new Dictionary<SslProtocols, long>();

    /// <summary>One message per error kind (the first seen), to tell what happened.</summary>
    public IReadOnlyDictionary<NlaFailureKind, string> ErrorExamples { get; internal set; } = new Dictionary<NlaFailureKind, string>();

    public HeldConnectionStats? Idle { get; internal set; }

    public HeldConnectionStats? Slowloris { get; internal set; }
}

/// <summary>Latency percentiles in milliseconds (nearest-rank).</summary>
public sealed record LatencySummary(long Count, double P50, double P90, double P99, double Max, double Mean)
{
    public static LatencySummary? From(List<double> milliseconds)
    {
        ArgumentNullException.ThrowIfNull(milliseconds);
        if (milliseconds.Count == 0)
        {
            return null;
        }

        milliseconds.Sort();
        double Rank(double p) => milliseconds[Math.Clamp((int)Math.Ceiling(p * milliseconds.Count) - 1, 0, milliseconds.Count - 1)];
        return new LatencySummary(milliseconds.Count, Rank(0.50), Rank(0.90), Rank(0.99), milliseconds[^1], milliseconds.Average());
    }
}

/// <summary>
/// A closed-loop NLA load generator: <see cref="NlaBenchOptions.Connections"/> workers each run full handshakes
/// (X.224, TLS, CredSSP through authInfo and the Early User Authorization Result) back to back with
/// <see cref="NlaClient"/>; success is counted only when the server proved the password. Optionally holds idle
/// connections and slowloris connections (trickling bytes) against a loopback server, bounded in count and time,
/// from many loopback source addresses.
/// </summary>
public static class NlaBench
{
    /// <summary>Runs the benchmark until the duration passes (or the handshake count is reached and nothing is held).</summary>
    /// <exception cref="ArgumentException">The options are invalid (see <see cref="NlaBenchOptions.Validate"/>).</exception>
    public static async Task<NlaBenchResult> RunAsync(NlaBenchOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new ArgumentException(string.Join("; ", errors), nameof(options));
        }

        var result = new NlaBenchResult { Target = options.Host.Contains(':', StringComparison.Ordinal) ? $"[{options.Host}]:{options.Port}" : $"{options.Host}:{options.Port}", Connections = options.Connections };
        using var end = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        end.CancelAfter(options.Duration);
        var clock = Stopwatch.StartNew();

        var held = new HeldRun(options, clock, result);
        Task heldTask = options.Idle + options.Slowloris > 0 ? held.RunAsync(end.Token) : Task.CompletedTask;

        var handshakes = new HandshakeRun(options);
        Task handshakeTask = options.Connections > 0 ? handshakes.RunAsync(end.Token, cancellationToken) : Task.CompletedTask;

        await handshakeTask.ConfigureAwait(false);
        result.HandshakeElapsed = clock.Elapsed;
        if (options.Idle + options.Slowloris == 0)
        {
            await end.CancelAsync().ConfigureAwait(false);
        }

        await heldTask.ConfigureAwait(false);
        result.Elapsed = clock.Elapsed;
        handshakes.Fill(result);
        held.Fill(result);
        return result;
    }

    private sealed class HandshakeRun(NlaBenchOptions options)
    {
        private readonly ConcurrentDictionary<NlaFailureKind, long> _errors = new();
        private readonly ConcurrentDictionary<NlaFailureKind, string> _examples = new();
        private readonly ConcurrentDictionary<SslProtocols, long> _tls = new();
        private readonly List<double> _success = [];
        private readonly List<double> _all = [];
        private readonly Lock _lock = new();
        private long _started;
        private long _attempts;
        private long _successes;

        public async Task RunAsync(CancellationToken end, CancellationToken abort)
        {
            var workers = new Task[options.Connections];
            for (int i = 0; i < workers.Length; i++)
            {
                workers[i] = WorkerAsync(i, end, abort);
            }

            await Task.WhenAll(workers).ConfigureAwait(false);
        }

        private async Task WorkerAsync(int index, CancellationToken end, CancellationToken abort)
        {
            await Task.Yield();
            var success = new List<double>();
            var all = new List<double>();
            int turn = index;
            try
            {
                while (!end.IsCancellationRequested)
                {
                    long number = Interlocked.Increment(ref _started);
                    if (options.MaxHandshakes is long max && number > max)
                    {
                        break;
                    }

                    IPAddress? source = options.SourceAddresses.Count == 0 ? null : options.SourceAddresses[turn++ % options.SourceAddresses.Count];
                    NlaClientResult run;
                    try
                    {
                        run = await NlaClient.RunAsync(
                            new NlaClientOptions
                            {
                                Host = options.Host,
                                Port = options.Port,
                                LocalAddress = source,
                                Timeout = options.Timeout,
                                Credentials = options.Credentials,
                                Authentication = options.Authentication,
                                ServicePrincipal = options.ServicePrincipal,
                                StopAfter = NlaClientStage.Authentication,
                                RequestedProtocols = options.RequestedProtocols,
                                TlsProtocols = options.TlsProtocols,
                                CertificatePolicy = ServerCertificatePolicy.Ignore,
                                Cookie = options.Credentials!.UserName.Length > 9 ? options.Credentials.UserName[..9] : options.Credentials.UserName,
                                // With PROTOCOL_HYBRID the server's pubKeyAuth already proved the password; do not wait
                                // to see whether it closes after authInfo.
                                PostAuthenticationWait = TimeSpan.Zero,
                            },
                            abort).ConfigureAwait(false);
                    }
                    catch (OperationCanceledException) when (abort.IsCancellationRequested)
                    {
                        return;
                    }

                    Interlocked.Increment(ref _attempts);
                    double ms = run.Elapsed.TotalMilliseconds;
                    all.Add(ms);
                    if (run.Tls is { } tls)
                    {
                        _tls.AddOrUpdate(tls.Protocol, 1, (_, n) => n + 1);
                    }

                    if (run.Outcome == NlaOutcome.Success)
                    {
                        Interlocked.Increment(ref _successes);
                        success.Add(ms);
                    }
                    else
                    {
                        _errors.AddOrUpdate(run.FailureKind, 1, (_, n) => n + 1);
                        _examples.TryAdd(run.FailureKind, ClientResultText.Describe(run));
                    }
                }
            }
            finally
            {
                lock (_lock)
                {
                    _success.AddRange(success);
                    _all.AddRange(all);
                }
            }
        }

        public void Fill(NlaBenchResult result)
        {
            result.Attempts = Interlocked.Read(ref _attempts);
            result.Successes = Interlocked.Read(ref _successes);
            result.SuccessLatency = LatencySummary.From(_success);
            result.AllLatency = LatencySummary.From(_all);
            result.Errors = new SortedDictionary<NlaFailureKind, long>(_errors);
            result.ErrorExamples = new SortedDictionary<NlaFailureKind, string>(_examples);
            result.TlsVersions = new SortedDictionary<SslProtocols, long>(_tls);
        }
    }

    /// <summary>Idle and slowloris connections: open, hold, reopen when the server closes them, close all at the end.</summary>
    private sealed class HeldRun(NlaBenchOptions options, Stopwatch clock, NlaBenchResult result)
    {
        private readonly Mode _idle = new(options.Idle);
        private readonly Mode _slow = new(options.Slowloris);
        private int _heldTotal;
        private int _nextSource;
        private int _targetSignalled;

        public async Task RunAsync(CancellationToken end)
        {
            IPAddress[] targets;
            try
            {
                targets = IPAddress.TryParse(options.Host, out IPAddress? literal)
                    ? [literal]
                    : (await Dns.GetHostAddressesAsync(options.Host, end).ConfigureAwait(false)).Where(IPAddress.IsLoopback).ToArray();
            }
            catch (OperationCanceledException)
            {
                return;
            }

            if (targets.Length == 0)
            {
                return;
            }

            var endpoint = new IPEndPoint(targets[0], options.Port);
            using CancellationTokenRegistration snapshot = end.Register(() =>
            {
                _idle.HeldAtEnd = Volatile.Read(ref _idle.Held);
                _slow.HeldAtEnd = Volatile.Read(ref _slow.Held);
            });
            using var ramp = new SemaphoreSlim(Math.Max(1, options.RampConcurrency));
            var slots = new List<Task>(options.Idle + options.Slowloris);

            // Interleave the two modes so both ramp up together.
            for (int i = 0; i < Math.Max(options.Idle, options.Slowloris); i++)
            {
                if (i < options.Slowloris)
                {
                    slots.Add(SlotAsync(_slow, slowloris: true, endpoint, ramp, end));
                }

                if (i < options.Idle)
                {
                    slots.Add(SlotAsync(_idle, slowloris: false, endpoint, ramp, end));
                }
            }

            await Task.WhenAll(slots).ConfigureAwait(false);
        }

        private async Task SlotAsync(Mode mode, bool slowloris, IPEndPoint endpoint, SemaphoreSlim ramp, CancellationToken end)
        {
            await Task.Yield();
            while (!end.IsCancellationRequested)
            {
                Socket? socket = null;
                try
                {
                    await ramp.WaitAsync(end).ConfigureAwait(false);
                    try
                    {
                        socket = await ConnectAsync(endpoint, end).ConfigureAwait(false);
                    }
                    finally
                    {
                        ramp.Release();
                    }
                }
                catch (OperationCanceledException)
                {
                    socket?.Dispose();
                    return;
                }

                if (socket is null)
                {
                    Interlocked.Increment(ref mode.ConnectFailures);
                    if (!options.Reconnect)
                    {
                        // Without reconnection a slot makes one attempt: a refused one is counted, not retried.
                        await WaitForEndAsync(end).ConfigureAwait(false);
                        return;
                    }

                    if (!await PauseAsync(end).ConfigureAwait(false))
                    {
                        return;
                    }

                    continue;
                }

                long opened = clock.ElapsedTicks;
                Interlocked.Increment(ref mode.Opened);
                int modeHeld = Interlocked.Increment(ref mode.Held);
                InterlockedMax(ref mode.Peak, modeHeld);
                Interlocked.Increment(ref _heldTotal);
                CheckTarget();
                bool closedByServer;
                using (socket)
                {
                    closedByServer = slowloris ? await TrickleAsync(socket, mode, end).ConfigureAwait(false) : await WaitForCloseAsync(socket, end).ConfigureAwait(false);
                }

                Interlocked.Decrement(ref mode.Held);
                Interlocked.Decrement(ref _heldTotal);
                if (closedByServer)
                {
                    Interlocked.Increment(ref mode.ClosedByServer);
                    lock (mode.Lifetimes)
                    {
                        mode.Lifetimes.Add((clock.ElapsedTicks - opened) * 1000.0 / Stopwatch.Frequency);
                    }
                }

                if (!options.Reconnect)
                {
                    // Without reconnection, wait for the end so the slot's count stays visible.
                    await WaitForEndAsync(end).ConfigureAwait(false);
                    return;
                }

                if (!await PauseAsync(end).ConfigureAwait(false))
                {
                    return;
                }
            }
        }

        private static async Task WaitForEndAsync(CancellationToken end)
        {
            try
            {
                await Task.Delay(System.Threading.Timeout.Infinite, end).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }

        private void CheckTarget()
        {
            if (Volatile.Read(ref _heldTotal) >= options.Idle + options.Slowloris && Interlocked.Exchange(ref _targetSignalled, 1) == 0)
            {
                TimeSpan at = clock.Elapsed;
                _idle.TimeToTarget = at;
                _slow.TimeToTarget = at;
                if (options.OnHeldTargetReached is { } callback)
                {
                    var snapshot = new NlaBenchResult { Target = result.Target, Connections = result.Connections };
                    Fill(snapshot);
                    callback(snapshot);
                }
            }
        }

        private static async Task<bool> PauseAsync(CancellationToken end)
        {
            try
            {
                // A refused or closed connection is retried after a pause, so a server that refuses does not cause a hot loop.
                await Task.Delay(TimeSpan.FromMilliseconds(100 + Random.Shared.Next(200)), end).ConfigureAwait(false);
                return true;
            }
            catch (OperationCanceledException)
            {
                return false;
            }
        }

        private async Task<Socket?> ConnectAsync(IPEndPoint endpoint, CancellationToken end)
        {
            var socket = new Socket(endpoint.AddressFamily, SocketType.Stream, ProtocolType.Tcp);
            try
            {
                if (options.SourceAddresses.Count > 0)
                {
                    int index = (int)((uint)Interlocked.Increment(ref _nextSource) % (uint)options.SourceAddresses.Count);
                    socket.Bind(new IPEndPoint(options.SourceAddresses[index], 0));
                }

                using var timeout = CancellationTokenSource.CreateLinkedTokenSource(end);
                timeout.CancelAfter(options.Timeout);
                await socket.ConnectAsync(endpoint, timeout.Token).ConfigureAwait(false);
                return socket;
            }
            catch (OperationCanceledException) when (!end.IsCancellationRequested)
            {
                socket.Dispose();
                return null;
            }
            catch (SocketException)
            {
                socket.Dispose();
                return null;
            }
            catch
            {
                socket.Dispose();
                throw;
            }
        }

        /// <summary>Sends nothing and waits for the server to close; true when it did before the end.</summary>
        private static async Task<bool> WaitForCloseAsync(Socket socket, CancellationToken end)
        {
            var buffer = new byte[1];
            try
            {
                while (true)
                {
                    int read = await socket.ReceiveAsync(buffer, SocketFlags.None, end).ConfigureAwait(false);
                    if (read == 0)
                    {
                        return true;
                    }
                }
            }
            catch (OperationCanceledException)
            {
                return false;
            }
            catch (SocketException)
            {
                return true;
            }
            catch (ObjectDisposedException)
            {
                return false;
            }
        }

        /// <summary>
        /// Slowloris: a TPKT header announcing a 4,096-byte X.224 Connection Request, then its bytes one at a time, one
        /// per interval, forever; true when the server closed the connection before the end.
        /// </summary>
        private async Task<bool> TrickleAsync(Socket socket, Mode mode, CancellationToken end)
        {
            byte[] header = [3, 0, 0x10, 0x00, 0x0E, 0xE0, 0, 0, 0, 0, 0];
            var one = new byte[1];
            Task<bool> closed = WaitForCloseAsync(socket, end);
            try
            {
                for (int i = 0; ; i++)
                {
                    one[0] = i < header.Length ? header[i] : (byte)'x';
                    await socket.SendAsync(one, SocketFlags.None, end).ConfigureAwait(false);
                    Interlocked.Increment(ref mode.BytesSent);
                    Task delay = Task.Delay(options.SlowlorisInterval, end);
                    if (await Task.WhenAny(delay, closed).ConfigureAwait(false) == closed)
                    {
                        return await closed.ConfigureAwait(false);
                    }

                    await delay.ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException)
            {
                return false;
            }
            catch (SocketException)
            {
                return true;
            }
            finally
            {
                socket.Close(0);
                await closed.ConfigureAwait(false);
            }
        }

        private static void InterlockedMax(ref int target, int value)
        {
            int current = Volatile.Read(ref target);
            while (value > current)
            {
                int seen = Interlocked.CompareExchange(ref target, value, current);
                if (seen == current)
                {
                    return;
                }

                current = seen;
            }
        }

        public void Fill(NlaBenchResult into)
        {
            if (options.Idle > 0)
            {
                into.Idle = _idle.Stats();
            }

            if (options.Slowloris > 0)
            {
                into.Slowloris = _slow.Stats();
            }
        }

        private sealed class Mode(int target)
        {
#pragma warning disable SA1401, CA1051 // Fields updated with Interlocked.
            public long Opened;
            public long ConnectFailures;
            public long ClosedByServer;
            public long BytesSent;
            public int Held;
            public int Peak;
#pragma warning restore SA1401, CA1051
            public readonly List<double> Lifetimes = [];

            public TimeSpan? TimeToTarget { get; set; }

            public int HeldAtEnd { get; set; }

            public HeldConnectionStats Stats()
            {
                double? median;
                lock (Lifetimes)
                {
                    median = Lifetimes.Count == 0 ? null : Lifetimes.Order().ElementAt(Lifetimes.Count / 2);
                }

                return new HeldConnectionStats
                {
                    Target = target,
                    Opened = Interlocked.Read(ref Opened),
                    ConnectFailures = Interlocked.Read(ref ConnectFailures),
                    ClosedByServer = Interlocked.Read(ref ClosedByServer),
                    PeakHeld = Volatile.Read(ref Peak),
                    HeldAtEnd = HeldAtEnd,
                    BytesSent = Interlocked.Read(ref BytesSent),
                    TimeToTarget = TimeToTarget,
                    MedianLifetimeMs = median,
                };
            }
        }
    }
}
