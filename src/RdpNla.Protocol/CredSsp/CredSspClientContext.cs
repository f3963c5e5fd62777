namespace RdpNla.Protocol.CredSsp;

/// <summary>
/// The CredSSP initiator (MS-CSSP §3.1.5), shaped like <c>System.Net.Security.NegotiateAuthentication</c>: call
/// <see cref="GetOutgoingBlob"/> with no input for the first TSRequest, then with each TSRequest the server sends.
/// It verifies the server's public-key binding before it delegates any credential, and applies the
/// AllowEncryptionOracle policy to the server's version as a patched Windows client does (KB4093492; docs/interop.md#encryption-oracle).
/// </summary>
public sealed class CredSspClientContext : IAuthenticationContext, IContextStep
{
    private readonly CredSspClientOptions _options;
    private readonly NegotiateClientContext _negotiate;
    private readonly byte[] _publicKey;
    private readonly byte[]? _clientNonce;
    private State _state = State.Initial;
    private IGssContext? _kerberos;
    private byte[]? _kerberosMechTypes;

    /// <summary>Creates the client side of one CredSSP exchange.</summary>
    /// <param name="options">The credentials, the server's public key from TLS, the highest version and the policies.</param>
    /// <param name="random">The source of the 32-byte client nonce (version 5 and later) and of the NTLM client challenge and session key.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> or <paramref name="random"/> is null.</exception>
    /// <exception cref="ArgumentException">The maximum version is outside 2–6, or the delegated password is not UTF-16LE.</exception>
    public CredSspClientContext(CredSspClientOptions options, IRandomSource random)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(random);
        CredSspVersion.ValidateConfigured(options.MaxVersion, nameof(options));
        if (options.DelegatedPasswordUtf16 is { Length: int length } && length % 2 != 0)
        {
            throw new ArgumentException("DelegatedPasswordUtf16 must be UTF-16LE (an even number of bytes).", nameof(options));
        }

