namespace RdpNla.Protocol.Ntlm;

/// <summary>
/// The NTLMv2 acceptor (MS-NLMP §3.2), shaped like <c>System.Net.Security.NegotiateAuthentication</c>:
/// NEGOTIATE → CHALLENGE (<see cref="NlaStatus.ContinueNeeded"/>); AUTHENTICATE → null with
/// <see cref="NlaStatus.CredentialLookupNeeded"/>; then the host calls <see cref="ProvideCredential"/> and
/// <see cref="GetOutgoingBlob"/> with an empty input, which verifies and returns null with
/// <see cref="NlaStatus.Completed"/> or <see cref="NlaStatus.Failed"/>. LM, NTLMv1 and anonymous logons are refused.
/// Bytes from the peer never make it throw.
/// </summary>
public sealed class NtlmServerContext : IAuthenticationContext
{
    /// <summary>
    /// The flags this acceptor can grant (no LM_KEY, OEM, DATAGRAM, IDENTIFY or anonymous): the same set the client
    /// context sends in its NEGOTIATE.
    /// </summary>
    internal const NegotiateFlags SupportedFlags = NtlmClientContext.NegotiateMessageFlags;

    /// <summary>The flags CredSSP needs from the client, in the NEGOTIATE and in the AUTHENTICATE.</summary>
    internal const NegotiateFlags RequiredClientFlags =
        NegotiateFlags.Unicode | NegotiateFlags.Sign | NegotiateFlags.Seal |
        NegotiateFlags.ExtendedSessionSecurity | NegotiateFlags.Negotiate128;

    private const int MinimumNtlmV2ResponseLength = NtlmCrypto.KeySize + NtlmCrypto.NtlmV2TempHeaderSize + 4;

    private readonly NtlmServerOptions _options;
    private readonly byte[] _serverChallenge = new byte[NtlmChallengeMessage.ServerChallengeSize];
    private byte[]? _negotiateBytes;
    private byte[]? _challengeBytes;
    private byte[]? _authenticateBytes;
    private readonly AcceptorFailure _failure = new();
    private NtlmCredentialLookup? _lookup;
    private bool _micPresent;
    private bool _keyExchange;
    private State _state;

    /// <summary>Creates an acceptor.</summary>
    public NtlmServerContext(NtlmServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(options.NbComputerName);
        ArgumentNullException.ThrowIfNull(options.NbDomainName);
        ArgumentNullException.ThrowIfNull(options.TimeProvider);
        ArgumentNullException.ThrowIfNull(options.RandomSource);
        _options = options;
    }

    private enum State
    {
        Initial,
        ChallengeSent,
        AwaitingCredential,
        CredentialProvided,
        Completed,
        Failed,
        Disposed,
    }

    /// <summary>Whether authentication completed successfully.</summary>
    public bool IsAuthenticated => _state == State.Completed;

    /// <summary>The flags granted in the CHALLENGE, once sent.</summary>
    public NegotiateFlags ChallengeFlags { get; private set; }

    /// <summary>The decoded AUTHENTICATE, once received.</summary>
    public NtlmAuthenticateMessage? AuthenticateMessage { get; private set; }

    /// <summary>The AV pairs of the client's NTLMv2 response (MsvAvTargetName, MsvAvFlags, ...), once received.</summary>
    public AvPairList? ClientTargetInfo { get; private set; }

    /// <summary>UserName as sent in the AUTHENTICATE.</summary>
    public string? UserName => AuthenticateMessage?.UserName;

    /// <summary>DomainName as sent in the AUTHENTICATE (empty, ".", a NetBIOS or a DNS name).</summary>
    public string? DomainName => AuthenticateMessage?.DomainName;

    /// <summary>Workstation as sent in the AUTHENTICATE.</summary>
    public string? Workstation => AuthenticateMessage?.Workstation;

    /// <summary>The client's proof (NTProofStr and, when present, the MIC) verified, even if the account was then denied.</summary>
    public bool PasswordVerified { get; private set; }

    /// <summary>
    /// Whether the AUTHENTICATE carried a MIC (MsvAvFlags 0x2) and it verified. SPNEGO must then require the client's
    /// mechListMIC (docs/interop.md#mic-and-mechlistmic).
    /// </summary>
    public bool MicVerified { get; private set; }

