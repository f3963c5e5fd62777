namespace RdpNla.Server.ActiveDirectory;

/// <summary>
/// A domain user as the gateway knows it (docs/active-directory.md): its account key, NETBIOS\USER in upper case, which
/// <c>LAB\alice</c>, <c>lab.test\alice</c>, <c>alice@lab.test</c> and <c>alice@LAB</c> all normalise to, and the SIDs
/// of the user and its groups from the DC's answer or winbind.
/// </summary>
public sealed record DomainIdentity(string AccountKey, IReadOnlyList<string> Sids);

/// <summary>Qualified domain account names (DOMAIN\user, user@domain) and their one key.</summary>
public static class DomainAccountName
{
    /// <summary>The key of <paramref name="userName"/> in the domain whose NetBIOS name is <paramref name="netBiosDomain"/>.</summary>
    public static string Key(string netBiosDomain, string userName)
    {
        ArgumentNullException.ThrowIfNull(netBiosDomain);
        ArgumentNullException.ThrowIfNull(userName);
        return $"{netBiosDomain}\\{userName}".ToUpperInvariant();
    }

    /// <summary>Splits <c>DOMAIN\user</c> or <c>user@domain</c>; false for a name without a domain (a local user).</summary>
    public static bool TrySplit(string name, out string domain, out string user)
    {
        ArgumentNullException.ThrowIfNull(name);
        int slash = name.IndexOf('\\', StringComparison.Ordinal);
        int at = name.LastIndexOf('@');
        (domain, user) = slash > 0 ? (name[..slash], name[(slash + 1)..]) : at > 0 ? (name[(at + 1)..], name[..at]) : (string.Empty, string.Empty);
        return domain.Length > 0 && user.Length > 0 && !user.Contains('\\', StringComparison.Ordinal) && !user.Contains('@', StringComparison.Ordinal);
    }

    /// <summary>
    /// The key of a qualified name of the domain named <paramref name="netBiosDomain"/> / <paramref name="dnsDomain"/>;
    /// null with <paramref name="error"/> (one line saying what to write) for a plain name or another domain.
    /// </summary>
    public static string? Normalize(string name, string netBiosDomain, string dnsDomain, out string? error)
    {
        if (!TrySplit(name, out string domain, out string user))
        {
            error = $"'{name}' is not a domain account: write it as {netBiosDomain}\\user or user@{dnsDomain}";
            return null;
        }

        if (!string.Equals(domain, netBiosDomain, StringComparison.OrdinalIgnoreCase) && !string.Equals(domain.TrimEnd('.'), dnsDomain, StringComparison.OrdinalIgnoreCase))
        {
            error = $"'{name}' is not in the host's domain {netBiosDomain} ({dnsDomain}); write it as {netBiosDomain}\\user or user@{dnsDomain}";
            return null;
        }

        error = null;
        return Key(netBiosDomain, user);
    }
}
