namespace RdpNla.Server.Storage;

/// <summary>The short names of security protocols used in logs and audit rows (MS-RDPBCGR §2.2.1.1.1 without the PROTOCOL_ prefix).</summary>
internal static class SecurityProtocolNames
{
    public static string Name(SecurityProtocols protocol) => protocol switch
    {
        SecurityProtocols.Rdp => "RDP",
        SecurityProtocols.Ssl => "SSL",
        SecurityProtocols.Hybrid => "HYBRID",
        SecurityProtocols.RdsTls => "RDSTLS",
        SecurityProtocols.HybridEx => "HYBRID_EX",
        SecurityProtocols.RdsAad => "RDSAAD",
        _ => protocol.ToString(),
    };
}
