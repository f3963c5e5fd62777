namespace RdpNla.Protocol.Ntlm;

/// <summary>
/// The NTLMv2 initiator (MS-NLMP §3.1), shaped like <c>System.Net.Security.NegotiateAuthentication</c>:
/// call <see cref="GetOutgoingBlob"/> with an empty input to get the NEGOTIATE, then with the CHALLENGE to get the
/// AUTHENTICATE. Bytes from the peer never make it throw; they end in <see cref="NlaStatus.Failed"/>.
/// </summary>
public sealed class NtlmClientContext : IAuthenticationContext
{
    /// <summary>
    /// The flags sent in the NEGOTIATE: FreeRDP's 0xE20882B7 without LM_KEY and OEM (0xE2088235) —
    /// UNICODE | REQUEST_TARGET | SIGN | SEAL | NTLM | ALWAYS_SIGN | ESS | VERSION | 128 | KEY_EXCH | 56.
    /// </summary>
    internal const NegotiateFlags NegotiateMessageFlags =
        NegotiateFlags.Unicode | NegotiateFlags.RequestTarget | NegotiateFlags.Sign | NegotiateFlags.Seal |
        NegotiateFlags.Ntlm | NegotiateFlags.AlwaysSign | NegotiateFlags.ExtendedSessionSecurity |
        NegotiateFlags.Version | NegotiateFlags.Negotiate128 | NegotiateFlags.KeyExchange | NegotiateFlags.Negotiate56;

    /// <summary>The flags a CHALLENGE must carry for CredSSP (.NET's managed client requires a similar set).</summary>
    internal const NegotiateFlags RequiredChallengeFlags =
        NegotiateFlags.Unicode | NegotiateFlags.Ntlm | NegotiateFlags.ExtendedSessionSecurity | NegotiateFlags.Sign |
        NegotiateFlags.Seal | NegotiateFlags.Negotiate128 | NegotiateFlags.KeyExchange | NegotiateFlags.TargetInfo;

    private readonly NtlmClientOptions _options;
    private readonly byte[] _ntOwfV1;
    private byte[]? _negotiateBytes;
    private State _state;

    /// <summary>Creates a client context; the password is hashed at once and not kept.</summary>
    /// <exception cref="ArgumentException">Neither or both of Password and NtOwfV1, or an NT hash that is not 16 bytes.</exception>
    public NtlmClientContext(NtlmClientOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.UserName);
        ArgumentNullException.ThrowIfNull(options.DomainName);
        ArgumentNullException.ThrowIfNull(options.TimeProvider);
        ArgumentNullException.ThrowIfNull(options.RandomSource);
        if ((options.Password is null) == (options.NtOwfV1 is null))
        {
            throw new ArgumentException("Give exactly one of Password and NtOwfV1.", nameof(options));
        }

        if (options.NtOwfV1 is { } hash)
        {
            if (hash.Length != NtlmCrypto.NtOwfSize)
            {
                throw new ArgumentException("NtOwfV1 must be 16 bytes long.", nameof(options));
            }

            _ntOwfV1 = hash.ToArray();
        }
        else
        {
            _ntOwfV1 = NtlmCrypto.NtOwfV1(options.Password);
        }

