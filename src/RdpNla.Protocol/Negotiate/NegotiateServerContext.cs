namespace RdpNla.Protocol.Negotiate;

/// <summary>
/// The acceptor side of the "Negotiate" package as CredSSP uses it: NTLM either raw or wrapped in SPNEGO
/// (RFC 4178, MS-SPNG). It replies in the format the client chose (docs/interop.md#spnego-or-raw-ntlm: FreeRDP 2.11 and
/// IronRDP send raw NTLMSSP, mstsc with Kerberos candidates and Entra-joined Windows 11 send SPNEGO). With a Kerberos
/// mechanism supplied by the host, Kerberos is accepted raw (RFC 4121 initial token) or inside SPNEGO; in SPNEGO the first
/// mechanism of the client's list that we support is chosen (RFC 4178 §3.2: Windows lists MS-KRB5, KRB5, NEGOEX, NTLM),
/// and when it is not the client's first, the mechListMIC is exchanged in both directions (RFC 4178 §5).
/// </summary>
public sealed class NegotiateServerContext : IAuthenticationContext, IContextStep
{
    private readonly NtlmServerContext _ntlm;
    private readonly Func<IGssContext>? _kerberosFactory;
    private readonly AcceptorFailure _failure = new(NtStatus.LogonFailure);
    private IGssContext? _kerberos;
    private string? _kerberosOid;
    private bool _repliedOnce;
    private State _state = State.Initial;
    private byte[]? _mechTypesEncoding;
    private byte[]? _pendingClientMechListMic;
    private bool _mechListMicRequired;

    /// <summary>Creates the acceptor.</summary>
    /// <param name="options">Names, clock and randomness for NTLM.</param>
    /// <param name="kerberos">Creates a Kerberos acceptor context (the host's GSSAPI); null when Kerberos is not configured.</param>
    public NegotiateServerContext(NtlmServerOptions options, Func<IGssContext>? kerberos = null)
    {
        _ntlm = new NtlmServerContext(options);
        _kerberosFactory = kerberos;
    }

    private enum State
    {
        Initial,
        AwaitingNegotiate,
        AwaitingAuthenticate,
        AwaitingCredential,
        AwaitingKerberos,
        AwaitingClientMechListMic,
        Completed,
        Failed,
    }

    /// <summary>True when the client wraps NTLM in SPNEGO; false for raw NTLMSSP.</summary>
    public bool IsSpnego { get; private set; }

    /// <summary>The NTLM exchange underneath (user, domain and workstation as sent; password verification result).</summary>
    public NtlmServerContext Ntlm => _ntlm;

    /// <summary>The NTLM session keys once an NTLM exchange completed; null before, and for Kerberos (use <see cref="Wrap"/> and <see cref="Unwrap"/>).</summary>
    public NtlmSessionSecurity? SessionSecurity => _state == State.Completed && _kerberos is null ? _ntlm.SessionSecurity : null;

    /// <summary>True when the client chose Kerberos (raw or in SPNEGO).</summary>
    public bool IsKerberos => _kerberos is not null;

    /// <summary>The security package that authenticated the client: "Kerberos" or "NTLM".</summary>
    public string PackageName => _kerberos?.PackageName ?? "NTLM";

    /// <summary>The Kerberos ticket's client principal (e.g. <c>alice@LAB.TEST</c>) once Kerberos completed.</summary>
    public string? KerberosPrincipal => _state == State.Completed ? _kerberos?.PeerPrincipal : null;

    /// <summary>Seals a CredSSP message with the established context (MS-CSSP §2.2.1 pubKeyAuth, authInfo).</summary>
    /// <exception cref="InvalidOperationException">The exchange has not completed.</exception>
    public byte[] Wrap(ReadOnlySpan<byte> message) => _state != State.Completed
        ? throw new InvalidOperationException("The exchange is not complete.")
        : _kerberos is { } kerberos ? kerberos.Wrap(message) : _ntlm.SessionSecurity!.Wrap(message);

