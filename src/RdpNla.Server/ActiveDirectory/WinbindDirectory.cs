namespace RdpNla.Server.ActiveDirectory;

/// <summary>
/// The domain the host's winbind serves (docs/active-directory.md): its NetBIOS and DNS names, and the names of its
/// accounts and groups resolved through winbind. Used by <c>serve</c> at start and by the commands that configure
/// domain accounts and groups.
/// </summary>
public sealed class WinbindDirectory : IDisposable
{
    private WinbindDirectory(WinbindClient client, string netBiosDomain, string dnsDomain)
    {
        Client = client;
        NetBiosDomain = netBiosDomain;
        DnsDomain = dnsDomain;
    }

    public string NetBiosDomain { get; }

    public string DnsDomain { get; }

    internal WinbindClient Client { get; }

    /// <summary>Connects to winbind (through <paramref name="runDirectory"/> bound on /run/samba when given) and reads the domain's names.</summary>
    /// <param name="runDirectory">The folder to bind on /run/samba for the winbind thread, or null for the host's winbind.</param>
    /// <param name="runDirectorySetting">How the run folder is set, for the message when binding it fails.</param>
    /// <exception cref="InvalidOperationException">winbind does not answer; the message says what to check.</exception>
    public static async Task<WinbindDirectory> OpenAsync(string? runDirectory, string runDirectorySetting)
    {
        var winbind = new WinbindClient(runDirectory);
        try
        {
            if (await winbind.Ready.ConfigureAwait(false) is { } namespaceError)
            {
                throw new InvalidOperationException($"{runDirectorySetting}: {namespaceError}");
            }

            (WbcErr error, string? netBios, string? dns) = await winbind.DomainNamesAsync().ConfigureAwait(false);
            if (error != WbcErr.Success || string.IsNullOrEmpty(netBios))
            {
                throw new InvalidOperationException($"winbind does not answer ({error}): is the host joined to the domain (net ads join) and winbindd running? (docs/active-directory.md)");
            }

            return new WinbindDirectory(winbind, netBios, string.IsNullOrEmpty(dns) ? netBios : dns);
        }
        catch
        {
            winbind.Dispose();
            throw;
        }
    }

    /// <summary>The SID of a group given as <c>DOMAIN\group</c> (resolved through winbind) or as a SID (taken as it is, upper case).</summary>
    /// <exception cref="InvalidOperationException">The name does not resolve; the message says how to check it.</exception>
    public async Task<string> GroupSidAsync(string group)
    {
        ArgumentNullException.ThrowIfNull(group);
        if (DirectoryOptions.IsSid(group))
        {
            return group.ToUpperInvariant();
        }

        string[] parts = group.Split('\\', 2);
        (WbcErr lookup, string? sid) = parts.Length == 2 ? await Client.LookupNameAsync(parts[0], parts[1]).ConfigureAwait(false) : (WbcErr.InvalidParam, null);
        return lookup == WbcErr.Success && sid is not null
            ? sid
            : throw new InvalidOperationException($"'{group}' cannot be resolved through winbind ({lookup}); check the name with: wbinfo -n '{group}'.");
    }

    /// <summary>
    /// The key of a domain account given as <c>DOMAIN\user</c> or <c>user@domain</c> (NetBIOS or DNS name of this
    /// domain), after checking through winbind that the account exists.
    /// </summary>
    /// <exception cref="InvalidOperationException">Not a name of this domain, or no such account; the message says what to write or check.</exception>
    public async Task<string> AccountKeyAsync(string name)
    {
        string key = DomainAccountName.Normalize(name, NetBiosDomain, DnsDomain, out string? error) ?? throw new InvalidOperationException(error);
        DomainAccountName.TrySplit(name, out _, out string user);
        (WbcErr lookup, _) = await Client.LookupNameAsync(NetBiosDomain, user).ConfigureAwait(false);
        return lookup == WbcErr.Success
            ? key
            : throw new InvalidOperationException($"'{name}' cannot be resolved through winbind ({lookup}); check the name with: wbinfo -n '{NetBiosDomain}\\{user}'.");
    }

    public void Dispose() => Client.Dispose();
}
