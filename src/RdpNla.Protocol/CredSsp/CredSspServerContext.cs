namespace RdpNla.Protocol.CredSsp;

/// <summary>
/// The CredSSP acceptor (MS-CSSP §3.1.5), shaped like <c>System.Net.Security.NegotiateAuthentication</c>: each
/// received TSRequest goes in, the TSRequest to send (if any) comes out with a status. The context does not know where
/// users live: on <see cref="NlaStatus.CredentialLookupNeeded"/> the host looks up <see cref="UserName"/> and
/// <see cref="DomainName"/>, calls <see cref="ProvideCredential"/>, then calls <see cref="GetOutgoingBlob"/> with no
/// input to continue. On <see cref="NlaStatus.Completed"/> the delegated credentials are in <see cref="DelegatedCredentials"/>.
/// On <see cref="NlaStatus.Failed"/> a non-null output is the TSRequest carrying errorCode, to send before closing.
/// With <see cref="CredSspServerOptions.RecordLogonBeforeProof"/> a verified password stops at
/// <see cref="NlaStatus.LogonRecordNeeded"/> before the server proves itself (<see cref="CompleteLogonRecord"/>).
/// </summary>
public sealed class CredSspServerContext : IAuthenticationContext, IContextStep
{
    private readonly CredSspServerOptions _options;
    private readonly NegotiateServerContext _negotiate;
    private readonly byte[] _publicKey;
    private readonly AcceptorFailure _failure = new();
    private State _state = State.AwaitingNegotiate;
    private byte[]? _pendingPubKeyAuth;
    private byte[]? _clientNonce;
    private byte[]? _ntOwf;
    private byte[]? _heldReply;
    private State _stateAfterRecord;
    private NtStatus? _recordStatus;
    private byte[]? _kerberosReply;
    private bool _kerberosAccountAccepted;
    private bool _verifiedByDomain;

    /// <summary>Creates the server side of one CredSSP exchange.</summary>
    /// <param name="options">The server's public key from TLS, the NTLM acceptor settings, an optional Kerberos acceptor, the highest version and the policies.</param>
    /// <exception cref="ArgumentNullException"><paramref name="options"/> is null.</exception>
    /// <exception cref="ArgumentException">The maximum version is outside 2–6.</exception>
    public CredSspServerContext(CredSspServerOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        CredSspVersion.ValidateConfigured(options.MaxVersion, nameof(options));
        _options = options;
        _publicKey = options.ServerPublicKey.ToArray();
        _negotiate = new NegotiateServerContext(options.Ntlm, options.Kerberos);
    }

    private enum State
    {
        AwaitingNegotiate,
        AwaitingAuthenticate,
        AwaitingCredential,
        AwaitingLogonRecord,
        AwaitingKerberosAccount,
        AwaitingPubKeyAuth,
        AwaitingAuthInfo,
        Completed,
        Failed,
    }

    /// <summary>The version the client announced in its first TSRequest (0 before it).</summary>
    public int PeerVersion { get; private set; }

    /// <summary>The version both sides follow: the lower of ours and the client's.</summary>
    public int NegotiatedVersion => PeerVersion == 0 ? 0 : CredSspVersion.Effective(_options.MaxVersion, PeerVersion);

    /// <summary>True when the client wrapped NTLM in SPNEGO.</summary>
    public bool IsSpnego => _negotiate.IsSpnego;

    /// <summary>
    /// The user name the client authenticated as: from the NTLM AUTHENTICATE as sent, or the Kerberos ticket's client
    /// principal without its realm.
    /// </summary>
    public string? UserName => _negotiate.IsKerberos ? PrincipalPart(user: true) : _negotiate.Ntlm.UserName;

    /// <summary>The domain name the client authenticated with, as sent (may be empty or "."); for Kerberos the principal's realm.</summary>
    public string? DomainName => _negotiate.IsKerberos ? PrincipalPart(user: false) : _negotiate.Ntlm.DomainName;