    /// <summary>Opens a CredSSP message sealed by the client; throws <see cref="NlaProtocolException"/> when it does not verify.</summary>
    /// <exception cref="InvalidOperationException">The exchange has not completed.</exception>
    /// <exception cref="NlaProtocolException">The token is malformed or its signature does not verify.</exception>
    public byte[] Unwrap(ReadOnlySpan<byte> token) => _state != State.Completed
        ? throw new InvalidOperationException("The exchange is not complete.")
        : _kerberos is { } kerberos ? kerberos.Unwrap(token) : _ntlm.SessionSecurity!.Unwrap(token);

    /// <summary>Why the exchange failed, once a step returned <see cref="NlaStatus.Failed"/>; <see cref="NlaFailureReason.None"/> before.</summary>
    public NlaFailureReason FailureReason => _failure.Reason ?? NlaFailureReason.None;

    /// <summary>The NTSTATUS the failure maps to, for TSRequest.errorCode (STATUS_LOGON_FAILURE unless a more specific status applies).</summary>
    public NtStatus FailureStatus => _failure.Status;

    /// <summary>A specific reason for the log, once failed; never contains secrets.</summary>
    public string? FailureMessage => _failure.Message;

    /// <summary>Gives the account lookup the NTLM step asked for; then call <see cref="GetOutgoingBlob"/> with no input.</summary>
    /// <exception cref="InvalidOperationException">The last step did not return <see cref="NlaStatus.CredentialLookupNeeded"/>.</exception>
    public void ProvideCredential(NtlmCredentialLookup lookup)
    {
        if (_state != State.AwaitingCredential)
        {
            throw new InvalidOperationException("No credential lookup is pending.");
        }

        _ntlm.ProvideCredential(lookup);
    }

    /// <summary>
    /// Runs one step: consumes the client's token (raw NTLMSSP, raw Kerberos, or either in SPNEGO, RFC 4178) and returns
    /// the token to answer with.
    /// </summary>
    /// <param name="incoming">The client's token, or empty to resume after <see cref="ProvideCredential"/>.</param>
    /// <param name="status">
    /// <see cref="NlaStatus.ContinueNeeded"/> while the exchange goes on, <see cref="NlaStatus.CredentialLookupNeeded"/>
    /// when the account's credential is needed, <see cref="NlaStatus.Completed"/> once the client is authenticated,
    /// <see cref="NlaStatus.Failed"/> with <see cref="FailureReason"/> and <see cref="FailureStatus"/> set.
    /// </param>
    /// <returns>The token to send, or null when there is nothing to send.</returns>
    /// <remarks>Malformed input does not throw: it fails the exchange.</remarks>
    public byte[]? GetOutgoingBlob(ReadOnlySpan<byte> incoming, out NlaStatus status) => ContextStep.Run(this, incoming, out status);

    byte[]? IContextStep.Fail(NlaProtocolException exception, out NlaStatus status)
    {
        // SPNEGO answers a token it cannot use with reject (RFC 4178 §4.2.2); raw NTLM just ends.
        status = Fail(exception.Reason, exception.Message, NtStatus.LogonFailure);
        return IsSpnego ? Reject() : null;
    }

    byte[]? IContextStep.Step(ReadOnlySpan<byte> incoming, out NlaStatus status)
    {
        switch (_state)
        {
            case State.Initial:
                return OnFirstToken(incoming, out status);
            case State.AwaitingNegotiate:
                // Reached only over SPNEGO: the client restarts with an NTLM NEGOTIATE after our RequestMic answer.
                return OnNtlmToken(InnerToken(incoming, "NTLM NEGOTIATE"), out status);
            case State.AwaitingAuthenticate:
                return OnNtlmToken(InnerToken(incoming, "NTLM AUTHENTICATE"), out status);
            case State.AwaitingKerberos:
                return OnKerberosToken(InnerToken(incoming, "Kerberos token"), out status);
            case State.AwaitingClientMechListMic:
                return OnClientMechListMic(incoming, out status);
            case State.AwaitingCredential:
                if (!incoming.IsEmpty)
                {
                    throw new InvalidOperationException("Call ProvideCredential, then GetOutgoingBlob with no input.");
                }

                return OnNtlmToken([], out status);
            default:
                throw new InvalidOperationException($"The exchange is already {_state}.");
        }
    }

