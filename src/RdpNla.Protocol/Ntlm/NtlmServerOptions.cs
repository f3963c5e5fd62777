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
    /// Refuse an AUTHENTICATE without a MIC (MsvAvFlags 0x2). Windows, FreeRDP and the .NET client send one because the
    /// CHALLENGE carries MsvAvTimestamp; the MIC is what stops a relay from stripping flags. Default true.
    /// </summary>
    public bool RequireMic { get; init; } = true;
}
