namespace RdpNla.Server.FrontDoor;

/// <summary>
/// Everything <c>rdpnla serve</c> can be told, bound from the JSON file (<c>--config</c>), the <c>RDPNLA_</c>
/// environment variables and the command-line flags, in that order of precedence (last wins). Policy settings carry
/// the names of the Windows registry values they emulate.
/// </summary>
public sealed class FrontDoorOptions
{
    /// <summary>Endpoints to listen on, <c>address:port</c> or <c>[ipv6]:port</c>.</summary>
    public List<string> Listen { get; set; } = [];

    /// <summary>The folder of the user store, the audit log and the generated certificate.</summary>
    public string DataDirectory { get; set; } = "rdpnla";

    /// <summary>RDP-Tcp <c>SecurityLayer</c>: 0 Standard RDP Security, 1 Negotiate, 2 TLS.</summary>
    public SecurityLayer SecurityLayer { get; set; } = SecurityLayer.Tls;

    /// <summary>RDP-Tcp <c>UserAuthentication</c>: 1 requires Network Level Authentication (CredSSP).</summary>
    public int UserAuthentication { get; set; } = 1;

    /// <summary>CredSSP <c>AllowEncryptionOracle</c>: 0 Force Updated Clients, 1 Mitigated, 2 Vulnerable.</summary>
    public EncryptionOraclePolicy AllowEncryptionOracle { get; set; } = EncryptionOraclePolicy.Mitigated;

    /// <summary>The highest CredSSP version the server speaks (2–6); 2–4 emulate a server without the CVE-2018-0886 update.</summary>
    public int MaxCredSspVersion { get; set; } = CredSspVersion.Latest;

    /// <summary>
    /// Refuse an NTLMv2 AUTHENTICATE that announces no MIC (MsvAvFlags 0x2). Default false: verified without one, as
    /// Windows and FreeRDP's server do; a MIC that is announced must verify either way (docs/protocol.md).
    /// </summary>
    public bool RequireNtlmMic { get; set; }

    /// <summary>The NetBIOS computer name sent in the NTLM CHALLENGE (default: the host name, upper case, 15 characters).</summary>
    public string? ComputerName { get; set; }

    /// <summary>The NetBIOS domain name (default: the computer name, as a workgroup server does). Also the default domain of user names.</summary>
    public string? DomainName { get; set; }

    /// <summary>The DNS computer name (default: the host name).</summary>
    public string? DnsComputerName { get; set; }

    /// <summary>The DNS domain name (default: the DNS computer name).</summary>
    public string? DnsDomainName { get; set; }

    public CertificateOptions Certificate { get; set; } = new();

    public FrontDoorLimits Limits { get; set; } = new();

    /// <summary>Where to serve Prometheus metrics (<c>ADDRESS:PORT</c>, path <c>/metrics</c>); empty: no endpoint.</summary>
    public string? MetricsListen { get; set; }

    /// <summary>
    /// Addresses or CIDR prefixes of TCP load balancers allowed to send a PROXY protocol (v1 or v2) header; connections
    /// from them must start with one, and the client address it carries is used for limits, logs and audit.
    /// </summary>
    public List<string> TrustedProxies { get; set; } = [];

    /// <summary>The gateway: where authenticated users are relayed (docs/gateway.md).</summary>
    public Gateway.GatewayOptions Gateway { get; set; } = new();

    /// <summary>The opt-in OTLP export of the meter and the handshake traces (docs/deploy.md).</summary>
    public OpenTelemetryOptions OpenTelemetry { get; set; } = new();

    /// <summary>The HTTPS self-service portal: password change, authenticator enrolment, approvals (docs/portal.md).</summary>
    public Portal.PortalOptions Portal { get; set; } = new();

    /// <summary>The second factor at the NLA step (docs/portal.md).</summary>
    public Mfa.MfaOptions Mfa { get; set; } = new();

    /// <summary>Kerberos in CredSSP (docs/kerberos.md): keytab, service principal, realm of local users.</summary>
    public KerberosOptions Kerberos { get; set; } = new();

    /// <summary>Whether NTLM logons are accepted or refused with STATUS_NTLM_BLOCKED (docs/kerberos.md).</summary>
    public NtlmOptions Ntlm { get; set; } = new();

