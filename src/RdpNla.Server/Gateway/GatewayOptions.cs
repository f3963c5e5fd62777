namespace RdpNla.Server.Gateway;

/// <summary>How the gateway checks the certificate a backend presents on the backend leg.</summary>
public enum BackendCertificateValidation
{
    /// <summary>Trust the first certificate seen for a backend and record its SHA-256 in the store; refuse any other later.</summary>
    TrustOnFirstUse,

    /// <summary>Accept only the fingerprint configured in <see cref="GatewayOptions.PinnedCertificates"/> for the backend.</summary>
    Pinned,

    /// <summary>Accept any certificate (logged as a warning at every session: the backend leg is open to a man in the middle).</summary>
    None,
}

/// <summary>
/// Which security protocols the gateway accepts from a backend, and so whether the password may travel in the Client
/// Info PDU (TLS only) or only inside CredSSP (docs/gateway.md, "Backend security and downgrades").
/// </summary>
public enum BackendSecurity
{
    /// <summary><c>nla</c>: request HYBRID|HYBRID_EX and accept only those; the password never leaves CredSSP.</summary>
    Nla,

    /// <summary><c>tls</c>: request SSL only (a TLS-only backend such as xrdp); the password goes in the Client Info PDU.</summary>
    Tls,

    /// <summary>
    /// <c>negotiate</c>: request SSL|HYBRID|HYBRID_EX and accept what the backend selects, except a protocol weaker
    /// than the one it selected before (the protocol pin) and, under TrustOnFirstUse, TLS on the very connection that
    /// first trusted the certificate.
    /// </summary>
    Negotiate,
}

/// <summary>The names of <see cref="BackendSecurity"/> as settings, the store and the command line spell them.</summary>
public static class BackendSecurityNames
{
    /// <summary><c>nla</c>, <c>tls</c> or <c>negotiate</c>.</summary>
    public static string Name(this BackendSecurity security) => security switch
    {
        BackendSecurity.Nla => "nla",
        BackendSecurity.Tls => "tls",
        BackendSecurity.Negotiate => "negotiate",
        _ => security.ToString(),
    };

    /// <summary>Parses <c>nla</c>, <c>tls</c> or <c>negotiate</c> (any case).</summary>
    public static bool TryParse(string? text, out BackendSecurity security)
    {
        switch (text?.Trim().ToLowerInvariant())
        {
            case "nla":
                security = BackendSecurity.Nla;
                return true;
            case "tls":
                security = BackendSecurity.Tls;
                return true;
            case "negotiate":
                security = BackendSecurity.Negotiate;
                return true;
            default:
                security = default;
                return false;
        }
    }
}

/// <summary>
/// The <c>Gateway</c> section of <c>rdpnla serve</c>'s settings: where authenticated users are relayed and how. Per-user
/// and per-group backends live in the store (<c>rdpnla users set-backend</c>, <c>rdpnla groups</c>); the default is here.
/// </summary>
public sealed class GatewayOptions
{
    /// <summary>The backend (<c>host:port</c>) of users with no backend of their own or of a group; none: such users are not relayed.</summary>
    public string? DefaultBackend { get; set; }

    /// <summary>The domain sent to the backend with pass-through credentials (default: none, the backend's local accounts).</summary>
    public string? PassThroughDomain { get; set; }

    /// <summary>
    /// The security package of the backend leg (docs/kerberos.md): <c>ntlm</c> (default), <c>negotiate</c> (Kerberos
    /// with a ticket requested with the injected password, NTLM when none can be had) or <c>kerberos</c>.
    /// </summary>
    public string BackendAuthentication { get; set; } = "ntlm";

    /// <summary>The backends' Kerberos service principal; default <c>TERMSRV/&lt;backend host&gt;</c>.</summary>
    public string? BackendServicePrincipal { get; set; }

    /// <summary>The realm of injected user names without <c>@REALM</c>; default the injected domain in upper case.</summary>
    public string? BackendKerberosRealm { get; set; }

    /// <summary>How backend certificates are checked.</summary>
    public BackendCertificateValidation CertificateValidation { get; set; } = BackendCertificateValidation.TrustOnFirstUse;

    /// <summary>
    /// The security of backends that have none of their own (<c>rdpnla backends set-security</c>): <c>Nla</c> by
    /// default, so that a password reaches a backend only inside CredSSP unless an operator decides otherwise.
    /// </summary>
    public BackendSecurity BackendSecurity { get; set; } = BackendSecurity.Nla;

    /// <summary>SHA-256 fingerprints (hex, colons optional) by backend <c>host:port</c>, for <see cref="BackendCertificateValidation.Pinned"/>.</summary>
    public Dictionary<string, string> PinnedCertificates { get; set; } = new(StringComparer.OrdinalIgnoreCase);

    /// <summary>The file holding the 32-byte key that seals mapped credentials (default: <c>gateway.key</c> in the data folder, created 0600). The environment variable <c>RDPNLA_GATEWAY_KEY</c> (base64) takes precedence.</summary>
    public string? KeyFile { get; set; }

    /// <summary>The TCP connection to the backend must be established within this time.</summary>
    public TimeSpan ConnectTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The backend leg's X.224, TLS, CredSSP and MCS connect exchange must finish within this time.</summary>
    public TimeSpan NegotiationTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>A session with no byte in either direction for this long is closed (zero: never).</summary>
    public TimeSpan IdleTimeout { get; set; } = TimeSpan.FromHours(1);

