namespace RdpNla.Client;

/// <summary>The answer to one X.224 Connection Request with one requested protocol set.</summary>
/// <param name="Requested">The requested protocols.</param>
/// <param name="Answer">The server's answer, when it gave one.</param>
/// <param name="Failure">The run, when it did not end with a valid answer (no answer, or an invalid selection).</param>
public sealed record NegotiationAttempt(SecurityProtocols Requested, NegotiationAnswer? Answer, NlaClientResult? Failure)
{
    /// <summary>A short description for logs and debugging, e.g. <c>PROTOCOL_SSL -> RDP_NEG_RSP PROTOCOL_SSL</c>; not for users.</summary>
    public override string ToString() => $"{Requested.Name()} -> {(Answer?.ToString() ?? Failure?.FailureKind.ToString())}";
}

/// <summary>What a probe found the server requires before a session starts.</summary>
public enum RequiredSecurity
{
    /// <summary>No protocol could be used.</summary>
    NoUsableProtocol,

    /// <summary>Nothing: Standard RDP Security is accepted.</summary>
    Nothing,

    /// <summary>PROTOCOL_SSL: TLS, but not NLA.</summary>
    Tls,

    /// <summary>PROTOCOL_HYBRID: NLA.</summary>
    Nla,
}

/// <summary>A step of a probe that could not be completed.</summary>
public enum ProbeStep
{
    /// <summary>One X.224 request of the survey (<see cref="ProbeNote.Requested"/>).</summary>
    Negotiation,

    /// <summary>The CredSSP exchange up to the CHALLENGE, after the server selected <see cref="ProbeNote.Selected"/>.</summary>
    CredSsp,

    /// <summary>The TLS handshake after the server selected PROTOCOL_SSL.</summary>
    Tls,

    /// <summary>The handshake at one TLS version (<see cref="ProbeNote.TlsVersion"/>).</summary>
    TlsVersion,

    /// <summary>The check whether the server accepts a CredSSP client without the CVE-2018-0886 fix.</summary>
    UnpatchedClientCheck,

    /// <summary>The Kerberos logon with the credential cache's ticket.</summary>
    Kerberos,
}

/// <summary>A step of a probe that could not be completed.</summary>
/// <param name="Step">The step.</param>
/// <param name="Run">The run that did not complete it; null when the target's time ran out before the step.</param>
/// <param name="Requested">The requested protocols of a <see cref="ProbeStep.Negotiation"/> step.</param>
/// <param name="Selected">The protocol the server had selected, for <see cref="ProbeStep.CredSsp"/>.</param>
/// <param name="TlsVersion">The TLS version of a <see cref="ProbeStep.TlsVersion"/> step.</param>
public sealed record ProbeNote(ProbeStep Step, NlaClientResult? Run, SecurityProtocols? Requested = null, SecurityProtocols? Selected = null, SslProtocols? TlsVersion = null)
{
    /// <summary>The target's time ran out before the step.</summary>
    public bool TimeRanOut => Run is null;
}

/// <summary>Whether the server completes a TLS handshake at one TLS version.</summary>
public enum TlsVersionSupport
{
    /// <summary>The server completed a TLS handshake at this version.</summary>
    Accepted,

    /// <summary>The server refused the handshake at this version (alert, reset or closed connection).</summary>
    Refused,

    /// <summary>This machine's TLS library refuses the version itself, so the server cannot be tested for it.</summary>
    NotTestableHere,

    /// <summary>Not tried: no protocol that uses TLS was accepted, or the target's time ran out.</summary>
    NotTested,
}

/// <summary>Everything <see cref="RdpProber"/> learned about one target.</summary>
public sealed class ProbeResult
{
    internal ProbeResult(string host, int port)
    {
        Host = host;
        Port = port;
    }

    /// <summary>The host name or address that was probed, as given.</summary>
    public string Host { get; }

    /// <summary>The TCP port that was probed.</summary>
    public int Port { get; }

