namespace RdpNla.Protocol.CredSsp;

/// <summary>
/// The Windows "Encryption Oracle Remediation" policy (CVE-2018-0886), registry value
/// <c>HKLM\Software\Microsoft\Windows\CurrentVersion\Policies\System\CredSSP\Parameters\AllowEncryptionOracle</c>.
/// KB4093492 (docs/interop.md#encryption-oracle): as a client, 0 and 1 refuse a server whose TSRequest.version is below 5; as a server,
/// 0 refuses a client below 5 and 1 and 2 accept it (with the version 2–4 public-key echo).
/// </summary>
public enum EncryptionOraclePolicy
{
    /// <summary>0 — Force Updated Clients: neither falls back nor accepts unpatched peers.</summary>
    ForceUpdatedClients = 0,

    /// <summary>1 — Mitigated (the Windows default since May 2018): clients do not fall back; servers accept unpatched clients.</summary>
    Mitigated = 1,

    /// <summary>2 — Vulnerable: clients fall back to versions 2–4; servers accept unpatched clients.</summary>
    Vulnerable = 2,
}