        _options = options;
        _publicKey = options.ServerPublicKey.ToArray();
        _negotiate = new NegotiateClientContext(options.Ntlm, options.UseSpnego);
        if (CredSspVersion.UsesHashBinding(options.MaxVersion))
        {
            // MS-CSSP §2.2.1 clientNonce: 32 random bytes, version 5 and later.
            _clientNonce = new byte[CredSspBinding.ClientNonceSize];
            random.Fill(_clientNonce);
        }
    }

    private enum State
    {
        Initial,
        AwaitingChallenge,
        AwaitingPubKeyAuth,
        Completed,
        Failed,
    }

    /// <summary>The version the server announced in its first TSRequest (0 before it).</summary>
    public int ServerVersion { get; private set; }

    /// <summary>The version both sides follow: the lower of ours and the server's.</summary>
    public int NegotiatedVersion => ServerVersion == 0 ? 0 : CredSspVersion.Effective(_options.MaxVersion, ServerVersion);

    /// <summary>The NTSTATUS the server sent in TSRequest.errorCode, if it sent one.</summary>
    public NtStatus? ServerErrorCode { get; private set; }

    /// <summary>The server's NTLM CHALLENGE (target names, version, time), once received.</summary>
    public NtlmChallengeMessage? ServerChallenge => _negotiate.Ntlm.ChallengeMessage;

    /// <summary>The security package in use: "Kerberos" or "NTLM".</summary>
    public string PackageName => _kerberos?.PackageName ?? "NTLM";

    /// <summary>Why Kerberos was not used although a Kerberos context was offered (NTLM ran instead); null otherwise.</summary>
    public string? KerberosFallbackReason { get; private set; }

    /// <summary>True once the server proved it holds the key of the certificate seen in TLS.</summary>
    public bool ServerBindingVerified { get; private set; }

    /// <summary>Why the exchange failed, once a step returned <see cref="NlaStatus.Failed"/>; <see cref="NlaFailureReason.None"/> before.</summary>
    public NlaFailureReason FailureReason { get; private set; }

    /// <summary>A specific reason for the log and the user; never contains secrets.</summary>
    public string? FailureMessage { get; private set; }

    /// <summary>
    /// Runs one step: consumes the server's TSRequest and returns the TSRequest to send (MS-CSSP §3.1.5). Call first with
    /// an empty span for the opening TSRequest.
    /// </summary>
    /// <param name="incoming">The DER TSRequest the server sent, or empty for the first call.</param>
    /// <param name="status">
    /// <see cref="NlaStatus.ContinueNeeded"/> while the exchange goes on, <see cref="NlaStatus.Completed"/> when the
    /// credentials are sent (the returned TSRequest is the last one), <see cref="NlaStatus.Failed"/> with
    /// <see cref="FailureReason"/> and <see cref="FailureMessage"/> set.
    /// </param>
    /// <returns>The encoded TSRequest to send, or null when there is nothing to send.</returns>
    /// <remarks>Malformed input does not throw: it fails the exchange with <see cref="NlaFailureReason.Malformed"/> or a more specific reason.</remarks>
    public byte[]? GetOutgoingBlob(ReadOnlySpan<byte> incoming, out NlaStatus status) => ContextStep.Run(this, incoming, out status);

    byte[]? IContextStep.Step(ReadOnlySpan<byte> incoming, out NlaStatus status)
    {
        if (_state == State.Initial && _options.Kerberos is { } kerberos)
        {
            GssStepStatus first = kerberos.Step([], out byte[]? apReq);
            if (first != GssStepStatus.Failed && apReq is not null)
            {
                _kerberos = kerberos;
                return StartKerberos(first, apReq, out status);
            }

            if (_options.KerberosOnly)
            {
                status = Fail(NlaFailureReason.AuthenticationFailed, kerberos.FailureMessage ?? "Kerberos could not start.");
                return null;
            }

            // MS-CSSP §3.1.5 note <3>: Kerberos is preferred; NTLM is negotiated when Kerberos is not possible.
            KerberosFallbackReason = kerberos.FailureMessage ?? "Kerberos produced no token";
        }

        if (_state == State.Initial && _options.KerberosOnly)
        {
            // Kerberos only, and no Kerberos context at all: never fall back to NTLM silently.
            status = Fail(NlaFailureReason.AuthenticationFailed, "Kerberos is required, but no Kerberos context was given.");
            return null;
        }

        if (_state == State.Initial)
        {
            byte[]? negotiate = _negotiate.GetOutgoingBlob([], out NlaStatus negotiateStatus);
            if (negotiateStatus != NlaStatus.ContinueNeeded)
            {
                status = Fail(_negotiate.FailureReason, _negotiate.FailureMessage ?? "NTLM could not start.");
                return null;
            }

            _state = State.AwaitingChallenge;
            status = NlaStatus.ContinueNeeded;
            return Encode(new TsRequest { Version = _options.MaxVersion, NegoTokens = [negotiate!], ClientNonce = _clientNonce });
        }

        if (_state is State.Completed or State.Failed)
        {
            throw new InvalidOperationException($"The exchange is already {_state}.");
        }

        TsRequest response = TsRequest.Decode(incoming);
        if (response.ErrorCode is { } errorCode)
        {
            // MS-CSSP §3.1.5 step 2: "If the client receives a TSRequest message with the errorCode present, it MUST
            // immediately fail with the provided status code".
            ServerErrorCode = errorCode;
            ServerVersion = ServerVersion == 0 ? response.Version : ServerVersion;
            status = Fail(NlaFailureReason.PeerReportedFailure, $"The server refused the logon: {NtStatusText.Name(errorCode)} ({NtStatusText.Describe(errorCode)}).");
            return null;
        }

        if (ServerVersion == 0)
        {
            if (response.Version < CredSspVersion.Minimum)
            {
                status = Fail(NlaFailureReason.UnsupportedVersion, $"The server announced CredSSP version {response.Version}.");
                return null;
            }

            ServerVersion = response.Version;

            // KB4093492 (docs/interop.md#encryption-oracle): a patched client under "Force Updated Clients" or "Mitigated" refuses a server
            // below version 5 right after its first TSRequest (mstsc: "The function requested is not supported ...
            // This could be due to CredSSP encryption oracle remediation", event 6041).
            if (_options.MaxVersion >= CredSspVersion.FirstPatched
                && _options.AllowEncryptionOracle != EncryptionOraclePolicy.Vulnerable
                && ServerVersion < CredSspVersion.FirstPatched)
            {
                status = Fail(
                    NlaFailureReason.VersionNotPermitted,
                    $"The server offered CredSSP version {ServerVersion}, which is not permitted by Encryption Oracle Remediation (AllowEncryptionOracle={(int)_options.AllowEncryptionOracle}).");
                return null;
            }
        }
        else if (response.Version != ServerVersion)
        {
            status = Fail(NlaFailureReason.UnsupportedVersion, $"The server changed its CredSSP version from {ServerVersion} to {response.Version}.");
            return null;
        }

        return _state switch
        {
            State.AwaitingChallenge when _kerberos is not null => OnKerberosReply(response, out status),
            State.AwaitingChallenge => OnChallenge(response, out status),
            State.AwaitingPubKeyAuth => OnServerPubKeyAuth(response, out status),
            _ => throw new InvalidOperationException($"Unexpected state {_state}."),
        };
    }

    byte[]? IContextStep.Fail(NlaProtocolException exception, out NlaStatus status) =>
        ContextStep.NoToken(Fail(exception.Reason, exception.Message), out status);

    private byte[]? OnChallenge(TsRequest response, out NlaStatus status)
    {
        if (response.NegoTokens.Count == 0)
        {
            throw new NlaProtocolException(NlaFailureReason.UnexpectedMessage, "The server's TSRequest carries no negoTokens.", "MS-CSSP §3.1.5 step 2");
        }

        byte[]? authenticate = _negotiate.GetOutgoingBlob(response.NegoTokens[0], out NlaStatus negotiateStatus);
        if (negotiateStatus != NlaStatus.Completed || authenticate is null)
        {
            status = Fail(_negotiate.FailureReason, _negotiate.FailureMessage ?? "The server's CHALLENGE was refused.");
            return null;
        }

        // MS-CSSP §3.1.5 step 2–3: the last NTLM message travels with pubKeyAuth. Versions 5+ wrap a SHA-256 hash over
        // magic ‖ nonce ‖ key; versions 2–4 wrap the key itself.
        byte[] binding = CredSspVersion.UsesHashBinding(NegotiatedVersion)
            ? CredSspBinding.ComputeClientServerHash(_clientNonce!, _publicKey)
            : (byte[])_publicKey.Clone();
        byte[] pubKeyAuth = _negotiate.SessionSecurity!.Wrap(binding);
        _state = State.AwaitingPubKeyAuth;
        status = NlaStatus.ContinueNeeded;
        return Encode(new TsRequest { Version = _options.MaxVersion, NegoTokens = [authenticate], PubKeyAuth = pubKeyAuth, ClientNonce = _clientNonce });
    }

    private byte[]? StartKerberos(GssStepStatus first, byte[] apReq, out NlaStatus status)
    {
        // Windows clients send Kerberos only inside SPNEGO (MS-CSSP §2.2.1.1 note <7>); RFC 4178 §4.2.1: Kerberos as the
        // only (so preferred) mechanism, the AP-REQ as optimistic token.
        var init = new NegTokenInit([SpnegoOids.Kerberos], mechToken: apReq);
        _kerberosMechTypes = init.MechTypesEncoding;
        byte[] token = init.Encode();

        if (first == GssStepStatus.Completed)
        {
            // No AP-REP expected: the binding travels with the only token (MS-CSSP §3.1.5 step 2).
            return SendPubKeyAuth(token, out status);
        }

        _state = State.AwaitingChallenge;
        status = NlaStatus.ContinueNeeded;
        return Encode(new TsRequest { Version = _options.MaxVersion, NegoTokens = [token], ClientNonce = _clientNonce });
    }

    private byte[]? OnKerberosReply(TsRequest response, out NlaStatus status)
    {
        if (response.NegoTokens.Count == 0)
        {
            throw new NlaProtocolException(NlaFailureReason.UnexpectedMessage, "The server's TSRequest carries no Kerberos token.", "MS-CSSP §3.1.5 step 2");
        }

        byte[] token;
        byte[]? serverMic;
        {
            NegTokenResp reply = NegTokenResp.Decode(response.NegoTokens[0]);
            if (reply.State == NegState.Reject)
            {
                status = Fail(NlaFailureReason.PeerReportedFailure, "The server rejected Kerberos in SPNEGO.");
                return null;
            }

            if (reply.SupportedMech is { } mech && mech is not (SpnegoOids.Kerberos or SpnegoOids.MsKerberos))
            {
                status = Fail(NlaFailureReason.UnsupportedMechanism, $"The server selected mechanism {mech}, not Kerberos (no keytab for this SPN on the server?).");
                return null;
            }

            if (reply.ResponseToken is null)
            {
                throw new NlaProtocolException(NlaFailureReason.UnexpectedMessage, "SPNEGO NegTokenResp carries no Kerberos AP-REP.", "RFC 4178 §4.2.2");
            }

            token = reply.ResponseToken;
            serverMic = reply.MechListMic;
        }

        GssStepStatus step = _kerberos!.Step(token, out byte[]? next);
        if (step == GssStepStatus.Failed)
        {
            status = Fail(NlaFailureReason.AuthenticationFailed, _kerberos.FailureMessage ?? "The server's Kerberos answer was refused.");
            return null;
        }

        if (step == GssStepStatus.ContinueNeeded)
        {
            status = NlaStatus.ContinueNeeded;
            return Encode(new TsRequest { Version = _options.MaxVersion, NegoTokens = [new NegTokenResp { ResponseToken = next }.Encode()], ClientNonce = _clientNonce });
        }

        // The AP-REP verified: the server holds the service key (mutual authentication, RFC 4120 §3.2.5).
        if (serverMic is not null && !_kerberos.VerifyMic(_kerberosMechTypes, serverMic))
        {
            status = Fail(NlaFailureReason.IntegrityCheckFailed, "The server's SPNEGO mechListMIC does not verify.");
            return null;
        }

        return SendPubKeyAuth(null, out status);
    }

    private byte[]? SendPubKeyAuth(byte[]? lastToken, out NlaStatus status)
    {
        byte[] binding = CredSspVersion.UsesHashBinding(NegotiatedVersionOrOwn)
            ? CredSspBinding.ComputeClientServerHash(_clientNonce!, _publicKey)
            : (byte[])_publicKey.Clone();
        byte[] pubKeyAuth = _kerberos!.Wrap(binding);
        _state = State.AwaitingPubKeyAuth;
        status = NlaStatus.ContinueNeeded;
        return Encode(new TsRequest { Version = _options.MaxVersion, NegoTokens = lastToken is null ? [] : [lastToken], PubKeyAuth = pubKeyAuth, ClientNonce = _clientNonce });
    }

    /// <summary>Before the server's first TSRequest, our own version decides the binding (the server answers in kind).</summary>
    private int NegotiatedVersionOrOwn => ServerVersion == 0 ? _options.MaxVersion : NegotiatedVersion;

    private byte[] Wrap(ReadOnlySpan<byte> message) => _kerberos is { } kerberos ? kerberos.Wrap(message) : _negotiate.SessionSecurity!.Wrap(message);

    private byte[] Unwrap(ReadOnlySpan<byte> token) => _kerberos is { } kerberos ? kerberos.Unwrap(token) : _negotiate.SessionSecurity!.Unwrap(token);

    private byte[]? OnServerPubKeyAuth(TsRequest response, out NlaStatus status)
    {
        if (_kerberos is null && _negotiate.AwaitingServerMechListMic)
        {
            if (response.NegoTokens.Count == 0)
            {
                status = Fail(NlaFailureReason.IntegrityCheckFailed, "The server did not finish SPNEGO (no final token with its mechListMIC).");
                return null;
            }

            _negotiate.GetOutgoingBlob(response.NegoTokens[0], out NlaStatus negotiateStatus);
            if (negotiateStatus != NlaStatus.Completed)
            {
                status = Fail(_negotiate.FailureReason, _negotiate.FailureMessage ?? "SPNEGO did not complete.");
                return null;
            }
        }

        if (response.PubKeyAuth is null)
        {
            throw new NlaProtocolException(NlaFailureReason.UnexpectedMessage, "The server's TSRequest carries no pubKeyAuth.", "MS-CSSP §3.1.5 step 4");
        }

        byte[] received = Unwrap(response.PubKeyAuth);
        try
        {
            byte[] expected = CredSspVersion.UsesHashBinding(NegotiatedVersion)
                ? CredSspBinding.ComputeServerClientHash(_clientNonce!, _publicKey)
                : CredSspBinding.IncrementFirstByte(_publicKey);
            if (!CryptographicOperations.FixedTimeEquals(received, expected))
            {
                // MS-CSSP §3.1.5 step 5: the client MUST NOT send credentials to a server that fails the binding check.
                status = Fail(NlaFailureReason.PublicKeyMismatch, "The server's pubKeyAuth does not match the certificate seen in TLS: a man in the middle, or a server that does not hold the certificate's key. No credentials were sent.");
                return null;
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(received);
        }

        ServerBindingVerified = true;
        _state = State.Completed;
        status = NlaStatus.Completed;
        if (!_options.DelegateCredentials)
        {
            return null;
        }

        // MS-CSSP §3.1.5 step 5: authInfo = Encrypt(DER(TSCredentials{TSPasswordCreds})).
        NtlmClientOptions ntlm = _options.Ntlm;
        ReadOnlySpan<char> password = _options.DelegatedPassword is { } delegatedPassword ? delegatedPassword.Span : (ntlm.Password ?? string.Empty).AsSpan();
        using TsCredentials delegated = _options.DelegatedPasswordUtf16 is { } utf16
            ? TsCredentials.ForPasswordUtf16(ntlm.DomainName ?? string.Empty, ntlm.UserName, utf16.Span)
            : TsCredentials.ForPassword(ntlm.DomainName ?? string.Empty, ntlm.UserName, password);
        byte[] credentials = delegated.Encode();
        try
        {
            return Encode(new TsRequest { Version = _options.MaxVersion, AuthInfo = Wrap(credentials), ClientNonce = _clientNonce });
        }
        finally
        {
            CryptographicOperations.ZeroMemory(credentials);
        }
    }

    private NlaStatus Fail(NlaFailureReason reason, string message)
    {
        _state = State.Failed;
        FailureReason = reason;
        FailureMessage = message;
        return NlaStatus.Failed;
    }

    private static byte[] Encode(TsRequest request) => request.Encode();

    /// <inheritdoc/>
    bool IAuthenticationContext.IsCompleted => _state == State.Completed;

    /// <summary>Wipes the key material of the inner NTLM context.</summary>
    public void Dispose() => _negotiate.Dispose();
}
