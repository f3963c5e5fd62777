namespace RdpNla.Server.Gateway;

/// <summary>The backend failures the operator is told about, each with its own log line and audit outcome.</summary>
internal enum BackendFailureKind
{
    /// <summary>No TCP connection (refused, unreachable, timed out).</summary>
    Down,

    /// <summary>The backend refused the injected credentials (CredSSP error, closed after AUTHENTICATE, EUAR denied).</summary>
    CredentialsRejected,

    /// <summary>The backend's certificate differs from the pinned or first-seen one.</summary>
    CertificateChanged,

    /// <summary>Pinned validation is configured but this backend has no pin.</summary>
    CertificateNotPinned,

    /// <summary>X.224, TLS, CredSSP framing or MCS connect failed for another reason.</summary>
    NegotiationFailed,

    /// <summary>The backend offers only Standard RDP Security.</summary>
    StandardRdpSecurityOnly,

    /// <summary>The backend selected a protocol weaker than its security setting allows or than it selected before.</summary>
    ProtocolDowngrade,

    /// <summary>TLS only on the connection that first trusted the backend's certificate: no credentials are sent.</summary>
    CredentialsWithheld,
}

/// <summary>A backend failure, carrying the specific reason for the log and the audit row.</summary>
internal sealed class BackendFailureException : Exception
{
    public BackendFailureException(BackendFailureKind kind, string reason, string? expected = null, string? actual = null)
        : base(reason)
    {
        Kind = kind;
        Expected = expected;
        Actual = actual;
    }

    public BackendFailureKind Kind { get; }

    public string? Expected { get; }

    public string? Actual { get; }

    /// <summary>The audit outcome word for this failure.</summary>
    public string Outcome => Kind switch
    {
        BackendFailureKind.Down => "backend-down",
        BackendFailureKind.CredentialsRejected => "credentials-rejected",
        BackendFailureKind.CertificateChanged or BackendFailureKind.CertificateNotPinned => "certificate-changed",
        BackendFailureKind.ProtocolDowngrade => "protocol-downgrade",
        BackendFailureKind.CredentialsWithheld => "credentials-withheld",
        _ => "negotiation-failed",
    };
}

/// <summary>The credentials the gateway injects into the backend leg. The password is UTF-16LE and wiped on dispose.</summary>
internal sealed class BackendCredentials(string domain, string userName, byte[] passwordUtf16, string mode) : IDisposable
{
    public string Domain { get; } = domain;

    public string UserName { get; } = userName;

    public byte[] PasswordUtf16 { get; } = passwordUtf16;

    /// <summary><c>pass-through</c> or <c>mapped</c>.</summary>
    public string Mode { get; } = mode;

    public string Account => Domain.Length == 0 ? UserName : $"{Domain}\\{UserName}";

    public void Dispose() => CryptographicOperations.ZeroMemory(PasswordUtf16);
}

/// <summary>An established backend leg: TLS up, CredSSP done when the backend selected HYBRID or HYBRID_EX.</summary>
/// <param name="Socket">The TCP connection to the backend.</param>
/// <param name="Tls">The TLS stream over <paramref name="Transport"/>.</param>
/// <param name="Transport">The stream under <paramref name="Tls"/>, buffered during the relay.</param>
/// <param name="RequestedProtocols">The protocols the X.224 Connection Request asked for.</param>
/// <param name="SelectedProtocol">The protocol the backend selected.</param>
/// <param name="Fingerprint">The backend certificate's fingerprint.</param>
internal sealed record BackendLeg(
    Socket Socket,
    SslStream Tls,
    RelayBufferingStream Transport,
    SecurityProtocols RequestedProtocols,
    SecurityProtocols SelectedProtocol,
    string Fingerprint) : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        await Tls.DisposeAsync().ConfigureAwait(false);
        Socket.Dispose();
    }
}

