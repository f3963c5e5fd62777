namespace RdpNla.Protocol.Spnego;

/// <summary>Mechanism OIDs seen in SPNEGO MechTypeLists (RFC 4178, MS-SPNG, MS-NLMP, RFC 4121, MS-NEGOEX).</summary>
public static class SpnegoOids
{
    /// <summary>SPNEGO itself (iso.org.dod.internet.security.mechanism.snego): the thisMech of the initial token.</summary>
    public const string Spnego = "1.3.6.1.5.5.2";

    /// <summary>NTLM (NTLMSSP): <c>2B 06 01 04 01 82 37 02 02 0A</c>.</summary>
    public const string Ntlm = "1.3.6.1.4.1.311.2.2.10";

    /// <summary>Kerberos V5 (RFC 4121): <c>2A 86 48 86 F7 12 01 02 02</c>.</summary>
    public const string Kerberos = "1.2.840.113554.1.2.2";

    /// <summary>The legacy Microsoft Kerberos OID (a historical mis-encoding Windows lists first): <c>2A 86 48 82 F7 12 01 02 02</c>.</summary>
    public const string MsKerberos = "1.2.840.48018.1.2.2";

    /// <summary>Kerberos user-to-user.</summary>
    public const string KerberosUser2User = "1.2.840.113554.1.2.2.3";

    /// <summary>NEGOEX (MS-NEGOEX), listed by Entra-joined Windows 11 clients before NTLM.</summary>
    public const string NegoEx = "1.3.6.1.4.1.311.2.2.30";
}
