using System.Security.Authentication;
using RdpNla.Protocol.Rdp;

namespace RdpNla.Client;

/// <summary>How bad a finding is.</summary>
public enum FindingSeverity
{
    Info,
    Low,
    Medium,
    High,
}

/// <summary>One observation worth acting on.</summary>
/// <param name="Severity">How bad it is.</param>
/// <param name="Id">Stable identifier, e.g. <c>nla-not-required</c>.</param>
/// <param name="Message">What was observed, in plain words.</param>
public sealed record ProbeFinding(FindingSeverity Severity, string Id, string Message);

/// <summary>The answer to one X.224 Connection Request with one requested protocol set.</summary>
public sealed record NegotiationAttempt(SecurityProtocols Requested, NegotiationAnswer? Answer, string? Error)
{
    public override string ToString() => $"{Requested.Name()} -> {(Answer?.ToString() ?? Error)}";
}

/// <summary>Whether the server completes a TLS handshake at one TLS version.</summary>
public enum TlsVersionSupport
{
    Accepted,
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

    public string Host { get; }

    public int Port { get; }

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

    /// <summary>Plain words: "PROTOCOL_HYBRID (NLA)", "PROTOCOL_SSL (TLS)", "none (Standard RDP Security accepted)".</summary>
    public string Required { get; internal set; } = "";

    /// <summary>The CredSSP run that obtained the CHALLENGE.</summary>
    public NlaClientResult? CredSspRun { get; internal set; }

    public int? CredSspVersion => CredSspRun?.CredSsp is { ServerVersion: > 0 } info ? info.ServerVersion : null;

    /// <summary>Version 5 or later: the CVE-2018-0886 fix (nonce and hash binding).</summary>
    public bool? CredSspPatched => CredSspVersion is int v ? v >= 5 : null;

    /// <summary>Whether the server gave a CHALLENGE to a client announcing CredSSP version 3 (no CVE-2018-0886 fix): AllowEncryptionOracle 1 or 2 on the server.</summary>
    public bool? AcceptsUnpatchedClients { get; internal set; }

    public NtlmTargetInfo? Ntlm => CredSspRun?.CredSsp?.Ntlm;

    /// <summary>The TLS session of the run that completed TLS (the CredSSP run when NLA is supported).</summary>
    public TlsSessionInfo? Tls { get; internal set; }

    public TlsCertificateInfo? Certificate => Tls?.Certificate;

    /// <summary>Per TLS version (1.0 to 1.3).</summary>
    public IReadOnlyDictionary<SslProtocols, TlsVersionSupport> TlsVersions { get; internal set; } = new Dictionary<SslProtocols, TlsVersionSupport>();

    public IReadOnlyList<ProbeFinding> Findings { get; internal set; } = [];

    /// <summary>Notes about steps that could not be completed (time ran out, a step failed).</summary>
    public IReadOnlyList<string> Notes { get; internal set; } = [];

    public TimeSpan Elapsed { get; internal set; }

    public FindingSeverity? HighestSeverity => Findings.Count == 0 ? null : Findings.Max(f => f.Severity);
}
