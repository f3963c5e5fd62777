using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.Extensions.Logging;
using RdpNla.Protocol;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Rdp;
using RdpNla.Server.Audit;
using RdpNla.Server.Limits;
using RdpNla.Transport;

namespace RdpNla.Server.FrontDoor;

/// <summary>
/// One client of the front door: X.224 negotiation with the Windows policy, TLS, the CredSSP acceptor, the account
/// policy, the Early User Authorization Result, and the audit record. Nothing beyond the handshake is touched before
/// CredSSP has proven the user. Every failure is logged with its specific reason and closes only this connection.
/// </summary>
public sealed class FrontDoorConnection : IAsyncDisposable
{
    private const int MaxConnectionRequestSize = 4096;

    private readonly Socket _socket;
    private readonly FrontDoorContext _context;
    private readonly AuditRecordBuilder _audit;
    private readonly long _acceptedAt;
    private IPEndPoint _client;
    private bool _sourceAdmitted;
    private bool _unauthenticatedReleased;
    private PhaseDeadline? _phaseDeadline;
    private string _phase = "accept";
    private CancellationTokenSource? _handshakeDeadline;
    private MinimumDataRateStream? _guarded;
    private Gateway.RelayBufferingStream? _transport;
    private CancellationToken _stopping;

    internal FrontDoorConnection(Socket socket, FrontDoorContext context)
    {
        _socket = socket;
        _context = context;
        _client = (IPEndPoint)socket.RemoteEndPoint!;
        _audit = new AuditRecordBuilder(_client, context.TimeProvider);
        _acceptedAt = context.TimeProvider.GetTimestamp();
    }

    private ILogger Logger => _context.Logger;

    private FrontDoorLimits Limits => _context.Options.Limits;