/// <summary>
/// Opens the backend leg: TCP, X.224 asking for what the backend's security setting allows (<see cref="BackendSecurity"/>),
/// TLS with the configured certificate policy, then CredSSP with the injected credentials when the backend selected
/// HYBRID or HYBRID_EX (and the Early User Authorization Result for HYBRID_EX). A backend that selects TLS gets the
/// credentials in the Client Info PDU later (<see cref="GatewaySession"/>), unless its selection is a downgrade (weaker
/// than its setting or its protocol pin) or, under TrustOnFirstUse, the connection is the one that first trusted its
/// certificate. Every failure becomes a <see cref="BackendFailureException"/>.
/// </summary>
internal sealed class BackendConnector(GatewayOptions options, GatewayStore store, ILogger logger, TimeProvider timeProvider, IRandomSource random)
{

    private const int MaxCredSspMessage = 64 * 1024;
    private readonly GatewayOptions _options = options;
    private readonly GatewayStore _store = store;
    private readonly ILogger _logger = logger;
    private readonly TimeProvider _timeProvider = timeProvider;
    private readonly IRandomSource _random = random;

    /// <summary>What the gateway asks a backend of this security for (MS-RDPBCGR §2.2.1.1.1); the backend picks the best it supports.</summary>
    public static SecurityProtocols RequestedFor(BackendSecurity security) => security switch
    {
        BackendSecurity.Tls => SecurityProtocols.Ssl,
        BackendSecurity.Negotiate => SecurityProtocols.Ssl | SecurityProtocols.Hybrid | SecurityProtocols.HybridEx,
        _ => SecurityProtocols.Hybrid | SecurityProtocols.HybridEx,
    };

    /// <summary>The strength of a selected protocol for the protocol pin: SSL 1, HYBRID 2, HYBRID_EX 3.</summary>
    public static int Rank(SecurityProtocols selected) => selected switch
    {
        SecurityProtocols.HybridEx => 3,
        SecurityProtocols.Hybrid => 2,
        SecurityProtocols.Ssl => 1,
        _ => 0,
    };

    public async Task<BackendLeg> ConnectAsync(BackendAddress backend, BackendCredentials credentials, CancellationToken cancellationToken)
    {
        BackendSecurityRecord? record = await _store.GetBackendSecurityAsync(backend.ToString(), cancellationToken).ConfigureAwait(false);
        BackendSecurity security = record?.Security ?? _options.BackendSecurity;
        SecurityProtocols requested = RequestedFor(security);
        var socket = new Socket(SocketType.Stream, ProtocolType.Tcp);
        SslStream? tls = null;
        try
        {
            using (var connectTimeout = new CancellationTokenSource(_options.ConnectTimeout, _timeProvider))
            using (var linked = CancellationTokenSource.CreateLinkedTokenSource(connectTimeout.Token, cancellationToken))
            {
                try
                {
                    await socket.ConnectAsync(backend.Host, backend.Port, linked.Token).ConfigureAwait(false);
                }
                catch (SocketException ex)
                {
                    throw new BackendFailureException(BackendFailureKind.Down, $"TCP connection to {backend} failed: {ex.SocketErrorCode} ({ex.Message})");
                }
                catch (OperationCanceledException) when (connectTimeout.IsCancellationRequested)
                {
                    throw new BackendFailureException(BackendFailureKind.Down, $"no TCP connection to {backend} within {_options.ConnectTimeout}");
                }
            }

            socket.NoDelay = true;
            var transport = new RelayBufferingStream(new NetworkStream(socket, ownsSocket: false));
            (tls, SecurityProtocols selected, string fingerprint, bool firstUse) = await RunSecurityPhaseAsync(transport, backend, credentials, requested, security, record, cancellationToken).ConfigureAwait(false);
            if (selected == SecurityProtocols.Ssl && firstUse && security != BackendSecurity.Tls)
            {
                // The certificate was trusted by this very connection: a man in the middle who rewrote the Connection
                // Confirm to SSL would have presented his own and read the password from the Client Info PDU.
                throw new BackendFailureException(
                    BackendFailureKind.CredentialsWithheld,
                    $"first contact with {backend} over TLS only (PROTOCOL_SSL): its certificate SHA-256 {fingerprint} was recorded, but no credentials are sent on the connection that first trusted it; " +
                    "check the fingerprint (the backend sessions, the log) and connect again, or declare the backend TLS-only (backend security tls)",
                    null,
                    fingerprint);
            }
            else if (selected == SecurityProtocols.Ssl && security != BackendSecurity.Tls && _options.CertificateValidation == BackendCertificateValidation.None)
            {
                GatewayLog.PasswordOverUncheckedTls(_logger, backend.ToString());
            }

            await _store.RecordProtocolAsync(backend.ToString(), SecurityProtocolNames.Name(selected), Rank(selected), fingerprint, cancellationToken).ConfigureAwait(false);
            return new BackendLeg(socket, tls, transport, requested, selected, fingerprint);
        }
        catch
        {
            if (tls is not null)
            {
                await tls.DisposeAsync().ConfigureAwait(false);
            }

            socket.Dispose();
            throw;
        }
    }

