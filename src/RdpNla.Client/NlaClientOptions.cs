namespace RdpNla.Client;

/// <summary>
/// A user name, domain and password for <see cref="NlaClient"/>. The password lives in a char array that
/// <see cref="Dispose"/> wipes; it is never turned into a string, logged or shown.
/// </summary>
public sealed class NlaCredentials : IDisposable
{
    private readonly char[] _password;

    /// <param name="userName">The user name, without domain.</param>
    /// <param name="domainName">The domain (empty for a local account).</param>
    /// <param name="password">Copied; the caller wipes its own copy.</param>
    public NlaCredentials(string userName, string domainName, ReadOnlySpan<char> password)
    {
        ArgumentNullException.ThrowIfNull(userName);
        ArgumentNullException.ThrowIfNull(domainName);
        UserName = userName;
        DomainName = domainName;
        _password = password.ToArray();
    }

    /// <summary>The user name without a domain, as given (e.g. <c>alice</c>); the NTLM UserName field of MS-NLMP §2.2.1.3.</summary>
    public string UserName { get; }

    /// <summary>
    /// The domain as given (NetBIOS or DNS name, e.g. <c>EXAMPLE</c>); empty for a local account of the server. The NTLM
    /// DomainName field of MS-NLMP §2.2.1.3, and the realm of a Kerberos principal.
    /// </summary>
    public string DomainName { get; }

    /// <summary>DOMAIN\user, or user without a domain.</summary>
    public string AccountName => DomainName.Length == 0 ? UserName : $"{DomainName}\\{UserName}";

    internal ReadOnlyMemory<char> Password => _password;

    /// <summary>Overwrites the copy of the password with zeros. The instance must not be used for a logon afterwards.</summary>
    public void Dispose() => CryptographicOperations.ZeroMemory(System.Runtime.InteropServices.MemoryMarshal.AsBytes(_password.AsSpan()));

    /// <summary>The <see cref="AccountName"/>; never the password.</summary>
    public override string ToString() => AccountName;
}

/// <summary>Which security package the client uses inside CredSSP (MS-CSSP §3.1.5: SPNEGO, NTLM or Kerberos).</summary>
public enum NlaAuthentication
{
    /// <summary>NTLM only (raw, or in SPNEGO with <see cref="NlaClientOptions.UseSpnego"/>).</summary>
    Ntlm,

    /// <summary>Kerberos when a ticket for the target can be had (a host name or an explicit SPN), NTLM otherwise, as Windows does.</summary>
    Negotiate,

    /// <summary>Kerberos only: fail when no ticket for the target can be had.</summary>
    Kerberos,
}

/// <summary>Settings of one <see cref="NlaClient"/> run.</summary>
public sealed class NlaClientOptions
{
    /// <summary>The default port of RDP.</summary>
    public const int DefaultPort = 3389;

    /// <summary>Host name or IP address.</summary>
    public required string Host { get; init; }

    /// <summary>The TCP port of the RDP server, 1–65535; default <see cref="DefaultPort"/> (3389).</summary>
    public int Port { get; init; } = DefaultPort;

    /// <summary>
    /// The local address to bind the client socket to before connecting (e.g. 127.0.0.42 to appear as another source on
    /// loopback); null lets the OS choose. Only addresses of the same family as the target are used.
    /// </summary>
    public System.Net.IPAddress? LocalAddress { get; init; }

    /// <summary>
    /// Called once when the password was verified but the Early User Authorization Result has not arrived after
    /// <see cref="AuthorizationPendingAfter"/>: the server is holding the connection (e.g. for a second factor).
    /// </summary>
    public Action? AuthorizationPending { get; init; }

    /// <summary>How long to wait for the Early User Authorization Result before <see cref="AuthorizationPending"/>; default 2 s.</summary>
    public TimeSpan AuthorizationPendingAfter { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The whole run (resolve, connect, every step) must finish within this time.</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>RDP_NEG_REQ.requestedProtocols; default SSL|HYBRID|HYBRID_EX (0x0B), as mstsc.</summary>
    public SecurityProtocols RequestedProtocols { get; init; } = SecurityProtocols.Ssl | SecurityProtocols.Hybrid | SecurityProtocols.HybridEx;

    /// <summary>The <c>Cookie: mstshash=</c> value of the X.224 Connection Request (none when null).</summary>
    public string? Cookie { get; init; }

    /// <summary>The TLS versions to offer; default TLS 1.2 and 1.3.</summary>
    public SslProtocols TlsProtocols { get; init; } = SslProtocols.Tls12 | SslProtocols.Tls13;

    /// <summary>How the server certificate is checked before CredSSP; default <see cref="ServerCertificatePolicy.Ignore"/> (the CLI always sets one explicitly).</summary>
    public ServerCertificatePolicy CertificatePolicy { get; init; } = ServerCertificatePolicy.Ignore;

    /// <summary>How far the run goes.</summary>
    public NlaClientStage StopAfter { get; init; } = NlaClientStage.Authentication;

    /// <summary>Required for <see cref="NlaClientStage.Authentication"/>.</summary>
    public NlaCredentials? Credentials { get; init; }

    /// <summary>The CredSSP version announced (2–6; default 6).</summary>
    public int MaxCredSspVersion { get; init; } = CredSspVersion.Latest;

    /// <summary>AllowEncryptionOracle as a client: 0 and 1 refuse a server below CredSSP version 5, 2 accepts it.</summary>
    public EncryptionOraclePolicy AllowEncryptionOracle { get; init; } = EncryptionOraclePolicy.Mitigated;

    /// <summary>Wrap NTLM in SPNEGO instead of raw NTLMSSP.</summary>
    public bool UseSpnego { get; init; }

    /// <summary>The security package (default NTLM; the CLI defaults to Negotiate).</summary>
    public NlaAuthentication Authentication { get; init; } = NlaAuthentication.Ntlm;

    /// <summary>The Kerberos service principal of the target; default <c>TERMSRV/&lt;Host&gt;</c>. Tickets come from KRB5CCNAME, or from the credentials' password with <see cref="NlaAuthentication.Kerberos"/>.</summary>
    public string? ServicePrincipal { get; init; }

    /// <summary>
    /// With PROTOCOL_HYBRID (no Early User Authorization Result), how long to wait after sending authInfo for the
    /// server to close the connection (a refusal after authentication). A server that keeps the connection open is
    /// waiting for MCS Connect Initial: success.
    /// </summary>
    public TimeSpan PostAuthenticationWait { get; init; } = TimeSpan.FromMilliseconds(500);

    /// <summary>Largest TSRequest accepted from the server.</summary>
    public int MaxMessageSize { get; init; } = 64 * 1024;

    /// <summary>
    /// The clock for <see cref="Timeout"/>, <see cref="AuthorizationPendingAfter"/>, <see cref="PostAuthenticationWait"/>,
    /// <see cref="NlaClientResult.Elapsed"/> and the NTLM timestamp when the server sends none; default the system clock
    /// (tests pass a fake one).
    /// </summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;

    /// <summary>
    /// The source of the random values of the exchange: the NTLM client challenge and session key (MS-NLMP §3.1.5.1.2)
    /// and the CredSSP client nonce (MS-CSSP §2.2.1); default the operating system's cryptographic generator. Tests
    /// pass a fixed one to reproduce an exchange byte for byte.
    /// </summary>
    public IRandomSource RandomSource { get; init; } = SystemRandomSource.Instance;
}
