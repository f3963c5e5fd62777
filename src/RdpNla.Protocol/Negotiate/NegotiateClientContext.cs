namespace RdpNla.Protocol.Negotiate;

/// <summary>
/// The initiator side of the "Negotiate" package as CredSSP uses it: NTLM, raw (what FreeRDP, IronRDP and mstsc send
/// when Kerberos is impossible) or wrapped in SPNEGO offering NTLM only (RFC 4178; docs/interop.md#spnego-acceptor, initiator rules).
/// </summary>
public sealed class NegotiateClientContext : IAuthenticationContext, IContextStep
{
    private readonly NtlmClientContext _ntlm;
    private readonly bool _useSpnego;
    private byte[]? _mechTypesEncoding;
    private State _state = State.Initial;

    /// <summary>Creates the initiator.</summary>
    /// <param name="options">The NTLM credentials and settings of the inner NTLM context.</param>
    /// <param name="useSpnego">True to wrap NTLM in SPNEGO (NegTokenInit offering NTLM only); false to send raw NTLMSSP messages.</param>
    public NegotiateClientContext(NtlmClientOptions options, bool useSpnego)
    {
        _ntlm = new NtlmClientContext(options);
        _useSpnego = useSpnego;
    }

    private enum State
    {
        Initial,
        AwaitingChallenge,
        AwaitingServerMic,
        Completed,
        Failed,
    }

    /// <summary>The NTLM exchange underneath (the server's CHALLENGE, the session keys once AUTHENTICATE is produced).</summary>
    public NtlmClientContext Ntlm => _ntlm;

    /// <summary>Set once AUTHENTICATE was produced: the keys for pubKeyAuth and authInfo.</summary>
    public NtlmSessionSecurity? SessionSecurity => _state is State.AwaitingServerMic or State.Completed ? _ntlm.SessionSecurity : null;

    /// <summary>True when the server's final SPNEGO token (with its mechListMIC) is still expected.</summary>
    internal bool AwaitingServerMechListMic => _state == State.AwaitingServerMic;

    /// <summary>Why the exchange failed, once a step returned <see cref="NlaStatus.Failed"/>; <see cref="NlaFailureReason.None"/> before.</summary>
    public NlaFailureReason FailureReason { get; private set; }

    /// <summary>A specific reason for the log and the user, once failed; never contains secrets.</summary>
    public string? FailureMessage { get; private set; }

    /// <summary>
    /// Runs one step: consumes the server's token and returns the token to send (NEGOTIATE, then AUTHENTICATE; in SPNEGO
    /// wrapped in NegTokenInit and NegTokenResp, RFC 4178 §4.2). Call first with an empty span.
    /// </summary>
    /// <param name="incoming">The server's token (a CHALLENGE, raw or in a NegTokenResp), or empty for the first call.</param>
    /// <param name="status">
    /// <see cref="NlaStatus.ContinueNeeded"/> while the exchange goes on, <see cref="NlaStatus.Completed"/> when
    /// <see cref="SessionSecurity"/> is ready (with SPNEGO: after the server's mechListMIC verified),
    /// <see cref="NlaStatus.Failed"/> with <see cref="FailureReason"/> set.
    /// </param>
    /// <returns>The token to send, or null when there is nothing to send.</returns>
    /// <remarks>Malformed input does not throw: it fails the exchange.</remarks>
    public byte[]? GetOutgoingBlob(ReadOnlySpan<byte> incoming, out NlaStatus status) => ContextStep.Run(this, incoming, out status);

