namespace RdpNla.Server.ActiveDirectory;

/// <summary>
/// Domain users of the front door (docs/active-directory.md): names qualified with the domain's NetBIOS or DNS name
/// (as winbind reports them) are verified by a domain controller through winbind, never against the local store; the
/// allowed groups are resolved to SIDs once, at start.
/// </summary>
internal sealed class DomainLogons : IDisposable
{
    private readonly WinbindDirectory _directory;
    private readonly WinbindClient _winbind;
    private readonly IReadOnlyList<(string Name, string Sid)> _allowed;

    private DomainLogons(WinbindDirectory directory, IReadOnlyList<(string Name, string Sid)> allowed)
    {
        _directory = directory;
        _winbind = directory.Client;
        _allowed = allowed;
    }

    public string NetBiosDomain => _directory.NetBiosDomain;

    public string DnsDomain => _directory.DnsDomain;

    /// <summary>The allowed groups as configured, for logs and audit rows.</summary>
    public string AllowedGroupNames => string.Join(", ", _allowed.Select(a => a.Name));

    /// <summary>Connects to winbind, reads the domain's names and resolves the allowed groups.</summary>
    /// <exception cref="InvalidOperationException">winbind does not answer, or a group does not exist; the message says what to fix.</exception>
    public static async Task<DomainLogons> StartAsync(DirectoryOptions options)
    {
        WinbindDirectory directory;
        try
        {
            directory = await WinbindDirectory.OpenAsync(options.WinbindRunDirectory, "Directory:WinbindRunDirectory").ConfigureAwait(false);
        }
        catch (InvalidOperationException ex) when (!ex.Message.StartsWith("Directory:", StringComparison.Ordinal))
        {
            throw new InvalidOperationException($"{ex.Message} (Directory:NtlmPassthrough = winbind)", ex);
        }

        try
        {
            var allowed = new List<(string, string)>();
            foreach (string group in options.AllowedGroups)
            {
                try
                {
                    allowed.Add((group, await directory.GroupSidAsync(group).ConfigureAwait(false)));
                }
                catch (InvalidOperationException ex)
                {
                    throw new InvalidOperationException($"Directory:AllowedGroups {ex.Message}", ex);
                }
            }

            return new DomainLogons(directory, allowed);
        }
        catch
        {
            directory.Dispose();
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

    /// <summary>
    /// Whether <paramref name="name"/> as typed on the portal (<c>LAB\alice</c>, <c>lab.test\alice</c>,
    /// <c>alice@lab.test</c>, <c>alice@LAB</c>) names a user of this domain; <paramref name="userName"/> is then the
    /// user part.
    /// </summary>
    public bool TryDomainUser(string name, out string userName)
    {
        ArgumentNullException.ThrowIfNull(name);
        bool domainUser = DomainAccountName.TrySplit(name, out string domain, out userName) && IsDomainName(domain);
        if (!domainUser)
        {
            userName = string.Empty;
        }

        return domainUser;
    }

    /// <summary>Changes the password of a user of this domain at the DC, proving the old one (docs/active-directory.md).</summary>
    public Task<WinbindPasswordChange> ChangePasswordAsync(string userName, string oldPassword, string newPassword) =>
        _winbind.ChangePasswordAsync(NetBiosDomain, userName, oldPassword, newPassword);

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

    /// <summary>
    /// Proves a domain user's password at a DC the way a front door logon does: an NTLMv2 exchange between a client and
    /// a server context in this process (MS-NLMP §3.1.5, §3.2.5), whose AUTHENTICATE the DC verifies through winbind
    /// (<see cref="AuthenticateAsync"/>). A wrong password counts in the DC's badPwdCount, as a failed logon does.
    /// </summary>
    public async Task<WinbindLogon> VerifyPasswordAsync(string userName, string password, TimeProvider timeProvider)
    {
        using var server = new NtlmServerContext(new NtlmServerOptions
        {
            NbComputerName = NetBiosDomain,
            NbDomainName = NetBiosDomain,
            DnsDomainName = DnsDomain,
            TimeProvider = timeProvider,
            RandomSource = Transport.SystemRandomSource.Instance,
        });
        using var client = new NtlmClientContext(new NtlmClientOptions
        {
            UserName = userName,
            DomainName = NetBiosDomain,
            Password = password,
            TimeProvider = timeProvider,
            RandomSource = Transport.SystemRandomSource.Instance,
        });
        byte[]? negotiate = client.GetOutgoingBlob([], out _);
        byte[]? challenge = server.GetOutgoingBlob(negotiate, out _);
        byte[]? authenticate = client.GetOutgoingBlob(challenge, out _);
        server.GetOutgoingBlob(authenticate, out NlaStatus status);
        if (status != NlaStatus.CredentialLookupNeeded)
        {
            throw new InvalidOperationException($"the NTLM exchange for the DC failed: {server.FailureMessage ?? client.FailureMessage ?? status.ToString()}");
        }

        return await AuthenticateAsync(server).ConfigureAwait(false);
    }

    /// <summary>The SID of a group of the domain, e.g. <c>LAB\rdp-admins</c>.</summary>
    /// <exception cref="InvalidOperationException">The group does not exist or winbind does not answer.</exception>
    public Task<string> GroupSidAsync(string group) => _directory.GroupSidAsync(group);

    /// <summary>The SIDs of a Kerberos user of this domain and its groups.</summary>
    public Task<(WbcErr Error, IReadOnlyList<string> Sids)> GroupsOfAsync(string userName) => _winbind.UserGroupsAsync(NetBiosDomain, userName);

    /// <summary>The verified domain user <paramref name="accountName"/> (its sAMAccountName) with its SIDs, keyed as the gateway keys domain accounts.</summary>
    public DomainIdentity Identity(string accountName, IReadOnlyList<string> sids) =>
        new(DomainAccountName.Key(NetBiosDomain, accountName), sids);

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

    public void Dispose() => _directory.Dispose();
}
