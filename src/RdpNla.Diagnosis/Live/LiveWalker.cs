namespace RdpNla.Diagnosis.Live;

/// <summary>
/// The live walk of <c>rdpnla doctor HOST</c>: resolve, connect, negotiate, TLS, CredSSP, authorization — each step
/// recorded in the <see cref="NlaClientResult"/> of a <see cref="LiveObservation"/> that <see cref="LiveDiagnoser"/> turns into a cause.
/// </summary>
/// <remarks>
/// The walk is one <see cref="NlaClient"/> run that emulates the client being diagnosed (<see cref="ClientSettings"/>):
/// its requested protocols (none = PROTOCOL_SSL only, the XP SP3 case; otherwise SSL|HYBRID|HYBRID_EX as mstsc), its
/// CredSSP version (4 unpatched, 6 patched) and, for a patched client, its AllowEncryptionOracle. When TLS 1.2/1.3
/// fail, the walk tries TLS 1.0/1.1 (where this machine's TLS library allows it) and, failing that, sends a raw TLS
/// ClientHello to read which version the server picks (<see cref="TlsVersionProbe"/>).
/// </remarks>
public static class LiveWalker
{
        /// <summary>Default time for each network run of the walk.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Walks the connection and diagnoses it.</summary>
    /// <param name="host">The host name or address.</param>
    /// <param name="port">The TCP port.</param>
    /// <param name="client">The client being diagnosed (emulated on the wire).</param>
    /// <param name="credentials">Null: stop once the server's NTLM CHALLENGE proves NLA; the credentials are not checked.</param>
    /// <param name="timeout">The time each network run may take.</param>
    /// <param name="cancellationToken">Cancels the walk.</param>
    /// <param name="authentication">The security package, as <c>login --auth</c>: Kerberos first when a ticket can be had (negotiate), Kerberos only, or NTLM.</param>
    /// <param name="servicePrincipal">The server's Kerberos service principal; default TERMSRV/<paramref name="host"/>.</param>
    /// <param name="timeProvider">The clock the runs' timeouts and the observation's time come from; default the system clock.</param>
    public static async Task<DoctorReport> RunAsync(string host, int port, ClientSettings client, NlaCredentials? credentials, TimeSpan timeout, CancellationToken cancellationToken, NlaAuthentication authentication = NlaAuthentication.Negotiate, string? servicePrincipal = null, TimeProvider? timeProvider = null)
    {
        LiveObservation observation = await WalkAsync(host, port, client, credentials, timeout, cancellationToken, authentication, servicePrincipal, timeProvider).ConfigureAwait(false);
        DoctorReport report = LiveDiagnoser.Diagnose(observation, client);
        var notes = new List<string>(report.Notes) { EmulationNote(client) };
        return report with { Notes = notes, CredentialsChecked = credentials is not null && report.Phase >= ConnectionPhase.CredSsp };
    }

    private static string EmulationNote(ClientSettings client) => client.CredSsp switch
    {
        ClientCredSsp.None => "Emulated client: no CredSSP (requests PROTOCOL_SSL only, like Windows XP SP3 without tspkg/credssp.dll).",
        ClientCredSsp.Unpatched => string.Create(CultureInfo.InvariantCulture, $"Emulated client: CredSSP version {client.CredSspVersionSpoken} without the CVE-2018-0886 update (no AllowEncryptionOracle), requesting {client.RequestedProtocols.Name()}."),
        _ => string.Create(CultureInfo.InvariantCulture, $"Emulated client: CredSSP version {client.CredSspVersionSpoken} with the CVE-2018-0886 update, AllowEncryptionOracle={(int)client.AllowEncryptionOracle} ({client.AllowEncryptionOracle}), requesting {client.RequestedProtocols.Name()}."),
    };