    /// <summary>The NTSTATUS to send the client after <see cref="NlaStatus.Failed"/>: LOGON_FAILURE for a bad password or an unknown user alike.</summary>
    public NtStatus FailureStatus => _failure.Status;

    /// <summary>Why authentication failed, after <see cref="NlaStatus.Failed"/>.</summary>
    public NlaFailureReason? FailureReason => _failure.Reason;

    /// <summary>A specific description of the failure for the log ("NTProofStr mismatch", "unknown user", ...); no secrets.</summary>
    public string? FailureMessage => _failure.Message;

    /// <summary>
    /// The CHALLENGE's ServerChallenge, once sent: with the AUTHENTICATE's NtChallengeResponse it is what a domain
    /// controller needs to verify the response for this server (pass-through, <see cref="NtlmCredentialLookup.VerifiedByDomain"/>).
    /// </summary>
    public ReadOnlyMemory<byte> ServerChallenge => _challengeBytes is null ? ReadOnlyMemory<byte>.Empty : _serverChallenge;

    /// <summary>Signing and sealing for the session, after <see cref="NlaStatus.Completed"/>. Owned by this context.</summary>
    public NtlmSessionSecurity? SessionSecurity { get; private set; }

    /// <summary>Advances the exchange; see the class remarks.</summary>
    /// <exception cref="InvalidOperationException">Called while a credential is awaited, or after Completed or Failed.</exception>
    /// <exception cref="ObjectDisposedException">The context is disposed.</exception>
    public byte[]? GetOutgoingBlob(ReadOnlySpan<byte> incoming, out NlaStatus status)
    {
        ObjectDisposedException.ThrowIf(_state == State.Disposed, this);
        try
        {
            switch (_state)
            {
                case State.Initial:
                    return ProcessNegotiate(incoming, out status);
                case State.ChallengeSent:
                    return ProcessAuthenticate(incoming, out status);
                case State.CredentialProvided:
                    return Verify(out status);
                case State.AwaitingCredential:
                    throw new InvalidOperationException("Call ProvideCredential before continuing.");
                default:
                    throw new InvalidOperationException($"The NTLM server context is {_state}; it takes no more input.");
            }
        }
        catch (NlaProtocolException exception)
        {
            return Fail(exception.Reason, exception.Message, NtStatus.LogonFailure, out status);
        }
    }

    /// <summary>Supplies the account lookup after <see cref="NlaStatus.CredentialLookupNeeded"/>. The lookup is consumed (its hash is zeroed).</summary>
    /// <exception cref="InvalidOperationException">No credential is awaited.</exception>
    public void ProvideCredential(NtlmCredentialLookup lookup)
    {
        ArgumentNullException.ThrowIfNull(lookup);
        ObjectDisposedException.ThrowIf(_state == State.Disposed, this);
        if (_state != State.AwaitingCredential)
        {
            throw new InvalidOperationException($"The NTLM server context is {_state}; it does not await a credential.");
        }

        _lookup = lookup;
        _state = State.CredentialProvided;
    }

    /// <summary>
    /// Whether <paramref name="passwordUtf16"/> yields the NTLMv2 response the client sent (MS-NLMP §3.3.2): after a
    /// pass-through logon, where no hash is known here, this proves a delegated password is the one the DC verified.
    /// </summary>
    public bool ResponseMatchesPassword(ReadOnlySpan<byte> passwordUtf16)
    {
        if (AuthenticateMessage is not { } message || _challengeBytes is null)
        {
            return false;
        }

        ReadOnlySpan<byte> nt = message.NtChallengeResponse.Span;
        byte[] ntOwfV1 = Cryptography.Md4.HashData(passwordUtf16);
        byte[] responseKeyNt = NtlmCrypto.NtOwfV2(ntOwfV1, message.UserName, message.DomainName);
        byte[] ntProofStr = NtlmCrypto.ComputeNtProofStr(responseKeyNt, _serverChallenge, nt[NtlmCrypto.KeySize..]);
        bool same = CryptographicOperations.FixedTimeEquals(ntProofStr, nt[..NtlmCrypto.KeySize]);
        CryptographicOperations.ZeroMemory(ntOwfV1);
        CryptographicOperations.ZeroMemory(responseKeyNt);
        CryptographicOperations.ZeroMemory(ntProofStr);
        return same;
    }