    /// <summary>The client's workstation name, as sent (NTLM only).</summary>
    public string? Workstation => _negotiate.IsKerberos ? null : _negotiate.Ntlm.Workstation;

    /// <summary>
    /// The NTLM exchange, for a host that has a domain controller verify the response (pass-through): its
    /// ServerChallenge and the decoded AUTHENTICATE; answer with <see cref="NtlmCredentialLookup.VerifiedByDomain"/>.
    /// </summary>
    public NtlmServerContext? Ntlm => _negotiate.IsKerberos ? null : _negotiate.Ntlm;

    /// <summary>The Kerberos ticket's client principal (e.g. <c>alice@LAB.TEST</c>); null for NTLM.</summary>
    public string? KerberosPrincipal => _negotiate.KerberosPrincipal;

    /// <summary>The security package that authenticated the client: "Kerberos" or "NTLM".</summary>
    public string PackageName => _negotiate.PackageName;

    /// <summary>
    /// True when the client proved its identity (NTLM: knowledge of the password; Kerberos: a valid service ticket),
    /// even if the account was then refused.
    /// </summary>
    public bool PasswordVerified => _negotiate.IsKerberos ? _negotiate.KerberosPrincipal is not null : _negotiate.Ntlm.PasswordVerified;

    /// <summary>True when a domain controller verified the NTLM response (<see cref="NtlmCredentialLookup.VerifiedByDomain"/>).</summary>
    public bool VerifiedByDomain => _verifiedByDomain;

    /// <summary>
    /// At <see cref="NlaStatus.CredentialLookupNeeded"/>: what the package asks the host, the same for every package
    /// (docs/architecture.md#authentication-seam); null otherwise.
    /// </summary>
    public CredentialRequest? CredentialRequest => _state is State.AwaitingCredential or State.AwaitingKerberosAccount
        ? new CredentialRequest(UserName ?? string.Empty, DomainName ?? string.Empty, PackageName)
        {
            Workstation = Workstation,
            Principal = KerberosPrincipal,
            NtlmExchange = KerberosPrincipal is null ? _negotiate.Ntlm : null,
        }
        : null;

    /// <summary>The identity the package proved, once proven (from <see cref="NlaStatus.LogonRecordNeeded"/> or <see cref="NlaStatus.Completed"/> on); null before.</summary>
    public AuthenticatedIdentity? Identity => !PasswordVerified || _state is State.AwaitingCredential or State.AwaitingKerberosAccount
        ? null
        : new AuthenticatedIdentity(
            UserName ?? string.Empty,
            DomainName ?? string.Empty,
            KerberosPrincipal,
            PackageName,
            IsSpnego,
            KerberosPrincipal is not null ? IdentityVerification.KerberosTicket
                : _verifiedByDomain ? IdentityVerification.DomainController
                : IdentityVerification.StoredHash);

    /// <summary>The credentials the client delegated (TSPasswordCreds), once <see cref="NlaStatus.Completed"/>.</summary>
    public TsPasswordCreds? DelegatedCredentials { get; private set; }

    /// <summary>Why the exchange failed, once a step returned <see cref="NlaStatus.Failed"/>; <see cref="NlaFailureReason.None"/> before.</summary>
    public NlaFailureReason FailureReason => _failure.Reason ?? NlaFailureReason.None;

    /// <summary>The NTSTATUS the failure maps to (what errorCode carries to clients that understand it).</summary>
    public NtStatus FailureStatus => _failure.Status;

    /// <summary>A specific reason for the log; never contains secrets.</summary>
    public string? FailureMessage => _failure.Message;

