namespace RdpNla.Server.Gateway;

/// <summary>
/// One relayed session. Connection phase: the backend leg is opened first; a HYBRID_EX client then gets its Early User
/// Authorization Result, AUTHZ_SUCCESS only now that the backend has accepted the injected credentials, and
/// AUTHZ_ACCESS_DENIED when the backend leg fails (MS-RDPBCGR §2.2.10.2). Then the client's MCS Connect Initial (serverSelectedProtocol set to what the
/// backend selected) goes to the backend, the backend's Connect Response (clientRequestedProtocols set to what the
/// client requested of the front door) goes to the client, and the client's frames (Erect Domain, Attach User, Channel
/// Join, each checked) are forwarded one by one until the Client Info PDU, which gets the injected credentials and
/// INFO_AUTOLOGON; any other frame, or a Client Info PDU that fails strict decoding, ends the session. Then both directions are a byte pump with a
/// bounded buffer each: a slow receiver stops the reads from the other side (backpressure through TCP).
/// </summary>
internal sealed class GatewaySession
{
    private const int MaxConnectionFrames = 256;
    private readonly GatewayRelay _relay;
    private readonly FrontLeg _front;
    private readonly GatewayPlan _plan;
    private readonly BackendCredentials _credentials;
    private readonly DateTimeOffset _started;
    private long _bytesToBackend;
    private long _bytesToClient;
    private long _lastActivity;
    private string? _endReason;
    private string _endOutcome = "closed";
    private readonly Lock _endLock = new();
    private bool _endIsTentative;
    private string _phase = "backend connection";
    private bool _authorizationAnswered;
    private volatile string? _backendProtocol;

    public GatewaySession(GatewayRelay relay, FrontLeg front, GatewayPlan plan, BackendCredentials credentials)
    {
        _relay = relay;
        _front = front;
        _plan = plan;
        _credentials = credentials;
        _started = relay.TimeProvider.GetUtcNow();
    }

    private ILogger Logger => _relay.Logger;

    private GatewayOptions Options => _relay.Options;

    private TimeProvider Time => _relay.TimeProvider;

