namespace RdpNla.Server.FrontDoor;

/// <summary>
/// The front door's log messages (event ids 1000–1999). User names are logged; passwords, hashes, keys and raw tokens
/// never are: no message here takes one as a parameter.
/// </summary>
internal static partial class FrontDoorLog
{
    [LoggerMessage(1000, LogLevel.Information, "Listening on {EndPoint}")]
    public static partial void Listening(ILogger logger, IPEndPoint endPoint);

    [LoggerMessage(1005, LogLevel.Information, "Reloaded the settings: TLS certificate {Subject}, SHA-256 fingerprint {Fingerprint}; new connections use them, {Active} running connections keep the previous ones")]
    public static partial void Reloaded(ILogger logger, string subject, string fingerprint, int active);

    [LoggerMessage(1006, LogLevel.Error, "Reload refused, the previous settings stay in use: {Reason}")]
    public static partial void ReloadRefused(ILogger logger, string reason);

    [LoggerMessage(1007, LogLevel.Warning, "Reload: {Setting} changed in the settings; it takes effect after a restart (systemctl restart rdpnla)")]
    public static partial void ReloadNeedsRestart(ILogger logger, string setting);

    [LoggerMessage(1004, LogLevel.Information, "Serving Prometheus metrics on http://{EndPoint}/metrics")]
    public static partial void MetricsListening(ILogger logger, IPEndPoint endPoint);

    [LoggerMessage(1001, LogLevel.Information, "TLS certificate {Subject}, SHA-256 fingerprint {Fingerprint}{Origin}")]
    public static partial void CertificateLoaded(ILogger logger, string subject, string fingerprint, string origin);

    [LoggerMessage(1002, LogLevel.Information, "Policy: SecurityLayer={SecurityLayer} UserAuthentication={UserAuthentication} AllowEncryptionOracle={AllowEncryptionOracle} MaxCredSspVersion={MaxVersion} RequireNtlmMic={RequireNtlmMic}")]
    public static partial void Policy(ILogger logger, int securityLayer, int userAuthentication, int allowEncryptionOracle, int maxVersion, bool requireNtlmMic);

    [LoggerMessage(1003, LogLevel.Warning, "The user store has no users: every logon will fail until a user is added to {Store}")]
    public static partial void NoUsers(ILogger logger, string store);

    [LoggerMessage(1010, LogLevel.Debug, "Connection accepted")]
    public static partial void Accepted(ILogger logger);

    [LoggerMessage(1011, LogLevel.Warning, "Connection from {Client} refused before the handshake: {Reason} (via proxy {Proxy}; {Suppressed} similar messages suppressed before this one)")]
    public static partial void RefusedAtAccept(ILogger logger, string client, string reason, string proxy, long suppressed);

    [LoggerMessage(1014, LogLevel.Information, "PROXY protocol header: the client is {Client}")]
    public static partial void ProxiedClient(ILogger logger, string client);

    [LoggerMessage(1015, LogLevel.Warning, "Source {Address} is refused until {Until:O} after repeated failures ({Suppressed} similar messages suppressed before this one)")]
    public static partial void SourcePenalized(ILogger logger, string address, DateTimeOffset until, long suppressed);

    [LoggerMessage(1012, LogLevel.Information, "X.224 request {RequestedProtocols} (cookie {Cookie}): {Decision}")]
    public static partial void Negotiated(ILogger logger, string requestedProtocols, string? cookie, string decision);

    [LoggerMessage(1013, LogLevel.Information, "TLS {Protocol} established with {CipherSuite}")]
    public static partial void TlsEstablished(ILogger logger, string protocol, string cipherSuite);

    [LoggerMessage(1020, LogLevel.Information, "User {Account} authenticated with CredSSP version {Version} ({Mechanism})")]
    public static partial void Authenticated(ILogger logger, string account, int version, string mechanism);

    [LoggerMessage(1021, LogLevel.Warning, "Authentication of {Account} failed: {Status}: {Reason}")]
    public static partial void AuthenticationFailed(ILogger logger, string account, string status, string reason);

    [LoggerMessage(1022, LogLevel.Warning, "User {Account} authenticated but is denied remote logon: {Action}")]
    public static partial void RemoteLogonDenied(ILogger logger, string account, string action);

    [LoggerMessage(1023, LogLevel.Information, "User {Account} authenticated and sent MCS Connect Initial ({Length} bytes); no backend is configured, closing the connection")]
    public static partial void NoBackend(ILogger logger, string account, int length);

    [LoggerMessage(1024, LogLevel.Information, "Security protocol {Protocol} selected; this front door serves only NLA (CredSSP) sessions, closing the connection")]
    public static partial void NoSessionWithoutNla(ILogger logger, string protocol);

    [LoggerMessage(1030, LogLevel.Warning, "Protocol violation: {Reason}")]
    public static partial void ProtocolViolation(ILogger logger, string reason);

    [LoggerMessage(1031, LogLevel.Warning, "Deadline of {Timeout} passed in phase {Phase}; closing")]
    public static partial void HandshakeTimeout(ILogger logger, TimeSpan timeout, string phase);

    [LoggerMessage(1032, LogLevel.Information, "The client closed the connection in phase {Phase}")]
    public static partial void ClientClosed(ILogger logger, string phase);