    /// <summary>
    /// The mechanism token of a continuation leg: over SPNEGO the NegTokenResp's responseToken (RFC 4178 §4.2.2), whose
    /// mechListMIC is kept for the completion; raw, the bytes as they came.
    /// </summary>
    private ReadOnlySpan<byte> InnerToken(ReadOnlySpan<byte> incoming, string expected)
    {
        if (!IsSpnego)
        {
            return incoming;
        }

        NegTokenResp response = NegTokenResp.Decode(incoming);
        if (response.ResponseToken is null)
        {
            throw new NlaProtocolException(NlaFailureReason.UnexpectedMessage, $"SPNEGO NegTokenResp carries no {expected}.", "RFC 4178 §4.2.2");
        }

        _pendingClientMechListMic = response.MechListMic;
        return response.ResponseToken;
    }

    private byte[]? OnFirstToken(ReadOnlySpan<byte> token, out NlaStatus status)
    {
        NegoTokenKind kind = NegoTokenClassifier.Classify(token);
        if (kind == NegoTokenKind.RawNtlm)
        {
            IsSpnego = false;
            _state = State.AwaitingNegotiate;
            return OnNtlmToken(token, out status);
        }

        if (kind == NegoTokenKind.RawKerberos)
        {
            // MS-CSSP §2.2.1.1: negoTokens may carry Kerberos messages without SPNEGO (Windows' Negotiate accepts both).
            IsSpnego = false;
            if (_kerberosFactory is null)
            {
                status = Fail(NlaFailureReason.UnsupportedMechanism, "The client sent a raw Kerberos token and no Kerberos keytab is configured.", NtStatus.LogonFailure);
                return null;
            }

            return OnKerberosToken(token, out status);
        }

        IsSpnego = true;
        NegTokenInit init = NegTokenInit.Decode(token);
        _mechTypesEncoding = init.MechTypesEncoding;
        int kerberosIndex = _kerberosFactory is null ? -1 : IndexOfKerberos(init.MechTypes);
        int ntlmIndex = IndexOf(init.MechTypes, SpnegoOids.Ntlm);
        if (kerberosIndex > 0 && (ntlmIndex < 0 || kerberosIndex < ntlmIndex))
        {
            // RFC 4178 §3.2: Kerberos is the first mechanism of the client's list we support, but not its first choice
            // (e.g. NEGOEX, MS-KRB5, KRB5, NTLM). The optimistic token is for another mechanism and is ignored; the
            // client starts Kerberos in its next NegTokenResp, and the mechListMIC is required both ways (RFC 4178 §5).
            _kerberosOid = init.MechTypes[kerberosIndex];
            _mechListMicRequired = true;
            _state = State.AwaitingKerberos;
            _repliedOnce = true;
            status = NlaStatus.ContinueNeeded;
            return new NegTokenResp { State = NegState.RequestMic, SupportedMech = _kerberosOid }.Encode();
        }

        if (kerberosIndex == 0)
        {
            // RFC 4178 §4.2.1: Kerberos is the initiator's first choice, so the mechListMIC exchange stays optional and
            // the optimistic AP-REQ (when present) is answered directly.
            _kerberosOid = init.MechTypes[0];
            if (init.MechToken is not null)
            {
                return OnKerberosToken(init.MechToken, out status);
            }

            _state = State.AwaitingKerberos;
            _repliedOnce = true;
            status = NlaStatus.ContinueNeeded;
            return new NegTokenResp { State = NegState.AcceptIncomplete, SupportedMech = _kerberosOid }.Encode();
        }

        if (ntlmIndex < 0)
        {
            string kerberos = _kerberosFactory is null ? "Kerberos is not configured (no keytab)" : "nor Kerberos";
            status = Fail(NlaFailureReason.UnsupportedMechanism, $"SPNEGO offers no NTLM mechanism ({string.Join(", ", init.MechTypes)}); {kerberos}.", NtStatus.LogonFailure);
            return Reject();
        }

        if (ntlmIndex == 0 && init.MechToken is not null)
        {
            // RFC 4178 §4.2.1: the optimistic token is for our chosen mechanism; answer it directly.
            _state = State.AwaitingNegotiate;
            return OnNtlmToken(init.MechToken, out status);
        }

        // RFC 4178 §5: we pick a mechanism that is not the initiator's first choice (e.g. [MS-KRB5, KRB5, NEGOEX, NTLM]).
        // The optimistic token belongs to another mechanism and is ignored; the client restarts with an NTLM NEGOTIATE
        // and the mechListMIC becomes mandatory (FreeRDP#13168: NEGOEX first from Entra-joined Windows 11).
        _mechListMicRequired = true;
        _state = State.AwaitingNegotiate;
        status = NlaStatus.ContinueNeeded;
        return new NegTokenResp { State = NegState.RequestMic, SupportedMech = SpnegoOids.Ntlm }.Encode();
    }