    /// <inheritdoc/>
    string IAuthenticationContext.PackageName => "NTLM";

    /// <inheritdoc/>
    bool IAuthenticationContext.IsCompleted => IsAuthenticated;

    /// <inheritdoc/>
    NlaFailureReason IAuthenticationContext.FailureReason => FailureReason ?? NlaFailureReason.None;

    /// <summary>Zeroes the credential and disposes <see cref="SessionSecurity"/>.</summary>
    /// <remarks>Clearing and disposing again are harmless, so a second call does nothing more.</remarks>
    public void Dispose()
    {
        _state = State.Disposed;
        _lookup?.Clear();
        SessionSecurity?.Dispose();
    }

    private byte[]? ProcessNegotiate(ReadOnlySpan<byte> incoming, out NlaStatus status)
    {
        NtlmNegotiateMessage negotiate = NtlmNegotiateMessage.Decode(incoming);
        NegotiateFlags missing = RequiredClientFlags & ~negotiate.Flags;
        if (missing != 0)
        {
            return Fail(NlaFailureReason.UnsupportedFlags, $"NEGOTIATE lacks required flags: {missing}.", NtStatus.LogonFailure, out status);
        }

        // MS-NLMP §3.2.5.1.1: grant the intersection, plus TARGET_INFO and the target type. REQUEST_TARGET is always set:
        // the .NET managed client refuses a CHALLENGE without it. LM_KEY is never granted (ESS wins).
        bool isDomain = !string.Equals(_options.NbDomainName, _options.NbComputerName, StringComparison.OrdinalIgnoreCase);
        ChallengeFlags = (negotiate.Flags & SupportedFlags) |
            NegotiateFlags.RequestTarget | NegotiateFlags.Ntlm | NegotiateFlags.TargetInfo | NegotiateFlags.Version |
            (isDomain ? NegotiateFlags.TargetTypeDomain : NegotiateFlags.TargetTypeServer);

        // Windows and FreeRDP order: NbDomain, NbComputer, DnsDomain, DnsComputer, Timestamp. No MsvAvFlags (gss-ntlmssp #98).
        var targetInfo = new AvPairList();
        targetInfo.Set(AvPair.FromString(AvId.NbDomainName, _options.NbDomainName));
        targetInfo.Set(AvPair.FromString(AvId.NbComputerName, _options.NbComputerName));
        if (_options.DnsDomainName is { } dnsDomain)
        {
            targetInfo.Set(AvPair.FromString(AvId.DnsDomainName, dnsDomain));
        }

        if (_options.DnsComputerName is { } dnsComputer)
        {
            targetInfo.Set(AvPair.FromString(AvId.DnsComputerName, dnsComputer));
        }

        targetInfo.Set(AvPair.FromTimestamp(NtlmCrypto.ToFileTime(_options.TimeProvider.GetUtcNow())));

        _options.RandomSource.Fill(_serverChallenge);
        var challenge = new NtlmChallengeMessage
        {
            Flags = ChallengeFlags,
            TargetName = _options.NbDomainName,
            ServerChallenge = _serverChallenge,
            TargetInfo = targetInfo,
            Version = _options.Version,
        };
        _negotiateBytes = incoming.ToArray();
        _challengeBytes = challenge.Encode();
        _state = State.ChallengeSent;
        status = NlaStatus.ContinueNeeded;
        return _challengeBytes;
    }

