namespace RdpNla.Client;

/// <summary>What a client run proved.</summary>
public enum NlaOutcome
{
    /// <summary>
    /// The run reached what was asked. For <see cref="NlaClientStage.Authentication"/>: the server proved, through
    /// CredSSP, that the password is right and (HYBRID_EX) that the account may log on remotely.
    /// </summary>
    Success,

    /// <summary>The server refused the credentials or the logon (with or without a reason).</summary>
    Failure,

    /// <summary>The server does not require NLA: a password cannot be proven there (it would be checked inside the session).</summary>
    Indeterminate,

    /// <summary>
    /// The run could not get an answer about the credentials: network, protocol, TLS or certificate problem, or a server
    /// that could not check them (an errorCode for which <see cref="NtStatusText.IsServerFault"/> holds).
    /// </summary>
    Error,
}

/// <summary>Why a run did not succeed, one value per distinct cause.</summary>
public enum NlaFailureKind
{
    /// <summary>No failure.</summary>
    None,

    /// <summary>The host name does not resolve.</summary>
    NameNotResolved,

    /// <summary>The TCP connection was refused (nothing listens on the port).</summary>
    ConnectionRefused,

    /// <summary>No answer within the timeout: to the TCP connect, or to the X.224 Connection Request on an open connection.</summary>
    NoAnswer,

    /// <summary>The server closed the connection (before NLA started or in the middle of a step that is not a verdict).</summary>
    ConnectionClosed,

    /// <summary>Another network error (reset, unreachable).</summary>
    NetworkError,

    /// <summary>The answer is not an X.224 Connection Confirm: not an RDP server.</summary>
    NotRdp,

    /// <summary>The server answered RDP_NEG_FAILURE.</summary>
    NegotiationFailure,

    /// <summary>The server selected a protocol that was not requested, or several.</summary>
    InvalidSelection,

    /// <summary>The server selected Standard RDP Security or TLS without NLA (or is a legacy server): no password can be proven.</summary>
    NlaNotOffered,

    /// <summary>The TLS handshake failed or was not answered.</summary>
    TlsFailure,

    /// <summary>The server certificate was rejected by the certificate policy (pin or known-hosts mismatch).</summary>
    CertificateRejected,

    /// <summary>A CredSSP message was malformed, unexpected or missing.</summary>
    CredSspProtocolError,

    /// <summary>The server's CredSSP version is refused by the AllowEncryptionOracle policy (CVE-2018-0886).</summary>
    CredSspVersionNotPermitted,

    /// <summary>The server's pubKeyAuth does not match the TLS certificate: a man in the middle. No credentials were sent.</summary>
    PublicKeyMismatch,

    /// <summary>The server refused the logon with a TSRequest errorCode (NTSTATUS).</summary>
    LogonRefused,

    /// <summary>The server closed the connection after the NTLM AUTHENTICATE without an errorCode: rejected, no reason given.</summary>
    RejectedWithoutReason,

    /// <summary>The password was verified, but the server denied the logon (Early User Authorization Result, or a close right after authInfo).</summary>
    AccessDenied,
}

/// <summary>The step a run was in when it ended.</summary>
public enum NlaClientPhase
{
    /// <summary>Resolving the host name to addresses.</summary>
    Resolve,

    /// <summary>Opening the TCP connection.</summary>
    Connect,

    /// <summary>The X.224 Connection Request and Confirm with RDP_NEG_REQ and RDP_NEG_RSP or RDP_NEG_FAILURE (MS-RDPBCGR §1.3.1.1, §2.2.1.1–§2.2.1.2).</summary>
    Negotiation,

    /// <summary>The TLS handshake and the check of the server certificate (MS-RDPBCGR §5.4.5.1).</summary>
    Tls,

    /// <summary>The CredSSP exchange of TSRequest messages (MS-CSSP §3.1.5).</summary>
    CredSsp,

    /// <summary>Waiting for the Early User Authorization Result after the credentials (PROTOCOL_HYBRID_EX, MS-RDPBCGR §2.2.10.2).</summary>
    EarlyUserAuthorization,

    /// <summary>The run did everything it was asked (<see cref="NlaClientOptions.StopAfter"/>).</summary>
    Completed,
}