    internal async Task RunAsync(long connectionId, CancellationToken stopping)
    {
        var socketPeer = (IPEndPoint)_socket.RemoteEndPoint!;
        using IDisposable? scope = Logger.BeginScope("Connection {ConnectionId} from {RemoteEndPoint}", connectionId, socketPeer.ToString());
        _audit.ConnectionId = connectionId;
        _context.Metrics.ConnectionOpened();
        FrontDoorLog.Accepted(Logger);
        _socket.NoDelay = true;
        using var deadline = new CancellationTokenSource(Limits.HandshakeTimeout, _context.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, stopping);
        var network = new NetworkStream(_socket, ownsSocket: false);
        var guarded = new MinimumDataRateStream(network, Limits.MinDataRate, Limits.MinDataRateGracePeriod, _context.TimeProvider);
        _guarded = guarded;
        _handshakeDeadline = deadline;
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
        byte[] frame;
        using (EnterPhase("X.224", Limits.NegotiationTimeout, cancellationToken, out CancellationToken negotiation))
        {
            frame = await MessageFraming.ReadTpktFrameAsync(network, MaxConnectionRequestSize, negotiation).ConfigureAwait(false);
        }

        X224ConnectionRequest request = X224ConnectionRequest.Decode(frame);
        NegotiationDecision decision = SecurityNegotiator.Select(
            _context.Options.SecurityLayer,
            _context.Options.NlaRequired,
            request,
            certificateAvailable: true);
        SecurityProtocols requested = request.NegotiationRequest?.RequestedProtocols ?? SecurityProtocols.Rdp;
        FrontDoorLog.Negotiated(Logger, request.NegotiationRequest is null ? "(no RDP_NEG_REQ)" : requested.Name(), request.Cookie, decision.Reason);
        _audit.RequestedProtocols = requested;

        await network.WriteAsync(decision.Confirm.Encode(), cancellationToken).ConfigureAwait(false);
        if (decision.ClosesConnection)
        {
            await EndAsync(AuditOutcome.Refused, null, decision.Reason, TimeSpan.Zero).ConfigureAwait(false);
            return;
        }

        SecurityProtocols selected = decision.SelectedProtocol ?? SecurityProtocols.Rdp;
        _audit.SelectedProtocol = selected;
        if (selected == SecurityProtocols.Rdp)
        {
            FrontDoorLog.NoSessionWithoutNla(Logger, "PROTOCOL_RDP (Standard RDP Security)");
            await EndAsync(AuditOutcome.Refused, null, "Standard RDP Security selected; no session without NLA", TimeSpan.Zero).ConfigureAwait(false);
            return;
        }

        var transport = new Gateway.RelayBufferingStream(network);
        _transport = transport;
        var tls = new SslStream(transport, leaveInnerStreamOpen: true);
        await using (tls.ConfigureAwait(false))
        {
            using (EnterPhase("TLS", Limits.TlsHandshakeTimeout, cancellationToken, out CancellationToken handshake))
            {
                await tls.AuthenticateAsServerAsync(
                    new SslServerAuthenticationOptions
                    {
                        ServerCertificateContext = _context.CertificateContext,
                        ClientCertificateRequired = false,
                        EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                        AllowRenegotiation = false,
                        CertificateRevocationCheckMode = System.Security.Cryptography.X509Certificates.X509RevocationMode.NoCheck,
                    },
                    handshake).ConfigureAwait(false);
            }

            FrontDoorLog.TlsEstablished(Logger, tls.SslProtocol.ToString(), tls.NegotiatedCipherSuite.ToString());

            if (selected == SecurityProtocols.Ssl)
            {
                FrontDoorLog.NoSessionWithoutNla(Logger, "PROTOCOL_SSL (TLS without NLA)");
                await EndAsync(AuditOutcome.Refused, null, "TLS selected without NLA; no backend for unauthenticated sessions", TimeSpan.Zero).ConfigureAwait(false);
                return;
            }

            _phase = "CredSSP";
            await AuthenticateAsync(tls, selected, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task AuthenticateAsync(SslStream tls, SecurityProtocols selected, CancellationToken cancellationToken)
    {
        using var credSsp = new CredSspServerContext(_context.CreateCredSspOptions());
        AccountAuthenticator accounts = _context.CreateAccountAuthenticator();
        await using (accounts.ConfigureAwait(false))
        {
            await AuthenticateAsync(tls, selected, credSsp, accounts, cancellationToken).ConfigureAwait(false);
        }
    }

    private async Task AuthenticateAsync(SslStream tls, SecurityProtocols selected, CredSspServerContext credSsp, AccountAuthenticator accounts, CancellationToken cancellationToken)
    {
        string? unmappedPrincipal = null;
        CredentialLookup lookup = accounts.LookupAsync;
        if (_context.Kerberos is { } kerberos)
        {
            // docs/kerberos.md: a ticket's client principal of the configured realm is the local user of that name.
            lookup = (userName, domainName, token) =>
            {
                if (credSsp.KerberosPrincipal is not { } principal)
                {
                    return accounts.LookupAsync(userName, domainName, token);
                }

                return kerberos.TryMapToLocalUser(principal, out string localUser, out unmappedPrincipal)
                    ? accounts.LookupAsync(localUser, string.Empty, token)
                    : ValueTask.FromResult(Protocol.Ntlm.NtlmCredentialLookup.NotFound());
            };
        }

        IReadOnlyList<string>? domainSids = null;
        if (_context.Domain is { } domain)
        {
            lookup = DomainLookup(domain, credSsp, lookup, sids => domainSids = sids);
        }

        (NlaStatus status, byte[]? failureReply) = await CredSspServerHandshake.RunAsync(
            tls,
            credSsp,
            lookup,
            _context.Options.Limits.MaxMessageSize,
            cancellationToken).ConfigureAwait(false);

        _audit.UserName = credSsp.UserName;
        _audit.DomainName = credSsp.DomainName;
        _audit.CredSspVersion = credSsp.PeerVersion == 0 ? null : credSsp.PeerVersion;
        if (await accounts.RecordOutcomeAsync(credSsp, cancellationToken).ConfigureAwait(false))
        {
            _context.Metrics.AccountLockedOut();
        }

        string account = credSsp.KerberosPrincipal ?? (credSsp.UserName is null ? "(user not yet known)"
            : string.IsNullOrEmpty(credSsp.DomainName) ? credSsp.UserName : $"{credSsp.DomainName}\\{credSsp.UserName}");
        if (status == NlaStatus.Failed)
        {
            string statusName = NtStatusText.Name(credSsp.FailureStatus);
            string failure = $"{credSsp.PackageName}: {unmappedPrincipal ?? credSsp.FailureMessage ?? credSsp.FailureReason.ToString()}";
            FrontDoorLog.AuthenticationFailed(Logger, account, statusName, failure);
            await EndAsync(AuditOutcome.Failure, credSsp.FailureStatus, failure, Limits.PenaltyAuthenticationFailure).ConfigureAwait(false);

            // Only now, with the failure counted and audited, does the client learn the outcome.
            if (failureReply is not null)
            {
                await MessageFraming.WriteMessageAsync(tls, failureReply, cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        string? missingGroup = domainSids is not null && _context.Domain is { } allowedBy && !allowedBy.IsAllowed(domainSids) ? allowedBy.AllowedGroupNames : null;
        if (accounts.RemoteLogonDenied || missingGroup is not null)
        {
            // MS-RDPBCGR §2.2.10.2: with HYBRID_EX the server answers AUTHZ_ACCESS_DENIED; with HYBRID it can only
            // disconnect (Windows would send a Set Error Info PDU later in the connection).
            string action = selected == SecurityProtocols.HybridEx ? "Early User Authorization Result AUTHZ_ACCESS_DENIED" : "disconnected after CredSSP";
            if (selected == SecurityProtocols.HybridEx)
            {
                await tls.WriteAsync(EarlyUserAuthorizationResult.AccessDenied.Encode(), cancellationToken).ConfigureAwait(false);
            }

            if (missingGroup is not null)
            {
                FrontDoorLog.NotInAllowedGroup(Logger, account, missingGroup, action);
                await EndAsync(AuditOutcome.Refused, NtStatus.LogonTypeNotGranted, $"not a member of an allowed group: {missingGroup} ({action})", TimeSpan.Zero).ConfigureAwait(false);
                return;
            }

            FrontDoorLog.RemoteLogonDenied(Logger, account, action);
            await EndAsync(AuditOutcome.Refused, NtStatus.LogonTypeNotGranted, $"remote logon denied ({action})", TimeSpan.Zero).ConfigureAwait(false);
            return;
        }

        if (selected == SecurityProtocols.HybridEx)
        {
            await tls.WriteAsync(EarlyUserAuthorizationResult.Success.Encode(), cancellationToken).ConfigureAwait(false);
        }

        string package = credSsp.IsSpnego ? "SPNEGO/" + credSsp.PackageName : credSsp.PackageName;
        FrontDoorLog.Authenticated(Logger, account, credSsp.PeerVersion, package);
        string userName = accounts.AuthenticatedUserName ?? credSsp.UserName ?? string.Empty;
        if (_context.Gateway is { } gateway && await gateway.PlanAsync(userName, cancellationToken).ConfigureAwait(false) is { } plan)
        {
            // The gateway hook: only now, with the user proven, is a backend contacted. The session outlives the
            // handshake deadline, the minimum data rate and the unauthenticated-connection caps.
            await EndAsync(AuditOutcome.Success, NtStatus.Success, $"authenticated with {credSsp.PackageName}; relaying to {plan.Backend}", TimeSpan.Zero).ConfigureAwait(false);
            _handshakeDeadline?.CancelAfter(Timeout.InfiniteTimeSpan);
            _guarded!.Enabled = false;
            ReleaseUnauthenticated();
            _phase = "gateway";
            var front = new Gateway.FrontLeg(_audit.ConnectionId, _client, _socket, tls, _transport!, _audit.RequestedProtocols ?? selected, selected, userName, account);
            await gateway.RelayAsync(front, plan, credSsp.DelegatedCredentials, credSsp, _stopping).ConfigureAwait(false);
            return;
        }

        await EndAsync(AuditOutcome.Success, NtStatus.Success, $"authenticated with {credSsp.PackageName}; no backend configured", TimeSpan.Zero).ConfigureAwait(false);

        // Authenticated: the connection no longer counts against the pre-authentication limits.
        ReleaseUnauthenticated();

        // The client now starts the RDP connection sequence with MCS Connect Initial (MS-RDPBCGR §1.3.1.1). Reading it
        // lets the client finish its CredSSP phase cleanly (FreeRDP logs CONNECTION_STATE_MCS_CONNECT) before we close.
        _phase = "MCS Connect Initial";
        byte[] connectInitial = await MessageFraming.ReadTpktFrameAsync(tls, _context.Options.Limits.MaxMessageSize, cancellationToken).ConfigureAwait(false);
        FrontDoorLog.NoBackend(Logger, account, connectInitial.Length);
    }

    /// <summary>
    /// Sends users of the domain to the domain controller (docs/active-directory.md): NTLM responses are verified by the
    /// DC through winbind, which returns the SessionBaseKey and the user's group SIDs; a Kerberos principal of the
    /// domain's realm was already verified by the domain's KDC and only its groups are read. Other names go to
    /// <paramref name="local"/>. No domain user is looked up in, or written to, the local store.
    /// </summary>
    private CredentialLookup DomainLookup(ActiveDirectory.DomainLogons domain, CredSspServerContext credSsp, CredentialLookup local, Action<IReadOnlyList<string>> groups) =>
        async (userName, domainName, token) =>
        {
            string account = string.IsNullOrEmpty(domainName) ? userName : $"{domainName}\\{userName}";
            if (credSsp.KerberosPrincipal is { } principal)
            {
                if (!principal.EndsWith("@" + domain.DnsDomain, StringComparison.OrdinalIgnoreCase))
                {
                    return await local(userName, domainName, token).ConfigureAwait(false);
                }

                (ActiveDirectory.WbcErr error, IReadOnlyList<string> sids) = await domain.GroupsOfAsync(userName).ConfigureAwait(false);
                if (error != ActiveDirectory.WbcErr.Success)
                {
                    FrontDoorLog.DomainUnreachable(Logger, principal, error.ToString());
                    return NtlmCredentialLookup.RefusedByDomain(NtStatus.NoLogonServers);
                }

                groups(sids);

                // The ticket, issued by the domain's KDC, already proved the identity; Kerberos does not use this key.
                return NtlmCredentialLookup.VerifiedByDomain(new byte[16]);
            }

            if (credSsp.Ntlm is not { } ntlm || !domain.IsDomainUser(userName, domainName))
            {
                return await local(userName, domainName, token).ConfigureAwait(false);
            }

            using ActiveDirectory.WinbindLogon logon = await domain.AuthenticateAsync(ntlm).ConfigureAwait(false);
            if (logon.Status == NtStatus.Success && logon.SessionBaseKey is { } key)
            {
                groups(logon.Sids);
                return NtlmCredentialLookup.VerifiedByDomain(key);
            }

            if (logon.Status == NtStatus.NoLogonServers)
            {
                FrontDoorLog.DomainUnreachable(Logger, account, logon.Error.ToString());
            }

            return NtlmCredentialLookup.RefusedByDomain(ActiveDirectory.DomainLogons.ClientStatus(logon.Status));
        };

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
    }

    public TimeSpan Timeout { get; }

    public CancellationToken Token => _linked.Token;

    public bool Expired => _timer.IsCancellationRequested;

    public void Dispose()
    {
        _linked.Dispose();
        _timer.Dispose();
    }
}