    /// <summary>
    /// The security phase of the backend leg through <see cref="SecurityPhaseDriver"/>: X.224 asking for
    /// <paramref name="requested"/>, the protocol pin before TLS, the certificate check right after the TLS handshake,
    /// then CredSSP with the injected credentials for HYBRID and HYBRID_EX. Every refusal becomes a <see cref="BackendFailureException"/>.
    /// </summary>
    private async Task<(SslStream Tls, SecurityProtocols Selected, string Fingerprint, bool FirstUse)> RunSecurityPhaseAsync(
        RelayBufferingStream transport,
        BackendAddress backend,
        BackendCredentials credentials,
        SecurityProtocols requested,
        BackendSecurity security,
        BackendSecurityRecord? record,
        CancellationToken cancellationToken)
    {
        // mstsc puts at most 9 characters of the user name in the cookie (docs/interop.md#negotiation).
        string cookie = new(credentials.UserName.Where(c => c > ' ' && c < 0x7F).Take(9).ToArray());
        bool kerberosOnly = string.Equals(_options.BackendAuthentication, "kerberos", StringComparison.OrdinalIgnoreCase);
        byte[]? ntOwf = null;
        Gssapi.KerberosCredential? ticket = null;
        Gssapi.KerberosContext? kerberos = null;
        string? fingerprint = null;
        bool firstUse = false;
        using var connector = new RdpClientConnector(new RdpClientConnectorOptions
        {
            ConnectionRequest = new X224ConnectionRequest(cookie.Length == 0 ? null : cookie, new RdpNegRequest(RdpNegRequestFlags.None, requested)),
            AllowTlsWithoutNla = (requested & SecurityProtocols.Ssl) != 0,
            CredSsp = publicKey =>
            {
                // The password stays in wiped buffers: NTLM runs from its NT hash (MS-NLMP §3.3.1, NTOWFv1 = MD4 of the
                // UTF-16LE password; the bytes are read as UTF-16 code units, which they are on every little-endian .NET
                // platform), TSPasswordCreds is encoded from the bytes, and a Kerberos ticket is requested from the same code units.
                ntOwf = NtlmCrypto.NtOwfV1(MemoryMarshal.Cast<byte, char>(credentials.PasswordUtf16));
                ticket = RequestTicket(credentials, kerberosOnly);
                kerberos = ticket is null ? null : Gssapi.KerberosContext.CreateInitiator(_options.BackendServicePrincipal ?? $"TERMSRV/{backend.Host}", ticket);
                return new CredSspClientOptions
                {
                    ServerPublicKey = publicKey,
                    Ntlm = new NtlmClientOptions
                    {
                        UserName = credentials.UserName,
                        DomainName = credentials.Domain,
                        NtOwfV1 = ntOwf,
                        TargetName = $"TERMSRV/{backend.Host}",
                        TimeProvider = _timeProvider,
                        RandomSource = _random,
                    },
                    DelegatedPasswordUtf16 = credentials.PasswordUtf16,
                    Kerberos = kerberos,
                    KerberosOnly = kerberosOnly,
                };
            },
            RandomSource = _random,
        });
        var options = new ClientSecurityPhaseOptions
        {
            Tls = new SslClientAuthenticationOptions
            {
                TargetHost = backend.Host,
                EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
            },
            LeaveInnerStreamOpen = false,
            MaxMessageSize = MaxCredSspMessage,
            ProtocolSelected = selected => CheckProtocolPin(backend, security, selected, record),
            ServerCertificateValidation = async (tls, certificate, ct) =>
            {
                // Checked against the pin or the first-use record, not against a CA.
                fingerprint = CertificateFingerprint.Of(certificate.RawData);
                firstUse = await CheckCertificateAsync(backend, fingerprint, certificate.Subject, ct).ConfigureAwait(false);
                GatewayLog.BackendConnected(_logger, backend.ToString(), SecurityProtocolNames.Name(connector.SelectedProtocol!.Value), requested.Name(), tls.SslProtocol.ToString(), fingerprint);
                return true;
            },
        };
        ClientSecurityPhaseResult result;
        try
        {
            result = await SecurityPhaseDriver.RunClientAsync(transport, connector, options, cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is EndOfStreamException or NlaProtocolException or AuthenticationException or IOException)
        {
            throw Failure(connector, ex);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(ntOwf); // the NTLM context holds its own copy, wiped when it is disposed.
            kerberos?.Dispose();
            ticket?.Dispose();
        }

        if (!result.Succeeded)
        {
            if (result.Tls is not null)
            {
                await result.Tls.DisposeAsync().ConfigureAwait(false);
            }

            throw Refusal(connector, backend, requested, security);
        }

        SecurityProtocols selected = connector.SelectedProtocol!.Value;
        if (connector.CredSsp is { } credSsp)
        {
            GatewayLog.BackendAuthenticated(_logger, backend.ToString(), credentials.Account, credSsp.NegotiatedVersion);
        }

        return (result.Tls!, selected, fingerprint!, firstUse);
    }

    /// <summary>The backend failure for an exception the driver raised, by how far the connector got.</summary>
    private static Exception Failure(RdpClientConnector connector, Exception ex) => (connector.State, ex) switch
    {
        (ClientConnectorState.AwaitingConnectionConfirm, EndOfStreamException) =>
            new BackendFailureException(BackendFailureKind.NegotiationFailed, "the backend closed the connection after the X.224 Connection Request"),
        (ClientConnectorState.AwaitingConnectionConfirm, NlaProtocolException) =>
            new BackendFailureException(BackendFailureKind.NegotiationFailed, $"the X.224 Connection Confirm is malformed: {ex.Message}"),
        (ClientConnectorState.AwaitingTls, AuthenticationException) =>
            new BackendFailureException(BackendFailureKind.NegotiationFailed, $"TLS handshake failed: {ex.InnerException?.Message ?? ex.Message}"),
        (ClientConnectorState.AwaitingTls, IOException) =>
            new BackendFailureException(BackendFailureKind.NegotiationFailed, $"TLS handshake failed: {ex.Message}"),

        // FreeRDP's server closes the connection after a wrong AUTHENTICATE instead of sending errorCode (docs/interop.md#freerdp-shadow).
        (ClientConnectorState.CredSsp, EndOfStreamException) when connector.CredSsp?.ServerChallenge is not null =>
            new BackendFailureException(BackendFailureKind.CredentialsRejected, "the backend closed the connection after the NTLM AUTHENTICATE (wrong user name or password)"),
        (ClientConnectorState.CredSsp, EndOfStreamException) =>
            new BackendFailureException(BackendFailureKind.NegotiationFailed, "the backend closed the connection during CredSSP before its NTLM CHALLENGE"),
        (ClientConnectorState.CredSsp, NlaProtocolException) =>
            new BackendFailureException(BackendFailureKind.NegotiationFailed, $"CredSSP: {ex.Message}"),
        (ClientConnectorState.AwaitingEarlyUserAuthorizationResult, EndOfStreamException) =>
            new BackendFailureException(BackendFailureKind.CredentialsRejected, "the backend closed the connection instead of sending the Early User Authorization Result"),
        _ => ex,
    };

    /// <summary>The backend failure for a refusal by the connector: the Connection Confirm, CredSSP or the Early User Authorization Result.</summary>
    private static BackendFailureException Refusal(RdpClientConnector connector, BackendAddress backend, SecurityProtocols requested, BackendSecurity security)
    {
        SecurityProtocols? selected = connector.SelectedProtocol;
        switch (connector.SelectionFailure)
        {
            // MS-RDPBCGR 2.2.1.2.2: SSL_NOT_ALLOWED_BY_SERVER means the server only does Standard RDP Security (FreeRDP's
            // server configured /sec:rdp answers it; xrdp and Windows select PROTOCOL_RDP instead, handled below).
            case ProtocolSelectionFailure.NegotiationFailure when connector.ConnectionConfirm!.Failure!.FailureCode == NegotiationFailureCode.SslNotAllowedByServer:
                return new BackendFailureException(BackendFailureKind.StandardRdpSecurityOnly, $"the backend answered RDP_NEG_FAILURE SSL_NOT_ALLOWED_BY_SERVER to {requested.Name()}");
            case ProtocolSelectionFailure.NegotiationFailure:
                NegotiationFailureCode code = connector.ConnectionConfirm!.Failure!.FailureCode;
                string hint = security == BackendSecurity.Nla && code == NegotiationFailureCode.SslRequiredByServer
                    ? $" (backend security nla: it does not offer NLA; if it is a TLS-only backend such as xrdp, set its security to tls)"
                    : security == BackendSecurity.Tls && code == NegotiationFailureCode.HybridRequiredByServer
                        ? $" (backend security tls, but it requires NLA: set its security to nla)"
                        : string.Empty;
                return new BackendFailureException(BackendFailureKind.NegotiationFailed, $"the backend answered RDP_NEG_FAILURE {code.Name()} to {requested.Name()}{hint}");
            case ProtocolSelectionFailure.StandardRdpSecurity:
                // xrdp with security_layer=negotiate answers PROTOCOL_RDP to a request without SSL (docs/probe.md).
                string rdpHint = security == BackendSecurity.Nla
                    ? $" to {requested.Name()} (backend security nla; if it does TLS when asked, set its security to tls)"
                    : string.Empty;
                return new BackendFailureException(BackendFailureKind.StandardRdpSecurityOnly, $"the backend selected PROTOCOL_RDP (Standard RDP Security){rdpHint}");
            case ProtocolSelectionFailure.NotRequested when selected == SecurityProtocols.Ssl:
                // A backend never selects what was not requested; a Connection Confirm rewritten on the way would.
                return new BackendFailureException(
                    BackendFailureKind.ProtocolDowngrade,
                    $"possible downgrade: the backend selected PROTOCOL_SSL, which was not requested ({requested.Name()}, backend security {security.Name()}); no credentials were sent");
            case not ProtocolSelectionFailure.None:
                return new BackendFailureException(BackendFailureKind.NegotiationFailed, $"the backend selected {selected?.Name()}, which was not requested ({requested.Name()})");
        }

        if (connector.EarlyUserAuthorization is { IsSuccess: false } denial)
        {
            return new BackendFailureException(BackendFailureKind.CredentialsRejected, $"Early User Authorization Result {denial.Name}");
        }

        CredSspClientContext credSsp = connector.CredSsp!;
        if (credSsp.ServerErrorCode is { } error)
        {
            return new BackendFailureException(BackendFailureKind.CredentialsRejected, $"CredSSP errorCode {NtStatusText.Name(error)}");
        }

        return new BackendFailureException(
            credSsp.FailureReason == NlaFailureReason.PublicKeyMismatch ? BackendFailureKind.CertificateChanged : BackendFailureKind.NegotiationFailed,
            $"CredSSP failed: {credSsp.FailureMessage ?? credSsp.FailureReason.ToString()}");
    }

    /// <summary>
    /// The protocol pin: a backend that once selected a protocol is refused when it selects a weaker one (before TLS,
    /// before any credential). A backend configured <c>tls</c> is asked for SSL only, so its selection is not compared.
    /// </summary>
    private static void CheckProtocolPin(BackendAddress backend, BackendSecurity security, SecurityProtocols selected, BackendSecurityRecord? record)
    {
        if (security == BackendSecurity.Tls || record is not { StrongestRank: int strongest } || Rank(selected) >= strongest)
        {
            return;
        }

        throw new BackendFailureException(
            BackendFailureKind.ProtocolDowngrade,
            $"possible downgrade: the backend selected {SecurityProtocolNames.Name(selected)} but selected {record.StrongestProtocol} before (recorded {record.StrongestAt:u} with certificate SHA-256 {record.StrongestSha256}); " +
            "no credentials were sent; if its security was lowered on purpose, forget the backend's recorded protocol",
            record.StrongestProtocol,
            SecurityProtocolNames.Name(selected));
    }

    /// <summary>Checks the certificate; true when this connection is the one that recorded it (trust on first use).</summary>
    private async Task<bool> CheckCertificateAsync(BackendAddress backend, string fingerprint, string subject, CancellationToken cancellationToken)
    {
        string key = backend.ToString();
        switch (_options.CertificateValidation)
        {
            case BackendCertificateValidation.None:
                GatewayLog.CertificateNotChecked(_logger, key, fingerprint);
                return false;
            case BackendCertificateValidation.Pinned:
                string? pin = _options.PinnedCertificates.TryGetValue(key, out string? configured) ? CertificateFingerprint.Normalize(configured) : null;
                if (pin is null)
                {
                    throw new BackendFailureException(BackendFailureKind.CertificateNotPinned, $"no pinned certificate for {key}", null, fingerprint);
                }

                if (!FixedTimeEquals(pin, fingerprint))
                {
                    throw new BackendFailureException(BackendFailureKind.CertificateChanged, "the certificate differs from the pinned one", pin, fingerprint);
                }

                return false;
            default:
                TrustedCertificate? trusted = await _store.GetTrustedCertificateAsync(key, cancellationToken).ConfigureAwait(false);
                bool firstUse = false;
                if (trusted is null)
                {
                    trusted = await _store.TrustOnFirstUseAsync(key, fingerprint, subject, cancellationToken).ConfigureAwait(false);
                    if (trusted.Sha256 == fingerprint)
                    {
                        firstUse = true;
                        GatewayLog.CertificateTrustedOnFirstUse(_logger, key, fingerprint);
                    }
                }

                if (!FixedTimeEquals(trusted.Sha256, fingerprint))
                {
                    throw new BackendFailureException(BackendFailureKind.CertificateChanged, $"the certificate differs from the one trusted on first use ({trusted.FirstSeen:u})", trusted.Sha256, fingerprint);
                }

                return firstUse;
        }
    }

    private static bool FixedTimeEquals(string a, string b) =>
        CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(a), Encoding.ASCII.GetBytes(b));