/// <summary>How far a run goes before it closes the connection.</summary>
public enum NlaClientStage
{
    /// <summary>Stop after the X.224 Connection Confirm.</summary>
    Negotiation,

    /// <summary>Stop after the TLS handshake.</summary>
    Tls,

    /// <summary>Send the NTLM NEGOTIATE and stop once the server's CHALLENGE (or errorCode) arrives; no credentials needed.</summary>
    Challenge,

    /// <summary>Authenticate with the credentials: the whole CredSSP exchange and the HYBRID_EX Early User Authorization Result.</summary>
    Authentication,
}

/// <summary>The server's answer to the X.224 Connection Request.</summary>
public sealed record NegotiationAnswer
{
    /// <summary>The server sent no rdpNegData (X.224 LI = 6): a legacy server, Standard RDP Security only.</summary>
    public bool Legacy { get; init; }

    /// <summary>The selected protocol of an RDP_NEG_RSP.</summary>
    public SecurityProtocols? SelectedProtocol { get; init; }

    /// <summary>The flags of an RDP_NEG_RSP.</summary>
    public RdpNegResponseFlags? ResponseFlags { get; init; }

    /// <summary>The failure code of an RDP_NEG_FAILURE.</summary>
    public NegotiationFailureCode? FailureCode { get; init; }

    /// <summary>A short description for logs and debugging, e.g. <c>RDP_NEG_RSP PROTOCOL_HYBRID_EX</c>; not for users.</summary>
    public override string ToString() =>
        Legacy ? "no rdpNegData (legacy server)"
        : FailureCode is { } code ? $"RDP_NEG_FAILURE {code.Name()}"
        : $"RDP_NEG_RSP {SelectedProtocol?.Name()}";
}

/// <summary>The TLS session the client established (MS-RDPBCGR §5.4.5.1: the external security protocol of NLA).</summary>
/// <param name="Protocol">The negotiated TLS version (one flag, e.g. <see cref="SslProtocols.Tls12"/>).</param>
/// <param name="CipherSuite">The negotiated cipher suite.</param>
/// <param name="Certificate">The server certificate of the handshake.</param>
/// <param name="CertificateDecision">What the <see cref="NlaClientOptions.CertificatePolicy"/> decided about it.</param>
public sealed record TlsSessionInfo(SslProtocols Protocol, TlsCipherSuite CipherSuite, TlsCertificateInfo Certificate, CertificateDecision CertificateDecision);

/// <summary>The NTLM target information of the server's CHALLENGE (MS-NLMP §2.2.1.2, §2.2.2.1).</summary>
public sealed record NtlmTargetInfo
{
    /// <summary>The CHALLENGE's TargetName field: the server's domain, or its computer name when it is not in a domain (MS-NLMP §2.2.1.2); null when absent.</summary>
    public string? TargetName { get; init; }

    /// <summary>MsvAvNbComputerName: the server's NetBIOS computer name (MS-NLMP §2.2.2.1); null when absent.</summary>
    public string? NbComputerName { get; init; }

    /// <summary>MsvAvNbDomainName: the NetBIOS domain name, or the computer name of a server in no domain (MS-NLMP §2.2.2.1); null when absent.</summary>
    public string? NbDomainName { get; init; }

    /// <summary>MsvAvDnsComputerName: the server's fully qualified DNS name (MS-NLMP §2.2.2.1); null when absent.</summary>
    public string? DnsComputerName { get; init; }

    /// <summary>MsvAvDnsDomainName: the DNS name of the server's domain (MS-NLMP §2.2.2.1); null when absent.</summary>
    public string? DnsDomainName { get; init; }

    /// <summary>MsvAvDnsTreeName: the DNS name of the server's forest (MS-NLMP §2.2.2.1); null when absent.</summary>
    public string? DnsTreeName { get; init; }

    /// <summary>The VERSION structure: the server's OS version, e.g. 10.0.17763.</summary>
    public string? OsVersion { get; init; }

    /// <summary>MsvAvTimestamp: the server's clock.</summary>
    public DateTimeOffset? ServerTime { get; init; }
}

