namespace RdpNla.Protocol.Rdp;

/// <summary>
/// The security protocols of RDP_NEG_REQ.requestedProtocols and RDP_NEG_RSP.selectedProtocol
/// (MS-RDPBCGR §2.2.1.1.1, §2.2.1.2.1). Standard RDP Security has no bit: it is the value 0.
/// </summary>
[Flags]
public enum SecurityProtocols : uint
{
    /// <summary>PROTOCOL_RDP (0x00000000): Standard RDP Security (MS-RDPBCGR §5.3).</summary>
    Rdp = 0x00000000,

    /// <summary>PROTOCOL_SSL (0x00000001): TLS 1.0, 1.1 or 1.2 (MS-RDPBCGR §5.4.5.1).</summary>
    Ssl = 0x00000001,

    /// <summary>PROTOCOL_HYBRID (0x00000002): CredSSP, i.e. Network Level Authentication (MS-RDPBCGR §5.4.5.2).</summary>
    Hybrid = 0x00000002,

    /// <summary>PROTOCOL_RDSTLS (0x00000004): RDSTLS (MS-RDPBCGR §5.4.5.3).</summary>
    RdsTls = 0x00000004,

    /// <summary>PROTOCOL_HYBRID_EX (0x00000008): CredSSP followed by the Early User Authorization Result PDU.</summary>
    HybridEx = 0x00000008,

    /// <summary>PROTOCOL_RDSAAD (0x00000010): RDS AAD Auth (Microsoft Entra ID).</summary>
    RdsAad = 0x00000010,
}

/// <summary>Spec names of <see cref="SecurityProtocols"/> values, for logs.</summary>
public static class SecurityProtocolsExtensions
{
    private static readonly (SecurityProtocols Flag, string Name)[] s_names =
    [
        (SecurityProtocols.Ssl, "PROTOCOL_SSL"),
        (SecurityProtocols.Hybrid, "PROTOCOL_HYBRID"),
        (SecurityProtocols.RdsTls, "PROTOCOL_RDSTLS"),
        (SecurityProtocols.HybridEx, "PROTOCOL_HYBRID_EX"),
        (SecurityProtocols.RdsAad, "PROTOCOL_RDSAAD"),
    ];

    /// <summary>
    /// The spec names joined with <c>|</c>, e.g. <c>PROTOCOL_SSL|PROTOCOL_HYBRID</c>; <c>PROTOCOL_RDP</c> for 0;
    /// unknown bits are appended in hex.
    /// </summary>
    public static string Name(this SecurityProtocols protocols)
    {
        if (protocols == SecurityProtocols.Rdp)
        {
            return "PROTOCOL_RDP";
        }

        var builder = new StringBuilder();
        uint rest = (uint)protocols;
        foreach ((SecurityProtocols flag, string name) in s_names)
        {
            if ((protocols & flag) != 0)
            {
                builder.Append(builder.Length == 0 ? "" : "|").Append(name);
                rest &= ~(uint)flag;
            }
        }

        if (rest != 0)
        {
            builder.Append(builder.Length == 0 ? "" : "|").Append("0x").Append(rest.ToString("X8", System.Globalization.CultureInfo.InvariantCulture));
        }

        return builder.ToString();
    }
}