    /// <summary>
    /// A Kerberos ticket-granting ticket for the injected user, requested from the KDC with the injected password
    /// (Gateway:BackendAuthentication negotiate or kerberos); null for NTLM, or when negotiate cannot get one.
    /// </summary>
    private Gssapi.KerberosCredential? RequestTicket(BackendCredentials credentials, bool kerberosOnly)
    {
        if (string.Equals(_options.BackendAuthentication, "ntlm", StringComparison.OrdinalIgnoreCase))
        {
            return null;
        }

        string realm = _options.BackendKerberosRealm ?? credentials.Domain.ToUpperInvariant();
        string principal = credentials.UserName.Contains('@', StringComparison.Ordinal) || realm.Length == 0 ? credentials.UserName : $"{credentials.UserName}@{realm}";
        try
        {
            return Gssapi.KerberosCredential.ForInitiatorWithPassword(principal, MemoryMarshal.Cast<byte, char>(credentials.PasswordUtf16));
        }
        catch (Gssapi.GssException ex) when (!kerberosOnly)
        {
            GatewayLog.KerberosFallback(_logger, principal, ex.Message);
            return null;
        }
        catch (Gssapi.GssException ex)
        {
            throw new BackendFailureException(BackendFailureKind.CredentialsRejected, $"Kerberos: {ex.Message}");
        }
    }
}
