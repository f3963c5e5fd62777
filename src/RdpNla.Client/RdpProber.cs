namespace RdpNla.Client;

/// <summary>Settings of <see cref="RdpProber"/>.</summary>
public sealed class ProbeOptions
{
    /// <summary>All connections to one target must finish within this time.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(15);

    /// <summary>Try TLS 1.0, 1.1, 1.2 and 1.3 one by one (four more connections).</summary>
    public bool ScanTlsVersions { get; init; } = true;

    /// <summary>Check whether the server accepts a CredSSP client without the CVE-2018-0886 fix (one more connection).</summary>
    public bool CheckUnpatchedClients { get; init; } = true;

    /// <summary>The clock for <see cref="Timeout"/> and <see cref="ProbeResult.Elapsed"/>; default the system clock (tests pass a fake one).</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// <see cref="NlaAuthentication.Kerberos"/> or <see cref="NlaAuthentication.Negotiate"/>: with
    /// <see cref="KerberosCredentials"/>, one more connection authenticates with Kerberos to prove the server accepts
    /// it. <see cref="NlaAuthentication.Ntlm"/> (default): NTLM up to the CHALLENGE only.
    /// </summary>
    public NlaAuthentication Authentication { get; init; } = NlaAuthentication.Ntlm;

    /// <summary>The Kerberos service principal of the server; default TERMSRV/HOST.</summary>
    public string? ServicePrincipal { get; init; }

    /// <summary>The user of the Kerberos credential cache (no password: the ticket proves who it is).</summary>
    public NlaCredentials? KerberosCredentials { get; init; }

    /// <summary>The IDENTIFIER of the probe's <c>Cookie: mstshash=</c> line when it has no user name of its own.</summary>
    public const string DefaultCookie = "rdpnla";

    /// <summary>
    /// The <c>Cookie: mstshash=</c> value of every Connection Request (MS-RDPBCGR §2.2.1.1; servers ignore it, an RD
    /// Connection Broker routes by it); default <see cref="DefaultCookie"/>. Its CR LF ends the request the way mstsc's
    /// does, so a line-based server on the port (HTTP, SMTP) answers at once with an error that the probe names,
    /// instead of waiting for the end of a line until <see cref="Timeout"/>. Null: no cookie.
    /// </summary>
    public string? Cookie { get; init; } = DefaultCookie;
}

/// <summary>
/// Finds out what an RDP server offers and requires, by doing rather than guessing: one connection per requested
/// protocol set (the server's answer to each), a TLS handshake for every TLS-based protocol it selects, and a CredSSP
/// exchange up to the NTLM CHALLENGE (no credentials needed) to prove that NLA really runs.
/// </summary>
public static class RdpProber
{
    /// <summary>The requested protocol sets, each on its own connection (docs/interop.md#negotiation).</summary>
    public static IReadOnlyList<SecurityProtocols> RequestSets { get; } =
    [
        SecurityProtocols.Rdp,
        SecurityProtocols.Ssl,
        SecurityProtocols.Hybrid,
        SecurityProtocols.Hybrid | SecurityProtocols.HybridEx,
        SecurityProtocols.RdsTls,
        SecurityProtocols.RdsAad,
    ];

#pragma warning disable SYSLIB0039, CA5397 // TLS 1.0 and 1.1 are tried on purpose: a server that accepts them gets a finding.
    /// <summary>The TLS versions a probe tries, oldest first.</summary>
    public static IReadOnlyList<SslProtocols> TlsVersionsTried { get; } = [SslProtocols.Tls, SslProtocols.Tls11, SslProtocols.Tls12, SslProtocols.Tls13];
#pragma warning restore SYSLIB0039, CA5397

    private static readonly Lazy<Task<IReadOnlyDictionary<SslProtocols, bool>>> s_localTls = new(TestLocalTlsAsync);