    /// <summary>A session is closed after this long whatever it does (zero: no limit).</summary>
    public TimeSpan MaxSessionLength { get; set; } = TimeSpan.FromHours(12);

    /// <summary>On SIGTERM, sessions may go on for this long before they are closed.</summary>
    public TimeSpan DrainTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>The relay buffer per direction in bytes: at most this much is read ahead of a slow receiver.</summary>
    public int BufferSize { get; set; } = 64 * 1024;

    /// <summary>Checks the settings; one message per problem.</summary>
    public IEnumerable<string> Validate()
    {
        if (DefaultBackend is not null && !BackendAddress.TryParse(DefaultBackend, out _, out string? problem))
        {
            yield return $"Gateway:DefaultBackend '{DefaultBackend}': {problem}";
        }

        if (BackendAuthentication.ToLowerInvariant() is not ("ntlm" or "negotiate" or "kerberos"))
        {
            yield return $"Gateway:BackendAuthentication must be ntlm, negotiate or kerberos; got '{BackendAuthentication}'.";
        }

        if (!Enum.IsDefined(CertificateValidation))
        {
            yield return "Gateway:CertificateValidation must be TrustOnFirstUse, Pinned or None.";
        }

        if (!Enum.IsDefined(BackendSecurity))
        {
            yield return "Gateway:BackendSecurity must be Nla, Tls or Negotiate.";
        }

        foreach ((string backend, string fingerprint) in PinnedCertificates)
        {
            if (!BackendAddress.TryParse(backend, out _, out string? problem2))
            {
                yield return $"Gateway:PinnedCertificates key '{backend}': {problem2}";
            }

            if (CertificateFingerprint.Normalize(fingerprint) is null)
            {
                yield return $"Gateway:PinnedCertificates '{backend}': '{fingerprint}' is not a SHA-256 fingerprint (64 hex digits, colons allowed).";
            }
        }

        if (ConnectTimeout <= TimeSpan.Zero || NegotiationTimeout <= TimeSpan.Zero)
        {
            yield return "Gateway:ConnectTimeout and Gateway:NegotiationTimeout must be positive.";
        }

        if (IdleTimeout < TimeSpan.Zero || MaxSessionLength < TimeSpan.Zero || DrainTimeout < TimeSpan.Zero)
        {
            yield return "Gateway:IdleTimeout, Gateway:MaxSessionLength and Gateway:DrainTimeout must not be negative.";
        }

        if (BufferSize is < 4096 or > 4 * 1024 * 1024)
        {
            yield return "Gateway:BufferSize must be between 4096 and 4194304 bytes.";
        }
    }
}

/// <summary>SHA-256 certificate fingerprints as the gateway stores and compares them: 64 upper-case hex digits.</summary>
internal static class CertificateFingerprint
{
    /// <summary>The canonical form of a typed fingerprint (colons, spaces and case ignored), or null when it is not one.</summary>
    public static string? Normalize(string? text)
    {
        if (text is null)
        {
            return null;
        }

        string hex = string.Concat(text.Where(c => c is not (':' or ' ' or '-'))).ToUpperInvariant();
        return hex.Length == 64 && hex.All(Uri.IsHexDigit) ? hex : null;
    }

    /// <summary>The SHA-256 of a DER certificate.</summary>
    public static string Of(ReadOnlySpan<byte> der) => Convert.ToHexString(System.Security.Cryptography.SHA256.HashData(der));
}

/// <summary>A backend's <c>host:port</c>.</summary>
public sealed record BackendAddress(string Host, int Port)
{
    /// <summary>The default RDP port.</summary>
    public const int DefaultPort = 3389;

    /// <summary>Parses <c>host</c>, <c>host:port</c>, <c>[ipv6]:port</c>.</summary>
    public static bool TryParse(string? text, [System.Diagnostics.CodeAnalysis.NotNullWhen(true)] out BackendAddress? address, [System.Diagnostics.CodeAnalysis.NotNullWhen(false)] out string? problem)
    {
        address = null;
        text = text?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            problem = "empty; give HOST:PORT";
            return false;
        }

        string host = text;
        int port = DefaultPort;
        if (text.StartsWith('['))
        {
            int close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                problem = "an IPv6 address needs a closing ']'";
                return false;
            }

            host = text[1..close];
            string rest = text[(close + 1)..];
            if (rest.Length > 0 && (!rest.StartsWith(':') || !int.TryParse(rest[1..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out port)))
            {
                problem = "the port after ']:' is not a number";
                return false;
            }
        }
        else if (text.LastIndexOf(':') is int colon and >= 0)
        {
            if (text.IndexOf(':', StringComparison.Ordinal) != colon)
            {
                problem = "write an IPv6 address as [ADDRESS]:PORT";
                return false;
            }

            host = text[..colon];
            if (!int.TryParse(text[(colon + 1)..], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out port))
            {
                problem = "the port is not a number";
                return false;
            }
        }

        if (port is < 1 or > 65535)
        {
            problem = $"port {port} is outside 1-65535";
            return false;
        }

        if (host.Length == 0 || host.Any(c => char.IsWhiteSpace(c) || char.IsControl(c)))
        {
            problem = "the host is empty or holds spaces";
            return false;
        }

        address = new BackendAddress(host, port);
        problem = null;
        return true;
    }

    /// <summary>The canonical <c>host:port</c> text (the key of pins and trust-on-first-use records).</summary>
    public override string ToString() => Host.Contains(':', StringComparison.Ordinal) ? $"[{Host}]:{Port}" : $"{Host}:{Port}";
}
