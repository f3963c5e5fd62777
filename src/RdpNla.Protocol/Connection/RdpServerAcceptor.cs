namespace RdpNla.Protocol.Connection;

/// <summary>
/// The server role of the RDP security phase (MS-RDPBCGR §1.3.1.1), without I/O: the X.224 Connection Request is
/// negotiated with <see cref="SecurityNegotiator"/>, the Connection Confirm is produced, TLS is asked for, CredSSP runs
/// through <see cref="CredSspServerContext"/> (MS-CSSP §3.1.5), the host's authorization is asked for, and, with
/// PROTOCOL_HYBRID_EX, the Early User Authorization Result (MS-RDPBCGR §2.2.10.2) is produced. Each call returns the
/// next <see cref="SecurityPhaseStep"/>; an I/O driver writes its output and does what its action says.
/// </summary>
/// <remarks>
/// <para>Call order: <see cref="Start"/>; <see cref="Step"/> with each frame read; <see cref="TlsEstablished"/> after
/// <see cref="SecurityPhaseAction.StartTls"/>; <see cref="ProvideCredential"/>, <see cref="CompleteLogonRecord"/> and
/// <see cref="Authorize"/> to answer the host steps. Standard RDP Security (PROTOCOL_RDP) and TLS without NLA
/// (PROTOCOL_SSL) complete the security phase without CredSSP: the host reads <see cref="SelectedProtocol"/>.</para>
/// <para>Failed steps carry the answer owed to the peer; the host records the failure before writing it.</para>
/// </remarks>
public sealed class RdpServerAcceptor : IDisposable
{
    /// <summary>The largest X.224 Connection Request accepted (its length indicator allows 254 bytes; routing tokens stay far below this).</summary>
    public const int MaxConnectionRequestSize = 4096;

    private readonly RdpServerAcceptorOptions _options;
    private State _state = State.AwaitingConnectionRequest;
    private CredSspServerContext? _credSsp;
    private SecurityPhaseStep _lastFailure;