    /// <summary>Probes one target. Never throws for what the target does; only for cancellation.</summary>
    public static async Task<ProbeResult> ProbeAsync(string host, int port, ProbeOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(options);
        var result = new ProbeResult(host, port);
        long started = options.TimeProvider.GetTimestamp();
        var notes = new List<ProbeNote>();
        try
        {
            await ProbeCoreAsync(result, options, started, notes, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            result.Notes = notes;
            result.Elapsed = options.TimeProvider.GetElapsedTime(started);
        }

        return result;
    }

    private static async Task ProbeCoreAsync(ProbeResult result, ProbeOptions options, long started, List<ProbeNote> notes, CancellationToken cancellationToken)
    {
        TimeSpan Remaining() => options.Timeout - options.TimeProvider.GetElapsedTime(started);

        async Task<NlaClientResult?> RunAsync(SecurityProtocols requested, NlaClientStage stage, SslProtocols? tls = null, int credSspVersion = 6, bool kerberos = false)
        {
            TimeSpan remaining = Remaining();
            if (remaining <= TimeSpan.Zero)
            {
                return null;
            }

            return await NlaClient.RunAsync(
                new NlaClientOptions
                {
                    Host = result.Host,
                    Port = result.Port,
                    Timeout = remaining,
                    RequestedProtocols = requested,
                    Cookie = options.Cookie,
                    StopAfter = stage,
                    TlsProtocols = tls ?? (SslProtocols.Tls12 | SslProtocols.Tls13),
                    MaxCredSspVersion = credSspVersion,
                    CertificatePolicy = ServerCertificatePolicy.Ignore,
                    TimeProvider = options.TimeProvider,
                    Authentication = kerberos ? options.Authentication : NlaAuthentication.Ntlm,
                    ServicePrincipal = kerberos ? options.ServicePrincipal : null,
                    Credentials = kerberos ? options.KerberosCredentials : null,
                },
                cancellationToken).ConfigureAwait(false);
        }

        // 1. One connection per requested set.
        var attempts = new List<NegotiationAttempt>();
        var selectedFor = new Dictionary<SecurityProtocols, SecurityProtocols>();
        foreach (SecurityProtocols requested in RequestSets)
        {
            NlaClientResult? run = await RunAsync(requested, NlaClientStage.Negotiation).ConfigureAwait(false);
            if (run is null)
            {
                notes.Add(new ProbeNote(ProbeStep.Negotiation, null, Requested: requested));
                break;
            }

            bool answered = run.Negotiation is not null || run.FailureKind is NlaFailureKind.NegotiationFailure or NlaFailureKind.InvalidSelection;
            if (!answered && attempts.Count == 0)
            {
                // Not reachable or not RDP: nothing else to learn.
                result.Error = run;
                return;
            }

            attempts.Add(new NegotiationAttempt(requested, run.Negotiation, run.Negotiation is not null && run.FailureKind != NlaFailureKind.InvalidSelection ? null : run));
            if (run.Negotiation is { Legacy: true })
            {
                result.Legacy = true;
            }

            if (run.Outcome == NlaOutcome.Success && run.Negotiation?.SelectedProtocol is SecurityProtocols selected)
            {
                selectedFor[requested] = selected;
            }
        }

        result.Attempts = attempts;
        result.StandardRdpAccepted = selectedFor.Values.Any(p => p == SecurityProtocols.Rdp);
        SecurityProtocols accepted = selectedFor.Values.Aggregate(SecurityProtocols.Rdp, (all, p) => all | p);

        // 2. NLA: complete TLS and CredSSP up to the CHALLENGE.
        // HYBRID_EX preferred (it is what mstsc gets), else HYBRID.
        SecurityProtocols? nlaRequest = FindRequestFor(selectedFor, SecurityProtocols.HybridEx) ?? FindRequestFor(selectedFor, SecurityProtocols.Hybrid);
        if (nlaRequest is SecurityProtocols nla)
        {
            NlaClientResult? run = await RunAsync(nla, NlaClientStage.Challenge).ConfigureAwait(false);
            if (run is { Outcome: NlaOutcome.Success })
            {
                result.NlaSupported = true;
                result.CredSspRun = run;
                result.Tls = run.Tls;
            }
            else
            {
                result.CredSspRun = run;
                result.Tls = run?.Tls;
                accepted &= ~(SecurityProtocols.Hybrid | SecurityProtocols.HybridEx);
                notes.Add(new ProbeNote(ProbeStep.CredSsp, run, Requested: nla, Selected: selectedFor[nla]));
            }
        }

        // 2b. Kerberos: authenticate with the credential cache's ticket (MS-CSSP §3.1.5: Kerberos inside SPNEGO).
        if (result.NlaSupported && options.Authentication != NlaAuthentication.Ntlm && options.KerberosCredentials is not null)
        {
            NlaClientResult? run = await RunAsync(nlaRequest!.Value, NlaClientStage.Authentication, kerberos: true).ConfigureAwait(false);
            result.KerberosRun = run;
            if (run is not { Outcome: NlaOutcome.Success })
            {
                notes.Add(new ProbeNote(ProbeStep.Kerberos, run, Requested: nlaRequest));
            }
        }

        // 3. TLS without NLA: complete the handshake.
        bool sslVerified = false;
        if ((accepted & SecurityProtocols.Ssl) != 0)
        {
            SecurityProtocols request = FindRequestFor(selectedFor, SecurityProtocols.Ssl)!.Value;
            NlaClientResult? run = await RunAsync(request, NlaClientStage.Tls).ConfigureAwait(false);
            if (run is { Outcome: NlaOutcome.Success })
            {
                sslVerified = true;
                result.Tls ??= run.Tls;
            }
            else
            {
                accepted &= ~SecurityProtocols.Ssl;
                notes.Add(new ProbeNote(ProbeStep.Tls, run, Requested: request, Selected: SecurityProtocols.Ssl));
            }
        }

        result.Accepted = accepted;
        result.NlaRequired = result.NlaSupported && !result.StandardRdpAccepted && !sslVerified;
        result.Required = result.StandardRdpAccepted ? RequiredSecurity.Nothing
            : sslVerified ? RequiredSecurity.Tls
            : result.NlaSupported ? RequiredSecurity.Nla
            : RequiredSecurity.NoUsableProtocol;

        // 4. TLS versions, on the protocol that uses TLS.
        var versions = TlsVersionsTried.ToDictionary(v => v, _ => TlsVersionSupport.NotTested);
        SecurityProtocols? tlsRequest = sslVerified ? FindRequestFor(selectedFor, SecurityProtocols.Ssl)!.Value : result.NlaSupported ? nlaRequest : null;
        if (options.ScanTlsVersions && tlsRequest is SecurityProtocols tlsSet)
        {
            IReadOnlyDictionary<SslProtocols, bool> local = await s_localTls.Value.ConfigureAwait(false);
            foreach (SslProtocols version in TlsVersionsTried)
            {
                if (!local[version])
                {
                    versions[version] = TlsVersionSupport.NotTestableHere;
                    continue;
                }

                NlaClientResult? run = await RunAsync(tlsSet, NlaClientStage.Tls, version).ConfigureAwait(false);
                if (run is null)
                {
                    notes.Add(new ProbeNote(ProbeStep.TlsVersion, null, TlsVersion: version));
                    break;
                }

                versions[version] = run.Outcome == NlaOutcome.Success ? TlsVersionSupport.Accepted
                    : run.FailureKind == NlaFailureKind.TlsFailure ? TlsVersionSupport.Refused
                    : TlsVersionSupport.NotTested;
                if (versions[version] == TlsVersionSupport.NotTested)
                {
                    notes.Add(new ProbeNote(ProbeStep.TlsVersion, run, TlsVersion: version));
                }
            }
        }

        result.TlsVersions = versions;

        // 5. Does the server accept a CredSSP client without the CVE-2018-0886 fix (version 3, which understands errorCode)?
        if (options.CheckUnpatchedClients && result.NlaSupported)
        {
            NlaClientResult? run = await RunAsync(nlaRequest!.Value, NlaClientStage.Challenge, credSspVersion: 3).ConfigureAwait(false);
            result.AcceptsUnpatchedClients = run switch
            {
                { Outcome: NlaOutcome.Success } => true,
                { FailureKind: NlaFailureKind.LogonRefused or NlaFailureKind.ConnectionClosed } => false,
                _ => null,
            };
            if (result.AcceptsUnpatchedClients is null)
            {
                notes.Add(new ProbeNote(ProbeStep.UnpatchedClientCheck, run));
            }
        }

    }

    private static SecurityProtocols? FindRequestFor(Dictionary<SecurityProtocols, SecurityProtocols> selectedFor, SecurityProtocols selected)
    {
        foreach ((SecurityProtocols request, SecurityProtocols answer) in selectedFor)
        {
            if (answer == selected)
            {
                return request;
            }
        }

        return null;
    }

    /// <summary>Whether this machine's TLS library can do each version at all (loopback handshake with itself).</summary>
    public static Task<IReadOnlyDictionary<SslProtocols, bool>> GetLocalTlsSupportAsync() => s_localTls.Value;

    private static async Task<IReadOnlyDictionary<SslProtocols, bool>> TestLocalTlsAsync()
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest("CN=rdpnla-tls-self-test", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using X509Certificate2 generated = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
        using X509Certificate2 certificate = X509CertificateLoader.LoadPkcs12(generated.Export(X509ContentType.Pkcs12), null);
        var support = new Dictionary<SslProtocols, bool>();
        foreach (SslProtocols version in TlsVersionsTried)
        {
            support[version] = await TryLoopbackHandshakeAsync(certificate, version).ConfigureAwait(false);
        }

        return support;
    }

    private static async Task<bool> TryLoopbackHandshakeAsync(X509Certificate2 certificate, SslProtocols version)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try
        {
            using var client = new TcpClient();
            Task connect = client.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port, timeout.Token).AsTask();
            using TcpClient server = await listener.AcceptTcpClientAsync(timeout.Token).ConfigureAwait(false);
            await connect.ConfigureAwait(false);
            using var serverTls = new SslStream(server.GetStream());
            using var clientTls = new SslStream(client.GetStream(), false, (_, _, _, _) => true);
            Task serverSide = serverTls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate, EnabledSslProtocols = version }, timeout.Token);
            Task clientSide = clientTls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost", EnabledSslProtocols = version }, timeout.Token);
            try
            {
                await Task.WhenAll(serverSide, clientSide).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is AuthenticationException or IOException or OperationCanceledException or NotSupportedException or ObjectDisposedException or System.ComponentModel.Win32Exception)
            {
                return false;
            }

            return clientTls.SslProtocol == version;
        }
        catch (Exception ex) when (ex is SocketException or OperationCanceledException)
        {
            return false;
        }
    }
}