/// <summary>How far the client got in CredSSP: what it had sent last.</summary>
public enum CredSspStage
{
    /// <summary>The client sent its first TSRequest (the NTLM NEGOTIATE or the Kerberos AP-REQ) and nothing after it.</summary>
    FirstRequest,

    /// <summary>The client sent the NTLM AUTHENTICATE and pubKeyAuth.</summary>
    Authenticate,

    /// <summary>The client sent the delegated credentials (authInfo).</summary>
    Credentials,
}

/// <summary>What was wrong with the server's CredSSP answer, for <see cref="NlaFailureKind.CredSspProtocolError"/>.</summary>
public enum CredSspProblem
{
    /// <summary>No problem with the server's answers.</summary>
    None,

    /// <summary>The client could not build its first message.</summary>
    CouldNotStart,

    /// <summary>The server sent bytes that are not a TSRequest (MS-CSSP §2.2.1).</summary>
    NotATsRequest,

    /// <summary>The server's first TSRequest does not decode.</summary>
    UndecodableFirstAnswer,

    /// <summary>The server answered the NTLM NEGOTIATE without an NTLM CHALLENGE.</summary>
    NoChallenge,

    /// <summary>Kerberos alone was asked for and no Kerberos context could be had (see <see cref="CredSspInfo.Kerberos"/>).</summary>
    KerberosUnavailable,

    /// <summary>The CredSSP context failed (see <see cref="CredSspInfo.FailureReason"/>).</summary>
    ContextFailed,
}

/// <summary>Why Kerberos failed or was not used, as GSSAPI reported it.</summary>
/// <param name="MinorStatus">The krb5 error code of the GSS minor status (RFC 4120 §7.5.9 numbers offset by the krb5 table base), or 0 when unknown.</param>
/// <param name="Text">GSSAPI's own description of the status.</param>
/// <param name="ServicePrincipal">The service principal a ticket was asked for.</param>
public sealed record KerberosFailure(uint MinorStatus, string Text, string? ServicePrincipal);

/// <summary>What the CredSSP exchange showed about the server.</summary>
public sealed record CredSspInfo
{
    /// <summary>The version this client announced.</summary>
    public int ClientVersion { get; init; }

    /// <summary>The version the server announced in its first TSRequest (0 when it sent none).</summary>
    public int ServerVersion { get; init; }

    /// <summary>The NTSTATUS of a TSRequest errorCode.</summary>
    public NtStatus? ErrorCode { get; init; }

    /// <summary>The server's NTLM CHALLENGE target information.</summary>
    public NtlmTargetInfo? Ntlm { get; init; }

    /// <summary>The server proved it holds the certificate key (pubKeyAuth verified): implies it verified the password.</summary>
    public bool ServerBindingVerified { get; init; }

    /// <summary>The credentials were delegated (authInfo sent).</summary>
    public bool CredentialsSent { get; init; }

    /// <summary>What the client had sent last.</summary>
    public CredSspStage Stage { get; init; }

    /// <summary>The security package used: "Kerberos" or "NTLM".</summary>
    public string Package { get; init; } = "NTLM";

    /// <summary>Why Kerberos failed, or was not used when it was a candidate (NTLM ran instead).</summary>
    public KerberosFailure? Kerberos { get; init; }

    /// <summary>Why the CredSSP context failed, when it did.</summary>
    public NlaFailureReason FailureReason { get; init; }
}

/// <summary>Every observation of one client run, and its verdict: kinds and facts, no sentences.</summary>
public sealed class NlaClientResult
{
    internal NlaClientResult(string host, int port, SecurityProtocols requested)
    {
        Host = host;
        Port = port;
        RequestedProtocols = requested;
    }

    /// <summary>The host name or address the run was given (<see cref="NlaClientOptions.Host"/>).</summary>
    public string Host { get; }

    /// <summary>The TCP port the run connected to (<see cref="NlaClientOptions.Port"/>).</summary>
    public int Port { get; }

    /// <summary>The verdict of the run; <see cref="NlaOutcome.Error"/> until the run decides otherwise.</summary>
    public NlaOutcome Outcome { get; internal set; } = NlaOutcome.Error;

