using System.Globalization;
using System.Security.Authentication;
using RdpNla.Client;
using RdpNla.Diagnosis;
using RdpNla.Diagnosis.Model;
using RdpNla.Protocol;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Rdp;
using ObservedAnswer = RdpNla.Diagnosis.Live.NegotiationAnswer;

namespace RdpNla.Diagnosis.Live;

/// <summary>
/// The live walk of <c>rdpnla doctor HOST</c>: resolve, connect, negotiate, TLS, CredSSP, authorization — each step
/// recorded in a <see cref="ConnectionObservation"/> that <see cref="LiveDiagnoser"/> turns into a cause.
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
    public static async Task<DoctorReport> RunAsync(string host, int port, ClientSettings client, NlaCredentials? credentials, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ConnectionObservation observation = await WalkAsync(host, port, client, credentials, timeout, cancellationToken).ConfigureAwait(false);
        DoctorReport report = LiveDiagnoser.Diagnose(observation, client);
        var notes = new List<string>(report.Notes);
        notes.Add(EmulationNote(client));
        if (credentials is null)
        {
            notes.Add(report.IsSuccess
                ? "The credentials were NOT checked (no -u): the walk stopped at the server's NTLM CHALLENGE, which proves the server requires and speaks NLA. Add -u USER --password-stdin to check the password and the account."
                : "No credentials were given (no -u): the walk stops at the server's NTLM CHALLENGE, so account problems are not looked for.");
        }

        return report with { Notes = notes, CredentialsChecked = credentials is not null && report.Phase >= ConnectionPhase.CredSsp };
    }

    private static string EmulationNote(ClientSettings client) => client.CredSsp switch
    {
        ClientCredSsp.None => "Emulated client: no CredSSP (requests PROTOCOL_SSL only, like Windows XP SP3 without tspkg/credssp.dll).",
        ClientCredSsp.Unpatched => string.Create(CultureInfo.InvariantCulture, $"Emulated client: CredSSP version {client.CredSspVersionSpoken} without the CVE-2018-0886 update (no AllowEncryptionOracle), requesting {client.RequestedProtocols.Name()}."),
        _ => string.Create(CultureInfo.InvariantCulture, $"Emulated client: CredSSP version {client.CredSspVersionSpoken} with the CVE-2018-0886 update, AllowEncryptionOracle={(int)client.AllowEncryptionOracle} ({client.AllowEncryptionOracle}), requesting {client.RequestedProtocols.Name()}."),
    };

    /// <summary>The NlaClient settings that make it behave as <paramref name="client"/>.</summary>
    internal static NlaClientOptions OptionsFor(string host, int port, ClientSettings client, NlaCredentials? credentials, TimeSpan timeout, SslProtocols tls, NlaClientStage? stopAfter = null) => new()
    {
        Host = host,
        Port = port,
        Timeout = timeout,
        RequestedProtocols = client.RequestedProtocols,
        Cookie = credentials is null ? null : credentials.UserName.Length > 9 ? credentials.UserName[..9] : credentials.UserName,
        TlsProtocols = tls,

        // doctor reports the certificate (and warns about it); it does not refuse it, so the walk reaches CredSSP.
        CertificatePolicy = ServerCertificatePolicy.Ignore,
        StopAfter = stopAfter ?? (credentials is null ? NlaClientStage.Challenge : NlaClientStage.Authentication),
        Credentials = credentials,
        MaxCredSspVersion = client.CredSsp == ClientCredSsp.None ? CredSspVersion.Latest : client.CredSspVersionSpoken,

        // An unpatched client has no AllowEncryptionOracle: it accepts any server version.
        AllowEncryptionOracle = client.CredSsp == ClientCredSsp.Patched ? client.AllowEncryptionOracle : EncryptionOraclePolicy.Vulnerable,
    };

    /// <summary>Runs the walk and fills the observation, phase by phase, up to the first failure.</summary>
    internal static async Task<ConnectionObservation> WalkAsync(string host, int port, ClientSettings client, NlaCredentials? credentials, TimeSpan timeout, CancellationToken cancellationToken)
    {
        NlaClientResult result = await NlaClient.RunAsync(OptionsFor(host, port, client, credentials, timeout, SslProtocols.Tls12 | SslProtocols.Tls13), cancellationToken).ConfigureAwait(false);
        var observation = new ConnectionObservation { Host = host, Port = port, User = credentials?.AccountName };

        // Name resolution.
        if (result.FailureKind == NlaFailureKind.NameNotResolved)
        {
            return observation with { NameResolution = new NameResolutionObservation(false, [], result.Message) };
        }

        string address = result.RemoteEndPoint?.Address.ToString() ?? host;
        string endpoint = result.RemoteEndPoint?.ToString() ?? (host.Contains(':', StringComparison.Ordinal) ? $"[{host}]:{port}" : $"{host}:{port}");
        if (!System.Net.IPAddress.TryParse(host, out _))
        {
            observation = observation with { NameResolution = new NameResolutionObservation(true, [address]) };
        }

        // TCP.
        if (result.Phase == NlaClientPhase.Connect)
        {
            TcpOutcome tcp = result.FailureKind switch
            {
                NlaFailureKind.ConnectionRefused => TcpOutcome.Refused,
                NlaFailureKind.NoAnswer => TcpOutcome.TimedOut,
                _ => TcpOutcome.Unreachable,
            };
            return observation with { Tcp = new TcpObservation(tcp, endpoint, result.Message) };
        }

        observation = observation with { Tcp = new TcpObservation(TcpOutcome.Connected, endpoint) };

        // X.224 negotiation.
        SecurityProtocols requested = result.RequestedProtocols;
        if (result.Negotiation is not { } answer)
        {
            ObservedAnswer kind = result.FailureKind switch
            {
                NlaFailureKind.NoAnswer => ObservedAnswer.TimedOut,
                NlaFailureKind.ConnectionClosed or NlaFailureKind.NetworkError => ObservedAnswer.ClosedWithoutAnswer,
                _ => ObservedAnswer.NotX224,
            };
            return observation with { Negotiation = new NegotiationObservation(requested, kind, RawAnswer: result.Message) };
        }

        if (answer.FailureCode is { } failureCode)
        {
            return observation with { Negotiation = new NegotiationObservation(requested, ObservedAnswer.Failure, FailureCode: failureCode) };
        }

        SecurityProtocols selected = answer.SelectedProtocol ?? SecurityProtocols.Rdp;
        observation = observation with
        {
            Negotiation = answer.Legacy
                ? new NegotiationObservation(requested, ObservedAnswer.LegacyConfirm)
                : new NegotiationObservation(requested, ObservedAnswer.Response, selected),
        };
        if (answer.Legacy || selected == SecurityProtocols.Rdp || result.FailureKind == NlaFailureKind.InvalidSelection)
        {
            return observation;
        }

        // TLS.
        if (result.Tls is not { } tls)
        {
            return observation with { Tls = await DiagnoseTlsFailureAsync(host, port, client, result, timeout, cancellationToken).ConfigureAwait(false) };
        }

        observation = observation with
        {
            Tls = new TlsObservation(true, NlaClient.TlsName(tls.Protocol), tls.CipherSuite.ToString(), Certificate: Certificate(tls.Certificate)),
        };
        if (selected == SecurityProtocols.Ssl)
        {
            return observation;
        }

        // CredSSP.
        CredSspInfo? info = result.CredSsp;
        int clientVersion = info?.ClientVersion ?? client.CredSspVersionSpoken;
        int? serverVersion = info is { ServerVersion: > 0 } ? info.ServerVersion : null;
        CredSspStage stage = info switch
        {
            { CredentialsSent: true } => CredSspStage.Credentials,
            { Ntlm: not null } when credentials is not null => CredSspStage.Authenticate,
            _ => CredSspStage.FirstRequest,
        };
        CredSspObservation Ended(CredSspEnd end, string? detail = null) => new(clientVersion, serverVersion, end, stage, info?.ErrorCode, detail);

        switch (result.FailureKind)
        {
            case NlaFailureKind.CredSspVersionNotPermitted:
                return observation with { CredSsp = Ended(CredSspEnd.ClientRefusedServerVersion, result.Message) };
            case NlaFailureKind.LogonRefused when info?.ErrorCode is not null:
                return observation with { CredSsp = Ended(CredSspEnd.ServerErrorCode, result.Message) };
            case NlaFailureKind.RejectedWithoutReason:
            case NlaFailureKind.ConnectionClosed:
            case NlaFailureKind.NoAnswer when !(info?.CredentialsSent ?? false):
            case NlaFailureKind.NetworkError:
                return observation with { CredSsp = Ended(CredSspEnd.ClosedWithoutStatus, result.Message) };
            case NlaFailureKind.PublicKeyMismatch:
                return observation with { CredSsp = Ended(CredSspEnd.PublicKeyMismatch, result.Message) };
            case NlaFailureKind.CredSspProtocolError:
                return observation with { CredSsp = Ended(CredSspEnd.ProtocolError, result.Message) };
        }

        if (credentials is null)
        {
            // Stopped at the CHALLENGE (NlaClient does not apply the oracle policy without credentials): a patched
            // client with AllowEncryptionOracle 0 or 1 would refuse a server below version 5 here, before sending anything.
            bool refuses = client.CredSsp == ClientCredSsp.Patched
                && client.AllowEncryptionOracle != EncryptionOraclePolicy.Vulnerable
                && serverVersion is < CredSspVersion.FirstPatched;
            return observation with
            {
                CredSsp = Ended(refuses ? CredSspEnd.ClientRefusedServerVersion : CredSspEnd.Completed,
                    refuses ? string.Create(CultureInfo.InvariantCulture, $"The server announced CredSSP version {serverVersion}; a client with AllowEncryptionOracle={(int)client.AllowEncryptionOracle} refuses it before sending credentials.") : null),
            };
        }

        observation = observation with { CredSsp = Ended(CredSspEnd.Completed) };

        // Authorization: the Early User Authorization Result (HYBRID_EX), or a close right after the credentials (HYBRID).
        return result.FailureKind switch
        {
            NlaFailureKind.AccessDenied => observation with
            {
                Authorization = new AuthorizationObservation(result.EarlyAuthorization?.AuthorizationResult, ServerClosedImmediately: result.EarlyAuthorization is null),
            },
            NlaFailureKind.None => observation with { Authorization = new AuthorizationObservation(result.EarlyAuthorization?.AuthorizationResult) },
            _ => observation with { Authorization = new AuthorizationObservation(null, ServerClosedImmediately: true) },
        };
    }

    private static CertificateObservation Certificate(TlsCertificateInfo certificate)
    {
        DateTimeOffset now = DateTimeOffset.UtcNow;
        return new CertificateObservation(
            certificate.Subject,
            certificate.Sha256Fingerprint,
            certificate.NotAfter,
            certificate.IsExpired(now) || certificate.IsNotYetValid(now),
            certificate.SelfSigned ? false : null,
            null);
    }

    /// <summary>The reason of an NlaClient TLS failure without its "TLS handshake with HOST failed (... offered): " prefix.</summary>
    private static string InnerTlsError(string message)
    {
        int cut = message.IndexOf("offered): ", StringComparison.Ordinal);
        return (cut >= 0 ? message[(cut + "offered): ".Length)..] : message).TrimEnd('.');
    }

    /// <summary>
    /// TLS 1.2/1.3 failed: find out whether the server speaks only TLS 1.0/1.1. First a real handshake with TLS 1.0/1.1
    /// (this machine's TLS library may refuse them: OpenSSL 3 does at its default security level), then a raw
    /// ClientHello whose ServerHello (or alert) shows what the server picks.
    /// </summary>
    private static async Task<TlsObservation> DiagnoseTlsFailureAsync(string host, int port, ClientSettings client, NlaClientResult failed, TimeSpan timeout, CancellationToken cancellationToken)
    {
        var error = new List<string> { $"offering TLS 1.2 and 1.3: {InnerTlsError(failed.Message)}" };
#pragma warning disable SYSLIB0039, CA5397, CA5398 // Deliberately offered, only to recognise a server limited to them; never used for CredSSP.
        const SslProtocols legacy = SslProtocols.Tls | SslProtocols.Tls11;
#pragma warning restore SYSLIB0039, CA5397, CA5398
        NlaClientResult lower = await NlaClient.RunAsync(OptionsFor(host, port, client, null, timeout, legacy, NlaClientStage.Tls), cancellationToken).ConfigureAwait(false);
        if (lower.Outcome == NlaOutcome.Success && lower.Tls is { } legacyTls)
        {
            error.Add($"a second handshake offering only TLS 1.0/1.1 completed with {NlaClient.TlsName(legacyTls.Protocol)} ({legacyTls.CipherSuite}): the server is limited to an old TLS version");
            return new TlsObservation(false, NlaClient.TlsName(legacyTls.Protocol), legacyTls.CipherSuite.ToString(), string.Join("; ", error), ServerOffersOnlyLegacyTls: true, Certificate(legacyTls.Certificate));
        }

        error.Add($"offering only TLS 1.0 and 1.1: {InnerTlsError(lower.Message)} (this machine's TLS library may refuse TLS 1.0/1.1 itself: OpenSSL 3 does at its default security level)");
        TlsVersionProbe.Result probe = await TlsVersionProbe.RunAsync(host, port, client.RequestedProtocols, timeout, cancellationToken).ConfigureAwait(false);
        error.Add(probe.Description);
        return new TlsObservation(false, probe.ServerVersionName, Error: string.Join("; ", error), ServerOffersOnlyLegacyTls: probe.ServerVersion is > 0 and < TlsVersionProbe.Tls12);
    }
}
