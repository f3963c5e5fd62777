namespace RdpNla.Server.FrontDoor;

/// <summary>
/// One client of the front door: X.224 negotiation with the Windows policy, TLS, the CredSSP acceptor, the account
/// policy, the Early User Authorization Result, and the audit record. Nothing beyond the handshake is touched before
/// CredSSP has proven the user. Every failure is logged with its specific reason and closes only this connection.
/// </summary>
internal sealed partial class FrontDoorConnection : IAsyncDisposable
{
    private const int MaxConnectionRequestSize = 4096;

    private readonly Socket _socket;
    private readonly FrontDoorContext _context;
    private readonly FrontDoorSettings _settings;
    private readonly AuditRecordBuilder _audit;
    private readonly long _acceptedAt;
    private IPEndPoint _client;
    private bool _sourceAdmitted;
    private bool _unauthenticatedReleased;
    private PhaseDeadline? _phaseDeadline;
    private string _phase = "accept";
    private CancellationTokenSource? _handshakeDeadline;
    private PausableTimeout? _handshakeClock;
    private StoreWaits? _store;
    private MinimumDataRateStream? _guarded;
    private Gateway.RelayBufferingStream? _transport;

    /// <summary>The domain user of this connection once the DC (or its KDC) verified it; null for a local user.</summary>
    private ActiveDirectory.DomainIdentity? _domainUser;
    private CancellationToken _stopping;
    private Activity? _span;

    internal FrontDoorConnection(Socket socket, FrontDoorContext context)
    {
        _socket = socket;
        _context = context;
        _settings = context.Settings;
        _client = (IPEndPoint)socket.RemoteEndPoint!;
        _audit = new AuditRecordBuilder(_client, context.TimeProvider);
        _acceptedAt = context.TimeProvider.GetTimestamp();
    }

    private ILogger Logger => _context.Logger;

    private FrontDoorLimits Limits => _context.StartOptions.Limits;