    /// <summary>Gives the account lookup for <see cref="UserName"/>/<see cref="DomainName"/>.</summary>
    /// <exception cref="ArgumentNullException"><paramref name="lookup"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The last step did not return <see cref="NlaStatus.CredentialLookupNeeded"/>.</exception>
    public void ProvideCredential(NtlmCredentialLookup lookup)
    {
        ArgumentNullException.ThrowIfNull(lookup);
        if (_state == State.AwaitingKerberosAccount)
        {
            // The ticket already proved the identity; the account store only says whether this user may log on.
            _failure.Status = lookup.Kind == NtlmCredentialLookup.LookupKind.NotFound ? NtStatus.LogonFailure : lookup.Status;
            _kerberosAccountAccepted = FailureStatus == NtStatus.Success;
            lookup.Clear();
            return;
        }

        if (_state != State.AwaitingCredential)
        {
            throw new InvalidOperationException("No credential lookup is pending.");
        }

        _ntOwf = lookup.Kind == NtlmCredentialLookup.LookupKind.Found ? lookup.NtOwfV1.ToArray() : null;
        _verifiedByDomain = lookup.Kind == NtlmCredentialLookup.LookupKind.DomainVerified;
        _negotiate.ProvideCredential(lookup);
    }

    /// <summary>
    /// Answers <see cref="NlaStatus.LogonRecordNeeded"/>: <see cref="NtStatus.Success"/> lets the exchange go on; any
    /// other status refuses the verified logon with it (e.g. STATUS_ACCOUNT_LOCKED_OUT). Then call
    /// <see cref="GetOutgoingBlob"/> with no input.
    /// </summary>
    /// <exception cref="InvalidOperationException">The last step did not return <see cref="NlaStatus.LogonRecordNeeded"/>, or the record was already completed.</exception>
    public void CompleteLogonRecord(NtStatus status)
    {
        if (_state != State.AwaitingLogonRecord || _recordStatus is not null)
        {
            throw new InvalidOperationException("No logon record is pending.");
        }

        _recordStatus = status;
    }

    /// <summary>
    /// After <see cref="NlaStatus.Failed"/>, replaces the failure with another status (e.g. the host could not record
    /// it) and returns the errorCode TSRequest to send instead, or null when the client's version has no errorCode.
    /// </summary>
    /// <exception cref="ArgumentNullException"><paramref name="message"/> is null.</exception>
    /// <exception cref="InvalidOperationException">The exchange has not failed.</exception>
    public byte[]? ReplaceFailure(NtStatus ntStatus, string message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (_state != State.Failed)
        {
            throw new InvalidOperationException("The exchange has not failed.");
        }

        return Fail(FailureReason, message, ntStatus, out _);
    }

    /// <summary>
    /// Runs one step: consumes the client's TSRequest and returns the TSRequest to answer with (MS-CSSP §3.1.5).
    /// </summary>
    /// <param name="incoming">The DER TSRequest the client sent, or empty to resume after a credential lookup or a logon record.</param>
    /// <param name="status">
    /// <see cref="NlaStatus.ContinueNeeded"/> while the exchange goes on; <see cref="NlaStatus.CredentialLookupNeeded"/> and
    /// <see cref="NlaStatus.LogonRecordNeeded"/> when the host must act before the next call; <see cref="NlaStatus.Completed"/>
    /// once the client delegated its credentials; <see cref="NlaStatus.Failed"/> with <see cref="FailureReason"/> set, the
    /// returned TSRequest (if any) carrying the errorCode for the client.
    /// </param>
    /// <returns>The encoded TSRequest to send, or null when there is nothing to send.</returns>
    /// <remarks>Malformed input does not throw: it fails the exchange with <see cref="NlaFailureReason.Malformed"/> or a more specific reason.</remarks>
    public byte[]? GetOutgoingBlob(ReadOnlySpan<byte> incoming, out NlaStatus status) => ContextStep.Run(this, incoming, out status);

    byte[]? IContextStep.Fail(NlaProtocolException exception, out NlaStatus status) =>
        Fail(exception.Reason, exception.Message, NtStatus.LogonFailure, out status);

