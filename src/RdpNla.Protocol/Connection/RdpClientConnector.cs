namespace RdpNla.Protocol.Connection;

/// <summary>Where an <see cref="RdpClientConnector"/> is in the security phase.</summary>
public enum ClientConnectorState
{
    /// <summary>Nothing sent yet: <see cref="RdpClientConnector.Start"/> comes next.</summary>
    Initial,

    /// <summary>The Connection Request is out; the server's X.224 Connection Confirm is awaited.</summary>
    AwaitingConnectionConfirm,

    /// <summary>The server selected a TLS-based protocol; the TLS handshake runs.</summary>
    AwaitingTls,

    /// <summary>CredSSP runs over TLS (MS-CSSP §3.1.5).</summary>
    CredSsp,

    /// <summary>The credentials are delegated; the Early User Authorization Result (MS-RDPBCGR §2.2.10.2) is awaited.</summary>
    AwaitingEarlyUserAuthorizationResult,

    /// <summary>The security phase succeeded (or reached <see cref="RdpClientConnectorOptions.StopAfter"/>).</summary>
    Completed,

    /// <summary>The security phase failed; see <see cref="RdpClientConnector.FailureReason"/>.</summary>
    Failed,
}

/// <summary>
/// The client role of the RDP security phase without I/O (MS-RDPBCGR §1.3.1.1, §3.2.5.3): it encodes the X.224
/// Connection Request, judges the Connection Confirm once against what was requested, asks for the TLS upgrade, runs
/// CredSSP through <see cref="CredSspClientContext"/> (NTLM, or Kerberos through its <c>IGssContext</c>), and for
/// PROTOCOL_HYBRID_EX reads the Early User Authorization Result. Each call returns a <see cref="SecurityPhaseStep"/>
/// saying what to write and what to read next; an I/O driver carries the bytes. It has no clock, logging or randomness
/// of its own. Bytes that do not decode raise <see cref="NlaProtocolException"/>.
/// </summary>
public sealed class RdpClientConnector : IDisposable
{
    private readonly RdpClientConnectorOptions _options;
    private CredSspClientContext? _credSsp;

    /// <summary>Creates a connector; nothing is encoded until <see cref="Start"/>.</summary>
    /// <exception cref="ArgumentException">CredSSP is reached without <see cref="RdpClientConnectorOptions.CredSsp"/> or <see cref="RdpClientConnectorOptions.RandomSource"/>.</exception>
    public RdpClientConnector(RdpClientConnectorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.ConnectionRequest, nameof(options));
        bool needsCredSsp = options.StopAfter is ClientSecurityStage.Authorization or ClientSecurityStage.FirstServerTsRequest;
        if (needsCredSsp && (options.CredSsp is null || options.RandomSource is null))
        {
            throw new ArgumentException("CredSSP needs the CredSsp settings factory and a RandomSource.", nameof(options));
        }

