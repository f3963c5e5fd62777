using System.Diagnostics.CodeAnalysis;

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
        Description = "Trust on first use: record the certificate of a new host in FILE, refuse a known host whose certificate changed. Default: $XDG_CONFIG_HOME/rdpnla/known_hosts, else ~/.config/rdpnla/known_hosts.",
        HelpName = "FILE",
    };

    public Option<bool> Ignore { get; } = new("--cert-ignore")
    {
        Description = "Do not check the certificate (INSECURE: a man in the middle is detected by CredSSP only after it saw the NTLM exchange).",
    };

    public IEnumerable<Option> All => [Fingerprint, KnownHosts, Ignore];

    /// <summary>
    /// The default known-hosts file, as FreeRDP keeps ~/.config/freerdp/known_hosts2: <c>rdpnla/known_hosts</c> under
    /// <c>$XDG_CONFIG_HOME</c>, else under <c>$HOME/.config</c> (<c>%USERPROFILE%\.config</c> on Windows). The XDG Base
    /// Directory Specification (https://specifications.freedesktop.org/basedir-spec/latest/) says a relative path in
    /// its variables is invalid and to be ignored; the home folder must exist. Null when there is neither: a relative
    /// default would put the file in the current folder, where another user may have planted a pin (docs/login.md).
    /// </summary>
    public static string? DefaultKnownHostsPath(ICliConsole console)
    {
        ArgumentNullException.ThrowIfNull(console);
        string? config = console.GetEnvironmentVariable("XDG_CONFIG_HOME");
        if (IsAbsolute(config))
        {
            return Path.Combine(config, "rdpnla", "known_hosts");
        }

        string? home = console.GetEnvironmentVariable(OperatingSystem.IsWindows() ? "USERPROFILE" : "HOME");
        return IsAbsolute(home) && Directory.Exists(home) ? Path.Combine(home, ".config", "rdpnla", "known_hosts") : null;
    }

    private static bool IsAbsolute([NotNullWhen(true)] string? path) => !string.IsNullOrEmpty(path) && Path.IsPathFullyQualified(path);

    /// <exception cref="CliException">More than one choice, a malformed fingerprint, or a known-hosts file that cannot be used.</exception>
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

        if (knownHosts is { Length: 0 })
        {
            throw new CliException("--known-hosts: empty file name; give a file with --known-hosts FILE");
        }

        string path = knownHosts ?? DefaultKnownHostsPath(CliConsole.Current)
            ?? throw new CliException(
                "no home folder to keep the known-hosts file in (HOME is not an existing absolute folder and XDG_CONFIG_HOME is not an absolute path); give a file with --known-hosts FILE or pin the certificate with --cert-fingerprint SHA256",
                LoginExitCodes.KnownHostsUnusable);
        try
        {
            return ServerCertificatePolicy.KnownHosts(path);
        }
        catch (KnownHostsFileException ex)
        {
            throw KnownHostsError(ex);
        }
    }

    /// <summary>The one line for a known-hosts file that cannot be used: what and why (the library's message), and the fix.</summary>
    public static CliException KnownHostsError(KnownHostsFileException exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        return new CliException(
            $"{exception.Message}; give a file you can read and write with --known-hosts FILE, or pin the certificate with --cert-fingerprint SHA256",
            LoginExitCodes.KnownHostsUnusable);
    }
}