    byte[]? IContextStep.Step(ReadOnlySpan<byte> incoming, out NlaStatus status)
    {
        if (_state == State.AwaitingKerberosAccount)
        {
            if (!incoming.IsEmpty)
            {
                throw new InvalidOperationException("Call ProvideCredential, then GetOutgoingBlob with no input.");
            }

            if (!_kerberosAccountAccepted)
            {
                string reason = FailureStatus == NtStatus.LogonFailure
                    ? $"The Kerberos principal {KerberosPrincipal} has no usable local account."
                    : $"The account of Kerberos principal {KerberosPrincipal} is refused: {NtStatusText.Name(FailureStatus)}.";
                return Fail(NlaFailureReason.AuthenticationFailed, reason, FailureStatus, out status);
            }

            return OnNegotiateCompleted(_kerberosReply, out status);
        }

        if (_state == State.AwaitingCredential)
        {
            if (!incoming.IsEmpty)
            {
                throw new InvalidOperationException("Call ProvideCredential, then GetOutgoingBlob with no input.");
            }

            return ContinueNegotiate([], out status);
        }

        if (_state == State.AwaitingLogonRecord)
        {
            return ContinueAfterRecord(incoming, out status);
        }

        if (_state is State.Completed or State.Failed)
        {
            throw new InvalidOperationException($"The exchange is already {_state}.");
        }

        TsRequest request = TsRequest.Decode(incoming);
        if (PeerVersion == 0)
        {
            if (request.Version < CredSspVersion.Minimum)
            {
                return Fail(NlaFailureReason.UnsupportedVersion, $"The client announced CredSSP version {request.Version}.", NtStatus.NotSupported, out status);
            }

            PeerVersion = request.Version;

            // KB4093492 (docs/interop.md#encryption-oracle): a patched "Force Updated Clients" server refuses clients below 5.
            // MS-CSSP §3.1.5 step 4: it SHOULD send STATUS_NOT_SUPPORTED to a client that understands errorCode.
            if (_options.MaxVersion >= CredSspVersion.FirstPatched
                && _options.AllowEncryptionOracle == EncryptionOraclePolicy.ForceUpdatedClients
                && PeerVersion < CredSspVersion.FirstPatched)
            {
                return Fail(
                    NlaFailureReason.VersionNotPermitted,
                    $"The client speaks CredSSP version {PeerVersion}, without the CVE-2018-0886 fix; AllowEncryptionOracle=0 (Force Updated Clients) refuses it.",
                    NtStatus.NotSupported,
                    out status);
            }
        }
        else if (request.Version != PeerVersion)
        {
            // docs/interop.md#credssp-versions (FreeRDP nla_decode_ts_request): a peer that changes its version mid-exchange is refused.
            return Fail(NlaFailureReason.UnsupportedVersion, $"The client changed its CredSSP version from {PeerVersion} to {request.Version}.", NtStatus.LogonFailure, out status);
        }

        if (request.ErrorCode is { } clientError)
        {
            return Fail(NlaFailureReason.PeerReportedFailure, $"The client reported {NtStatusText.Name(clientError)}.", clientError, out status);
        }

        if (request.ClientNonce is not null)
        {
            // docs/interop.md#public-key-binding: use the nonce from the TSRequest that carries pubKeyAuth (FreeRDP keeps the latest).
            if (request.ClientNonce.Length != CredSspBinding.ClientNonceSize)
            {
                throw new NlaProtocolException(NlaFailureReason.Malformed, $"clientNonce has {request.ClientNonce.Length} bytes instead of 32.", "MS-CSSP §2.2.1");
            }

            _clientNonce = request.ClientNonce;
        }

        switch (_state)
        {
            case State.AwaitingNegotiate:
            case State.AwaitingAuthenticate:
                if (request.NegoTokens.Count == 0)
                {
                    throw new NlaProtocolException(NlaFailureReason.UnexpectedMessage, "The TSRequest carries no negoTokens during authentication.", "MS-CSSP §3.1.5 step 2");
                }

                _pendingPubKeyAuth = request.PubKeyAuth;
                return ContinueNegotiate(request.NegoTokens[0], out status);
            case State.AwaitingPubKeyAuth:
                if (request.PubKeyAuth is null)
                {
                    throw new NlaProtocolException(NlaFailureReason.UnexpectedMessage, "The TSRequest carries no pubKeyAuth after authentication.", "MS-CSSP §3.1.5 step 3");
                }

                return AnswerPubKeyAuth(request.PubKeyAuth, finalNegoToken: null, out status);
            case State.AwaitingAuthInfo:
                if (request.AuthInfo is null)
                {
                    throw new NlaProtocolException(NlaFailureReason.UnexpectedMessage, "The TSRequest carries no authInfo.", "MS-CSSP §3.1.5 step 5");
                }

                return AcceptAuthInfo(request.AuthInfo, out status);
            default:
                throw new InvalidOperationException($"Unexpected state {_state}.");
        }
    }

