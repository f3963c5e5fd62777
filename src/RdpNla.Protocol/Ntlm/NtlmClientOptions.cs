namespace RdpNla.Protocol.Ntlm;

/// <summary>What an <see cref="NtlmClientContext"/> authenticates with. Give either <see cref="Password"/> or <see cref="NtOwfV1"/>.</summary>
public sealed class NtlmClientOptions
{
    /// <summary>The user name, sent as given (NTOWFv2 uppercases it).</summary>
    public required string UserName { get; init; }

    /// <summary>The user's domain, sent and hashed exactly as given; empty for local accounts and UPN logons.</summary>
    public string DomainName { get; init; } = "";

    /// <summary>The password; null when <see cref="NtOwfV1"/> is given.</summary>
    public string? Password { get; init; }

    /// <summary>The NT hash (MD4 of the UTF-16LE password, 16 bytes); null when <see cref="Password"/> is given.</summary>
    public ReadOnlyMemory<byte>? NtOwfV1 { get; init; }

    /// <summary>The client's workstation name, sent in the AUTHENTICATE; empty when null.</summary>
    public string? Workstation { get; init; }

    /// <summary>The SPN of the server (e.g. "TERMSRV/host"), sent as MsvAvTargetName; omitted when null.</summary>
    public string? TargetName { get; init; }

    /// <summary>The clock, used when the CHALLENGE carries no MsvAvTimestamp.</summary>
    public required TimeProvider TimeProvider { get; init; }

    /// <summary>The source of ClientChallenge and the random ExportedSessionKey; must be cryptographically secure.</summary>
    public required IRandomSource RandomSource { get; init; }

    /// <summary>
    /// Send a MIC (and MsvAvFlags 0x2) when the CHALLENGE carries MsvAvTimestamp, as MS-NLMP §3.1.5.2.1 says a client
    /// SHOULD. False emulates the clients and libraries that send an NTLMv2 AUTHENTICATE without one. Default true.
    /// </summary>
    public bool SendMic { get; init; } = true;

    /// <summary>The VERSION sent in NEGOTIATE and AUTHENTICATE (informational).</summary>
    public NtlmVersion Version { get; init; } = NtlmVersion.Default;
}