    private byte[]? OnNtlmToken(ReadOnlySpan<byte> ntlmToken, out NlaStatus status)
    {
        byte[]? output = _ntlm.GetOutgoingBlob(ntlmToken, out NlaStatus ntlmStatus);
        switch (ntlmStatus)
        {
            case NlaStatus.ContinueNeeded:
                // NEGOTIATE answered with CHALLENGE.
                _state = State.AwaitingAuthenticate;
                status = NlaStatus.ContinueNeeded;
                return IsSpnego
                    ? new NegTokenResp { State = NegState.AcceptIncomplete, SupportedMech = _mechListMicRequired ? null : SpnegoOids.Ntlm, ResponseToken = output }.Encode()
                    : output;
            case NlaStatus.CredentialLookupNeeded:
                _state = State.AwaitingCredential;
                status = NlaStatus.CredentialLookupNeeded;
                return null;
            case NlaStatus.Completed:
                return OnNtlmCompleted(out status);
            default:
                status = Fail(_ntlm.FailureReason ?? NlaFailureReason.AuthenticationFailed, _ntlm.FailureMessage ?? "NTLM authentication failed.", _ntlm.FailureStatus);
                return IsSpnego ? Reject() : null;
        }
    }

    private byte[]? OnKerberosToken(ReadOnlySpan<byte> kerberosToken, out NlaStatus status)
    {
        _kerberos ??= _kerberosFactory!();
        GssStepStatus step = _kerberos.Step(kerberosToken, out byte[]? output);
        string? supportedMech = _repliedOnce ? null : _kerberosOid;
        _repliedOnce = true;
        switch (step)
        {
            case GssStepStatus.ContinueNeeded:
                _state = State.AwaitingKerberos;
                status = NlaStatus.ContinueNeeded;
                return IsSpnego ? new NegTokenResp { State = NegState.AcceptIncomplete, SupportedMech = supportedMech, ResponseToken = output }.Encode() : output;
            case GssStepStatus.Completed:
                byte[]? serverMechListMic = null;
                if (IsSpnego && _pendingClientMechListMic is null && _mechListMicRequired)
                {
                    // RFC 4178 §5: Kerberos was not the client's first choice. Our MIC goes with the AP-REP; the client
                    // verifies it and answers with its own MIC, which completes the negotiation.
                    _state = State.AwaitingClientMechListMic;
                    status = NlaStatus.ContinueNeeded;
                    return new NegTokenResp { State = NegState.AcceptIncomplete, SupportedMech = supportedMech, ResponseToken = output, MechListMic = _kerberos.GetMic(_mechTypesEncoding) }.Encode();
                }

                if (IsSpnego && _pendingClientMechListMic is not null)
                {
                    // RFC 4178 §5: a MIC the initiator sent anyway is verified, and answered with ours.
                    if (!_kerberos.VerifyMic(_mechTypesEncoding, _pendingClientMechListMic))
                    {
                        status = Fail(NlaFailureReason.IntegrityCheckFailed, "SPNEGO mechListMIC from the client does not verify.", NtStatus.DowngradeDetected);
                        return Reject();
                    }

                    serverMechListMic = _kerberos.GetMic(_mechTypesEncoding);
                }

                _state = State.Completed;
                status = NlaStatus.Completed;
                return IsSpnego
                    ? new NegTokenResp { State = NegState.AcceptCompleted, SupportedMech = supportedMech, ResponseToken = output, MechListMic = serverMechListMic }.Encode()
                    : output;
            default:
                status = Fail(NlaFailureReason.AuthenticationFailed, _kerberos.FailureMessage ?? "Kerberos authentication failed.", _kerberos.FailureStatus);
                return IsSpnego ? Reject() : null;
        }
    }