    private byte[]? ProcessAuthenticate(ReadOnlySpan<byte> incoming, out NlaStatus status)
    {
        NtlmAuthenticateMessage message = NtlmAuthenticateMessage.Decode(incoming);
        AuthenticateMessage = message;
        _authenticateBytes = incoming.ToArray();
        ReadOnlySpan<byte> nt = message.NtChallengeResponse.Span;

        // MS-NLMP §3.2.5.1.2 / §3.3: refuse anonymous, LM-only and NTLMv1 before looking anything up.
        if ((message.Flags & NegotiateFlags.Anonymous) != 0 || message.UserName.Length == 0)
        {
            return Fail(NlaFailureReason.UnsupportedMechanism, "anonymous logon refused", NtStatus.LogonFailure, out status);
        }

        if (nt.IsEmpty)
        {
            return Fail(NlaFailureReason.UnsupportedMechanism, "LM-only response refused", NtStatus.LogonFailure, out status);
        }

        if (nt.Length <= 24)
        {
            return Fail(NlaFailureReason.UnsupportedMechanism, "NTLMv1 response refused", NtStatus.LogonFailure, out status);
        }

        if (nt.Length < MinimumNtlmV2ResponseLength || nt[16] != 1 || nt[17] != 1)
        {
            return Fail(NlaFailureReason.Malformed, "NTLMv2 response is malformed (MS-NLMP §2.2.2.8)", NtStatus.LogonFailure, out status);
        }

        ClientTargetInfo = AvPairList.Decode(nt[(NtlmCrypto.KeySize + NtlmCrypto.NtlmV2TempHeaderSize)..]);

        NegotiateFlags missing = RequiredClientFlags & ~message.Flags;
        if (missing != 0)
        {
            return Fail(NlaFailureReason.UnsupportedFlags, $"AUTHENTICATE lacks required flags: {missing}.", NtStatus.LogonFailure, out status);
        }

        // MS-NLMP §3.2.5.1.2: ExportedSessionKey is RC4K(KeyExchangeKey, EncryptedRandomSessionKey) when KEY_EXCH is in
        // NegFlg, the flags this server negotiated in its CHALLENGE. A KEY_EXCH the CHALLENGE did not grant is ignored; one
        // it granted but the AUTHENTICATE does not repeat (MS-NLMP §2.2.1.3: the AUTHENTICATE carries the negotiated
        // flags) means the client sent no key, so KeyExchangeKey is used as is.
        _keyExchange = (ChallengeFlags & message.Flags & NegotiateFlags.KeyExchange) != 0;
        if (_keyExchange && message.EncryptedRandomSessionKey.Length != NtlmCrypto.KeySize)
        {
            return Fail(NlaFailureReason.Malformed, "EncryptedRandomSessionKey is not 16 bytes long", NtStatus.LogonFailure, out status);
        }

        _micPresent = ((ClientTargetInfo.Flags ?? MsvAvFlags.None) & MsvAvFlags.MicPresent) != 0;
        if (_micPresent && message.Mic is null)
        {
            return Fail(NlaFailureReason.Malformed, "MsvAvFlags announces a MIC but the AUTHENTICATE has no room for one", NtStatus.LogonFailure, out status);
        }

        // MS-NLMP §3.2.5.1.2: the MIC is checked when MsvAvFlags announces it. A client that announces none is verified on
        // its NTProofStr alone, as Windows does, unless the server requires a MIC (RequireNtlmMic, docs/serve.md).
        if (!_micPresent && _options.RequireMic)
        {
            return Fail(NlaFailureReason.IntegrityCheckFailed, "AUTHENTICATE carries no MIC and one is required (RequireNtlmMic)", NtStatus.LogonFailure, out status);
        }

        _state = State.AwaitingCredential;
        status = NlaStatus.CredentialLookupNeeded;
        return null;
    }