    public async Task<GatewaySessionRecord> RunAsync(BackendConnector connector, CancellationToken stopping)
    {
        string backend = _plan.Backend.ToString();
        BackendLeg? leg = null;
        using IDisposable live = _relay.Live.Add(() => Live(backend));
        try
        {
            using (var negotiation = new CancellationTokenSource(Options.NegotiationTimeout, Time))
            using (var linked = CancellationTokenSource.CreateLinkedTokenSource(negotiation.Token, stopping))
            {
                try
                {
                    using (System.Diagnostics.Activity? span = Metrics.FrontDoorTracing.Source.StartActivity(Metrics.FrontDoorTracing.BackendConnect))
                    {
                        span?.SetTag("server.address", backend);
                        leg = await ConnectBackendAsync(connector, stopping, linked.Token).ConfigureAwait(false);
                    }

                    if (_front.SelectedProtocol == SecurityProtocols.HybridEx)
                    {
                        // A HYBRID_EX client waits for this before its MCS Connect Initial.
                        _authorizationAnswered = true;
                        GatewayLog.EarlyUserAuthorizationSent(Logger, "AUTHZ_SUCCESS", "connected");
                        await _front.Tls.WriteAsync(EarlyUserAuthorizationResult.Success.Encode(), linked.Token).ConfigureAwait(false);
                    }

                    _phase = "MCS Connect Initial";
                    byte[] connectInitial = await MessageFraming.ReadTpktFrameAsync(_front.Tls, Tpkt.MaximumFrameLength, linked.Token).ConfigureAwait(false);
                    McsConnectPdu initial = McsConnectPdu.Decode(connectInitial);
                    if (initial.IsResponse)
                    {
                        throw new NlaProtocolException(NlaFailureReason.UnexpectedMessage, "the client sent an MCS Connect Response");
                    }

                    _phase = "MCS connect";
                    await ExchangeConnectPdusAsync(initial, leg, linked.Token).ConfigureAwait(false);
                }
                catch (OperationCanceledException) when (negotiation.IsCancellationRequested)
                {
                    throw new BackendFailureException(BackendFailureKind.NegotiationFailed, $"the connection phase ({_phase}) did not finish within {Options.NegotiationTimeout}");
                }
            }

            _backendProtocol = GatewayRelay.SecurityProtocolNames(leg.SelectedProtocol);
            GatewayLog.RelayStarted(Logger, _front.Remote.ToString(), backend, GatewayRelay.SecurityProtocolNames(_front.SelectedProtocol), GatewayRelay.SecurityProtocolNames(leg.SelectedProtocol));
            _relay.Metrics.SessionStarted();
            try
            {
                await PumpAsync(leg, stopping).ConfigureAwait(false);
            }
            finally
            {
                _relay.Metrics.SessionEnded();
            }
        }
        catch (BackendFailureException ex)
        {
            switch (ex.Kind)
            {
                case BackendFailureKind.Down:
                    GatewayLog.BackendDown(Logger, backend, ex.Message);
                    break;
                case BackendFailureKind.CredentialsRejected:
                    GatewayLog.CredentialsRejected(Logger, backend, _credentials.Account, ex.Message);
                    break;
                case BackendFailureKind.CertificateChanged:
                    GatewayLog.CertificateChanged(Logger, backend, ex.Expected ?? "(unknown)", ex.Actual ?? "(unknown)");
                    break;
                case BackendFailureKind.CertificateNotPinned:
                    GatewayLog.CertificateNotPinned(Logger, backend, ex.Actual ?? "(unknown)");
                    break;
                case BackendFailureKind.StandardRdpSecurityOnly:
                    GatewayLog.StandardRdpSecurityOnly(Logger, backend);
                    break;
                case BackendFailureKind.ProtocolDowngrade:
                    GatewayLog.ProtocolDowngrade(Logger, backend, ex.Message);
                    break;
                case BackendFailureKind.CredentialsWithheld:
                    GatewayLog.CredentialsWithheld(Logger, backend, ex.Message);
                    break;
                default:
                    GatewayLog.NegotiationFailed(Logger, backend, ex.Message);
                    break;
            }

            SetEnd(ex.Outcome, ex.Message);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            SetEnd("shutdown", $"the server stopped during the connection phase ({_phase})");
        }
        catch (NlaProtocolException ex)
        {
            GatewayLog.RelayFailed(Logger, _phase, ex.Message);
            SetEnd("error", $"protocol violation in phase {_phase}: {ex.Message}");
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
        {
            GatewayLog.RelayFailed(Logger, _phase, ex.Message);
            SetEnd("error", $"connection error in phase {_phase}: {ex.Message}");
        }
        finally
        {
            if (!_authorizationAnswered && await GatewayRelay.DenyEarlyAuthorizationAsync(_front, Logger).ConfigureAwait(false))
            {
                lock (_endLock)
                {
                    _endReason = (_endReason ?? "closed") + "; the client was sent AUTHZ_ACCESS_DENIED";
                }
            }

            await GatewayRelay.CloseClientAsync(_front).ConfigureAwait(false);
            if (leg is not null)
            {
                await CloseBackendAsync(leg).ConfigureAwait(false);
            }
        }

        DateTimeOffset ended = Time.GetUtcNow();
        string reason = _endReason ?? "closed";
        GatewayLog.SessionEnded(Logger, reason, Interlocked.Read(ref _bytesToBackend), Interlocked.Read(ref _bytesToClient), ended - _started);
        return new GatewaySessionRecord
        {
            ConnectionId = _front.ConnectionId.ToString(CultureInfo.InvariantCulture),
            UserName = _front.UserName,
            ClientAddress = AuditEntry.NormalizeAddress(_front.Remote.Address),
            ClientPort = _front.Remote.Port,
            Backend = backend,
            BackendAccount = _credentials.Account,
            CredentialMode = _credentials.Mode,
            FrontProtocol = GatewayRelay.SecurityProtocolNames(_front.SelectedProtocol),
            BackendProtocol = leg is null ? null : GatewayRelay.SecurityProtocolNames(leg.SelectedProtocol),
            Started = _started,
            Ended = ended,
            BytesToBackend = Interlocked.Read(ref _bytesToBackend),
            BytesToClient = Interlocked.Read(ref _bytesToClient),
            Outcome = _endOutcome,
            Reason = reason,
        };
    }

    /// <summary>This session as the admin page shows it while it runs.</summary>
    private LiveSession Live(string backend) => new(
        _front.ConnectionId.ToString(CultureInfo.InvariantCulture),
        _front.UserName,
        AuditEntry.NormalizeAddress(_front.Remote.Address),
        _front.Remote.Port,
        backend,
        GatewayRelay.SecurityProtocolNames(_front.SelectedProtocol),
        _backendProtocol,
        _started,
        Interlocked.Read(ref _bytesToBackend),
        Interlocked.Read(ref _bytesToClient),
        _backendProtocol is not null);

    /// <summary>Opens the backend leg, counting its outcome and duration (<see cref="Metrics.GatewayMetrics"/>).</summary>
    private async Task<BackendLeg> ConnectBackendAsync(BackendConnector connector, CancellationToken stopping, CancellationToken cancellationToken)
    {
        long start = Time.GetTimestamp();
        try
        {
            BackendLeg leg = await connector.ConnectAsync(_plan.Backend, _credentials, cancellationToken).ConfigureAwait(false);
            _relay.Metrics.BackendConnected(Time.GetElapsedTime(start));
            return leg;
        }
        catch (Exception ex)
        {
            string reason = ex switch
            {
                BackendFailureException failure => MetricReason(failure.Kind),
                OperationCanceledException when stopping.IsCancellationRequested => "shutdown",
                OperationCanceledException => "timeout",
                _ => "error",
            };
            _relay.Metrics.BackendConnectFailed(reason, Time.GetElapsedTime(start));
            throw;
        }
    }

    /// <summary>The snake_case name of a backend failure in the gateway's metrics.</summary>
    internal static string MetricReason(BackendFailureKind kind) => kind switch
    {
        BackendFailureKind.Down => "backend_down",
        BackendFailureKind.CredentialsRejected => "credentials_rejected",
        BackendFailureKind.CertificateChanged => "certificate_changed",
        BackendFailureKind.CertificateNotPinned => "certificate_not_pinned",
        BackendFailureKind.StandardRdpSecurityOnly => "standard_rdp_security_only",
        BackendFailureKind.ProtocolDowngrade => "protocol_downgrade",
        BackendFailureKind.CredentialsWithheld => "credentials_withheld",
        _ => "negotiation_failed",
    };

    private void CountToBackend(long bytes)
    {
        Interlocked.Add(ref _bytesToBackend, bytes);
        _relay.Metrics.RelayedToBackend(bytes);
    }

    private void CountToClient(long bytes)
    {
        Interlocked.Add(ref _bytesToClient, bytes);
        _relay.Metrics.RelayedToClient(bytes);
    }

    private async Task ExchangeConnectPdusAsync(McsConnectPdu initial, BackendLeg leg, CancellationToken cancellationToken)
    {
        // MS-RDPBCGR §2.2.1.3.2 / §5.4.2.1: each server compares serverSelectedProtocol with what it selected, and each
        // client may compare clientRequestedProtocols with what it requested; the two legs negotiated separately.
        byte[] toBackend = initial.WithServerSelectedProtocol(leg.SelectedProtocol);
        await leg.Tls.WriteAsync(toBackend, cancellationToken).ConfigureAwait(false);
        CountToBackend(toBackend.Length);

        byte[] responseFrame;
        try
        {
            responseFrame = await MessageFraming.ReadTpktFrameAsync(leg.Tls, Tpkt.MaximumFrameLength, cancellationToken).ConfigureAwait(false);
        }
        catch (EndOfStreamException)
        {
            throw new BackendFailureException(BackendFailureKind.NegotiationFailed, "the backend closed the connection after the MCS Connect Initial");
        }

        McsConnectPdu response;
        try
        {
            response = McsConnectPdu.Decode(responseFrame);
        }
        catch (NlaProtocolException ex)
        {
            throw new BackendFailureException(BackendFailureKind.NegotiationFailed, $"the backend's MCS Connect Response is malformed: {ex.Message}");
        }

        if (!response.IsResponse)
        {
            throw new BackendFailureException(BackendFailureKind.NegotiationFailed, "the backend answered the MCS Connect Initial with another Connect Initial");
        }

        byte[] toClient = response.WithClientRequestedProtocols(_front.RequestedProtocols);
        await _front.Tls.WriteAsync(toClient, cancellationToken).ConfigureAwait(false);
        CountToClient(toClient.Length);
        GatewayLog.McsRewritten(
            Logger,
            initial.ServerSelectedProtocol?.Name() ?? "(absent)",
            leg.SelectedProtocol.Name(),
            response.ClientRequestedProtocols?.Name() ?? "(absent)",
            _front.RequestedProtocols.Name());
    }

    private async Task PumpAsync(BackendLeg leg, CancellationToken stopping)
    {
        _phase = "relay";
        // On the gateway's clock also without a maximum length: the drain below re-arms this source's timer.
        using var session = new CancellationTokenSource(Options.MaxSessionLength > TimeSpan.Zero ? Options.MaxSessionLength : Timeout.InfiniteTimeSpan, Time);
        using CancellationTokenRegistration drain = stopping.Register(() =>
        {
            SetEnd("shutdown", $"the server is stopping (drained for up to {Options.DrainTimeout})", tentative: true);
            try
            {
                session.CancelAfter(Options.DrainTimeout);
            }
            catch (ObjectDisposedException)
            {
            }
        });
        Touch();
        Task up = ClientToBackendAsync(leg, session.Token);
        Task down = CopyAsync(leg.Tls, leg.Transport, _front.Tls, _front.Transport, CountToClient, session.Token);
        Task idle = IdleWatchAsync(session.Token);
        Task first = await Task.WhenAny(up, down, idle).ConfigureAwait(false);
        if ((first == up || first == down) && first.IsCompletedSuccessfully)
        {
            SetEnd("closed", first == up ? "the client closed the connection" : "the backend closed the connection");
        }
        else if ((first == up || first == down) && first.Exception?.InnerException is { } error and not OperationCanceledException)
        {
            string side = first == up ? "client to backend" : "backend to client";
            SetEnd(error is NlaProtocolException ? "error" : "closed", $"{side}: {error.GetType().Name}: {error.Message}");
        }
        else if (first == idle && idle.IsCompletedSuccessfully)
        {
            SetEnd("timeout", $"idle for {Options.IdleTimeout}");
        }
        else if (stopping.IsCancellationRequested)
        {
            SetEnd("shutdown", $"the server stopped; the session was closed after the drain time of {Options.DrainTimeout}");
        }
        else
        {
            SetEnd("timeout", $"maximum session length {Options.MaxSessionLength} reached");
        }

        await session.CancelAsync().ConfigureAwait(false);
        try
        {
            await Task.WhenAll(up, down, idle).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException or NlaProtocolException or InvalidOperationException)
        {
            // Expected as the other direction is torn down.
        }
    }

    private async Task ClientToBackendAsync(BackendLeg leg, CancellationToken cancellationToken)
    {
        // Until the Client Info PDU every client PDU is a slow-path TPKT frame (MS-RDPBCGR §1.3.1.1).
        for (int i = 0; ; i++)
        {
            if (i >= MaxConnectionFrames)
            {
                throw new NlaProtocolException(NlaFailureReason.UnexpectedMessage, $"no Client Info PDU in the first {MaxConnectionFrames} client frames");
            }

            byte[] frame;
            try
            {
                frame = await MessageFraming.ReadTpktFrameAsync(_front.Tls, Tpkt.MaximumFrameLength, cancellationToken).ConfigureAwait(false);
            }
            catch (EndOfStreamException)
            {
                return; // the client closed before the session started.
            }

            Touch();
            ClientInfoPdu original;
            try
            {
                // Fail closed (MS-RDPBCGR §1.3.1.1): Erect Domain, Attach User and Channel Join are forwarded; the one
                // Send Data Request of this phase under TLS or CredSSP is the Client Info PDU, and it must decode
                // strictly. Anything else ends the session instead of reaching the backend unchanged (where the
                // client's own credentials, or a frame the backend reads differently, would bypass the injection).
                if (McsDomainPdu.ClassifyClientFrame(frame) != ClientConnectionPdu.SendDataRequest)
                {
                    await leg.Tls.WriteAsync(frame, cancellationToken).ConfigureAwait(false);
                    CountToBackend(frame.Length);
                    continue;
                }

                original = ClientInfoPdu.Decode(frame);
            }
            catch (NlaProtocolException ex)
            {
                throw new NlaProtocolException(ex.Reason, $"client frame {i + 1} after the MCS Connect Response refused before the Client Info PDU: {ex.Message}");
            }
            finally
            {
                CryptographicOperations.ZeroMemory(frame);
            }

            using ClientInfoPdu originalInfo = original;
            using ClientInfoPdu injected = original.WithCredentials(_credentials.Domain, _credentials.UserName, _credentials.PasswordUtf16);
            byte[] rewritten;
            try
            {
                rewritten = injected.Encode();
            }
            catch (InvalidOperationException ex)
            {
                // The client's own fields (its extra info above all) fill the MCS Send Data Request, so the injected
                // credentials do not fit behind its unfragmented PER length (at most 0x3FFF bytes, ITU-T X.691 §10.9):
                // end the session rather than send the backend anything else.
                throw new NlaProtocolException(NlaFailureReason.MessageTooLarge, $"the client's Client Info PDU ({originalInfo.ExtraInfo.Length} bytes of extra info) leaves no room for the injected credentials: {ex.Message}");
            }

            try
            {
                await leg.Tls.WriteAsync(rewritten, cancellationToken).ConfigureAwait(false);
                CountToBackend(rewritten.Length);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(rewritten);
            }

            GatewayLog.ClientInfoInjected(Logger, _credentials.Account, _plan.Backend.ToString());
            _relay.Metrics.CredentialsInjected(_credentials.Mode);

            // The backend has all it gets of the password (its CredSSP leg is done, the Client Info sent): wipe it now
            // rather than when the session ends.
            _credentials.Dispose();
            break;
        }

        await CopyAsync(_front.Tls, _front.Transport, leg.Tls, leg.Transport, CountToBackend, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// One direction of the relay. It waits for data with a zero-byte read, so an idle direction holds no buffer; then
    /// takes a pooled buffer, reads, keeps reading while the source's <see cref="RelayBufferingStream"/> still holds
    /// bytes already received from the socket, up to the buffer size, and writes the batch with its records coalesced
    /// into one send. The buffer bounds what is read ahead of a slow receiver (backpressure through TCP).
    /// </summary>
    private async Task CopyAsync(SslStream source, RelayBufferingStream sourceTransport, SslStream destination, RelayBufferingStream destinationTransport, Action<long> count, CancellationToken cancellationToken)
    {
        int size = Options.BufferSize;
        sourceTransport.BufferReads = true;
        destinationTransport.BufferWrites = true;
        while (true)
        {
            // SslStream answers a zero-byte read at once when it holds decrypted data, else passes it to the socket,
            // which completes when data arrives.
            await source.ReadAsync(Memory<byte>.Empty, cancellationToken).ConfigureAwait(false);
            byte[] buffer = ArrayPool<byte>.Shared.Rent(size);
            int filled = 0;
            try
            {
                filled = await source.ReadAsync(buffer.AsMemory(0, size), cancellationToken).ConfigureAwait(false);
                if (filled == 0)
                {
                    return;
                }

                Touch();
                bool ended = false;
                while (filled < size && sourceTransport.HasReceivedData)
                {
                    int more = await source.ReadAsync(buffer.AsMemory(filled, size - filled), cancellationToken).ConfigureAwait(false);
                    if (more == 0)
                    {
                        ended = true;
                        break;
                    }

                    filled += more;
                }

                await destination.WriteAsync(buffer.AsMemory(0, filled), cancellationToken).ConfigureAwait(false);
                await destination.FlushAsync(cancellationToken).ConfigureAwait(false);
                count(filled);
                if (ended)
                {
                    return;
                }
            }
            finally
            {
                // The relayed plaintext is wiped before the buffer goes back to the pool; no read is in flight here.
                CryptographicOperations.ZeroMemory(buffer.AsSpan(0, filled));
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    private async Task IdleWatchAsync(CancellationToken cancellationToken)
    {
        if (Options.IdleTimeout <= TimeSpan.Zero)
        {
            await Task.Delay(Timeout.InfiniteTimeSpan, Time, cancellationToken).ConfigureAwait(false);
            return;
        }

        TimeSpan period = TimeSpan.FromTicks(Math.Clamp(Options.IdleTimeout.Ticks / 4, TimeSpan.FromMilliseconds(50).Ticks, TimeSpan.FromSeconds(5).Ticks));
        using var timer = new PeriodicTimer(period, Time);
        while (await timer.WaitForNextTickAsync(cancellationToken).ConfigureAwait(false))
        {
            if (Time.GetElapsedTime(Volatile.Read(ref _lastActivity)) >= Options.IdleTimeout)
            {
                return;
            }
        }
    }

    private void Touch() => Volatile.Write(ref _lastActivity, Time.GetTimestamp());

    private void SetEnd(string outcome, string reason, bool tentative = false)
    {
        // The first definite end wins; a drain notice (tentative) is replaced if an end hangs up during the drain.
        lock (_endLock)
        {
            if (_endReason is not null && (!_endIsTentative || tentative))
            {
                return;
            }

            _endReason = reason;
            _endOutcome = outcome;
            _endIsTentative = tentative;
        }
    }

    /// <summary>
    /// Sends the TLS close_notify of a relayed leg. SslStream writes the alert without a flush, so the transport stops
    /// holding writes first: the alert (after anything still held) goes out now and the peer sees a clean close.
    /// </summary>
    internal static async Task ShutdownTlsAsync(SslStream tls, RelayBufferingStream transport)
    {
        transport.BufferWrites = false;
        await tls.ShutdownAsync().ConfigureAwait(false);
    }

    private static async Task CloseBackendAsync(BackendLeg leg)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await ShutdownTlsAsync(leg.Tls, leg.Transport).WaitAsync(timeout.Token).ConfigureAwait(false);
            leg.Socket.Shutdown(SocketShutdown.Both);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
        }

        await leg.DisposeAsync().ConfigureAwait(false);
    }
}