        _options = options;
    }

    private enum State
    {
        Initial,
        NegotiateSent,
        Completed,
        Failed,
        Disposed,
    }

    /// <summary>Whether authentication completed successfully.</summary>
    public bool IsAuthenticated => _state == State.Completed;

    /// <summary>The decoded CHALLENGE (the server's flags, version and target info), once received.</summary>
    public NtlmChallengeMessage? ChallengeMessage { get; private set; }

    /// <summary>The flags sent in the AUTHENTICATE, once sent.</summary>
    public NegotiateFlags NegotiatedFlags { get; private set; }

    /// <summary>
    /// Whether the AUTHENTICATE carried a MIC (it does when the CHALLENGE had MsvAvTimestamp). SPNEGO must then send and
    /// expect a mechListMIC (docs/interop.md#mic-and-mechlistmic).
    /// </summary>
    public bool MicSent { get; private set; }

    /// <summary>Signing and sealing for the session, after <see cref="NlaStatus.Completed"/>. Owned by this context.</summary>
    public NtlmSessionSecurity? SessionSecurity { get; private set; }

    /// <summary>Why authentication failed, after <see cref="NlaStatus.Failed"/>.</summary>
    public NlaFailureReason? FailureReason { get; private set; }

    /// <summary>A description of the failure that is safe to log (no secrets).</summary>
    public string? FailureMessage { get; private set; }

    /// <summary>
    /// Produces the next token. First call: empty <paramref name="incoming"/> → NEGOTIATE, <see cref="NlaStatus.ContinueNeeded"/>.
    /// Second call: the CHALLENGE → AUTHENTICATE, <see cref="NlaStatus.Completed"/> (or null and <see cref="NlaStatus.Failed"/>).
    /// </summary>
    /// <exception cref="InvalidOperationException">Called again after Completed or Failed.</exception>
    /// <exception cref="ObjectDisposedException">The context is disposed.</exception>
    public byte[]? GetOutgoingBlob(ReadOnlySpan<byte> incoming, out NlaStatus status)
    {
        ObjectDisposedException.ThrowIf(_state == State.Disposed, this);
        switch (_state)
        {
            case State.Initial when incoming.IsEmpty:
                var negotiate = new NtlmNegotiateMessage { Flags = NegotiateMessageFlags, Version = _options.Version };
                _negotiateBytes = negotiate.Encode();
                _state = State.NegotiateSent;
                status = NlaStatus.ContinueNeeded;
                return _negotiateBytes;
            case State.Initial:
                return Fail(NlaFailureReason.UnexpectedMessage, "The first call takes no input: the client speaks first.", out status);
            case State.NegotiateSent:
                try
                {
                    return ProcessChallenge(incoming, out status);
                }
                catch (NlaProtocolException exception)
                {
                    return Fail(exception.Reason, $"CHALLENGE refused: {exception.Message}", out status);
                }

            default:
                throw new InvalidOperationException($"The NTLM client context is {_state}; it takes no more input.");
        }
    }

    /// <inheritdoc/>
    string IAuthenticationContext.PackageName => "NTLM";

    /// <inheritdoc/>
    bool IAuthenticationContext.IsCompleted => IsAuthenticated;

    /// <inheritdoc/>
    NlaFailureReason IAuthenticationContext.FailureReason => FailureReason ?? NlaFailureReason.None;

    /// <summary>Zeroes the NT hash and disposes <see cref="SessionSecurity"/>.</summary>
    /// <remarks>Zeroing and disposing again are harmless, so a second call does nothing more.</remarks>
    public void Dispose()
    {
        _state = State.Disposed;
        CryptographicOperations.ZeroMemory(_ntOwfV1);
        SessionSecurity?.Dispose();
    }

    private byte[]? ProcessChallenge(ReadOnlySpan<byte> incoming, out NlaStatus status)
    {
        NtlmChallengeMessage challenge = NtlmChallengeMessage.Decode(incoming);
        ChallengeMessage = challenge;
        NegotiateFlags missing = RequiredChallengeFlags & ~challenge.Flags;
        if (missing != 0)
        {
            return Fail(NlaFailureReason.UnsupportedFlags, $"CHALLENGE lacks required flags: {missing}.", out status);
        }

        // MS-NLMP §3.1.5.1.2: without MsvAvNbComputerName and MsvAvNbDomainName the client returns STATUS_LOGON_FAILURE.
        AvPairList? serverPairs = challenge.TargetInfo;
        if (serverPairs?.Find(AvId.NbComputerName) is null || serverPairs.Find(AvId.NbDomainName) is null)
        {
            return Fail(NlaFailureReason.Malformed, "CHALLENGE TargetInfo lacks MsvAvNbComputerName or MsvAvNbDomainName (MS-NLMP §3.1.5.1.2).", out status);
        }

        byte[] authenticate = BuildAuthenticate(challenge, serverPairs, incoming);
        _state = State.Completed;
        status = NlaStatus.Completed;
        return authenticate;
    }

    private byte[] BuildAuthenticate(NtlmChallengeMessage challenge, AvPairList serverPairs, ReadOnlySpan<byte> challengeBytes)
    {
        // MS-NLMP §3.1.5.1.2: use the server's MsvAvTimestamp when present; then LMv2 is Z(24) and a MIC is sent.
        long? serverTime = serverPairs.Timestamp;
        long time = serverTime ?? NtlmCrypto.ToFileTime(_options.TimeProvider.GetUtcNow());
        bool sendMic = serverTime is not null && _options.SendMic;

        var clientPairs = new AvPairList(serverPairs);
        if (sendMic)
        {
            clientPairs.Set(AvPair.FromFlags((clientPairs.Flags ?? MsvAvFlags.None) | MsvAvFlags.MicPresent));
        }

        // CredSSP binds to TLS through pubKeyAuth, so no channel bindings: 16 zero bytes, as FreeRDP and Windows send.
        clientPairs.Set(new AvPair(AvId.ChannelBindings, stackalloc byte[16]));
        if (_options.TargetName is { } spn)
        {
            clientPairs.Set(AvPair.FromString(AvId.TargetName, spn));
        }

        // MS-NLMP §2.2.1.3: NtChallengeResponseFields.NtChallengeResponseLen is 16 bits. The response is NTProofStr and
        // temp (§3.3.2: its fixed part, the whole AV_PAIR list, Z(4)), so a server's oversized TargetInfo must fail the
        // exchange, not the encoder.
        byte[] clientInfo = clientPairs.Encode();
        int ntResponseLength = NtlmCrypto.KeySize + NtlmCrypto.NtlmV2TempHeaderSize + clientInfo.Length + 4;
        if (ntResponseLength > ushort.MaxValue)
        {
            throw new NlaProtocolException(
                NlaFailureReason.MessageTooLarge,
                $"the TargetInfo ({serverPairs.Encode().Length} bytes) makes the AUTHENTICATE's NtChallengeResponse {ntResponseLength} bytes, more than its 16-bit length field holds",
                "MS-NLMP §2.2.1.3");
        }

        Span<byte> clientChallenge = stackalloc byte[NtlmCrypto.ClientChallengeSize];
        _options.RandomSource.Fill(clientChallenge);
        byte[] exportedSessionKey = new byte[NtlmCrypto.KeySize];
        _options.RandomSource.Fill(exportedSessionKey);

        ReadOnlySpan<byte> serverChallenge = challenge.ServerChallenge.Span;
        byte[] responseKeyNt = NtlmCrypto.NtOwfV2(_ntOwfV1, _options.UserName, _options.DomainName);
        byte[] temp = NtlmCrypto.ComputeNtlmV2Temp(time, clientChallenge, clientInfo);
        byte[] ntProofStr = NtlmCrypto.ComputeNtProofStr(responseKeyNt, serverChallenge, temp);
        byte[] lmResponse = sendMic
            ? new byte[24]
            : NtlmCrypto.ComputeLmV2Response(responseKeyNt, serverChallenge, clientChallenge);
        byte[] sessionBaseKey = NtlmCrypto.ComputeSessionBaseKey(responseKeyNt, ntProofStr);
        byte[] keyExchangeKey = NtlmCrypto.KxKey(sessionBaseKey);
        try
        {
            // The AUTHENTICATE echoes what both sides agreed on, plus TARGET_INFO (as Windows does).
            NegotiatedFlags = challenge.Flags & (NegotiateMessageFlags | NegotiateFlags.TargetInfo);
            var message = new NtlmAuthenticateMessage
            {
                Flags = NegotiatedFlags,
                LmChallengeResponse = lmResponse,
                NtChallengeResponse = NtlmCrypto.ComputeNtChallengeResponse(ntProofStr, temp),
                DomainName = _options.DomainName,
                UserName = _options.UserName,
                Workstation = _options.Workstation ?? "",
                EncryptedRandomSessionKey = NtlmCrypto.Rc4K(keyExchangeKey, exportedSessionKey),
                // MS-NLMP §2.2.1.3: Version is zero unless NTLMSSP_NEGOTIATE_VERSION was negotiated.
                Version = (NegotiatedFlags & NegotiateFlags.Version) != 0 ? _options.Version : null,
                Mic = sendMic ? new byte[NtlmAuthenticateMessage.MicSize] : null,
            };
            byte[] encoded = message.Encode();
            if (sendMic)
            {
                byte[] mic = NtlmCrypto.ComputeMic(exportedSessionKey, _negotiateBytes, challengeBytes, encoded);
                mic.CopyTo(encoded.AsSpan(NtlmAuthenticateMessage.MicFieldOffset));
            }

            SessionSecurity = new NtlmSessionSecurity(exportedSessionKey, NtlmRole.Client);
            MicSent = sendMic;
            return encoded;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(clientChallenge);
            CryptographicOperations.ZeroMemory(exportedSessionKey);
            CryptographicOperations.ZeroMemory(responseKeyNt);
            CryptographicOperations.ZeroMemory(sessionBaseKey);
            CryptographicOperations.ZeroMemory(keyExchangeKey);
        }
    }

    private byte[]? Fail(NlaFailureReason reason, string message, out NlaStatus status)
    {
        _state = State.Failed;
        FailureReason = reason;
        FailureMessage = message;
        status = NlaStatus.Failed;
        return null;
    }
}