    /// <summary>Domain accounts (docs/active-directory.md): NTLM pass-through through winbind, allowed groups.</summary>
    public ActiveDirectory.DirectoryOptions Directory { get; set; } = new();

    /// <summary>Where users and the audit trail live: SQLite (default) or a shared PostgreSQL (docs/high-availability.md).</summary>
    public Storage.StoreOptions Store { get; set; } = new();

    /// <summary>The name audit rows give this instance (default: the host name).</summary>
    public string? InstanceName { get; set; }

    /// <summary><see cref="InstanceName"/>, or the host name when it is not set.</summary>
    public string EffectiveInstanceName => string.IsNullOrWhiteSpace(InstanceName) ? Environment.MachineName : InstanceName.Trim();

    public bool NlaRequired => UserAuthentication != 0;

    /// <summary>Checks every setting; returns one message per problem, each saying how to fix it.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Enum.IsDefined(SecurityLayer))
        {
            errors.Add($"SecurityLayer must be 0 (RDP), 1 (Negotiate) or 2 (TLS); got {(int)SecurityLayer}.");
        }

        if (UserAuthentication is not (0 or 1))
        {
            errors.Add($"UserAuthentication must be 0 or 1; got {UserAuthentication}.");
        }

        if (!Enum.IsDefined(AllowEncryptionOracle))
        {
            errors.Add($"AllowEncryptionOracle must be 0 (Force Updated Clients), 1 (Mitigated) or 2 (Vulnerable); got {(int)AllowEncryptionOracle}.");
        }

        if (MaxCredSspVersion is < CredSspVersion.Minimum or > CredSspVersion.Latest)
        {
            errors.Add($"MaxCredSspVersion must be between 2 and 6; got {MaxCredSspVersion}.");
        }

        var endpoints = new HashSet<System.Net.IPEndPoint>();
        foreach (string endpoint in Listen)
        {
            if (!ListenEndpoint.TryParse(endpoint, out System.Net.IPEndPoint? parsed, out string? problem))
            {
                errors.Add($"Listen '{endpoint}': {problem}");
            }
            else if (!endpoints.Add(parsed))
            {
                // The second bind would fail with "address already in use", which blames another program.
                errors.Add($"Listen names {endpoint} twice; give each endpoint once.");
            }
        }

        if (ComputerName is { Length: > 15 })
        {
            errors.Add($"ComputerName '{PrintableText.Escape(ComputerName)}' is longer than the 15 characters a NetBIOS name allows.");
        }

        // A value read from a file or an environment variable may end with a line break; a name with a control character
        // would reach every client's CHALLENGE and the generated certificate's subject.
        foreach ((string setting, string? name) in (ReadOnlySpan<(string, string?)>)[(nameof(ComputerName), ComputerName), (nameof(DomainName), DomainName), (nameof(DnsComputerName), DnsComputerName), (nameof(DnsDomainName), DnsDomainName)])
        {
            if (name is not null && name.Any(PrintableText.IsUnprintable))
            {
                errors.Add($"{setting} '{PrintableText.Escape(name)}' contains a control character; a NetBIOS or DNS name cannot.");
            }
        }

        foreach (string proxy in TrustedProxies)
        {
            if (!IPNetworkParser.TryParse(proxy, out _))
            {
                errors.Add($"TrustedProxies '{proxy}' is not an address or CIDR prefix (e.g. 10.0.0.0/8).");
            }
        }

        if (!string.IsNullOrEmpty(MetricsListen) && !ListenEndpoint.TryParse(MetricsListen, out _, out string? metricsProblem))
        {
            errors.Add($"MetricsListen '{MetricsListen}': {metricsProblem}");
        }

        try
        {
            _ = Storage.StoreLocation.Parse(Store.ConnectionString, DataDirectory);
        }
        catch (ArgumentException ex)
        {
            errors.Add($"Store:ConnectionString: {ex.Message.Split(" (Parameter", 2)[0]}");
        }

        if (InstanceName is { Length: > 128 })
        {
            errors.Add("InstanceName is longer than 128 characters; use a short name such as the host name.");
        }

        errors.AddRange(Limits.Validate());
        errors.AddRange(Gateway.Validate());
        errors.AddRange(OpenTelemetry.Validate());
        errors.AddRange(Portal.Validate());
        errors.AddRange(Mfa.Validate());
        errors.AddRange(Kerberos.Validate());
        errors.AddRange(Ntlm.Validate(Kerberos));
        errors.AddRange(Directory.Validate());
        return errors;
    }
}