        _options = options;
    }

    /// <summary>Where the connector is.</summary>
    public ClientConnectorState State { get; private set; } = ClientConnectorState.Initial;

    /// <summary>The protocols the Connection Request asks for (PROTOCOL_RDP without an RDP_NEG_REQ).</summary>
    public SecurityProtocols RequestedProtocols => _options.ConnectionRequest.NegotiationRequest?.RequestedProtocols ?? SecurityProtocols.Rdp;

    /// <summary>The server's Connection Confirm, once decoded.</summary>
    public X224ConnectionConfirm? ConnectionConfirm { get; private set; }

    /// <summary>The protocol the server selected (PROTOCOL_RDP for a confirm without rdpNegData); null before the confirm or after an RDP_NEG_FAILURE.</summary>
    public SecurityProtocols? SelectedProtocol { get; private set; }

    /// <summary>Why the Connection Confirm was refused, if it was.</summary>
    public ProtocolSelectionFailure SelectionFailure { get; private set; }

    /// <summary>The server's SubjectPublicKey from the TLS handshake, once given to <see cref="TlsEstablished"/>.</summary>
    public ReadOnlyMemory<byte> ServerPublicKey { get; private set; }

    /// <summary>The CredSSP context, once TLS is up and CredSSP started: versions, errorCode, package, binding state.</summary>
    public CredSspClientContext? CredSsp => _credSsp;

    /// <summary>The server's first TSRequest (its CHALLENGE or errorCode), once received.</summary>
    public TsRequest? FirstServerTsRequest { get; private set; }

    /// <summary>
    /// How many TSRequests have been returned for writing (MS-CSSP §3.1.5): 1 after the first (the NTLM NEGOTIATE or the
    /// Kerberos token), 2 or more once the client answered the server (the NTLM AUTHENTICATE with the binding), counting
    /// the one with the delegated credentials. A refusal of the first TSRequest leaves it at 1.
    /// </summary>
    public int TsRequestsSent { get; private set; }

    /// <summary>True once the step carrying the delegated credentials (authInfo) has been returned for writing.</summary>
    public bool CredentialsSent { get; private set; }

    /// <summary>The Early User Authorization Result, once received.</summary>
    public EarlyUserAuthorizationResult? EarlyUserAuthorization { get; private set; }

    /// <summary>Why the security phase failed; <see cref="NlaFailureReason.None"/> unless <see cref="State"/> is <see cref="ClientConnectorState.Failed"/>.</summary>
    public NlaFailureReason FailureReason { get; private set; }

    /// <summary>The first step: write the X.224 Connection Request, then read the Connection Confirm.</summary>
    /// <exception cref="InvalidOperationException">Called twice.</exception>
    public SecurityPhaseStep Start()
    {
        Expect(ClientConnectorState.Initial);
        State = ClientConnectorState.AwaitingConnectionConfirm;
        return new SecurityPhaseStep(SecurityPhaseAction.ReadTpktFrame, _options.ConnectionRequest.Encode());
    }

    /// <summary>
    /// Takes what the last step asked to read: one whole TPKT frame (the Connection Confirm), one DER TSRequest, or the
    /// four bytes of the Early User Authorization Result.
    /// </summary>
    /// <exception cref="NlaProtocolException">The bytes do not decode as what was awaited.</exception>
    /// <exception cref="InvalidOperationException">The connector awaits TLS, has not started, or has finished.</exception>
    public SecurityPhaseStep Step(ReadOnlySpan<byte> input) => State switch
    {
        ClientConnectorState.AwaitingConnectionConfirm => OnConnectionConfirm(input),
        ClientConnectorState.CredSsp => OnTsRequest(input),
        ClientConnectorState.AwaitingEarlyUserAuthorizationResult => OnEarlyUserAuthorizationResult(input),
        _ => throw new InvalidOperationException($"The connector does not read input in state {State}."),
    };

    /// <summary>
    /// The TLS handshake completed: <paramref name="serverSubjectPublicKey"/> is the SubjectPublicKey of the
    /// certificate the server presented (<c>X509Certificate2.GetPublicKey()</c>), which CredSSP binds (MS-CSSP §3.1.5).
    /// </summary>
    /// <exception cref="InvalidOperationException">No TLS upgrade was asked for.</exception>
    public SecurityPhaseStep TlsEstablished(ReadOnlySpan<byte> serverSubjectPublicKey)
    {
        Expect(ClientConnectorState.AwaitingTls);
        ServerPublicKey = serverSubjectPublicKey.ToArray();
        if (_options.StopAfter == ClientSecurityStage.Tls || SelectedProtocol == SecurityProtocols.Ssl)
        {
            return Complete(default);
        }

        State = ClientConnectorState.CredSsp;
        _credSsp = new CredSspClientContext(_options.CredSsp!(ServerPublicKey), _options.RandomSource!);
        byte[]? first = _credSsp.GetOutgoingBlob([], out NlaStatus status);
        return AfterCredSsp(first, status);
    }

    private SecurityPhaseStep OnConnectionConfirm(ReadOnlySpan<byte> frame)
    {
        X224ConnectionConfirm confirm = X224ConnectionConfirm.Decode(frame);
        ConnectionConfirm = confirm;
        if (confirm.Failure is not null)
        {
            return RefuseSelection(ProtocolSelectionFailure.NegotiationFailure, NlaFailureReason.PeerReportedFailure);
        }

        // MS-RDPBCGR §3.3.5.3.2: no rdpNegData means the server only knows Standard RDP Security.
        SecurityProtocols selected = confirm.Response?.SelectedProtocol ?? SecurityProtocols.Rdp;
        SelectedProtocol = selected;

        // MS-RDPBCGR §2.2.1.2.1: exactly one protocol, and one that was requested (PROTOCOL_RDP is always possible).
        if (selected != SecurityProtocols.Rdp && ((selected & (selected - 1)) != 0 || (selected & ~RequestedProtocols) != 0))
        {
            return RefuseSelection(ProtocolSelectionFailure.NotRequested, NlaFailureReason.UnexpectedMessage);
        }

        if (_options.StopAfter == ClientSecurityStage.ConnectionConfirm)
        {
            return Complete(default);
        }

        return selected switch
        {
            SecurityProtocols.Rdp => RefuseSelection(ProtocolSelectionFailure.StandardRdpSecurity, NlaFailureReason.UnsupportedMechanism),
            SecurityProtocols.Ssl when !_options.AllowTlsWithoutNla => RefuseSelection(ProtocolSelectionFailure.TlsWithoutNlaNotAllowed, NlaFailureReason.UnsupportedMechanism),
            SecurityProtocols.Ssl or SecurityProtocols.Hybrid or SecurityProtocols.HybridEx => StartTls(),
            _ => RefuseSelection(ProtocolSelectionFailure.NotImplemented, NlaFailureReason.UnsupportedMechanism),
        };
    }

    private SecurityPhaseStep StartTls()
    {
        State = ClientConnectorState.AwaitingTls;
        return new SecurityPhaseStep(SecurityPhaseAction.StartTls);
    }

    private SecurityPhaseStep OnTsRequest(ReadOnlySpan<byte> message)
    {
        // Decoded here first so that bytes that are no TSRequest raise NlaProtocolException at every step (the context
        // decodes them again), and so that callers can report what the server announced first.
        TsRequest request = TsRequest.Decode(message);
        if (FirstServerTsRequest is null)
        {
            FirstServerTsRequest = request;
            if (_options.StopAfter == ClientSecurityStage.FirstServerTsRequest)
            {
                return Complete(default);
            }
        }

        byte[]? output = _credSsp!.GetOutgoingBlob(message, out NlaStatus status);
        return AfterCredSsp(output, status);
    }

    private SecurityPhaseStep AfterCredSsp(byte[]? output, NlaStatus status)
    {
        switch (status)
        {
            case NlaStatus.ContinueNeeded when output is not null:
                TsRequestsSent++;
                return new SecurityPhaseStep(SecurityPhaseAction.ReadTsRequest, output);
            case NlaStatus.Completed:
                // MS-CSSP §3.1.5 step 5: the last message carries authInfo (none when the caller does not delegate).
                CredentialsSent = output is not null;
                TsRequestsSent += output is null ? 0 : 1;
                if (SelectedProtocol == SecurityProtocols.HybridEx && output is not null)
                {
                    State = ClientConnectorState.AwaitingEarlyUserAuthorizationResult;
                    return new SecurityPhaseStep(SecurityPhaseAction.ReadEarlyUserAuthorizationResult, output);
                }

                return Complete(output ?? default(ReadOnlyMemory<byte>));
            default:
                return Fail(_credSsp!.FailureReason == NlaFailureReason.None ? NlaFailureReason.AuthenticationFailed : _credSsp.FailureReason, _credSsp.ServerErrorCode);
        }
    }

    private SecurityPhaseStep OnEarlyUserAuthorizationResult(ReadOnlySpan<byte> pdu)
    {
        EarlyUserAuthorizationResult result = EarlyUserAuthorizationResult.Decode(pdu);
        EarlyUserAuthorization = result;

        // MS-RDPBCGR §2.2.10.2: every value but AUTHZ_SUCCESS is a denial.
        return result.IsSuccess ? Complete(default) : Fail(NlaFailureReason.PeerReportedFailure, null);
    }

    private SecurityPhaseStep RefuseSelection(ProtocolSelectionFailure failure, NlaFailureReason reason)
    {
        SelectionFailure = failure;
        return Fail(reason, null);
    }

    private SecurityPhaseStep Complete(ReadOnlyMemory<byte> output)
    {
        State = ClientConnectorState.Completed;
        return new SecurityPhaseStep(SecurityPhaseAction.Completed, output);
    }

    private SecurityPhaseStep Fail(NlaFailureReason reason, NtStatus? status)
    {
        State = ClientConnectorState.Failed;
        FailureReason = reason;
        return new SecurityPhaseStep(SecurityPhaseAction.Failed, FailureReason: reason, Status: status);
    }

    private void Expect(ClientConnectorState state)
    {
        if (State != state)
        {
            throw new InvalidOperationException($"The connector is in state {State}, not {state}.");
        }
    }

    /// <summary>Disposes the CredSSP context (its NTLM keys are wiped).</summary>
    public void Dispose() => _credSsp?.Dispose();
}
