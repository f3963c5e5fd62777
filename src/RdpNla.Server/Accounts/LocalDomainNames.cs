namespace RdpNla.Server.Accounts;

/// <summary>
/// The names under which this server's own user store is addressed: an empty domain, ".", the NetBIOS computer name,
/// the host name, the DNS name and a configured default domain, all compared case-insensitively
/// (docs/interop.md#account-names).
/// </summary>
public sealed class LocalDomainNames
{
    /// <summary>Longest NetBIOS computer name.</summary>
    public const int MaxNetBiosNameLength = 15;

    private readonly HashSet<string> _names;

    /// <summary>Creates the set from explicit names.</summary>
    /// <param name="computerName">The computer (host) name; its NetBIOS form (first label, upper case, 15 characters) is added too.</param>
    /// <param name="dnsName">The fully qualified DNS name, if known.</param>
    /// <param name="defaultDomain">A configured domain name that clients may use for this server (e.g. "LAB").</param>
    public LocalDomainNames(string computerName, string? dnsName = null, string? defaultDomain = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(computerName);
        _names = new HashSet<string>(StringComparer.OrdinalIgnoreCase);
        string firstLabel = computerName.Split('.', 2)[0];
        NetBiosName = (firstLabel.Length > MaxNetBiosNameLength ? firstLabel[..MaxNetBiosNameLength] : firstLabel).ToUpperInvariant();
        _names.Add(NetBiosName);
        _names.Add(computerName);
        _names.Add(firstLabel);
        if (!string.IsNullOrWhiteSpace(dnsName))
        {
            DnsName = dnsName.TrimEnd('.');
            _names.Add(DnsName);
        }

        if (!string.IsNullOrWhiteSpace(defaultDomain))
        {
            DefaultDomain = defaultDomain;
            _names.Add(defaultDomain);
        }
    }

    /// <summary>The NetBIOS form of the computer name (upper case, at most 15 characters).</summary>
    public string NetBiosName { get; }

    /// <summary>The fully qualified DNS name, when known.</summary>
    public string? DnsName { get; }

    /// <summary>The configured default domain, when set.</summary>
    public string? DefaultDomain { get; }

    /// <summary>Every non-empty name that designates this server (besides "").</summary>
    public IReadOnlyCollection<string> Names => _names;

    /// <summary>The names of the machine this process runs on, plus an optional configured default domain.</summary>
    public static LocalDomainNames FromEnvironment(string? defaultDomain = null)
    {
        string hostName = Environment.MachineName;
        string? dnsName = null;
        try
        {
            IPGlobalProperties properties = IPGlobalProperties.GetIPGlobalProperties();
            if (!string.IsNullOrEmpty(properties.HostName))
            {
                hostName = properties.HostName;
                dnsName = string.IsNullOrEmpty(properties.DomainName) || properties.DomainName == "(none)"
                    ? null
                    : $"{properties.HostName}.{properties.DomainName}";
            }
        }
        catch (NetworkInformationException)
        {
            // Fall back to Environment.MachineName only.
        }

        return new LocalDomainNames(hostName, dnsName, defaultDomain);
    }

    /// <summary>Whether <paramref name="domain"/> (as sent by a client or typed by an administrator) means this server.</summary>
    public bool IsLocal(string? domain) =>
        string.IsNullOrEmpty(domain) || domain == "." || _names.Contains(domain) || _names.Contains(domain.TrimEnd('.'));
}