    /// <summary>Creates an acceptor for one connection.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    public RdpServerAcceptor(RdpServerAcceptorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        _options = options;
    }

    private enum State
    {
        AwaitingConnectionRequest,
        AwaitingTls,
        CredSsp,
        AwaitingCredential,
        AwaitingLogonRecord,
        AwaitingAuthorization,
        Completed,
        Failed,
    }

    /// <summary>The decoded Connection Request, once received.</summary>
    public X224ConnectionRequest? ConnectionRequest { get; private set; }

    /// <summary>The negotiation's decision, once the Connection Request is received.</summary>
    public NegotiationDecision? Decision { get; private set; }

    /// <summary>The protocols the client requested (PROTOCOL_RDP when it sent no RDP_NEG_REQ), once received.</summary>
    public SecurityProtocols? RequestedProtocols => ConnectionRequest is null ? null : ConnectionRequest.NegotiationRequest?.RequestedProtocols ?? SecurityProtocols.Rdp;

    /// <summary>The protocol the connection continues with, once negotiated; null when the negotiation failed.</summary>
    public SecurityProtocols? SelectedProtocol => Decision?.SelectedProtocol;

    /// <summary>The CredSSP exchange, once TLS is up with NLA selected: its version, package, failure details and delegated credentials.</summary>
    public CredSspServerContext? CredSsp => _credSsp;

    /// <summary>At <see cref="SecurityPhaseAction.CredentialLookupNeeded"/>: what the package asks the host.</summary>
    public CredentialRequest? PendingCredentialRequest { get; private set; }

    /// <summary>
    /// The identity CredSSP proved, from <see cref="SecurityPhaseAction.AuthorizationNeeded"/> on (also after a logon
    /// record that refused a verified identity); null before.
    /// </summary>
    public AuthenticatedIdentity? Identity { get; private set; }

    /// <summary>True when PROTOCOL_HYBRID_EX was selected: the client waits for an Early User Authorization Result.</summary>
    public bool EarlyUserAuthorizationResultDue => SelectedProtocol == SecurityProtocols.HybridEx;

    /// <summary>The first step: read the client's X.224 Connection Request.</summary>
    public SecurityPhaseStep Start()
    {
        Expect(State.AwaitingConnectionRequest, nameof(Start));
        return new SecurityPhaseStep(SecurityPhaseAction.ReadTpktFrame);
    }

    /// <summary>Takes one frame the driver read: a TPKT-framed Connection Request, or a DER TSRequest.</summary>
    /// <exception cref="NlaProtocolException">The Connection Request does not decode.</exception>
    /// <exception cref="InvalidOperationException">No frame is expected now.</exception>
    public SecurityPhaseStep Step(ReadOnlySpan<byte> input) => _state switch
    {
        State.AwaitingConnectionRequest => OnConnectionRequest(input),
        State.CredSsp => Continue(_credSsp!.GetOutgoingBlob(input, out NlaStatus status), status),
        _ => throw new InvalidOperationException($"No frame is expected in state {_state}."),
    };

    /// <summary>The TLS handshake is done: CredSSP starts (NLA), or the security phase is complete (PROTOCOL_SSL).</summary>
    /// <exception cref="InvalidOperationException">TLS was not asked for.</exception>
    public SecurityPhaseStep TlsEstablished()
    {
        Expect(State.AwaitingTls, nameof(TlsEstablished));
        if (SelectedProtocol is not (SecurityProtocols.Hybrid or SecurityProtocols.HybridEx))
        {
            _state = State.Completed;
            return new SecurityPhaseStep(SecurityPhaseAction.Completed);
        }

        _credSsp = new CredSspServerContext(_options.CredSsp);
        _state = State.CredSsp;
        return new SecurityPhaseStep(SecurityPhaseAction.ReadTsRequest);
    }

    /// <summary>Answers <see cref="SecurityPhaseAction.CredentialLookupNeeded"/> with what the host knows about <see cref="PendingCredentialRequest"/>.</summary>
    /// <exception cref="InvalidOperationException">No lookup is pending.</exception>
    public SecurityPhaseStep ProvideCredential(NtlmCredentialLookup lookup)
    {
        ArgumentNullException.ThrowIfNull(lookup);
        Expect(State.AwaitingCredential, nameof(ProvideCredential));
        PendingCredentialRequest = null;
        _credSsp!.ProvideCredential(lookup);
        _state = State.CredSsp;
        return Continue(_credSsp.GetOutgoingBlob([], out NlaStatus status), status);
    }

    /// <summary>
    /// Answers <see cref="SecurityPhaseAction.LogonRecordNeeded"/>: <see cref="NtStatus.Success"/> lets the server prove
    /// itself; any other status refuses the verified logon with it.
    /// </summary>
    /// <exception cref="InvalidOperationException">No logon record is pending.</exception>
    public SecurityPhaseStep CompleteLogonRecord(NtStatus status)
    {
        Expect(State.AwaitingLogonRecord, nameof(CompleteLogonRecord));
        _credSsp!.CompleteLogonRecord(status);
        _state = State.CredSsp;
        return Continue(_credSsp.GetOutgoingBlob([], out NlaStatus next), next);
    }

    /// <summary>
    /// Answers <see cref="SecurityPhaseAction.AuthorizationNeeded"/> with the host's verdict (account policy, groups,
    /// second factor). Success completes the security phase; with PROTOCOL_HYBRID_EX its output is AUTHZ_SUCCESS, which
    /// a relaying host may hold back and answer itself once its backend is connected. A refusal fails with
    /// <see cref="NlaFailureReason.AuthenticationFailed"/> and, with PROTOCOL_HYBRID_EX, AUTHZ_ACCESS_DENIED to write;
    /// with PROTOCOL_HYBRID the server can only close the connection (MS-RDPBCGR §2.2.10.2).
    /// </summary>
    /// <exception cref="InvalidOperationException">No authorization is pending.</exception>
    public SecurityPhaseStep Authorize(NtStatus status)
    {
        Expect(State.AwaitingAuthorization, nameof(Authorize));
        bool euar = EarlyUserAuthorizationResultDue;
        if (status == NtStatus.Success)
        {
            _state = State.Completed;
            return new SecurityPhaseStep(SecurityPhaseAction.Completed, euar ? EarlyUserAuthorizationResult.Success.Encode() : default);
        }

        return Fail(NlaFailureReason.AuthenticationFailed, euar ? EarlyUserAuthorizationResult.AccessDenied.Encode() : default, status);
    }

    /// <summary>
    /// After a CredSSP failure, replaces it with another status (the host could not record the attempt) and returns the
    /// failed step carrying the errorCode TSRequest for that status instead, when the client's version has errorCode.
    /// </summary>
    /// <exception cref="InvalidOperationException">CredSSP has not failed.</exception>
    public SecurityPhaseStep ReplaceFailure(NtStatus status, string message)
    {
        if (_state != State.Failed || _credSsp is null || _lastFailure.Status is null)
        {
            throw new InvalidOperationException("CredSSP has not failed.");
        }

        byte[]? reply = _credSsp.ReplaceFailure(status, message);
        return _lastFailure = new SecurityPhaseStep(SecurityPhaseAction.Failed, reply, _credSsp.FailureReason, status);
    }

    private SecurityPhaseStep OnConnectionRequest(ReadOnlySpan<byte> frame)
    {
        X224ConnectionRequest request = X224ConnectionRequest.Decode(frame);
        NegotiationDecision decision = SecurityNegotiator.Select(_options.SecurityLayer, _options.NlaRequired, request, _options.CertificateAvailable);
        ConnectionRequest = request;
        Decision = decision;
        byte[] confirm = decision.Confirm.Encode();
        if (decision.ClosesConnection)
        {
            // MS-RDPBCGR §3.3.5.3.2: RDP_NEG_FAILURE, then the server closes the connection.
            return Fail(NlaFailureReason.UnsupportedMechanism, confirm, status: null);
        }

        if (decision.SelectedProtocol == SecurityProtocols.Rdp)
        {
            // Standard RDP Security: no TLS, no CredSSP; the security phase ends with the Connection Confirm.
            _state = State.Completed;
            return new SecurityPhaseStep(SecurityPhaseAction.Completed, confirm);
        }

        _state = State.AwaitingTls;
        return new SecurityPhaseStep(SecurityPhaseAction.StartTls, confirm);
    }

    private SecurityPhaseStep Continue(byte[]? output, NlaStatus status)
    {
        CredSspServerContext credSsp = _credSsp!;
        switch (status)
        {
            case NlaStatus.ContinueNeeded:
                return new SecurityPhaseStep(SecurityPhaseAction.ReadTsRequest, output);
            case NlaStatus.CredentialLookupNeeded:
                _state = State.AwaitingCredential;
                PendingCredentialRequest = credSsp.CredentialRequest;
                return new SecurityPhaseStep(SecurityPhaseAction.CredentialLookupNeeded);
            case NlaStatus.LogonRecordNeeded:
                _state = State.AwaitingLogonRecord;
                Identity = credSsp.Identity;
                return new SecurityPhaseStep(SecurityPhaseAction.LogonRecordNeeded);
            case NlaStatus.Completed:
                _state = State.AwaitingAuthorization;
                Identity = credSsp.Identity;
                return new SecurityPhaseStep(SecurityPhaseAction.AuthorizationNeeded, output);
            default:
                return Fail(credSsp.FailureReason, output, credSsp.FailureStatus);
        }
    }

    private SecurityPhaseStep Fail(NlaFailureReason reason, ReadOnlyMemory<byte> output, NtStatus? status)
    {
        _state = State.Failed;
        PendingCredentialRequest = null;
        return _lastFailure = new SecurityPhaseStep(SecurityPhaseAction.Failed, output, reason, status);
    }

    private void Expect(State state, string call)
    {
        if (_state != state)
        {
            throw new InvalidOperationException($"{call} is not expected in state {_state}.");
        }
    }

    /// <summary>Disposes the CredSSP exchange (its keys and the delegated credentials).</summary>
    public void Dispose() => _credSsp?.Dispose();
}