    /// <summary>The NlaClient settings that make it behave as <paramref name="client"/>.</summary>
    internal static NlaClientOptions OptionsFor(string host, int port, ClientSettings client, NlaCredentials? credentials, TimeSpan timeout, SslProtocols tls, NlaClientStage? stopAfter = null, NlaAuthentication authentication = NlaAuthentication.Negotiate, string? servicePrincipal = null, TimeProvider? timeProvider = null) => new()
    {
        Authentication = authentication,
        ServicePrincipal = servicePrincipal,

        // Records whether the server holds the connection after the credentials (a second factor), see AuthorizationHeld.
        AuthorizationPending = static () => { },
        Host = host,
        Port = port,
        Timeout = timeout,
        TimeProvider = timeProvider ?? TimeProvider.System,
        RequestedProtocols = client.RequestedProtocols,
        // mstsc's cookie: the user name cut to 9 characters. Without one, the probe's: its CR LF gets an answer from a
        // line-based server (HTTP) at once, where a request without a line end waits for the timeout.
        Cookie = credentials is null || credentials.UserName.Length == 0 ? ProbeOptions.DefaultCookie : credentials.UserName.Length > 9 ? credentials.UserName[..9] : credentials.UserName,
        TlsProtocols = tls,

        // doctor reports the certificate (and warns about it); it does not refuse it, so the walk reaches CredSSP.
        CertificatePolicy = ServerCertificatePolicy.Ignore,
        StopAfter = stopAfter ?? (credentials is null ? NlaClientStage.Challenge : NlaClientStage.Authentication),
        Credentials = credentials,
        MaxCredSspVersion = client.CredSsp == ClientCredSsp.None ? CredSspVersion.Latest : client.CredSspVersionSpoken,

        // An unpatched client has no AllowEncryptionOracle: it accepts any server version.
        AllowEncryptionOracle = client.CredSsp == ClientCredSsp.Patched ? client.AllowEncryptionOracle : EncryptionOraclePolicy.Vulnerable,
    };

    /// <summary>Runs the walk: one client run up to the first failure, and the TLS fallback when TLS 1.2/1.3 fail.</summary>
    internal static async Task<LiveObservation> WalkAsync(string host, int port, ClientSettings client, NlaCredentials? credentials, TimeSpan timeout, CancellationToken cancellationToken, NlaAuthentication authentication = NlaAuthentication.Negotiate, string? servicePrincipal = null, TimeProvider? timeProvider = null)
    {
        timeProvider ??= TimeProvider.System;
        NlaClientResult run = await NlaClient.RunAsync(OptionsFor(host, port, client, credentials, timeout, SslProtocols.Tls12 | SslProtocols.Tls13, null, authentication, servicePrincipal, timeProvider), cancellationToken).ConfigureAwait(false);
        var observation = new LiveObservation(run, timeProvider.GetUtcNow());
        if (run.FailureKind != NlaFailureKind.TlsFailure)
        {
            return observation;
        }

        // TLS 1.2/1.3 failed: find out whether the server speaks only TLS 1.0/1.1. First a real handshake with TLS
        // 1.0/1.1 (this machine's TLS library may refuse them: OpenSSL 3 does at its default security level), then a
        // raw ClientHello whose ServerHello (or alert) shows what the server picks.
#pragma warning disable SYSLIB0039, CA5397, CA5398 // Deliberately offered, only to recognise a server limited to them; never used for CredSSP.
        const SslProtocols legacy = SslProtocols.Tls | SslProtocols.Tls11;
#pragma warning restore SYSLIB0039, CA5397, CA5398
        NlaClientResult lower = await NlaClient.RunAsync(OptionsFor(host, port, client, null, timeout, legacy, NlaClientStage.Tls, timeProvider: timeProvider), cancellationToken).ConfigureAwait(false);
        if (lower.Outcome == NlaOutcome.Success)
        {
            return observation with { LegacyTls = new LegacyTlsObservation(lower, null, null) };
        }

        TlsVersionProbe.Result probe = await TlsVersionProbe.RunAsync(host, port, client.RequestedProtocols, timeout, cancellationToken).ConfigureAwait(false);
        return observation with { LegacyTls = new LegacyTlsObservation(lower, probe.ServerVersion, probe.Description) };
    }
}
