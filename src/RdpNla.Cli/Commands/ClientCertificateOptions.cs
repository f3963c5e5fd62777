namespace RdpNla.Cli.Commands;

/// <summary><c>--cert-fingerprint</c>, <c>--known-hosts</c>, <c>--cert-ignore</c>: how <c>login</c> checks the server certificate.</summary>
internal sealed class ClientCertificateOptions
{
    public Option<string?> Fingerprint { get; } = new("--cert-fingerprint")
    {
        Description = "Accept only the certificate with this SHA-256 fingerprint (64 hex digits, colons allowed; 'rdpnla probe' shows it).",
        HelpName = "SHA256",
    };

    public Option<string?> KnownHosts { get; } = new("--known-hosts")
    {
        Description = "Trust on first use: record the certificate of a new host in FILE, refuse a known host whose certificate changed. Default: ~/.config/rdpnla/known_hosts.",
        HelpName = "FILE",
    };

    public Option<bool> Ignore { get; } = new("--cert-ignore")
    {
        Description = "Do not check the certificate (INSECURE: a man in the middle is detected by CredSSP only after it saw the NTLM exchange).",
    };

    public IEnumerable<Option> All => [Fingerprint, KnownHosts, Ignore];

    /// <summary>The default known-hosts file, as FreeRDP keeps ~/.config/freerdp/known_hosts2.</summary>
    public static string DefaultKnownHostsPath
    {
        get
        {
            string? config = Environment.GetEnvironmentVariable("XDG_CONFIG_HOME");
            if (string.IsNullOrEmpty(config))
            {
                config = Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".config");
            }

            return Path.Combine(config, "rdpnla", "known_hosts");
        }
    }

    /// <exception cref="CliException">More than one choice, or a malformed fingerprint.</exception>
    public ServerCertificatePolicy GetPolicy(ParseResult parse, TextWriter error)
    {
        ArgumentNullException.ThrowIfNull(parse);
        string? fingerprint = parse.GetValue(Fingerprint);
        string? knownHosts = parse.GetValue(KnownHosts);
        bool ignore = parse.GetValue(Ignore);
        if ((fingerprint is not null ? 1 : 0) + (knownHosts is not null ? 1 : 0) + (ignore ? 1 : 0) > 1)
        {
            throw new CliException("give only one of --cert-fingerprint, --known-hosts and --cert-ignore");
        }

        if (ignore)
        {
            error.WriteLine("warning: --cert-ignore: the server certificate is not checked (insecure)");
            return ServerCertificatePolicy.Ignore;
        }

        if (fingerprint is not null)
        {
            try
            {
                return ServerCertificatePolicy.Pinned(fingerprint);
            }
            catch (FormatException ex)
            {
                throw new CliException($"--cert-fingerprint: {ex.Message}");
            }
        }

        return ServerCertificatePolicy.KnownHosts(knownHosts ?? DefaultKnownHostsPath);
    }
}
