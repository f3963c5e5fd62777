namespace RdpNla.Protocol.Ntlm;

/// <summary>How an <see cref="NtlmServerContext"/> describes itself in the CHALLENGE.</summary>
public sealed class NtlmServerOptions
{
    /// <summary>The NetBIOS computer name (MsvAvNbComputerName).</summary>
    public required string NbComputerName { get; init; }

    /// <summary>The NetBIOS domain name (MsvAvNbDomainName and the CHALLENGE TargetName); the computer name in a workgroup.</summary>
    public required string NbDomainName { get; init; }

    /// <summary>The FQDN of the computer (MsvAvDnsComputerName); omitted when null.</summary>
    public string? DnsComputerName { get; init; }

    /// <summary>The FQDN of the domain (MsvAvDnsDomainName); omitted when null.</summary>
    public string? DnsDomainName { get; init; }

    /// <summary>The clock for MsvAvTimestamp.</summary>
    public required TimeProvider TimeProvider { get; init; }

    /// <summary>The source of ServerChallenge; must be cryptographically secure.</summary>
    public required IRandomSource RandomSource { get; init; }

    /// <summary>The VERSION sent in the CHALLENGE (informational).</summary>
    public NtlmVersion Version { get; init; } = NtlmVersion.Default;

    /// <summary>
    /// Refuse an NTLMv2 AUTHENTICATE that announces no MIC (MsvAvFlags bit 0x2 absent). Default false: as Windows and
    /// FreeRDP's server do, such an AUTHENTICATE is verified on its NTProofStr alone (MS-NLMP §3.2.5.1.2: the MIC is
    /// checked only when MsvAvFlags announces one). An AUTHENTICATE that announces a MIC must carry one that verifies,
    /// whatever this setting. Without a MIC the negotiate flags are not integrity protected by NTLM itself
    /// (docs/protocol.md).
    /// </summary>
    public bool RequireMic { get; init; }
}