    /// <summary>The client's mechListMIC after ours (RFC 4178 §5); nothing is sent back, the client is already complete.</summary>
    private byte[]? OnClientMechListMic(ReadOnlySpan<byte> incoming, out NlaStatus status)
    {
        NegTokenResp response = NegTokenResp.Decode(incoming);
        if (response.MechListMic is null)
        {
            status = Fail(NlaFailureReason.IntegrityCheckFailed, "SPNEGO mechListMIC is required but absent.", NtStatus.DowngradeDetected);
            return Reject();
        }

        if (!_kerberos!.VerifyMic(_mechTypesEncoding, response.MechListMic))
        {
            status = Fail(NlaFailureReason.IntegrityCheckFailed, "SPNEGO mechListMIC from the client does not verify.", NtStatus.DowngradeDetected);
            return Reject();
        }

        _state = State.Completed;
        status = NlaStatus.Completed;
        return null;
    }

    private byte[]? OnNtlmCompleted(out NlaStatus status)
    {
        if (!IsSpnego)
        {
            _state = State.Completed;
            status = NlaStatus.Completed;
            return null;
        }

        NtlmSessionSecurity session = _ntlm.SessionSecurity!;
        byte[]? serverMechListMic = null;
        if (_pendingClientMechListMic is not null)
        {
            // RFC 4178 §5: verify the initiator's MIC over the DER MechTypeList exactly as it was sent; then send ours.
            // docs/interop.md#mic-and-mechlistmic: each direction's RC4 state restarts after its MIC; sequence numbers keep counting.
            if (!session.VerifyMic(_mechTypesEncoding, _pendingClientMechListMic))
            {
                status = Fail(NlaFailureReason.IntegrityCheckFailed, "SPNEGO mechListMIC from the client does not verify.", NtStatus.DowngradeDetected);
                return Reject();
            }

            session.ResetReceiveCipher();
            serverMechListMic = session.GetMic(_mechTypesEncoding);
            session.ResetSendCipher();
        }
        else if (_mechListMicRequired || _ntlm.MicVerified)
        {
            // RFC 4178 §5 (a mechanism other than the first was chosen) and the Windows rule that an NTLM MIC makes the
            // mechListMIC mandatory (docs/interop.md#mic-and-mechlistmic: Windows Server 2025, MIT krb5 PR#113).
            status = Fail(NlaFailureReason.IntegrityCheckFailed, "SPNEGO mechListMIC is required but absent.", NtStatus.DowngradeDetected);
            return Reject();
        }

        _state = State.Completed;
        status = NlaStatus.Completed;
        return new NegTokenResp { State = NegState.AcceptCompleted, MechListMic = serverMechListMic }.Encode();
    }

    private NlaStatus Fail(NlaFailureReason reason, string message, NtStatus ntStatus)
    {
        _state = State.Failed;
        return _failure.Record(reason, message, ntStatus);
    }

    private static byte[] Reject() => new NegTokenResp { State = NegState.Reject }.Encode();

    private static int IndexOfKerberos(IReadOnlyList<string> mechTypes)
    {
        int kerberos = IndexOf(mechTypes, SpnegoOids.Kerberos);
        int microsoft = IndexOf(mechTypes, SpnegoOids.MsKerberos);
        return kerberos < 0 ? microsoft : microsoft < 0 ? kerberos : Math.Min(kerberos, microsoft);
    }

    private static int IndexOf(IReadOnlyList<string> mechTypes, string oid)
    {
        for (int i = 0; i < mechTypes.Count; i++)
        {
            if (mechTypes[i] == oid)
            {
                return i;
            }
        }

        return -1;
    }

    /// <inheritdoc/>
    bool IAuthenticationContext.IsCompleted => _state == State.Completed;

    /// <summary>Wipes the key material of the NTLM context and disposes the Kerberos context, if any.</summary>
    public void Dispose()
    {
        _ntlm.Dispose();
        _kerberos?.Dispose();
    }
}