    [LoggerMessage(1033, LogLevel.Warning, "TLS handshake failed: {Reason}")]
    public static partial void TlsFailed(ILogger logger, string reason);

    [LoggerMessage(1034, LogLevel.Warning, "Connection failed in phase {Phase}: {Reason}")]
    public static partial void ConnectionError(ILogger logger, string phase, string reason);

    /// <summary>The account database failed: at most one line per <see cref="LogRateGate.StoreFaultInterval"/> per logger.</summary>
    public static void StoreFailed(ILogger logger, string operation, string exception, string reason)
    {
        if (Gates(logger).Store.TryPass(out int held))
        {
            StoreFailedLine(logger, operation, exception, reason, held, LogRateGate.StoreFaultInterval);
        }
    }

    /// <summary>The account database is too slow: at most one line per <see cref="LogRateGate.StoreFaultInterval"/> per logger.</summary>
    public static void StoreBusy(ILogger logger, string operation, TimeSpan timeout)
    {
        if (Gates(logger).Store.TryPass(out int held))
        {
            StoreBusyLine(logger, operation, timeout, held, LogRateGate.StoreFaultInterval);
        }
    }

    /// <summary>After a successful store call: one line when the store failed since the last success.</summary>
    public static void StoreAnswered(ILogger logger)
    {
        if (s_storeFaultGates.TryGetValue(logger, out StoreFaultGates? gates) && gates.Store.Recovered() is > 0 and int faults)
        {
            gates.Audit.Recovered();
            StoreRecovered(logger, faults);
        }
    }

    private static readonly System.Runtime.CompilerServices.ConditionalWeakTable<ILogger, StoreFaultGates> s_storeFaultGates = [];

    private static StoreFaultGates Gates(ILogger logger) => s_storeFaultGates.GetValue(logger, static _ => new StoreFaultGates());

    /// <summary>The gates of one logger (one host): store faults, and audit rows that could not be written.</summary>
    private sealed class StoreFaultGates
    {
        public LogRateGate Store { get; } = new(LogRateGate.StoreFaultInterval, TimeProvider.System);

        public LogRateGate Audit { get; } = new(LogRateGate.StoreFaultInterval, TimeProvider.System);
    }

    [LoggerMessage(1041, LogLevel.Error, "The account database failed during {Operation} ({Exception}: {Reason}); the logon fails with STATUS_INTERNAL_DB_ERROR ({Held} more store faults since the previous such line; at most one per {Interval})")]
    private static partial void StoreFailedLine(ILogger logger, string operation, string exception, string reason, int held, TimeSpan interval);

    [LoggerMessage(1042, LogLevel.Error, "The account database is busy: {Operation} waited longer than {Timeout} (Limits:StoreTimeout); account database busy, the logon fails with STATUS_INTERNAL_DB_ERROR ({Held} more store faults since the previous such line; at most one per {Interval})")]
    private static partial void StoreBusyLine(ILogger logger, string operation, TimeSpan timeout, int held, TimeSpan interval);

    [LoggerMessage(1044, LogLevel.Warning, "The account database answers again after {Faults} failed calls; logons resume")]
    private static partial void StoreRecovered(ILogger logger, int faults);

    [LoggerMessage(1043, LogLevel.Trace, "Waiting on the account database: {Operation}")]
    public static partial void WaitingOnStore(ILogger logger, string operation);

    /// <summary>An audit row could not be written: at most one line per <see cref="LogRateGate.StoreFaultInterval"/> per logger.</summary>
    public static void AuditFailed(ILogger logger, string reason)
    {
        if (Gates(logger).Audit.TryPass(out int held))
        {
            AuditFailedLine(logger, reason, held, LogRateGate.StoreFaultInterval);
        }
    }

    [LoggerMessage(1040, LogLevel.Error, "Writing the audit record failed: {Reason} ({Held} more since the previous such line; at most one per {Interval})")]
    private static partial void AuditFailedLine(ILogger logger, string reason, int held, TimeSpan interval);

    [LoggerMessage(1045, LogLevel.Information, "Kerberos accepted for {ServicePrincipal} (keytab {Keytab}); users of realm {Realm} map to local accounts")]
    public static partial void KerberosReady(ILogger logger, string servicePrincipal, string keytab, string realm);

    [LoggerMessage(1048, LogLevel.Information, "NTLM logons are refused with STATUS_NTLM_BLOCKED (Ntlm:Incoming is Deny); only Kerberos logs on")]
    public static partial void NtlmRefused(ILogger logger);

    [LoggerMessage(1050, LogLevel.Information, "Domain logons through winbind for domain {NetBiosDomain} ({DnsDomain}); allowed groups: {Groups}")]
    public static partial void DomainReady(ILogger logger, string netBiosDomain, string dnsDomain, string groups);

    [LoggerMessage(1051, LogLevel.Error, "No domain controller answered for {Account} (winbind: {Error}); domain logons fail with STATUS_NO_LOGON_SERVERS until one answers again, local users are not affected")]
    public static partial void DomainUnreachable(ILogger logger, string account, string error);

    [LoggerMessage(1052, LogLevel.Warning, "User {Account} authenticated but is in none of the allowed groups ({Groups}): {Action}")]
    public static partial void NotInAllowedGroup(ILogger logger, string account, string groups, string action);
}
