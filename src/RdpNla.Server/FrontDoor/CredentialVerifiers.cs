namespace RdpNla.Server.FrontDoor;

/// <summary>
/// A verdict on the account of a <see cref="CredentialRequest"/>: the answer for the authentication package, and what the
/// host keeps for authorization.
/// </summary>
/// <param name="Lookup">The answer the package continues with.</param>
/// <param name="DomainUser">A domain user's account key and the group SIDs the domain controller reported; null for a local user.</param>
/// <param name="Problem">Why a proven principal has no account here (for the log), if so.</param>
internal sealed record CredentialVerdict(NtlmCredentialLookup Lookup, DomainIdentity? DomainUser = null, string? Problem = null);

/// <summary>
/// The authentication seam on the host's side (docs/architecture.md#authentication-seam): one source of accounts the
/// security packages ask through the acceptor's <see cref="CredentialRequest"/>, whatever package asks. The front door
/// asks its verifiers in order; the first that owns the account answers.
/// </summary>
internal interface ICredentialVerifier
{
    /// <summary>The verdict on <paramref name="request"/>'s account, or null when the account is not this verifier's.</summary>
    ValueTask<CredentialVerdict?> VerifyAsync(CredentialRequest request, CancellationToken cancellationToken);
}

/// <summary>
/// Users of the domain (docs/active-directory.md): a challenge–response is verified by the domain controller through
/// winbind, which returns the SessionBaseKey and the user's group SIDs; an identity already proven by the domain's KDC
/// only has its groups read. No domain user is looked up in, or written to, the local store.
/// </summary>
internal sealed class DomainControllerVerifier(DomainLogons domain, ILogger logger) : ICredentialVerifier
{
    public async ValueTask<CredentialVerdict?> VerifyAsync(CredentialRequest request, CancellationToken cancellationToken)
    {
        if (request.Principal is { } principal)
        {
            if (!principal.EndsWith("@" + domain.DnsDomain, StringComparison.OrdinalIgnoreCase))
            {
                return null;
            }

            (WbcErr error, IReadOnlyList<string> sids) = await domain.GroupsOfAsync(request.UserName).ConfigureAwait(false);
            if (error != WbcErr.Success)
            {
                FrontDoorLog.DomainUnreachable(logger, principal, error.ToString());
                return new CredentialVerdict(NtlmCredentialLookup.RefusedByDomain(NtStatus.NoLogonServers));
            }

            // The ticket, issued by the domain's KDC, already proved the identity; no key is needed from the DC.
            return new CredentialVerdict(NtlmCredentialLookup.VerifiedByDomain(new byte[16]), domain.Identity(request.UserName, sids));
        }

        if (request.NtlmExchange is not { } ntlm || !domain.IsDomainUser(request.UserName, request.DomainName))
        {
            return null;
        }

        using WinbindLogon logon = await domain.AuthenticateAsync(ntlm).ConfigureAwait(false);
        if (logon.Status == NtStatus.Success && logon.SessionBaseKey is { } key)
        {
            return new CredentialVerdict(NtlmCredentialLookup.VerifiedByDomain(key), domain.Identity(logon.AccountName ?? request.UserName, logon.Sids));
        }

        if (logon.Status == NtStatus.NoLogonServers)
        {
            string account = string.IsNullOrEmpty(request.DomainName) ? request.UserName : $"{request.DomainName}\\{request.UserName}";
            FrontDoorLog.DomainUnreachable(logger, account, logon.Error.ToString());
        }

        return new CredentialVerdict(NtlmCredentialLookup.RefusedByDomain(DomainLogons.ClientStatus(logon.Status)));
    }
}

/// <summary>
/// The local accounts (the store, with its lockout policy): the stored NT hash for a challenge–response, or the account's
/// state for a principal already proven, which maps to the local user of that name (docs/kerberos.md). Owns every name.
/// </summary>
internal sealed class LocalAccountVerifier(AccountAuthenticator accounts, KerberosAcceptance? kerberos) : ICredentialVerifier
{
    public async ValueTask<CredentialVerdict?> VerifyAsync(CredentialRequest request, CancellationToken cancellationToken)
    {
        using Activity? span = FrontDoorTracing.Source.StartActivity(FrontDoorTracing.AccountCheck);
        if (kerberos is not null && request.Principal is { } principal)
        {
            return kerberos.TryMapToLocalUser(principal, out string localUser, out string? problem)
                ? new CredentialVerdict(await accounts.LookupAsync(localUser, string.Empty, cancellationToken).ConfigureAwait(false))
                : new CredentialVerdict(NtlmCredentialLookup.NotFound(), Problem: problem);
        }

        return new CredentialVerdict(await accounts.LookupAsync(request.UserName, request.DomainName, cancellationToken).ConfigureAwait(false));
    }
}

/// <summary>
/// With <see cref="NtlmIncomingPolicy.Deny"/>: every NTLM logon is refused with STATUS_NTLM_BLOCKED once the
/// AUTHENTICATE message names the user, before any account is looked up (no password is checked, no failed logon is
/// counted), as a Windows server whose policy "Restrict NTLM: Incoming NTLM traffic" denies all accounts answers
/// (MS-ERREF §2.3.1: 0xC0000418). Kerberos principals pass on to the other verifiers.
/// </summary>
internal sealed class NtlmPolicyVerifier : ICredentialVerifier
{
    public ValueTask<CredentialVerdict?> VerifyAsync(CredentialRequest request, CancellationToken cancellationToken) =>
        ValueTask.FromResult(request.Principal is null
            ? new CredentialVerdict(NtlmCredentialLookup.Denied(NtStatus.NtlmBlocked), Problem: "this server refuses NTLM (Ntlm:Incoming is Deny); only Kerberos logs on")
            : null);
}
