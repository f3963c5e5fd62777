namespace RdpNla.Cli.Commands;

/// <summary>Shared parsing and output of the client commands (<c>login</c>, <c>probe</c>).</summary>
internal static class ClientCommandSupport
{
    /// <summary>Parses HOST, HOST:PORT, [IPV6]:PORT or a bare IPv6 address.</summary>
    public static bool TryParseTarget(string text, int defaultPort, out string host, out int port, out string? problem)
    {
        host = text.Trim();
        port = defaultPort;
        problem = null;
        if (host.Length == 0)
        {
            problem = "empty target";
            return false;
        }

        string? portText = null;
        if (host.StartsWith('['))
        {
            int close = host.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                problem = $"'{text}': missing ']' after the IPv6 address";
                return false;
            }

            string rest = host[(close + 1)..];
            host = host[1..close];
            if (rest.Length > 0)
            {
                if (!rest.StartsWith(':'))
                {
                    problem = $"'{text}': expected ':PORT' after ']'";
                    return false;
                }

                portText = rest[1..];
            }
        }
        else if (host.Count(c => c == ':') == 1)
        {
            int colon = host.IndexOf(':', StringComparison.Ordinal);
            portText = host[(colon + 1)..];
            host = host[..colon];
        }

        if (portText is not null && (!int.TryParse(portText, NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            problem = $"'{text}': the port must be a number from 1 to 65535";
            return false;
        }

        if (host.Length == 0)
        {
            problem = $"'{text}': no host name";
            return false;
        }

        return true;
    }

    public static string FormatTarget(string host, int port) => host.Contains(':', StringComparison.Ordinal) ? $"[{host}]:{port}" : $"{host}:{port}";

    public static JsonObject? CertificateJson(TlsCertificateInfo? certificate) => certificate is null ? null : new JsonObject
    {
        ["subject"] = certificate.Subject,
        ["issuer"] = certificate.Issuer,
        ["not_before"] = certificate.NotBefore.ToString("O", CultureInfo.InvariantCulture),
        ["not_after"] = certificate.NotAfter.ToString("O", CultureInfo.InvariantCulture),
        ["self_signed"] = certificate.SelfSigned,
        ["key_type"] = certificate.KeyType,
        ["key_size"] = certificate.KeySize,
        ["signature_algorithm"] = certificate.SignatureAlgorithm,
        ["sha256"] = certificate.Sha256Fingerprint,
    };

    public static JsonObject? NtlmJson(NtlmTargetInfo? ntlm) => ntlm is null ? null : new JsonObject
    {
        ["target_name"] = ntlm.TargetName,
        ["netbios_computer_name"] = ntlm.NbComputerName,
        ["netbios_domain_name"] = ntlm.NbDomainName,
        ["dns_computer_name"] = ntlm.DnsComputerName,
        ["dns_domain_name"] = ntlm.DnsDomainName,
        ["dns_tree_name"] = ntlm.DnsTreeName,
        ["os_version"] = ntlm.OsVersion,
        ["server_time"] = ntlm.ServerTime?.ToString("O", CultureInfo.InvariantCulture),
    };

    public static JsonArray ProtocolNames(SecurityProtocols protocols, bool includeRdp)
    {
        var names = new JsonArray();
        if (includeRdp)
        {
            names.Add("PROTOCOL_RDP");
        }

        foreach (SecurityProtocols flag in new[] { SecurityProtocols.Ssl, SecurityProtocols.Hybrid, SecurityProtocols.RdsTls, SecurityProtocols.HybridEx, SecurityProtocols.RdsAad })
        {
            if ((protocols & flag) != 0)
            {
                names.Add(flag.Name());
            }
        }

        return names;
    }

    public static string SnakeCase(string name) => string.Concat(name.Select((c, i) => char.IsUpper(c) ? (i == 0 ? "" : "_") + char.ToLowerInvariant(c) : c.ToString()));

    public static string? EndPointText(IPEndPoint? endpoint) => endpoint?.ToString();

    public static string NtlmText(NtlmTargetInfo ntlm) =>
        $"target {ntlm.TargetName ?? "-"}, NetBIOS {ntlm.NbDomainName ?? "-"}\\{ntlm.NbComputerName ?? "-"}, DNS {ntlm.DnsComputerName ?? "-"} ({ntlm.DnsDomainName ?? "-"}), OS {ntlm.OsVersion ?? "-"}, time {ntlm.ServerTime?.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture) ?? "-"}";
}
