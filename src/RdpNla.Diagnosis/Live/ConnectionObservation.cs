using RdpNla.Protocol;
using RdpNla.Protocol.Rdp;

namespace RdpNla.Diagnosis.Live;

/// <summary>
/// What the live walk measured, phase by phase, as the Windows client would meet it. The walker fills the phases in
/// order and leaves the ones it did not reach null; <see cref="LiveDiagnoser"/> maps the record to a cause.
/// </summary>
public sealed record ConnectionObservation
{
    /// <summary>The host as typed.</summary>
    public required string Host { get; init; }

    /// <summary>The TCP port.</summary>
    public int Port { get; init; } = 3389;

    /// <summary>The user name sent in CredSSP, when credentials were given.</summary>
    public string? User { get; init; }

    public NameResolutionObservation? NameResolution { get; init; }

    public TcpObservation? Tcp { get; init; }

    public NegotiationObservation? Negotiation { get; init; }

    public TlsObservation? Tls { get; init; }

    public CredSspObservation? CredSsp { get; init; }

    public AuthorizationObservation? Authorization { get; init; }
}

/// <summary>DNS (or literal address) resolution.</summary>
/// <param name="Resolved">Whether at least one address was found.</param>
/// <param name="Addresses">The addresses, as text.</param>
/// <param name="Error">The resolver's error (e.g. SocketError.HostNotFound), when it failed.</param>
public sealed record NameResolutionObservation(bool Resolved, IReadOnlyList<string> Addresses, string? Error = null);

/// <summary>How the TCP connect ended.</summary>
public enum TcpOutcome
{
    /// <summary>Connected.</summary>
    Connected,

    /// <summary>RST: SocketError.ConnectionRefused.</summary>
    Refused,

    /// <summary>No answer within the timeout.</summary>
    TimedOut,

    /// <summary>ICMP unreachable: SocketError.HostUnreachable / NetworkUnreachable.</summary>
    Unreachable,
}

/// <summary>The TCP connect.</summary>
/// <param name="Outcome">How it ended.</param>
/// <param name="Endpoint">ADDRESS:PORT tried (the last one when several addresses were tried).</param>
/// <param name="Error">The socket error text.</param>
public sealed record TcpObservation(TcpOutcome Outcome, string Endpoint, string? Error = null);

/// <summary>What came back for the X.224 Connection Request.</summary>
public enum NegotiationAnswer
{
    /// <summary>X.224 CC with RDP_NEG_RSP.</summary>
    Response,

    /// <summary>X.224 CC with RDP_NEG_FAILURE.</summary>
    Failure,

    /// <summary>X.224 CC without rdpNegData (Standard RDP Security only, e.g. Windows XP/2003).</summary>
    LegacyConfirm,

    /// <summary>Bytes that are not a TPKT/X.224 Connection Confirm.</summary>
    NotX224,

    /// <summary>The server closed the connection without answering.</summary>
    ClosedWithoutAnswer,

    /// <summary>Nothing came back within the timeout.</summary>
    TimedOut,
}

/// <summary>The X.224 negotiation.</summary>
/// <param name="Requested">RDP_NEG_REQ.requestedProtocols sent.</param>
/// <param name="Answer">What came back.</param>
/// <param name="Selected">RDP_NEG_RSP.selectedProtocol.</param>
/// <param name="FailureCode">RDP_NEG_FAILURE.failureCode.</param>
/// <param name="RawAnswer">The first bytes received, for <see cref="NegotiationAnswer.NotX224"/> (hex or printable text).</param>
public sealed record NegotiationObservation(
    SecurityProtocols Requested,
    NegotiationAnswer Answer,
    SecurityProtocols? Selected = null,
    NegotiationFailureCode? FailureCode = null,
    string? RawAnswer = null);

/// <summary>The server certificate seen in the TLS handshake.</summary>
/// <param name="Subject">Subject distinguished name.</param>
/// <param name="Sha256Fingerprint">SHA-256 of the certificate, hex.</param>
/// <param name="NotAfter">Expiry.</param>
/// <param name="Expired">Expired (or not yet valid) at the time of the walk.</param>
/// <param name="Trusted">Chain builds to a trusted root; null when not checked.</param>
/// <param name="NameMatches">Issued to the host name used; null when not checked.</param>
public sealed record CertificateObservation(string Subject, string Sha256Fingerprint, DateTimeOffset NotAfter, bool Expired, bool? Trusted, bool? NameMatches);

/// <summary>The TLS handshake.</summary>
/// <param name="Succeeded">Whether it completed.</param>
/// <param name="Protocol">Negotiated version (e.g. Tls12).</param>
/// <param name="CipherSuite">Negotiated cipher suite.</param>
/// <param name="Error">The failure, when it failed.</param>
/// <param name="ServerOffersOnlyLegacyTls">A probe found the server accepts TLS 1.0/1.1 only.</param>
/// <param name="Certificate">The server's certificate, when one was received.</param>
public sealed record TlsObservation(
    bool Succeeded,
    string? Protocol = null,
    string? CipherSuite = null,
    string? Error = null,
    bool ServerOffersOnlyLegacyTls = false,
    CertificateObservation? Certificate = null);

/// <summary>How CredSSP ended.</summary>
public enum CredSspEnd
{
    /// <summary>The server proved its key and accepted the delegated credentials.</summary>
    Completed,

    /// <summary>The server sent TSRequest.errorCode.</summary>
    ServerErrorCode,

    /// <summary>The client (doctor emulating the given client) refused the server's version (Encryption Oracle Remediation).</summary>
    ClientRefusedServerVersion,

    /// <summary>The server closed TLS (or sent an alert) without an errorCode.</summary>
    ClosedWithoutStatus,

    /// <summary>The server's pubKeyAuth did not match the TLS certificate key.</summary>
    PublicKeyMismatch,

    /// <summary>The server sent something that is not valid CredSSP.</summary>
    ProtocolError,
}

/// <summary>How far the client got when CredSSP ended.</summary>
public enum CredSspStage
{
    /// <summary>The client sent its first TSRequest (NTLM NEGOTIATE) and got no CredSSP answer.</summary>
    FirstRequest,

    /// <summary>The client sent AUTHENTICATE and pubKeyAuth.</summary>
    Authenticate,

    /// <summary>The client sent the delegated credentials (authInfo).</summary>
    Credentials,
}

/// <summary>The CredSSP exchange.</summary>
/// <param name="ClientVersion">TSRequest.version doctor announced.</param>
/// <param name="ServerVersion">TSRequest.version of the server's first answer, when one came.</param>
/// <param name="End">How it ended.</param>
/// <param name="Stage">How far it got.</param>
/// <param name="ErrorCode">TSRequest.errorCode, for <see cref="CredSspEnd.ServerErrorCode"/>.</param>
/// <param name="Detail">The error text, for the report.</param>
public sealed record CredSspObservation(int ClientVersion, int? ServerVersion, CredSspEnd End, CredSspStage Stage, NtStatus? ErrorCode = null, string? Detail = null);

/// <summary>After CredSSP: the Early User Authorization Result (HYBRID_EX) or what happened next (HYBRID).</summary>
/// <param name="EarlyUserAuthorizationResult">The 4-byte result, when HYBRID_EX was selected and it arrived.</param>
/// <param name="ServerClosedImmediately">The server closed the connection right after CredSSP, before answering MCS Connect Initial.</param>
public sealed record AuthorizationObservation(uint? EarlyUserAuthorizationResult, bool ServerClosedImmediately = false);
