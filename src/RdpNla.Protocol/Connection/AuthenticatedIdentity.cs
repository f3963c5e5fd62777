namespace RdpNla.Protocol.Connection;

/// <summary>How the authentication package proved who the client is.</summary>
public enum IdentityVerification
{
    /// <summary>Not proven (yet).</summary>
    None,

    /// <summary>An NTLMv2 response checked here against the account's stored NT hash (MS-NLMP §3.3.2).</summary>
    StoredHash,

    /// <summary>An NTLMv2 response checked by a domain controller, which returned the session key (MS-APDS §3.1.5).</summary>
    DomainController,

    /// <summary>A Kerberos service ticket accepted with the service's key (RFC 4120 §3.2.3).</summary>
    KerberosTicket,
}

/// <summary>
/// The identity the security phase proved, whatever package proved it: what the host applies account policy, audit,
/// groups and backends to. The sequence (<see cref="RdpServerAcceptor"/> and its driver) never branches on the package.
/// </summary>
/// <param name="UserName">The user name: as the client sent it (NTLM), or the ticket's client principal without its realm (Kerberos).</param>
/// <param name="DomainName">The domain as the client sent it (may be empty or "."), or the principal's realm.</param>
/// <param name="Principal">The full Kerberos client principal (<c>alice@LAB.TEST</c>), or null for NTLM.</param>
/// <param name="PackageName">The security package that authenticated the client ("NTLM", "Kerberos").</param>
/// <param name="IsSpnego">True when the package ran inside SPNEGO (RFC 4178).</param>
/// <param name="VerifiedBy">How the identity was proven.</param>
public sealed record AuthenticatedIdentity(
    string UserName,
    string DomainName,
    string? Principal,
    string PackageName,
    bool IsSpnego,
    IdentityVerification VerifiedBy)
{
    /// <summary>The account as logs and audit name it: the principal, <c>DOMAIN\user</c>, or the user alone.</summary>
    public string Account => Principal ?? (string.IsNullOrEmpty(DomainName) ? UserName : $"{DomainName}\\{UserName}");
}
