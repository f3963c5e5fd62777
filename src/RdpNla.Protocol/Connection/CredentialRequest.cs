namespace RdpNla.Protocol.Connection;

/// <summary>
/// What the authentication package asks the host at <see cref="SecurityPhaseAction.CredentialLookupNeeded"/>: the
/// account the client claims, and what has been proven so far. The host answers with an <see cref="NtlmCredentialLookup"/>
/// (through <see cref="RdpServerAcceptor.ProvideCredential"/>) for every package: a stored hash for the package to verify
/// against, a domain controller's verdict, or, when <see cref="IdentityProven"/> is true, only the account's state.
/// </summary>
public sealed class CredentialRequest
{
    internal CredentialRequest(string userName, string domainName, string packageName)
    {
        UserName = userName;
        DomainName = domainName;
        PackageName = packageName;
    }

    /// <summary>The user name the client claims (for a proven principal, the principal without its realm).</summary>
    public string UserName { get; }

    /// <summary>The domain the client claims (may be empty or "."), or the proven principal's realm.</summary>
    public string DomainName { get; }

    /// <summary>The client's workstation name, when the package carries one (NTLM).</summary>
    public string? Workstation { get; internal init; }

    /// <summary>The proven client principal (<c>alice@LAB.TEST</c>) when the package already proved it; otherwise null.</summary>
    public string? Principal { get; internal init; }

    /// <summary>The security package asking ("NTLM", "Kerberos").</summary>
    public string PackageName { get; }

    /// <summary>
    /// True when the package already proved the identity (a Kerberos ticket): the answer only says whether the account
    /// may log on (<see cref="NtlmCredentialLookup.Found"/> with a denial status, <see cref="NtlmCredentialLookup.NotFound"/>,
    /// <see cref="NtlmCredentialLookup.Denied"/>, or <see cref="NtlmCredentialLookup.RefusedByDomain"/>).
    /// </summary>
    public bool IdentityProven => Principal is not null;

    /// <summary>
    /// The challenge–response still to verify, for a verifier that asks a domain controller (MS-APDS §3.1.5): its
    /// ServerChallenge and decoded AUTHENTICATE. Answer with <see cref="NtlmCredentialLookup.VerifiedByDomain"/> or
    /// <see cref="NtlmCredentialLookup.RefusedByDomain"/>. Null when nothing is left to verify.
    /// </summary>
    public NtlmServerContext? NtlmExchange { get; internal init; }
}
