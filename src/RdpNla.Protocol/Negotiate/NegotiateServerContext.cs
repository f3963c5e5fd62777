using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Spnego;

namespace RdpNla.Protocol.Negotiate;

/// <summary>
/// The acceptor side of the "Negotiate" package as CredSSP uses it: NTLM either raw or wrapped in SPNEGO
/// (RFC 4178, MS-SPNG). It replies in the format the client chose (docs/interop.md#spnego-or-raw-ntlm: FreeRDP 2.11 and
/// IronRDP send raw NTLMSSP, mstsc with Kerberos candidates and Entra-joined Windows 11 send SPNEGO).
/// </summary>
public sealed class NegotiateServerContext : IDisposable
{
    private readonly NtlmServerContext _ntlm;
    private State _state = State.Initial;
    private byte[]? _mechTypesEncoding;
    private byte[]? _pendingClientMechListMic;
    private bool _mechListMicRequired;

    public NegotiateServerContext(NtlmServerOptions options)
    {
        _ntlm = new NtlmServerContext(options);
    }

    private enum State
    {
        Initial,
        AwaitingNegotiate,
        AwaitingAuthenticate,
        AwaitingCredential,
        Completed,
        Failed,
    }

    /// <summary>True when the client wraps NTLM in SPNEGO; false for raw NTLMSSP.</summary>
    public bool IsSpnego { get; private set; }

    /// <summary>The NTLM exchange underneath (user, domain and workstation as sent; password verification result).</summary>
    public NtlmServerContext Ntlm => _ntlm;

    public NtlmSessionSecurity? SessionSecurity => _state == State.Completed ? _ntlm.SessionSecurity : null;

    public NlaFailureReason FailureReason { get; private set; }

    public NtStatus FailureStatus { get; private set; } = NtStatus.LogonFailure;

    public string? FailureMessage { get; private set; }

    /// <summary>Gives the account lookup the NTLM step asked for; then call <see cref="GetOutgoingBlob"/> with no input.</summary>
    public void ProvideCredential(NtlmCredentialLookup lookup)
    {
        if (_state != State.AwaitingCredential)
        {
            throw new InvalidOperationException("No credential lookup is pending.");
        }

        _ntlm.ProvideCredential(lookup);
    }

    public byte[]? GetOutgoingBlob(ReadOnlySpan<byte> incoming, out NlaStatus status)
    {
        try
        {
            return Step(incoming, out status);
        }
        catch (NlaProtocolException ex)
        {
            status = Fail(ex.Reason, ex.Message, NtStatus.LogonFailure);
            return IsSpnego ? Reject() : null;
        }
    }

    private byte[]? Step(ReadOnlySpan<byte> incoming, out NlaStatus status)
    {
        switch (_state)
        {
            case State.Initial:
                return OnFirstToken(incoming, out status);
            case State.AwaitingNegotiate:
            {
                NegTokenResp response = NegTokenResp.Decode(incoming);
                if (response.ResponseToken is null)
                {
                    throw new NlaProtocolException(NlaFailureReason.UnexpectedMessage, "SPNEGO NegTokenResp carries no NTLM NEGOTIATE.", "RFC 4178 §4.2.2");
                }

                return OnNtlmToken(response.ResponseToken, out status);
            }

            case State.AwaitingAuthenticate:
                if (IsSpnego)
                {
                    NegTokenResp response = NegTokenResp.Decode(incoming);
                    if (response.ResponseToken is null)
                    {
                        throw new NlaProtocolException(NlaFailureReason.UnexpectedMessage, "SPNEGO NegTokenResp carries no NTLM AUTHENTICATE.", "RFC 4178 §4.2.2");
                    }

                    _pendingClientMechListMic = response.MechListMic;
                    return OnNtlmToken(response.ResponseToken, out status);
                }

                return OnNtlmToken(incoming, out status);
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

    private byte[]? OnFirstToken(ReadOnlySpan<byte> token, out NlaStatus status)
    {
        if (NegoTokenClassifier.Classify(token) == NegoTokenKind.RawNtlm)
        {
            IsSpnego = false;
            _state = State.AwaitingNegotiate;
            return OnNtlmToken(token, out status);
        }

        IsSpnego = true;
        NegTokenInit init = NegTokenInit.Decode(token);
        _mechTypesEncoding = init.MechTypesEncoding;
        int ntlmIndex = IndexOf(init.MechTypes, SpnegoOids.Ntlm);
        if (ntlmIndex < 0)
        {
            status = Fail(NlaFailureReason.UnsupportedMechanism, $"SPNEGO offers no NTLM mechanism ({string.Join(", ", init.MechTypes)}); Kerberos is not supported.", NtStatus.LogonFailure);
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
        FailureReason = reason;
        FailureMessage = message;
        FailureStatus = ntStatus;
        return NlaStatus.Failed;
    }

    private static byte[] Reject() => new NegTokenResp { State = NegState.Reject }.Encode();

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

    public void Dispose() => _ntlm.Dispose();
}