    private byte[]? Verify(out NlaStatus status)
    {
        NtlmCredentialLookup lookup = _lookup!;
        NtlmAuthenticateMessage message = AuthenticateMessage!;
        if (lookup.Kind == NtlmCredentialLookup.LookupKind.Denied)
        {
            lookup.Clear();
            return Fail(
                NlaFailureReason.AuthenticationFailed,
                $"account refused before verification: {NtStatusText.Name(lookup.Status)}",
                lookup.Status,
                out status);
        }

        if (lookup.Kind == NtlmCredentialLookup.LookupKind.DomainRefused)
        {
            return Fail(
                NlaFailureReason.AuthenticationFailed,
                $"the domain controller refused the logon: {NtStatusText.Name(lookup.Status)}",
                lookup.Status,
                out status);
        }

        // An unknown user costs the same work as a wrong password: verify against a random hash, then fail.
        byte[] ntOwfV1 = new byte[NtlmCrypto.NtOwfSize];
        byte[]? responseKeyNt = null;
        byte[]? ntProofStr = null;
        byte[]? sessionBaseKey = null;
        byte[]? keyExchangeKey = null;
        byte[]? exportedSessionKey = null;
        try
        {
            if (lookup.Kind == NtlmCredentialLookup.LookupKind.Found)
            {
                lookup.NtOwfV1.CopyTo(ntOwfV1);
            }
            else
            {
                _options.RandomSource.Fill(ntOwfV1);
            }

            if (lookup.Kind == NtlmCredentialLookup.LookupKind.DomainVerified)
            {
                // Pass-through: the domain controller checked NTProofStr and returned the SessionBaseKey.
                sessionBaseKey = lookup.SessionBaseKey.ToArray();
            }

            lookup.Clear();
            ReadOnlySpan<byte> nt = message.NtChallengeResponse.Span;
            if (sessionBaseKey is null)
            {
                // MS-NLMP §3.2.5.1.2: NTOWFv2 with the user uppercased and the domain exactly as sent.
                responseKeyNt = NtlmCrypto.NtOwfV2(ntOwfV1, message.UserName, message.DomainName);
                ntProofStr = NtlmCrypto.ComputeNtProofStr(responseKeyNt, _serverChallenge, nt[NtlmCrypto.KeySize..]);
                bool proofMatches = CryptographicOperations.FixedTimeEquals(ntProofStr, nt[..NtlmCrypto.KeySize]);
                if (lookup.Kind == NtlmCredentialLookup.LookupKind.NotFound)
                {
                    return Fail(NlaFailureReason.AuthenticationFailed, "unknown user", NtStatus.LogonFailure, out status);
                }

                if (!proofMatches)
                {
                    return Fail(NlaFailureReason.AuthenticationFailed, "NTProofStr mismatch", NtStatus.LogonFailure, out status);
                }

                sessionBaseKey = NtlmCrypto.ComputeSessionBaseKey(responseKeyNt, ntProofStr);
            }

            keyExchangeKey = NtlmCrypto.KxKey(sessionBaseKey);
            exportedSessionKey = _keyExchange
                ? NtlmCrypto.Rc4K(keyExchangeKey, message.EncryptedRandomSessionKey.Span)
                : keyExchangeKey.ToArray();

            if (_micPresent)
            {
                byte[] expected = NtlmCrypto.ComputeMic(
                    exportedSessionKey,
                    _negotiateBytes,
                    _challengeBytes,
                    NtlmAuthenticateMessage.CopyWithMicZeroed(_authenticateBytes));
                if (!CryptographicOperations.FixedTimeEquals(expected, message.Mic!.Value.Span))
                {
                    return Fail(NlaFailureReason.IntegrityCheckFailed, "MIC mismatch", NtStatus.LogonFailure, out status);
                }

                MicVerified = true;
            }

            PasswordVerified = true;
            if (lookup.Status != NtStatus.Success)
            {
                return Fail(
                    NlaFailureReason.AuthenticationFailed,
                    $"account denied after verification: {NtStatusText.Name(lookup.Status)}",
                    lookup.Status,
                    out status);
            }

            SessionSecurity = new NtlmSessionSecurity(exportedSessionKey, NtlmRole.Server);
            _state = State.Completed;
            status = NlaStatus.Completed;
            return null;
        }
        finally
        {
            CryptographicOperations.ZeroMemory(ntOwfV1);
            Zero(responseKeyNt);
            Zero(ntProofStr);
            Zero(sessionBaseKey);
            Zero(keyExchangeKey);
            Zero(exportedSessionKey);
        }
    }

    private static void Zero(byte[]? buffer)
    {
        if (buffer is not null)
        {
            CryptographicOperations.ZeroMemory(buffer);
        }
    }

    private byte[]? Fail(NlaFailureReason reason, string message, NtStatus ntStatus, out NlaStatus status)
    {
        _state = State.Failed;
        status = _failure.Record(reason, message, ntStatus);
        _lookup?.Clear();
        return null;
    }
}