    /// <summary>HOST:PORT, with an IPv6 address in brackets (<c>[::1]:3389</c>).</summary>
    public string Target => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";

    /// <summary>Set when the target could not be probed at all (not reachable, not RDP); the other properties are then mostly empty.</summary>
    public NlaClientResult? Error { get; internal set; }

    /// <summary>One entry per requested protocol set, each on its own connection.</summary>
    public IReadOnlyList<NegotiationAttempt> Attempts { get; internal set; } = [];

    /// <summary>The protocols the server selected for some request (and, for TLS-based ones, completed TLS with).</summary>
    public SecurityProtocols Accepted { get; internal set; }

    /// <summary>Standard RDP Security was selected for some request.</summary>
    public bool StandardRdpAccepted { get; internal set; }

    /// <summary>A legacy server: the Connection Confirm had no rdpNegData.</summary>
    public bool Legacy { get; internal set; }

    /// <summary>A CredSSP exchange up to the server's NTLM CHALLENGE completed.</summary>
    public bool NlaSupported { get; internal set; }

    /// <summary>NLA supported and neither Standard RDP Security nor TLS without NLA is accepted.</summary>
    public bool NlaRequired { get; internal set; }

    /// <summary>What the server requires before a session starts.</summary>
    public RequiredSecurity Required { get; internal set; }

    /// <summary>The CredSSP run that obtained the CHALLENGE.</summary>
    public NlaClientResult? CredSspRun { get; internal set; }

    /// <summary>The CredSSP version the server announced in its first TSRequest (MS-CSSP §2.2.1); null when no CredSSP run got one.</summary>
    public int? CredSspVersion => CredSspRun?.CredSsp is { ServerVersion: > 0 } info ? info.ServerVersion : null;

    /// <summary>Version 5 or later: the CVE-2018-0886 fix (nonce and hash binding).</summary>
    public bool? CredSspPatched => CredSspVersion is int v ? v >= 5 : null;

    /// <summary>Whether the server gave a CHALLENGE to a client announcing CredSSP version 3 (no CVE-2018-0886 fix): AllowEncryptionOracle 1 or 2 on the server.</summary>
    public bool? AcceptsUnpatchedClients { get; internal set; }

    /// <summary>The NTLM target information of the server's CHALLENGE (names, OS version, clock); null without a CHALLENGE.</summary>
    public NtlmTargetInfo? Ntlm => CredSspRun?.CredSsp?.Ntlm;

    /// <summary>The Kerberos logon, when <see cref="ProbeOptions.Authentication"/> asked for one.</summary>
    public NlaClientResult? KerberosRun { get; internal set; }

    /// <summary>The server accepted a Kerberos ticket (the logon completed with the Kerberos package); null when not tried.</summary>
    public bool? KerberosAccepted => KerberosRun is null ? null : KerberosRun is { Outcome: NlaOutcome.Success, CredSsp.Package: "Kerberos" };

    /// <summary>The TLS session of the run that completed TLS (the CredSSP run when NLA is supported).</summary>
    public TlsSessionInfo? Tls { get; internal set; }

    /// <summary>The server certificate of <see cref="Tls"/>; null when no TLS handshake completed.</summary>
    public TlsCertificateInfo? Certificate => Tls?.Certificate;

    /// <summary>Per TLS version (1.0 to 1.3).</summary>
    public IReadOnlyDictionary<SslProtocols, TlsVersionSupport> TlsVersions { get; internal set; } = new Dictionary<SslProtocols, TlsVersionSupport>();

    /// <summary>Steps that could not be completed (time ran out, a step failed).</summary>
    public IReadOnlyList<ProbeNote> Notes { get; internal set; } = [];

    /// <summary>How long the whole probe of the target took, measured with <see cref="ProbeOptions.TimeProvider"/>.</summary>
    public TimeSpan Elapsed { get; internal set; }
}