    byte[]? IContextStep.Step(ReadOnlySpan<byte> incoming, out NlaStatus status)
    {
        switch (_state)
        {
            case State.Initial:
            {
                byte[]? negotiate = _ntlm.GetOutgoingBlob([], out NlaStatus ntlmStatus);
                if (ntlmStatus != NlaStatus.ContinueNeeded || negotiate is null)
                {
                    status = Fail(_ntlm.FailureReason ?? NlaFailureReason.AuthenticationFailed, _ntlm.FailureMessage ?? "NTLM could not start.");
                    return null;
                }

                _state = State.AwaitingChallenge;
                status = NlaStatus.ContinueNeeded;
                if (!_useSpnego)
                {
                    return negotiate;
                }

                var init = new NegTokenInit([SpnegoOids.Ntlm], mechToken: negotiate);
                _mechTypesEncoding = init.MechTypesEncoding;
                return init.Encode();
            }

            case State.AwaitingChallenge:
            {
                ReadOnlySpan<byte> challenge = incoming;
                NegTokenResp? response = null;
                if (_useSpnego && NegoTokenClassifier.Classify(incoming) != NegoTokenKind.RawNtlm)
                {
                    response = NegTokenResp.Decode(incoming);
                    if (response.State == NegState.Reject)
                    {
                        status = Fail(NlaFailureReason.PeerReportedFailure, "The server rejected SPNEGO negotiation.");
                        return null;
                    }

                    if (response.SupportedMech is not null && response.SupportedMech != SpnegoOids.Ntlm)
                    {
                        status = Fail(NlaFailureReason.UnsupportedMechanism, $"The server selected mechanism {response.SupportedMech}, not NTLM.");
                        return null;
                    }

                    if (response.ResponseToken is null)
                    {
                        throw new NlaProtocolException(NlaFailureReason.UnexpectedMessage, "SPNEGO NegTokenResp carries no NTLM CHALLENGE.", "RFC 4178 §4.2.2");
                    }

                    challenge = response.ResponseToken;
                }

                byte[]? authenticate = _ntlm.GetOutgoingBlob(challenge, out NlaStatus ntlmStatus);
                if (ntlmStatus != NlaStatus.Completed || authenticate is null)
                {
                    status = Fail(_ntlm.FailureReason ?? NlaFailureReason.AuthenticationFailed, _ntlm.FailureMessage ?? "NTLM CHALLENGE refused.");
                    return null;
                }

                if (response is null)
                {
                    // Raw NTLM (also when a server answers SPNEGO with a raw CHALLENGE): no mechListMIC exchange.
                    _state = State.Completed;
                    status = NlaStatus.Completed;
                    return authenticate;
                }

                // docs/interop.md#mic-and-mechlistmic: the mechListMIC takes send sequence number 0, then the send RC4 state restarts.
                NtlmSessionSecurity session = _ntlm.SessionSecurity!;
                byte[] mic = session.GetMic(_mechTypesEncoding);
                session.ResetSendCipher();
                _state = State.AwaitingServerMic;
                status = NlaStatus.Completed;
                return new NegTokenResp { ResponseToken = authenticate, MechListMic = mic }.Encode();
            }

            case State.AwaitingServerMic:
            {
                NegTokenResp final = NegTokenResp.Decode(incoming);
                if (final.State is not NegState.AcceptCompleted)
                {
                    status = Fail(NlaFailureReason.PeerReportedFailure, $"The server ended SPNEGO with state {final.State?.ToString() ?? "none"}.");
                    return null;
                }

                if (final.MechListMic is null || !_ntlm.SessionSecurity!.VerifyMic(_mechTypesEncoding, final.MechListMic))
                {
                    status = Fail(NlaFailureReason.IntegrityCheckFailed, "The server's SPNEGO mechListMIC is missing or does not verify.");
                    return null;
                }

                _ntlm.SessionSecurity!.ResetReceiveCipher();
                _state = State.Completed;
                status = NlaStatus.Completed;
                return null;
            }

            default:
                throw new InvalidOperationException($"The exchange is already {_state}.");
        }
    }

    byte[]? IContextStep.Fail(NlaProtocolException exception, out NlaStatus status) =>
        ContextStep.NoToken(Fail(exception.Reason, exception.Message), out status);

    private NlaStatus Fail(NlaFailureReason reason, string message)
    {
        _state = State.Failed;
        FailureReason = reason;
        FailureMessage = message;
        return NlaStatus.Failed;
    }

    /// <inheritdoc/>
    string IAuthenticationContext.PackageName => "NTLM";

    /// <inheritdoc/>
    bool IAuthenticationContext.IsCompleted => _state == State.Completed;

    /// <summary>Wipes the key material of the NTLM context.</summary>
    public void Dispose() => _ntlm.Dispose();
}
