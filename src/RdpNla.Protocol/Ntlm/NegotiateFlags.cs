namespace RdpNla.Protocol.Ntlm;

/// <summary>NTLM NegotiateFlags (MS-NLMP §2.2.2.5). Bits not listed are reserved and MUST be zero.</summary>
[Flags]
public enum NegotiateFlags : uint
{
    /// <summary>No flag.</summary>
    None = 0,

    /// <summary>NTLMSSP_NEGOTIATE_UNICODE (A): strings are UTF-16LE.</summary>
    Unicode = 0x00000001,

    /// <summary>NTLM_NEGOTIATE_OEM (B): strings are in the OEM code page.</summary>
    Oem = 0x00000002,

    /// <summary>NTLMSSP_REQUEST_TARGET (C): the CHALLENGE must carry a TargetName.</summary>
    RequestTarget = 0x00000004,

    /// <summary>NTLMSSP_NEGOTIATE_SIGN (D): session signing (integrity).</summary>
    Sign = 0x00000010,

    /// <summary>NTLMSSP_NEGOTIATE_SEAL (E): session sealing (confidentiality).</summary>
    Seal = 0x00000020,

    /// <summary>NTLMSSP_NEGOTIATE_DATAGRAM (F): connectionless NTLM.</summary>
    Datagram = 0x00000040,

    /// <summary>NTLMSSP_NEGOTIATE_LM_KEY (G): LAN Manager session key computation (refused here).</summary>
    LmKey = 0x00000080,

    /// <summary>NTLMSSP_NEGOTIATE_NTLM (H): NTLM v1 session security protocol; set by every NTLM peer.</summary>
    Ntlm = 0x00000200,

    /// <summary>NTLMSSP_ANONYMOUS (J): anonymous connection (refused here).</summary>
    Anonymous = 0x00000800,

    /// <summary>NTLMSSP_NEGOTIATE_OEM_DOMAIN_SUPPLIED (K): the NEGOTIATE carries a domain name.</summary>
    OemDomainSupplied = 0x00001000,

    /// <summary>NTLMSSP_NEGOTIATE_OEM_WORKSTATION_SUPPLIED (L): the NEGOTIATE carries a workstation name.</summary>
    OemWorkstationSupplied = 0x00002000,

    /// <summary>NTLMSSP_NEGOTIATE_ALWAYS_SIGN (M): sign with a dummy signature when signing is not negotiated.</summary>
    AlwaysSign = 0x00008000,

    /// <summary>NTLMSSP_TARGET_TYPE_DOMAIN (N): TargetName is a domain name.</summary>
    TargetTypeDomain = 0x00010000,

    /// <summary>NTLMSSP_TARGET_TYPE_SERVER (O): TargetName is a server name.</summary>
    TargetTypeServer = 0x00020000,

    /// <summary>NTLMSSP_NEGOTIATE_EXTENDED_SESSIONSECURITY (P): NTLM v2 session security (ESS).</summary>
    ExtendedSessionSecurity = 0x00080000,

    /// <summary>NTLMSSP_NEGOTIATE_IDENTIFY (Q): an identify-level token is requested.</summary>
    Identify = 0x00100000,

    /// <summary>NTLMSSP_REQUEST_NON_NT_SESSION_KEY (R): LMOWF session key requested.</summary>
    RequestNonNtSessionKey = 0x00400000,

    /// <summary>NTLMSSP_NEGOTIATE_TARGET_INFO (S): the CHALLENGE carries TargetInfo (AV pairs).</summary>
    TargetInfo = 0x00800000,

    /// <summary>NTLMSSP_NEGOTIATE_VERSION (T): the messages carry a VERSION structure.</summary>
    Version = 0x02000000,

    /// <summary>NTLMSSP_NEGOTIATE_128 (U): 128-bit session keys.</summary>
    Negotiate128 = 0x20000000,

    /// <summary>NTLMSSP_NEGOTIATE_KEY_EXCH (V): the client sends an encrypted random session key.</summary>
    KeyExchange = 0x40000000,

    /// <summary>NTLMSSP_NEGOTIATE_56 (W): 56-bit session keys.</summary>
    Negotiate56 = 0x80000000,
}