    private byte[]? ContinueNegotiate(ReadOnlySpan<byte> token, out NlaStatus status)
    {
        byte[]? output = _negotiate.GetOutgoingBlob(token, out NlaStatus negotiateStatus);
        switch (negotiateStatus)
        {
            case NlaStatus.ContinueNeeded:
                _state = State.AwaitingAuthenticate;
                status = NlaStatus.ContinueNeeded;
                return Encode(new TsRequest { Version = _options.MaxVersion, NegoTokens = [output!] });
            case NlaStatus.CredentialLookupNeeded:
                _state = State.AwaitingCredential;
                status = NlaStatus.CredentialLookupNeeded;
                return null;
            case NlaStatus.Completed when _negotiate.IsKerberos:
                // The ticket proved who the client is; the host's account policy decides before anything else is sent.
                _kerberosReply = output;
                _state = State.AwaitingKerberosAccount;
                status = NlaStatus.CredentialLookupNeeded;
                return null;
            case NlaStatus.Completed:
                return OnNegotiateCompleted(output, out status);
            default:
                return Fail(_negotiate.FailureReason, _negotiate.FailureMessage ?? "Authentication failed.", _negotiate.FailureStatus, out status);
        }
    }

    private byte[]? OnNegotiateCompleted(byte[]? output, out NlaStatus status)
    {
        if (_pendingPubKeyAuth is { } pubKeyAuth)
        {
            // MS-CSSP §3.1.5 step 2: the client sent its last token together with pubKeyAuth.
            _pendingPubKeyAuth = null;
            byte[]? answer = AnswerPubKeyAuth(pubKeyAuth, output, out status);
            return status == NlaStatus.Failed ? answer : HoldForRecord(answer!, State.AwaitingAuthInfo, out status);
        }

        // docs/interop.md#spnego-acceptor rule 4: a client (FreeRDP over SPNEGO) may send pubKeyAuth one leg later.
        if (output is null)
        {
            throw new NlaProtocolException(NlaFailureReason.UnexpectedMessage, $"The client's last {_negotiate.PackageName} message came without pubKeyAuth.", "MS-CSSP §3.1.5 step 2");
        }

        return HoldForRecord(Encode(new TsRequest { Version = _options.MaxVersion, NegoTokens = [output] }), State.AwaitingPubKeyAuth, out status);
    }

    // The password (or ticket) verified: the next message proves the server to the client; with RecordLogonBeforeProof
    // the host records the logon (and may still refuse it) before that message leaves.
    private byte[]? HoldForRecord(byte[] reply, State next, out NlaStatus status)
    {
        if (!_options.RecordLogonBeforeProof)
        {
            _state = next;
            status = NlaStatus.ContinueNeeded;
            return reply;
        }

        _heldReply = reply;
        _stateAfterRecord = next;
        _state = State.AwaitingLogonRecord;
        status = NlaStatus.LogonRecordNeeded;
        return null;
    }

