using RdpNla.Protocol;
using RdpNla.Protocol.Ntlm;

namespace RdpNla.Server.ActiveDirectory;

/// <summary>
/// Domain users of the front door (docs/active-directory.md): names qualified with the domain's NetBIOS or DNS name
/// (as winbind reports them) are verified by a domain controller through winbind, never against the local store; the
/// allowed groups are resolved to SIDs once, at start.
/// </summary>
internal sealed class DomainLogons : IDisposable
{
    private readonly WinbindClient _winbind;
    private readonly IReadOnlyList<(string Name, string Sid)> _allowed;

    private DomainLogons(WinbindClient winbind, string netBiosDomain, string dnsDomain, IReadOnlyList<(string Name, string Sid)> allowed)
    {
        _winbind = winbind;
        NetBiosDomain = netBiosDomain;
        DnsDomain = dnsDomain;
        _allowed = allowed;
    }

    public string NetBiosDomain { get; }

    public string DnsDomain { get; }

    /// <summary>The allowed groups as configured, for logs and audit rows.</summary>
    public string AllowedGroupNames => string.Join(", ", _allowed.Select(a => a.Name));

    /// <summary>Connects to winbind, reads the domain's names and resolves the allowed groups.</summary>
    /// <exception cref="InvalidOperationException">winbind does not answer, or a group does not exist; the message says what to fix.</exception>
    public static async Task<DomainLogons> StartAsync(DirectoryOptions options)
    {
        var winbind = new WinbindClient(options.WinbindRunDirectory);
        try
        {
            if (await winbind.Ready.ConfigureAwait(false) is { } namespaceError)
            {
                throw new InvalidOperationException($"Directory:WinbindRunDirectory: {namespaceError}");
            }

            (WbcErr error, string? netBios, string? dns) = await winbind.DomainNamesAsync().ConfigureAwait(false);
            if (error != WbcErr.Success || string.IsNullOrEmpty(netBios))
            {
                throw new InvalidOperationException($"winbind does not answer ({error}): is the host joined to the domain (net ads join) and winbindd running? (Directory:NtlmPassthrough = winbind; docs/active-directory.md)");
            }

            var allowed = new List<(string, string)>();
            foreach (string group in options.AllowedGroups)
            {
                if (DirectoryOptions.IsSid(group))
                {
                    allowed.Add((group, group.ToUpperInvariant()));
                    continue;
                }

                string[] parts = group.Split('\\', 2);
                (WbcErr lookup, string? sid) = await winbind.LookupNameAsync(parts[0], parts[1]).ConfigureAwait(false);
                if (lookup != WbcErr.Success || sid is null)
                {
                    throw new InvalidOperationException($"Directory:AllowedGroups '{group}' cannot be resolved through winbind ({lookup}); check the name with: wbinfo -n '{group}'.");
                }

                allowed.Add((group, sid));
            }

            return new DomainLogons(winbind, netBios, string.IsNullOrEmpty(dns) ? netBios : dns, allowed);
        }
        catch
        {
            winbind.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Whether the name the client sent designates a user of this domain: DOMAIN\user or DNS-DOMAIN\user, or a UPN
    /// user@dns.domain (or user@DOMAIN) with an empty domain.
    /// </summary>
    public bool IsDomainUser(string userName, string domainName)
    {
        if (string.IsNullOrEmpty(domainName))
        {
            int at = userName.LastIndexOf('@');
            return at > 0 && IsDomainName(userName[(at + 1)..]);
        }

        return IsDomainName(domainName);
    }

    private bool IsDomainName(string name) =>
        string.Equals(name, NetBiosDomain, StringComparison.OrdinalIgnoreCase) ||
        string.Equals(name.TrimEnd('.'), DnsDomain, StringComparison.OrdinalIgnoreCase);

    /// <summary>Has the DC verify the NTLMv2 response of <paramref name="ntlm"/> (after its AUTHENTICATE).</summary>
    public async Task<WinbindLogon> AuthenticateAsync(NtlmServerContext ntlm)
    {
        NtlmAuthenticateMessage message = ntlm.AuthenticateMessage!;
        return await _winbind.AuthenticateAsync(
            message.UserName,
            message.DomainName,
            message.Workstation,
            ntlm.ServerChallenge,
            message.NtChallengeResponse,
            message.LmChallengeResponse).ConfigureAwait(false);
    }

    /// <summary>The SIDs of a Kerberos user of this domain and its groups.</summary>
    public Task<(WbcErr Error, IReadOnlyList<string> Sids)> GroupsOfAsync(string userName) => _winbind.UserGroupsAsync(NetBiosDomain, userName);

    /// <summary>Whether a logon with these SIDs belongs to an allowed group.</summary>
    public bool IsAllowed(IReadOnlyList<string> sids) => _allowed.Any(a => sids.Contains(a.Sid, StringComparer.OrdinalIgnoreCase));

    /// <summary>
    /// The NTSTATUS a domain-joined Windows server gives the client for the DC's answer: a wrong password and an unknown
    /// user both become STATUS_LOGON_FAILURE (the DC's STATUS_WRONG_PASSWORD / STATUS_NO_SUCH_USER are not revealed);
    /// account states (disabled, locked out, expired, must change, logon hours, workstation) pass through.
    /// </summary>
    public static NtStatus ClientStatus(NtStatus dcStatus) => dcStatus switch
    {
        NtStatus.WrongPassword or NtStatus.NoSuchUser => NtStatus.LogonFailure,
        _ => dcStatus,
    };

    public void Dispose() => _winbind.Dispose();
}
