namespace RdpNla.Server.Gateway;

/// <summary>
/// The gateway's log messages (event ids 2000–2999). Each backend failure has its own event id and wording so that an
/// operator can alert on it. User names are logged; passwords never are: no message takes one.
/// </summary>
internal static partial class GatewayLog
{
    [LoggerMessage(2000, LogLevel.Information, "Gateway: default backend {Backend}, certificate validation {Validation}, backend security {Security} (where a backend has none of its own), idle timeout {IdleTimeout}, maximum session length {MaxSessionLength}")]
    public static partial void Configured(ILogger logger, string backend, BackendCertificateValidation validation, string security, TimeSpan idleTimeout, TimeSpan maxSessionLength);

    [LoggerMessage(2001, LogLevel.Information, "Relaying {Account} to backend {Backend} ({Source}) with {CredentialMode} credentials for {BackendAccount}")]
    public static partial void Relaying(ILogger logger, string account, string backend, string source, string credentialMode, string backendAccount);

    [LoggerMessage(2002, LogLevel.Information, "Backend {Backend} connected: selected {BackendProtocol} (requested {RequestedProtocols}), TLS {TlsProtocol}, certificate SHA-256 {Fingerprint}")]
    public static partial void BackendConnected(ILogger logger, string backend, string backendProtocol, string requestedProtocols, string tlsProtocol, string fingerprint);

    [LoggerMessage(2003, LogLevel.Information, "Backend {Backend} accepted the injected credentials of {BackendAccount} (CredSSP version {Version})")]
    public static partial void BackendAuthenticated(ILogger logger, string backend, string backendAccount, int version);

    [LoggerMessage(2004, LogLevel.Information, "Injected the credentials of {BackendAccount} into the Client Info PDU (INFO_AUTOLOGON) for backend {Backend}")]
    public static partial void ClientInfoInjected(ILogger logger, string backendAccount, string backend);

    [LoggerMessage(2005, LogLevel.Debug, "MCS connect: client core data serverSelectedProtocol {ClientValue} -> {BackendValue}; server core data clientRequestedProtocols {ServerValue} -> {ClientRequested}")]
    public static partial void McsRewritten(ILogger logger, string clientValue, string backendValue, string serverValue, string clientRequested);

    [LoggerMessage(2006, LogLevel.Information, "Session relay started: client {Client} <-> backend {Backend} (front {FrontProtocol}, backend {BackendProtocol})")]
    public static partial void RelayStarted(ILogger logger, string client, string backend, string frontProtocol, string backendProtocol);

    [LoggerMessage(2007, LogLevel.Information, "Session ended: {Reason}; {BytesToBackend} bytes to the backend, {BytesToClient} bytes to the client in {Duration}")]
    public static partial void SessionEnded(ILogger logger, string reason, long bytesToBackend, long bytesToClient, TimeSpan duration);

    [LoggerMessage(2010, LogLevel.Warning, "Backend {Backend} is down: {Reason}; disconnecting the client")]
    public static partial void BackendDown(ILogger logger, string backend, string reason);

    [LoggerMessage(2011, LogLevel.Warning, "Backend {Backend} rejected the injected credentials of {BackendAccount}: {Reason}; disconnecting the client")]
    public static partial void CredentialsRejected(ILogger logger, string backend, string backendAccount, string reason);

    [LoggerMessage(2012, LogLevel.Error, "Backend {Backend} certificate changed: expected SHA-256 {Expected}, got {Actual}; disconnecting the client (if the change is legitimate, forget the backend's recorded certificate)")]
    public static partial void CertificateChanged(ILogger logger, string backend, string expected, string actual);

    [LoggerMessage(2013, LogLevel.Warning, "Backend {Backend} negotiation failed: {Reason}; disconnecting the client")]
    public static partial void NegotiationFailed(ILogger logger, string backend, string reason);

    [LoggerMessage(2014, LogLevel.Warning, "Backend {Backend} offers only Standard RDP Security (PROTOCOL_RDP), which the gateway does not relay; set the backend to TLS (xrdp: security_layer=tls); disconnecting the client")]
    public static partial void StandardRdpSecurityOnly(ILogger logger, string backend);

    [LoggerMessage(2015, LogLevel.Warning, "Backend {Backend} certificate not checked (Gateway:CertificateValidation=None): SHA-256 {Fingerprint}; the backend leg is open to a man in the middle")]
    public static partial void CertificateNotChecked(ILogger logger, string backend, string fingerprint);

    [LoggerMessage(2016, LogLevel.Warning, "Backend {Backend} certificate trusted on first use and recorded: SHA-256 {Fingerprint}")]
    public static partial void CertificateTrustedOnFirstUse(ILogger logger, string backend, string fingerprint);

    [LoggerMessage(2017, LogLevel.Warning, "No credentials to inject for {Account}: {Reason}; disconnecting the client")]
    public static partial void NoCredentials(ILogger logger, string account, string reason);

    [LoggerMessage(2018, LogLevel.Warning, "Session relay failed in phase {Phase}: {Reason}")]
    public static partial void RelayFailed(ILogger logger, string phase, string reason);

    [LoggerMessage(2019, LogLevel.Warning, "Writing the session audit record failed: {Reason}")]
    public static partial void AuditFailed(ILogger logger, string reason);

    [LoggerMessage(2020, LogLevel.Warning, "Backend {Backend} is not pinned: Gateway:CertificateValidation=Pinned needs Gateway:PinnedCertificates:{Backend}; got SHA-256 {Actual}; disconnecting the client")]
    public static partial void CertificateNotPinned(ILogger logger, string backend, string actual);

    [LoggerMessage(2021, LogLevel.Error, "Backend {Backend} refused as a possible downgrade: {Reason}; disconnecting the client")]
    public static partial void ProtocolDowngrade(ILogger logger, string backend, string reason);

    [LoggerMessage(2022, LogLevel.Warning, "Backend {Backend}: credentials withheld: {Reason}; disconnecting the client")]
    public static partial void CredentialsWithheld(ILogger logger, string backend, string reason);

    [LoggerMessage(2023, LogLevel.Warning, "Backend {Backend} selected TLS only and its certificate is not checked (Gateway:CertificateValidation=None): the password goes into the Client Info PDU over a TLS leg open to a man in the middle")]
    public static partial void PasswordOverUncheckedTls(ILogger logger, string backend);

    [LoggerMessage(2024, LogLevel.Information, "Early User Authorization Result {Result} sent to the client (backend leg {BackendState})")]
    public static partial void EarlyUserAuthorizationSent(ILogger logger, string result, string backendState);

    [LoggerMessage(2030, LogLevel.Information, "No Kerberos ticket for {Principal} ({Reason}); the backend leg uses NTLM (Gateway:BackendAuthentication=negotiate)")]
    public static partial void KerberosFallback(ILogger logger, string principal, string reason);
}