    private byte[]? ContinueAfterRecord(ReadOnlySpan<byte> incoming, out NlaStatus status)
    {
        if (!incoming.IsEmpty || _recordStatus is not { } recorded)
        {
            throw new InvalidOperationException("Call CompleteLogonRecord, then GetOutgoingBlob with no input.");
        }

        byte[] reply = _heldReply!;
        _heldReply = null;
        if (recorded != NtStatus.Success)
        {
            CryptographicOperations.ZeroMemory(reply);
            return Fail(NlaFailureReason.AuthenticationFailed, $"logon refused after verification: {NtStatusText.Name(recorded)}", recorded, out status);
        }

        _state = _stateAfterRecord;
        status = NlaStatus.ContinueNeeded;
        return reply;
    }

    private byte[]? AnswerPubKeyAuth(byte[] pubKeyAuth, byte[]? finalNegoToken, out NlaStatus status)
    {
        byte[] received = _negotiate.Unwrap(pubKeyAuth);
        byte[] reply;
        try
        {
            if (CredSspVersion.UsesHashBinding(NegotiatedVersion))
            {
                if (_clientNonce is null)
                {
                    return Fail(NlaFailureReason.PublicKeyMismatch, $"CredSSP version {NegotiatedVersion} requires a clientNonce and the client sent none.", NtStatus.LogonFailure, out status);
                }

                byte[] expected = CredSspBinding.ComputeClientServerHash(_clientNonce, _publicKey);
                if (!CryptographicOperations.FixedTimeEquals(received, expected))
                {
                    return Fail(NlaFailureReason.PublicKeyMismatch, "The client's pubKeyAuth hash does not match this server's certificate (a man in the middle, or the client bound another key).", NtStatus.LogonFailure, out status);
                }

                reply = CredSspBinding.ComputeServerClientHash(_clientNonce, _publicKey);
            }
            else
            {
                if (!CryptographicOperations.FixedTimeEquals(received, _publicKey))
                {
                    return Fail(NlaFailureReason.PublicKeyMismatch, "The client's pubKeyAuth does not echo this server's public key (a man in the middle, or the client saw another certificate).", NtStatus.LogonFailure, out status);
                }

                reply = CredSspBinding.IncrementFirstByte(_publicKey);
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(received);
        }

        _state = State.AwaitingAuthInfo;
        status = NlaStatus.ContinueNeeded;
        return Encode(new TsRequest
        {
            Version = _options.MaxVersion,
            NegoTokens = finalNegoToken is null ? [] : [finalNegoToken],
            PubKeyAuth = _negotiate.Wrap(reply),
        });
    }

    private byte[]? AcceptAuthInfo(byte[] authInfo, out NlaStatus status)
    {
        byte[] plaintext = _negotiate.Unwrap(authInfo);
        using TsCredentials credentials = DecodeCredentials(plaintext);

        if (credentials.CredType != (int)TsCredentialType.Password)
        {
            string kind = credentials.CredType switch
            {
                (int)TsCredentialType.SmartCard => "smart card credentials (TSSmartCardCreds)",
                (int)TsCredentialType.RemoteGuard => "Remote Credential Guard credentials (TSRemoteGuardCreds)",
                _ => $"credentials of unknown type {credentials.CredType}",
            };
            return Fail(NlaFailureReason.UnsupportedCredentials, $"The client delegated {kind}; only passwords are accepted.", NtStatus.LogonFailure, out status);
        }

        TsPasswordCreds password = TsPasswordCreds.Decode(credentials.Credentials);
        if (!MatchesAuthenticatedIdentity(password, out string? mismatch))
        {
            // MS-CSSP §1.3: the delegated credentials create the session; a client must not prove one identity and
            // delegate another (docs/interop.md#tscredentials, hardening for hosts that relay the delegated password).
            password.Dispose();
            return Fail(NlaFailureReason.UnsupportedCredentials, mismatch!, NtStatus.LogonFailure, out status);
        }

        DelegatedCredentials = password;
        _state = State.Completed;
        status = NlaStatus.Completed;
        return null;
    }

    private static TsCredentials DecodeCredentials(byte[] plaintext)
    {
        try
        {
            return TsCredentials.Decode(plaintext);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(plaintext);
        }
    }

    private bool MatchesAuthenticatedIdentity(TsPasswordCreds delegated, out string? mismatch)
    {
        if (delegated.IsEmpty)
        {
            mismatch = "The client delegated empty credentials (Restricted Admin mode), which this server does not support.";
            return false;
        }

        if (!string.Equals(delegated.UserName, UserName, StringComparison.OrdinalIgnoreCase)
            && !(_negotiate.IsKerberos && string.Equals(delegated.UserName, KerberosPrincipal, StringComparison.OrdinalIgnoreCase)))
        {
            mismatch = $"The delegated user name '{delegated.UserName}' differs from the authenticated user '{UserName}'.";
            return false;
        }

        if (_ntOwf is not null)
        {
            // MS-NLMP §3.3.1: NTOWFv1 = MD4(UNICODE(Passwd)); the delegated password must be the one that was proven.
            byte[] delegatedOwf = Md4.HashData(delegated.PasswordUtf16);
            bool same = CryptographicOperations.FixedTimeEquals(delegatedOwf, _ntOwf);
            CryptographicOperations.ZeroMemory(delegatedOwf);
            if (!same)
            {
                mismatch = "The delegated password differs from the password the client authenticated with.";
                return false;
            }
        }

        if (_verifiedByDomain && !_negotiate.Ntlm.ResponseMatchesPassword(delegated.PasswordUtf16))
        {
            // Pass-through: no hash here, but the delegated password must still reproduce the response the DC verified.
            mismatch = "The delegated password differs from the password the domain controller verified.";
            return false;
        }

        mismatch = null;
        return true;
    }

    private byte[]? Fail(NlaFailureReason reason, string message, NtStatus ntStatus, out NlaStatus status)
    {
        _state = State.Failed;
        status = _failure.Record(reason, message, ntStatus);

        // MS-CSSP §3.1.5 step 2: errorCode goes only to a client whose version understands it, from a version that has it.
        return PeerVersion != 0
            && CredSspVersion.SupportsErrorCode(_options.MaxVersion)
            && CredSspVersion.SupportsErrorCode(PeerVersion)
            && reason is not NlaFailureReason.PublicKeyMismatch and not NlaFailureReason.DecryptionFailed
            ? Encode(new TsRequest { Version = _options.MaxVersion, ErrorCode = ntStatus })
            : null;
    }

    private static byte[] Encode(TsRequest request) => request.Encode();

    /// <summary>RFC 1964 §2.1.1: <c>user@REALM</c> (the last unescaped '@' separates the realm).</summary>
    private string? PrincipalPart(bool user)
    {
        if (KerberosPrincipal is not { } principal)
        {
            return null;
        }

        int at = principal.LastIndexOf('@');
        while (at > 0 && principal[at - 1] == '\\')
        {
            at = principal.LastIndexOf('@', at - 1);
        }

        return at < 0 ? (user ? principal : string.Empty) : user ? principal[..at] : principal[(at + 1)..];
    }

    /// <inheritdoc/>
    bool IAuthenticationContext.IsCompleted => _state == State.Completed;

    /// <summary>Wipes the NT hash, the held messages and the key material of the inner contexts.</summary>
    public void Dispose()
    {
        _negotiate.Dispose();
        DelegatedCredentials?.Dispose();
        if (_heldReply is not null)
        {
            CryptographicOperations.ZeroMemory(_heldReply);
        }

        if (_ntOwf is not null)
        {
            CryptographicOperations.ZeroMemory(_ntOwf);
        }
    }
}