    internal async Task RunAsync(long connectionId, CancellationToken stopping)
    {
        var socketPeer = (IPEndPoint)_socket.RemoteEndPoint!;
        using IDisposable? scope = Logger.BeginScope("Connection {ConnectionId} from {RemoteEndPoint}", connectionId, socketPeer.ToString());
        _audit.ConnectionId = connectionId;
        using Activity? span = FrontDoorTracing.Source.StartActivity(FrontDoorTracing.Connection, ActivityKind.Server);
        _span = span;
        span?.SetTag("client.address", socketPeer.Address.ToString());
        span?.SetTag("client.port", socketPeer.Port);
        span?.SetTag("rdpnla.connection.id", connectionId);
        _context.Metrics.ConnectionOpened();
        FrontDoorLog.Accepted(Logger);
        _socket.NoDelay = true;
        using var deadline = new CancellationTokenSource(Limits.HandshakeTimeout, _context.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, stopping);
        var network = new NetworkStream(_socket, ownsSocket: false);
        var guarded = new MinimumDataRateStream(network, Limits.MinDataRate, Limits.MinDataRateGracePeriod, _context.TimeProvider);
        _guarded = guarded;
        _handshakeDeadline = deadline;
        _handshakeClock = new PausableTimeout(deadline, Limits.HandshakeTimeout, _context.TimeProvider);
        _store = new StoreWaits(Limits.StoreTimeout, _context.TimeProvider, Logger, PauseClientClocks, ResumeClientClocks);
        _audit.Store = _store;
        _stopping = stopping;
        await using (network.ConfigureAwait(false))
        {
            try
            {
                if (await AdmitAsync(network, socketPeer, linked.Token).ConfigureAwait(false))
                {
                    await HandshakeAsync(guarded, linked.Token).ConfigureAwait(false);
                }
            }
            catch (OperationCanceledException) when (_phaseDeadline?.Expired == true)
            {
                FrontDoorLog.HandshakeTimeout(Logger, _phaseDeadline.Timeout, _phase);
                await EndAsync(AuditOutcome.Error, null, $"phase {_phase} deadline passed", Limits.PenaltyTimeout).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                FrontDoorLog.HandshakeTimeout(Logger, Limits.HandshakeTimeout, _phase);
                await EndAsync(AuditOutcome.Error, null, $"handshake deadline passed in phase {_phase}", Limits.PenaltyTimeout).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                FrontDoorLog.ConnectionError(Logger, _phase, "the server is stopping");
            }
            catch (MinimumDataRateException ex)
            {
                FrontDoorLog.ConnectionError(Logger, _phase, ex.Message);
                await EndAsync(AuditOutcome.Error, null, $"below the minimum data rate in phase {_phase}", Limits.PenaltyTimeout).ConfigureAwait(false);
            }
            catch (EndOfStreamException ex) when (ex is not PeerClosedException)
            {
                LogViolation($"{_phase}: truncated message, the client closed the connection in the middle of it");
                await EndAsync(AuditOutcome.Error, null, $"truncated message in phase {_phase}", Limits.PenaltyProtocolViolation).ConfigureAwait(false);
            }
            catch (PeerClosedException)
            {
                FrontDoorLog.ClientClosed(Logger, _phase);
                await EndAsync(AuditOutcome.Error, null, $"client closed the connection in phase {_phase}", TimeSpan.Zero).ConfigureAwait(false);
            }
            catch (NlaProtocolException ex)
            {
                LogViolation($"{_phase}: {ex.Message}");
                await EndAsync(AuditOutcome.Error, null, $"protocol violation in phase {_phase}: {ex.Reason}", Limits.PenaltyProtocolViolation).ConfigureAwait(false);
            }
            catch (AuthenticationException ex)
            {
                FrontDoorLog.TlsFailed(Logger, ex.InnerException?.Message ?? ex.Message);
                await EndAsync(AuditOutcome.Error, null, "TLS handshake failed", Limits.PenaltyProtocolViolation).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
            {
                FrontDoorLog.ConnectionError(Logger, _phase, ex.Message);
                await EndAsync(AuditOutcome.Error, null, $"connection error in phase {_phase}", TimeSpan.Zero).ConfigureAwait(false);
            }
            finally
            {
                _phaseDeadline?.Dispose();
                ReleaseUnauthenticated();
                _context.Metrics.ConnectionClosed();
            }
        }
    }

    /// <summary>
    /// Learns the client's real address (a PROXY protocol header from a trusted load balancer) and applies the
    /// per-source limits: penalties, connection rate, per-address and per-prefix caps.
    /// </summary>
    private async Task<bool> AdmitAsync(NetworkStream network, IPEndPoint socketPeer, CancellationToken cancellationToken)
    {
        if (_context.IsTrustedProxy(socketPeer.Address))
        {
            using (EnterPhase("PROXY", Limits.NegotiationTimeout, cancellationToken, out CancellationToken token))
            {
                IPEndPoint? client = await ProxyProtocol.ReadAsync(network, token).ConfigureAwait(false);
                if (client is not null)
                {
                    _client = client;
                    _audit.Client = client;
                    FrontDoorLog.ProxiedClient(Logger, client.ToString());
                }
            }
        }

        if (_context.Gate.TryAdmitSource(_client.Address) is RejectionReason refusal)
        {
            _context.Reject(refusal, _client, socketPeer.Equals(_client) ? null : socketPeer);
            _socket.LingerState = new LingerOption(true, 0);
            return false;
        }

        _sourceAdmitted = true;
        return true;
    }

    // The server waits on its own database: the client's deadlines and data rate stop meanwhile.
    private void PauseClientClocks()
    {
        _guarded?.Pause();
        _handshakeClock?.Pause();
        _phaseDeadline?.Pause();
    }

    private void ResumeClientClocks()
    {
        _phaseDeadline?.Resume();
        _handshakeClock?.Resume();
        _guarded?.Resume();
    }

    private PhaseDeadline EnterPhase(string phase, TimeSpan timeout, CancellationToken outer, out CancellationToken token)
    {
        _phase = phase;
        _phaseDeadline?.Dispose();
        _phaseDeadline = new PhaseDeadline(timeout, _context.TimeProvider, outer);
        token = _phaseDeadline.Token;
        return _phaseDeadline;
    }

    /// <summary>Ends the unauthenticated life of the connection (authenticated, or closed): frees its admission slots.</summary>
    private void ReleaseUnauthenticated()
    {
        if (_unauthenticatedReleased)
        {
            return;
        }

        _unauthenticatedReleased = true;
        _context.Gate.Leave();
        if (_sourceAdmitted)
        {
            _context.Gate.ReleaseSource(_client.Address);
        }

        _context.Metrics.ConnectionAuthenticatedOrEnded();
    }

    /// <summary>Writes the audit row, counts the handshake, and penalizes the source for a failure.</summary>
    private async Task EndAsync(AuditOutcome outcome, NtStatus? status, string reason, TimeSpan penalty)
    {
        if (!await _audit.WriteAsync(_context, outcome, status, reason).ConfigureAwait(false))
        {
            return;
        }

        _span?.SetTag("rdpnla.outcome", SqliteOutcome(outcome));
        if (status is { } ntStatus)
        {
            _span?.SetTag("rdpnla.ntstatus", NtStatusText.Name(ntStatus));
        }

        if (outcome is AuditOutcome.Failure or AuditOutcome.Error)
        {
            _span?.SetStatus(ActivityStatusCode.Error, reason);
        }

        _context.Metrics.HandshakeEnded(SqliteOutcome(outcome), _audit.CredSspVersion, _context.TimeProvider.GetElapsedTime(_acceptedAt));
        if (penalty > TimeSpan.Zero && _context.Gate.Penalize(_client.Address, penalty))
        {
            _context.SourcePenalized(_client.Address);
        }
    }

    private static string SqliteOutcome(AuditOutcome outcome) => Storage.SqliteAuditLog.OutcomeText(outcome);

    private void LogViolation(string reason)
    {
        if (_context.LogThrottle.TryAcquire("protocol-violation", out long suppressed))
        {
            FrontDoorLog.ProtocolViolation(Logger, suppressed == 0 ? reason : $"{reason} ({suppressed} similar messages suppressed)");
        }
    }

    private async Task HandshakeAsync(Stream network, CancellationToken cancellationToken)
    {
        var transport = new Gateway.RelayBufferingStream(network);
        _transport = transport;
        var tls = new SslStream(transport, leaveInnerStreamOpen: true);
        await using (tls.ConfigureAwait(false))
        {
            using var acceptor = new RdpServerAcceptor(new RdpServerAcceptorOptions
            {
                SecurityLayer = _settings.Options.SecurityLayer,
                NlaRequired = _settings.Options.NlaRequired,
                CertificateAvailable = true,
                CredSsp = _context.CreateCredSspOptions(_settings),
            });
            AccountAuthenticator accounts = _context.CreateAccountAuthenticator(_store!);
            await using (accounts.ConfigureAwait(false))
            {
                var host = new SecurityPhaseHost(this, accounts);
                SecurityPhaseStep step = await SecurityPhaseDriver.RunServerAsync(network, tls, TlsOptions, acceptor, host, cancellationToken).ConfigureAwait(false);
                if (acceptor.CredSsp is null)
                {
                    await EndWithoutNlaAsync(network, acceptor, step, cancellationToken).ConfigureAwait(false);
                    return;
                }

                await EndSecurityPhaseAsync(tls, acceptor, accounts, host, step, cancellationToken).ConfigureAwait(false);
            }
        }
    }

    private SslServerAuthenticationOptions TlsOptions => new()
    {
        ServerCertificateContext = _settings.CertificateContext,
        ClientCertificateRequired = false,
        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
        AllowRenegotiation = false,
        CertificateRevocationCheckMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
    };

    /// <summary>The security phase ended before CredSSP: a refused negotiation, Standard RDP Security, or TLS without NLA.</summary>
    private async Task EndWithoutNlaAsync(Stream network, RdpServerAcceptor acceptor, SecurityPhaseStep step, CancellationToken cancellationToken)
    {
        // The Connection Confirm goes out at once, before the audit write: RDP_NEG_FAILURE (MS-RDPBCGR §3.3.5.3.2), or the
        // confirm of Standard RDP Security (TLS without NLA has nothing left to send). No secret is at stake, and a
        // client probing many protocols is not held up by the audit log.
        await SecurityPhaseDriver.WriteServerStepAsync(network, step, cancellationToken).ConfigureAwait(false);
        if (step.Action == SecurityPhaseAction.Failed)
        {
            await EndAsync(AuditOutcome.Refused, null, acceptor.Decision!.Reason, TimeSpan.Zero).ConfigureAwait(false);
            return;
        }

        if (acceptor.SelectedProtocol == SecurityProtocols.Ssl)
        {
            FrontDoorLog.NoSessionWithoutNla(Logger, "PROTOCOL_SSL (TLS without NLA)");
            await EndAsync(AuditOutcome.Refused, null, "TLS selected without NLA; no backend for unauthenticated sessions", TimeSpan.Zero).ConfigureAwait(false);
            return;
        }

        FrontDoorLog.NoSessionWithoutNla(Logger, "PROTOCOL_RDP (Standard RDP Security)");
        await EndAsync(AuditOutcome.Refused, null, "Standard RDP Security selected; no session without NLA", TimeSpan.Zero).ConfigureAwait(false);
    }

    /// <summary>
    /// CredSSP ran: records the outcome, then answers the client. Every refusal is logged and audited before the client
    /// learns it (the step's output: an errorCode TSRequest or AUTHZ_ACCESS_DENIED).
    /// </summary>
    private async Task EndSecurityPhaseAsync(SslStream tls, RdpServerAcceptor acceptor, AccountAuthenticator accounts, SecurityPhaseHost host, SecurityPhaseStep step, CancellationToken cancellationToken)
    {
        CredSspServerContext credSsp = acceptor.CredSsp!;
        if (!host.AuthorizationAsked)
        {
            await RecordOutcomeAsync(credSsp, accounts, cancellationToken).ConfigureAwait(false);
        }

        string account = acceptor.Identity?.Account ?? (credSsp.UserName is null ? "(user not yet known)"
            : string.IsNullOrEmpty(credSsp.DomainName) ? credSsp.UserName : $"{credSsp.DomainName}\\{credSsp.UserName}");
        if (accounts.StoreFault is { } fault)
        {
            await EndWithStoreFaultAsync(tls, acceptor, !host.AuthorizationAsked, fault, account, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (!host.AuthorizationAsked)
        {
            string statusName = NtStatusText.Name(credSsp.FailureStatus);
            string failure = Portal.PortalSetup.WithPortalHint($"{credSsp.PackageName}: {_unmappedPrincipal ?? credSsp.FailureMessage ?? credSsp.FailureReason.ToString()}", credSsp.FailureStatus, _context.SecondFactor?.PortalUrl);
            try
            {
                // The failure is counted; its row is committed before the client learns the outcome. A row that cannot be
                // committed turns the answer into the store fault's (docs/high-availability.md, "Faults").
                await _audit.WriteBeforeAnswerAsync(_context, AuditOutcome.Failure, credSsp.FailureStatus, failure, CancellationToken.None).ConfigureAwait(false);
            }
            catch (AccountStoreException ex)
            {
                accounts.StoreFault = ex;
                await EndWithStoreFaultAsync(tls, acceptor, credSspFailed: true, ex, account, cancellationToken).ConfigureAwait(false);
                return;
            }

            FrontDoorLog.AuthenticationFailed(Logger, account, statusName, failure);
            await EndAsync(AuditOutcome.Failure, credSsp.FailureStatus, failure, Limits.PenaltyAuthenticationFailure).ConfigureAwait(false);

            // Only now, with the failure counted and audited, does the client learn the outcome.
            await SecurityPhaseDriver.WriteServerStepAsync(tls, step, cancellationToken).ConfigureAwait(false);
            return;
        }

        if (step.Action == SecurityPhaseAction.Failed)
        {
            if (host.Refusal is { } refusal)
            {
                // MS-RDPBCGR §2.2.10.2: with HYBRID_EX the server answers AUTHZ_ACCESS_DENIED; with HYBRID it can only
                // disconnect (Windows would send a Set Error Info PDU later in the connection). The password was already
                // recorded with the logon, so the answer need not wait for this audit row.
                await SecurityPhaseDriver.WriteServerStepAsync(tls, step, cancellationToken).ConfigureAwait(false);
                string action = acceptor.EarlyUserAuthorizationResultDue ? "Early User Authorization Result AUTHZ_ACCESS_DENIED" : "disconnected after CredSSP";
                if (refusal.MissingGroup is { } missingGroup)
                {
                    FrontDoorLog.NotInAllowedGroup(Logger, account, missingGroup, action);
                    await EndAsync(AuditOutcome.Refused, NtStatus.LogonTypeNotGranted, $"not a member of an allowed group: {missingGroup} ({action})", TimeSpan.Zero).ConfigureAwait(false);
                }
                else
                {
                    FrontDoorLog.RemoteLogonDenied(Logger, account, action);
                    await EndAsync(AuditOutcome.Refused, NtStatus.LogonTypeNotGranted, $"remote logon denied ({action})", TimeSpan.Zero).ConfigureAwait(false);
                }

                return;
            }

            // The second factor's refusal was logged and audited during the hold; the client learns it now.
            await SecurityPhaseDriver.WriteServerStepAsync(tls, step, cancellationToken).ConfigureAwait(false);
            return;
        }

        string userName = host.UserName;
        Gateway.GatewayPlan? plan = _context.Gateway is { } relay ? await relay.PlanAsync(userName, _domainUser, cancellationToken).ConfigureAwait(false) : null;

        // MS-RDPBCGR §2.2.10.2: with HYBRID_EX the client waits for the Early User Authorization Result. A relayed user
        // gets it from the gateway once the backend leg is connected (AUTHZ_ACCESS_DENIED when it fails), not now.
        if (plan is null)
        {
            await SecurityPhaseDriver.WriteServerStepAsync(tls, step, cancellationToken).ConfigureAwait(false);
        }

        SecurityProtocols selected = acceptor.SelectedProtocol!.Value;
        if (_context.Gateway is { } gateway && plan is not null)
        {
            // The gateway hook: only now, with the user proven, is a backend contacted. The session outlives the
            // handshake deadline, the minimum data rate and the unauthenticated-connection caps.
            await EndAsync(AuditOutcome.Success, NtStatus.Success, $"authenticated with {credSsp.PackageName}; relaying to {plan.Backend}", TimeSpan.Zero).ConfigureAwait(false);
            _handshakeClock?.Stop();
            _guarded!.Enabled = false;
            ReleaseUnauthenticated();
            _phase = "gateway";
            var front = new Gateway.FrontLeg(_audit.ConnectionId, _client, _socket, tls, _transport!, _audit.RequestedProtocols ?? selected, selected, userName, account, _domainUser);
            await gateway.RelayAsync(front, plan, credSsp.DelegatedCredentials, credSsp, _stopping).ConfigureAwait(false);
            return;
        }

        await EndAsync(AuditOutcome.Success, NtStatus.Success, $"authenticated with {credSsp.PackageName}; no backend configured", TimeSpan.Zero).ConfigureAwait(false);

        // Authenticated: the connection no longer counts against the pre-authentication limits.
        ReleaseUnauthenticated();

        // The client now starts the RDP connection sequence with MCS Connect Initial (MS-RDPBCGR §1.3.1.1). Reading it
        // lets the client finish its CredSSP phase cleanly (FreeRDP logs CONNECTION_STATE_MCS_CONNECT) before we close.
        _phase = "MCS Connect Initial";
        // A client that only wanted to authenticate (a probe, a load generator) closes here: an ordinary end, so it is
        // not thrown through the connection's frames as the errors above are.
        byte[]? connectInitial = await MessageFraming.ReadTpktFrameOrEndAsync(tls, Limits.MaxMessageSize, cancellationToken).ConfigureAwait(false);
        if (connectInitial is null)
        {
            FrontDoorLog.ClientClosed(Logger, _phase);
            return;
        }

        FrontDoorLog.NoBackend(Logger, account, connectInitial.Length);
    }

    /// <summary>Counts a failure toward lockout, or releases a verified attempt; a database fault is kept in the authenticator.</summary>
    private async Task RecordOutcomeAsync(CredSspServerContext credSsp, AccountAuthenticator accounts, CancellationToken cancellationToken)
    {
        SetIdentity(credSsp);
        try
        {
            if (await accounts.RecordOutcomeAsync(credSsp, cancellationToken).ConfigureAwait(false))
            {
                _context.Metrics.AccountLockedOut();
            }
        }
        catch (AccountStoreException)
        {
            // Kept in accounts.StoreFault and answered by the caller.
        }
    }

    private void SetIdentity(CredSspServerContext credSsp)
    {
        _audit.UserName = credSsp.UserName;
        _audit.DomainName = credSsp.DomainName;
        _audit.CredSspVersion = credSsp.PeerVersion == 0 ? null : credSsp.PeerVersion;
    }

    /// <summary>
    /// The password verified and the server is about to prove itself: the logon is recorded (lock re-checked) and its
    /// audit row committed first, so that a client closing right after the reply still leaves the verified password on
    /// record. Returns the status to refuse the logon with, or STATUS_SUCCESS.
    /// </summary>
    private async ValueTask<NtStatus> RecordVerifiedLogonAsync(CredSspServerContext credSsp, AuthenticatedIdentity identity, AccountAuthenticator accounts, CancellationToken cancellationToken)
    {
        // A domain user's password or ticket was verified by the domain controller, whose bad-password count is the
        // lockout (docs/active-directory.md): nothing is recorded in the local store.
        NtStatus recorded = _domainSids is not null ? NtStatus.Success : await accounts.RecordVerifiedAsync(cancellationToken).ConfigureAwait(false);
        if (recorded != NtStatus.Success)
        {
            return recorded;
        }

        SetIdentity(credSsp);
        string? missingGroup = MissingGroup();
        string action = _audit.SelectedProtocol == SecurityProtocols.HybridEx ? "Early User Authorization Result AUTHZ_ACCESS_DENIED" : "disconnected after CredSSP";
        (AuditOutcome outcome, NtStatus status, string reason) = missingGroup is not null
            ? (AuditOutcome.Refused, NtStatus.LogonTypeNotGranted, $"authenticated with {identity.PackageName}; not a member of an allowed group: {missingGroup} ({action})")
            : accounts.RemoteLogonDenied
            ? (AuditOutcome.Refused, NtStatus.LogonTypeNotGranted, $"authenticated with {identity.PackageName}; remote logon denied ({action})")
            : (AuditOutcome.Success, NtStatus.Success, $"authenticated with {identity.PackageName}; {(identity.VerifiedBy == IdentityVerification.KerberosTicket ? "ticket" : "password")} verified");
        try
        {
            await _audit.WriteBeforeAnswerAsync(_context, outcome, status, reason, cancellationToken).ConfigureAwait(false);
            return NtStatus.Success;
        }
        catch (AccountStoreException ex)
        {
            accounts.StoreFault = ex;
            return NtStatus.InternalDbError;
        }
    }

    /// <summary>The allowed groups a domain user is outside of, or null (a local user, or a member).</summary>
    private string? MissingGroup() =>
        _domainSids is not null && _context.Domain is { } allowedBy && !allowedBy.IsAllowed(_domainSids) ? allowedBy.AllowedGroupNames : null;

    /// <summary>
    /// The account database failed or was too slow: the client gets STATUS_INTERNAL_DB_ERROR (docs/hardening.md) at once,
    /// then the attempt is audited as an error if the database still takes writes. The source is not penalized.
    /// </summary>
    private async Task EndWithStoreFaultAsync(SslStream tls, RdpServerAcceptor acceptor, bool credSspFailed, AccountStoreException fault, string account, CancellationToken cancellationToken)
    {
        string reason = fault.Busy ? $"account database busy: {fault.Message}" : $"account database failed during {fault.Operation}: {fault.Message}";
        string exception = fault.InnerException?.GetType().Name ?? nameof(AccountStoreException);
        if (fault.Operation == AuditRecordBuilder.WriteOperation)
        {
            // The accounts answered and only the audit row failed: its own gate, which a successful account lookup does
            // not reset, so a lasting audit fault writes one line per interval, not two per logon.
            FrontDoorLog.AuditFailed(Logger, $"{(fault.Busy ? fault.Message : $"{exception}: {fault.Message}")}; the logon fails with STATUS_INTERNAL_DB_ERROR");
        }
        else if (fault.Busy)
        {
            FrontDoorLog.StoreBusy(Logger, fault.Operation, Limits.StoreTimeout);
        }
        else
        {
            FrontDoorLog.StoreFailed(Logger, fault.Operation, exception, fault.Message);
        }

        FrontDoorLog.AuthenticationFailed(Logger, account, NtStatusText.Name(NtStatus.InternalDbError), reason);
        if (credSspFailed)
        {
            await SecurityPhaseDriver.WriteServerStepAsync(tls, acceptor.ReplaceFailure(NtStatus.InternalDbError, reason), cancellationToken).ConfigureAwait(false);
        }

        await EndAsync(AuditOutcome.Error, NtStatus.InternalDbError, reason, TimeSpan.Zero).ConfigureAwait(false);
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}

/// <summary>A deadline for one phase of the handshake, linked to the whole handshake's deadline.</summary>
internal sealed class PhaseDeadline : IDisposable
{
    private readonly CancellationTokenSource _timer;
    private readonly CancellationTokenSource _linked;

    public PhaseDeadline(TimeSpan timeout, TimeProvider timeProvider, CancellationToken outer)
    {
        Timeout = timeout;
        _timer = new CancellationTokenSource(timeout, timeProvider);
        _linked = CancellationTokenSource.CreateLinkedTokenSource(outer, _timer.Token);
        _clock = new PausableTimeout(_timer, timeout, timeProvider);
    }

    private readonly PausableTimeout _clock;
    private bool _disposed;

    /// <summary>Stops the phase's clock while the server waits on its own database; nothing once the phase has ended.</summary>
    public void Pause()
    {
        // The connection keeps its last phase's deadline after the phase ended; its timer is disposed by then, and
        // touching it would throw (and catch) an ObjectDisposedException on every later database call.
        if (!_disposed)
        {
            _clock.Pause();
        }
    }

    /// <summary>Restarts the clock stopped by <see cref="Pause"/>; nothing once the phase has ended.</summary>
    public void Resume()
    {
        if (!_disposed)
        {
            _clock.Resume();
        }
    }

    public TimeSpan Timeout { get; }

    public CancellationToken Token => _linked.Token;

    public bool Expired => _timer.IsCancellationRequested;

    public void Dispose()
    {
        _disposed = true;
        _linked.Dispose();
        _timer.Dispose();
    }
}
