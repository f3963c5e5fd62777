using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using Microsoft.Extensions.Logging;
using RdpNla.Protocol;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Rdp;
using RdpNla.Server.Audit;
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
    private readonly IPEndPoint _remote;
    private readonly AuditRecordBuilder _audit;
    private string _phase = "X.224";
    private CancellationTokenSource? _handshakeDeadline;
    private CancellationToken _stopping;
    private Action? _authenticationFinished;

    internal FrontDoorConnection(Socket socket, FrontDoorContext context)
    {
        _socket = socket;
        _context = context;
        _remote = (IPEndPoint)socket.RemoteEndPoint!;
        _audit = new AuditRecordBuilder(_remote, context.TimeProvider);
    }

    private ILogger Logger => _context.Logger;

    internal async Task RunAsync(long connectionId, Action authenticationFinished, CancellationToken stopping)
    {
        using IDisposable? scope = Logger.BeginScope("Connection {ConnectionId} from {RemoteEndPoint}", connectionId, _remote.ToString());
        _audit.ConnectionId = connectionId;
        FrontDoorLog.Accepted(Logger);
        _socket.NoDelay = true;
        TimeSpan timeout = _context.Options.Limits.HandshakeTimeout;
        using var deadline = new CancellationTokenSource(timeout, _context.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, stopping);
        (_handshakeDeadline, _stopping, _authenticationFinished) = (deadline, stopping, authenticationFinished);
        var network = new NetworkStream(_socket, ownsSocket: false);
        await using (network.ConfigureAwait(false))
        {
            try
            {
                await HandshakeAsync(network, linked.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (deadline.IsCancellationRequested)
            {
                FrontDoorLog.HandshakeTimeout(Logger, timeout, _phase);
                await _audit.WriteAsync(_context, AuditOutcome.Error, null, $"handshake deadline passed in phase {_phase}").ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                FrontDoorLog.ConnectionError(Logger, _phase, "the server is stopping");
            }
            catch (EndOfStreamException ex) when (ex is not PeerClosedException)
            {
                FrontDoorLog.ProtocolViolation(Logger, $"{_phase}: truncated message, the client closed the connection in the middle of it");
                await _audit.WriteAsync(_context, AuditOutcome.Error, null, $"truncated message in phase {_phase}").ConfigureAwait(false);
            }
            catch (PeerClosedException)
            {
                FrontDoorLog.ClientClosed(Logger, _phase);
                await _audit.WriteAsync(_context, AuditOutcome.Error, null, $"client closed the connection in phase {_phase}").ConfigureAwait(false);
            }
            catch (NlaProtocolException ex)
            {
                FrontDoorLog.ProtocolViolation(Logger, $"{_phase}: {ex.Message}");
                await _audit.WriteAsync(_context, AuditOutcome.Error, null, $"protocol violation in phase {_phase}: {ex.Reason}").ConfigureAwait(false);
            }
            catch (AuthenticationException ex)
            {
                FrontDoorLog.TlsFailed(Logger, ex.InnerException?.Message ?? ex.Message);
                await _audit.WriteAsync(_context, AuditOutcome.Error, null, "TLS handshake failed").ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
            {
                FrontDoorLog.ConnectionError(Logger, _phase, ex.Message);
                await _audit.WriteAsync(_context, AuditOutcome.Error, null, $"connection error in phase {_phase}").ConfigureAwait(false);
            }
            finally
            {
                authenticationFinished();
            }
        }
    }

    private async Task HandshakeAsync(NetworkStream network, CancellationToken cancellationToken)
    {
        byte[] frame = await MessageFraming.ReadTpktFrameAsync(network, MaxConnectionRequestSize, cancellationToken).ConfigureAwait(false);
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
            await _audit.WriteAsync(_context, AuditOutcome.Refused, null, decision.Reason).ConfigureAwait(false);
            return;
        }

        SecurityProtocols selected = decision.SelectedProtocol ?? SecurityProtocols.Rdp;
        _audit.SelectedProtocol = selected;
        if (selected == SecurityProtocols.Rdp)
        {
            FrontDoorLog.NoSessionWithoutNla(Logger, "PROTOCOL_RDP (Standard RDP Security)");
            await _audit.WriteAsync(_context, AuditOutcome.Refused, null, "Standard RDP Security selected; no session without NLA").ConfigureAwait(false);
            return;
        }

        _phase = "TLS";
        var tls = new SslStream(network, leaveInnerStreamOpen: true);
        await using (tls.ConfigureAwait(false))
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
                cancellationToken).ConfigureAwait(false);
            FrontDoorLog.TlsEstablished(Logger, tls.SslProtocol.ToString(), tls.NegotiatedCipherSuite.ToString());

            if (selected == SecurityProtocols.Ssl)
            {
                FrontDoorLog.NoSessionWithoutNla(Logger, "PROTOCOL_SSL (TLS without NLA)");
                await _audit.WriteAsync(_context, AuditOutcome.Refused, null, "TLS selected without NLA; no backend for unauthenticated sessions").ConfigureAwait(false);
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
        (NlaStatus status, byte[]? failureReply) = await CredSspServerHandshake.RunAsync(
            tls,
            credSsp,
            accounts.LookupAsync,
            _context.Options.Limits.MaxMessageSize,
            cancellationToken).ConfigureAwait(false);

        _audit.UserName = credSsp.UserName;
        _audit.DomainName = credSsp.DomainName;
        _audit.CredSspVersion = credSsp.PeerVersion == 0 ? null : credSsp.PeerVersion;
        await accounts.RecordOutcomeAsync(credSsp, cancellationToken).ConfigureAwait(false);
        string account = credSsp.UserName is null ? "(user not yet known)"
            : string.IsNullOrEmpty(credSsp.DomainName) ? credSsp.UserName : $"{credSsp.DomainName}\\{credSsp.UserName}";
        if (status == NlaStatus.Failed)
        {
            string statusName = NtStatusText.Name(credSsp.FailureStatus);
            FrontDoorLog.AuthenticationFailed(Logger, account, statusName, credSsp.FailureMessage ?? credSsp.FailureReason.ToString());
            await _audit.WriteAsync(_context, AuditOutcome.Failure, credSsp.FailureStatus, credSsp.FailureMessage ?? credSsp.FailureReason.ToString()).ConfigureAwait(false);

            // Only now, with the failure counted and audited, does the client learn the outcome.
            if (failureReply is not null)
            {
                await MessageFraming.WriteMessageAsync(tls, failureReply, cancellationToken).ConfigureAwait(false);
            }

            return;
        }

        if (accounts.RemoteLogonDenied)
        {
            // MS-RDPBCGR §2.2.10.2: with HYBRID_EX the server answers AUTHZ_ACCESS_DENIED; with HYBRID it can only
            // disconnect (Windows would send a Set Error Info PDU later in the connection).
            string action = selected == SecurityProtocols.HybridEx ? "Early User Authorization Result AUTHZ_ACCESS_DENIED" : "disconnected after CredSSP";
            if (selected == SecurityProtocols.HybridEx)
            {
                await tls.WriteAsync(EarlyUserAuthorizationResult.AccessDenied.Encode(), cancellationToken).ConfigureAwait(false);
            }

            FrontDoorLog.RemoteLogonDenied(Logger, account, action);
            await _audit.WriteAsync(_context, AuditOutcome.Refused, NtStatus.LogonTypeNotGranted, $"remote logon denied ({action})").ConfigureAwait(false);
            return;
        }

        if (selected == SecurityProtocols.HybridEx)
        {
            await tls.WriteAsync(EarlyUserAuthorizationResult.Success.Encode(), cancellationToken).ConfigureAwait(false);
        }

        FrontDoorLog.Authenticated(Logger, account, credSsp.PeerVersion, credSsp.IsSpnego ? "SPNEGO/NTLM" : "NTLM");
        string userName = accounts.AuthenticatedUserName ?? credSsp.UserName ?? string.Empty;
        if (_context.Gateway is { } gateway && await gateway.PlanAsync(userName, cancellationToken).ConfigureAwait(false) is { } plan)
        {
            // The gateway hook: only now, with the user proven, is a backend contacted. The session outlives the
            // handshake deadline and the unauthenticated-connection caps.
            await _audit.WriteAsync(_context, AuditOutcome.Success, NtStatus.Success, $"authenticated; relaying to {plan.Backend}").ConfigureAwait(false);
            _handshakeDeadline?.CancelAfter(Timeout.InfiniteTimeSpan);
            _authenticationFinished?.Invoke();
            _phase = "gateway";
            var front = new Gateway.FrontLeg(_audit.ConnectionId, _remote, _socket, tls, _audit.RequestedProtocols ?? selected, selected, userName, account);
            await gateway.RelayAsync(front, plan, credSsp.DelegatedCredentials, _stopping).ConfigureAwait(false);
            return;
        }

        await _audit.WriteAsync(_context, AuditOutcome.Success, NtStatus.Success, "authenticated; no backend configured").ConfigureAwait(false);

        // The client now starts the RDP connection sequence with MCS Connect Initial (MS-RDPBCGR §1.3.1.1). Reading it
        // lets the client finish its CredSSP phase cleanly (FreeRDP logs CONNECTION_STATE_MCS_CONNECT) before we close.
        _phase = "MCS Connect Initial";
        byte[] connectInitial = await MessageFraming.ReadTpktFrameAsync(tls, _context.Options.Limits.MaxMessageSize, cancellationToken).ConfigureAwait(false);
        FrontDoorLog.NoBackend(Logger, account, connectInitial.Length);
    }

    public ValueTask DisposeAsync()
    {
        _socket.Dispose();
        return ValueTask.CompletedTask;
    }
}