    /// <summary>Why the run did not succeed; <see cref="NlaFailureKind.None"/> when it did.</summary>
    public NlaFailureKind FailureKind { get; internal set; }

    /// <summary>The phase the run ended in.</summary>
    public NlaClientPhase Phase { get; internal set; }

    /// <summary>How far the run was asked to go.</summary>
    public NlaClientStage StopAfter { get; internal set; }

    /// <summary>The account authenticated as (DOMAIN\USER or USER@REALM), when credentials were given; never a secret.</summary>
    public string? Account { get; internal set; }

    /// <summary>The time the whole run was allowed.</summary>
    public TimeSpan Timeout { get; internal set; }

    /// <summary>The run ended because its <see cref="Timeout"/> ran out (not the operating system's connect timeout).</summary>
    public bool TimedOut { get; internal set; }

    /// <summary>The server (or the network) closed or reset the connection while the client waited for an answer.</summary>
    public bool ConnectionLost { get; internal set; }

    /// <summary>The socket error that ended the run, when one did.</summary>
    public SocketError? SocketError { get; internal set; }

    /// <summary>The underlying error's own text (resolver, TLS library, message parser, CredSSP context), when there is one.</summary>
    public string? ErrorDetail { get; internal set; }

    /// <summary>What the server sent instead of an X.224 Connection Confirm: the TPKT header bytes, or the whole TPKT frame.</summary>
    public ReadOnlyMemory<byte> UnexpectedAnswer { get; internal set; }

    /// <summary>The length a TPKT header announced when it was out of range for a Connection Confirm.</summary>
    public int? AnnouncedFrameLength { get; internal set; }

    /// <summary>What was wrong with the server's CredSSP answer.</summary>
    public CredSspProblem CredSspProblem { get; internal set; }

    /// <summary>The addresses the host name resolved to (empty for a literal address or when it did not resolve).</summary>
    public IReadOnlyList<IPAddress> ResolvedAddresses { get; internal set; } = [];

    /// <summary>The address the TCP connection went to.</summary>
    public IPEndPoint? RemoteEndPoint { get; internal set; }

    /// <summary>The requestedProtocols of the RDP_NEG_REQ the run sent (MS-RDPBCGR §2.2.1.1.1).</summary>
    public SecurityProtocols RequestedProtocols { get; }

    /// <summary>The TLS versions offered (<see cref="SslProtocols.None"/>: the system default).</summary>
    public SslProtocols OfferedTlsProtocols { get; internal set; }

    /// <summary>The server's X.224 Connection Confirm; null when none (or none that decodes) arrived.</summary>
    public NegotiationAnswer? Negotiation { get; internal set; }

    /// <summary>The TLS session; null when the handshake did not complete.</summary>
    public TlsSessionInfo? Tls { get; internal set; }

    /// <summary>The certificate seen in TLS, also when the policy rejected it.</summary>
    public TlsCertificateInfo? Certificate { get; internal set; }

    /// <summary>What the CredSSP exchange showed; null when CredSSP did not start.</summary>
    public CredSspInfo? CredSsp { get; internal set; }

    /// <summary>
    /// The server held the connection after the credentials: no Early User Authorization Result within
    /// <see cref="NlaClientOptions.AuthorizationPendingAfter"/> (a server that requires a second factor does this).
    /// </summary>
    public bool AuthorizationHeld { get; internal set; }

    /// <summary>The HYBRID_EX Early User Authorization Result, when one was read.</summary>
    public EarlyUserAuthorizationResult? EarlyAuthorization { get; internal set; }

    /// <summary>How long the whole run took, from the start of name resolution to the end, measured with <see cref="NlaClientOptions.TimeProvider"/>.</summary>
    public TimeSpan Elapsed { get; internal set; }

    /// <summary>Where the TCP connection went: ADDRESS:PORT once connected, HOST:PORT before.</summary>
    public string Endpoint => RemoteEndPoint?.ToString() ?? $"{Host}:{Port}";

    /// <summary>A short description for logs and debugging, e.g. <c>Failure (LogonRefused, CredSsp)</c>; not for users.</summary>
    public override string ToString() => $"{Outcome} ({FailureKind}, {Phase})";
}