/// <summary>Validates <see cref="FrontDoorOptions"/> with <see cref="FrontDoorOptions.Validate"/> (register with <c>ValidateOnStart</c>).</summary>
public sealed class FrontDoorOptionsValidator : IValidateOptions<FrontDoorOptions>
{
    public ValidateOptionsResult Validate(string? name, FrontDoorOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> errors = options.Validate();
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }
}

/// <summary>
/// Pre-authentication limits, modelled on OpenSSH (MaxStartups, LoginGraceTime, PerSourcePenalties) and Kestrel's
/// limits object. Every refusal is counted by reason (metric <c>rdpnla.server.rejections</c>) and logged at a bounded
/// rate, so an attack cannot flood the log.
/// </summary>
public sealed class FrontDoorLimits
{
    /// <summary>The whole handshake (X.224, TLS, CredSSP) must finish within this time (OpenSSH LoginGraceTime).</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>The X.224 Connection Request must arrive within this time after accept.</summary>
    public TimeSpan NegotiationTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The TLS handshake must finish within this time after the Connection Confirm.</summary>
    public TimeSpan TlsHandshakeTimeout { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// The longest one connection waits on the account database (a lookup or a record). A longer wait fails the logon
    /// with STATUS_INTERNAL_DB_ERROR and the log line "account database busy". Time spent waiting on the database does
    /// not count against the client (deadlines, <see cref="MinDataRate"/>).
    /// </summary>
    public TimeSpan StoreTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>
    /// Slowloris guard: after <see cref="MinDataRateGracePeriod"/>, a client that has sent less than this many bytes per
    /// second on average is disconnected (Kestrel MinRequestBodyDataRate). 0 disables it.
    /// </summary>
    public double MinDataRate { get; set; } = 240;

    /// <summary>How long a connection may send slower than <see cref="MinDataRate"/> before the rate is enforced.</summary>
    public TimeSpan MinDataRateGracePeriod { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>At most this many connections may be unauthenticated at once (OpenSSH MaxStartups "full").</summary>
    public int MaxUnauthenticatedConnections { get; set; } = 10_000;

    /// <summary>From this many unauthenticated connections on, new ones are dropped at random (MaxStartups "start"); 0 disables it.</summary>
    public int RandomEarlyDropStart { get; set; } = 2_000;

    /// <summary>The drop probability at <see cref="RandomEarlyDropStart"/>, rising linearly to 1 at the full cap (MaxStartups "rate").</summary>
    public double RandomEarlyDropRate { get; set; } = 0.3;

    /// <summary>At most this many unauthenticated connections from one IP address.</summary>
    public int MaxUnauthenticatedConnectionsPerAddress { get; set; } = 16;

    /// <summary>At most this many unauthenticated connections from one network prefix (see the prefix lengths).</summary>
    public int MaxUnauthenticatedConnectionsPerPrefix { get; set; } = 256;

    /// <summary>The IPv4 prefix length grouping addresses for <see cref="MaxUnauthenticatedConnectionsPerPrefix"/>.</summary>
    public int IPv4PrefixLength { get; set; } = 24;

    /// <summary>The IPv6 prefix length grouping addresses for <see cref="MaxUnauthenticatedConnectionsPerPrefix"/>.</summary>
    public int IPv6PrefixLength { get; set; } = 64;

    /// <summary>New connections per second allowed from one address (token bucket); 0 disables the limit.</summary>
    public double MaxConnectionRatePerAddress { get; set; } = 50;

    /// <summary>The token bucket's burst for <see cref="MaxConnectionRatePerAddress"/>.</summary>
    public double ConnectionRateBurst { get; set; } = 100;

    /// <summary>The largest TPKT frame or TSRequest accepted before authentication.</summary>
    public int MaxMessageSize { get; set; } = 64 * 1024;

    /// <summary>Per-source penalties (OpenSSH PerSourcePenalties): addresses that fail repeatedly are refused for a while.</summary>
    public bool PenaltiesEnabled { get; set; } = true;

    /// <summary>Penalty accrued by a failed authentication (wrong password, unknown user, refused account).</summary>
    public TimeSpan PenaltyAuthenticationFailure { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>Penalty accrued by a protocol violation (malformed bytes).</summary>
    public TimeSpan PenaltyProtocolViolation { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>Penalty accrued by a connection that timed out or went below the minimum data rate.</summary>
    public TimeSpan PenaltyTimeout { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>An address is refused once its accrued (decaying) penalty reaches this.</summary>
    public TimeSpan PenaltyThreshold { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The longest penalty.</summary>
    public TimeSpan PenaltyMaximum { get; set; } = TimeSpan.FromMinutes(10);

    /// <summary>Addresses or CIDR prefixes never penalized (e.g. monitoring).</summary>
    public List<string> PenaltyExempt { get; set; } = [];

    private IReadOnlyList<IPNetwork>? _exempt;

    internal bool IsExempt(IPAddress address)
    {
        _exempt ??= PenaltyExempt.Select(IPNetworkParser.Parse).ToList();
        return _exempt.Any(n => n.Contains(address));
    }

    internal IEnumerable<string> Validate()
    {
        foreach ((string name, TimeSpan value) in new[]
        {
            ("HandshakeTimeout", HandshakeTimeout), ("NegotiationTimeout", NegotiationTimeout), ("TlsHandshakeTimeout", TlsHandshakeTimeout),
            ("StoreTimeout", StoreTimeout),
            ("PenaltyThreshold", PenaltyThreshold), ("PenaltyMaximum", PenaltyMaximum),
        })
        {
            if (value <= TimeSpan.Zero)
            {
                yield return $"Limits:{name} must be positive (e.g. 00:00:20).";
            }
        }

        if (MaxUnauthenticatedConnections < 1)
        {
            yield return "Limits:MaxUnauthenticatedConnections must be at least 1.";
        }

        if (RandomEarlyDropStart < 0 || RandomEarlyDropRate is < 0 or > 1)
        {
            yield return "Limits:RandomEarlyDropStart must be 0 (off) or more, and Limits:RandomEarlyDropRate between 0 and 1.";
        }

        if (MaxUnauthenticatedConnectionsPerAddress < 1 || MaxUnauthenticatedConnectionsPerPrefix < 1)
        {
            yield return "Limits:MaxUnauthenticatedConnectionsPerAddress and Limits:MaxUnauthenticatedConnectionsPerPrefix must be at least 1.";
        }

        if (IPv4PrefixLength is < 0 or > 32 || IPv6PrefixLength is < 0 or > 128)
        {
            yield return "Limits:IPv4PrefixLength must be 0-32 and Limits:IPv6PrefixLength 0-128.";
        }

        if (MaxConnectionRatePerAddress < 0 || (MaxConnectionRatePerAddress > 0 && ConnectionRateBurst < 1))
        {
            yield return "Limits:MaxConnectionRatePerAddress must be 0 (off) or positive, with Limits:ConnectionRateBurst at least 1.";
        }

        if (MinDataRate < 0)
        {
            yield return "Limits:MinDataRate must be 0 (off) or positive (bytes per second).";
        }

        if (MaxMessageSize is < 1024 or > 1024 * 1024)
        {
            yield return "Limits:MaxMessageSize must be between 1024 and 1048576 bytes.";
        }

        foreach (string network in PenaltyExempt)
        {
            if (!IPNetworkParser.TryParse(network, out _))
            {
                yield return $"Limits:PenaltyExempt '{network}' is not an address or CIDR prefix (e.g. 10.0.0.0/8).";
            }
        }
    }
}

/// <summary>Parses an address or CIDR prefix ("10.0.0.0/8", "::1", "192.0.2.7").</summary>
internal static class IPNetworkParser
{
    public static bool TryParse(string text, out IPNetwork network)
    {
        if (IPNetwork.TryParse(text, out network))
        {
            return true;
        }

        if (IPAddress.TryParse(text, out IPAddress? address))
        {
            network = new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }

        return false;
    }

    public static IPNetwork Parse(string text) =>
        TryParse(text, out IPNetwork network) ? network : throw new FormatException($"'{text}' is not an address or CIDR prefix.");
}
