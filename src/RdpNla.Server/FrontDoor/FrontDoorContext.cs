namespace RdpNla.Server.FrontDoor;

/// <summary>
/// The settings and the certificate a connection uses from its accept to its end. A reload (SIGHUP) swaps in a new
/// snapshot for new connections; connections already running keep theirs.
/// </summary>
internal sealed class FrontDoorSettings
{
    public FrontDoorSettings(FrontDoorOptions options, X509Certificate2 certificate)
    {
        Options = options;
        Certificate = certificate;
        CertificateContext = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true);
        // MS-CSSP §3.1.5 step 3: the binding covers the SubjectPublicKey BIT STRING contents (docs/protocol.md).
        PublicKey = certificate.GetPublicKey();
    }

    public FrontDoorOptions Options { get; }

    public X509Certificate2 Certificate { get; }

    public SslStreamCertificateContext CertificateContext { get; }

    public byte[] PublicKey { get; }
}

/// <summary>What every connection of one front door shares: settings, certificate, account policy, audit log.</summary>
internal sealed class FrontDoorContext(
    FrontDoorOptions options,
    X509Certificate2 certificate,
    LocalDomainNames localNames,
    AccountPolicy accountPolicy,
    IAuditLog auditLog,
    ILogger logger,
    TimeProvider timeProvider,
    IRandomSource random,
    FrontDoorMetrics metrics,
    Gateway.GatewayRelay? gateway = null)
{
    private FrontDoorSettings _settings = new(options, certificate);

    private readonly List<IPNetwork> _trustedProxies = options.TrustedProxies.Select(IPNetworkParser.Parse).ToList();

    public FrontDoorMetrics Metrics { get; } = metrics;

    public ConnectionGate Gate { get; } = new(options.Limits, timeProvider, System.Random.Shared.NextDouble);

    public LogThrottle LogThrottle { get; } = new(timeProvider);

    public bool IsTrustedProxy(IPAddress address)
    {
        IPAddress normalized = address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;
        return _trustedProxies.Any(n => n.Contains(normalized));
    }

    /// <summary>Counts a refusal before the handshake and logs it at a bounded rate.</summary>
    public void Reject(RejectionReason reason, IPEndPoint client, IPEndPoint? via)
    {
        Metrics.Rejected(reason);
        if (LogThrottle.TryAcquire("reject:" + RejectionNames.Name(reason), out long suppressed))
        {
            FrontDoorLog.RefusedAtAccept(Logger, client.ToString(), RejectionText(reason, client.Address), via?.ToString() ?? "-", suppressed);
        }
    }

    /// <summary>Counts and logs (at a bounded rate) a source address that just started serving a penalty.</summary>
    public void SourcePenalized(IPAddress address)
    {
        Metrics.SourcePenalized();
        if (LogThrottle.TryAcquire("penalty", out long suppressed))
        {
            DateTimeOffset until = Gate.BlockedSources().GetValueOrDefault(address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address);
            FrontDoorLog.SourcePenalized(Logger, address.ToString(), until, suppressed);
        }
    }

    private string RejectionText(RejectionReason reason, IPAddress address)
    {
        FrontDoorLimits limits = StartOptions.Limits;
        return reason switch
        {
            RejectionReason.TotalUnauthenticated => $"{limits.MaxUnauthenticatedConnections} unauthenticated connections already (Limits:MaxUnauthenticatedConnections)",
            RejectionReason.RandomEarlyDrop => $"random early drop above {limits.RandomEarlyDropStart} unauthenticated connections (Limits:RandomEarlyDropStart)",
            RejectionReason.PerAddress => $"{limits.MaxUnauthenticatedConnectionsPerAddress} unauthenticated connections from {address} already (Limits:MaxUnauthenticatedConnectionsPerAddress)",
            RejectionReason.PerPrefix => $"{limits.MaxUnauthenticatedConnectionsPerPrefix} unauthenticated connections from the network of {address} already (Limits:MaxUnauthenticatedConnectionsPerPrefix)",
            RejectionReason.ConnectionRate => $"{address} opens connections faster than {limits.MaxConnectionRatePerAddress}/s (Limits:MaxConnectionRatePerAddress)",
            RejectionReason.Penalty => $"{address} is serving a penalty for repeated failures (Limits:Penalty*)",
            _ => "PROXY protocol header missing or invalid",
        };
    }

    /// <summary>The settings new connections use (see <see cref="Reload"/>).</summary>
    public FrontDoorSettings Settings => Volatile.Read(ref _settings);

    /// <summary>The settings in use now; a connection reads its own snapshot instead.</summary>
    public FrontDoorOptions Options => Settings.Options;

    /// <summary>The settings at start: those a reload does not change (names, limits, listeners; docs/deploy.md).</summary>
    public FrontDoorOptions StartOptions { get; } = options;

    /// <summary>New connections use <paramref name="settings"/> from now on; running connections keep the previous ones.</summary>
    public void Reload(FrontDoorSettings settings) => Volatile.Write(ref _settings, settings);

    public LocalDomainNames LocalNames { get; } = localNames;

    public AccountPolicy AccountPolicy { get; } = accountPolicy;

    public IAuditLog AuditLog { get; } = auditLog;

    public ILogger Logger { get; } = logger;

    public TimeProvider TimeProvider { get; } = timeProvider;

    public IRandomSource Random { get; } = random;

    /// <summary>The second factor's hold (docs/portal.md), or null when not in use.</summary>
    public Mfa.SecondFactorGate? SecondFactor { get; init; }

    /// <summary>The Kerberos acceptor (keytab), or null when only NTLM is accepted.</summary>
    public KerberosAcceptance? Kerberos { get; init; }

    /// <summary>Domain logons through winbind (docs/active-directory.md), or null when only local users log on.</summary>
    public ActiveDirectory.DomainLogons? Domain { get; init; }

    /// <summary>The relay to backends, or null when the gateway is not in use.</summary>
    public Gateway.GatewayRelay? Gateway { get; } = gateway;

    public CredSspServerOptions CreateCredSspOptions(FrontDoorSettings settings) => new()
    {
        ServerPublicKey = settings.PublicKey,
        MaxVersion = settings.Options.MaxCredSspVersion,
        AllowEncryptionOracle = settings.Options.AllowEncryptionOracle,
        RecordLogonBeforeProof = true,
        Kerberos = Kerberos is { } kerberos ? kerberos.CreateContext : null,
        Ntlm = new NtlmServerOptions
        {
            NbComputerName = LocalNames.NetBiosName,
            NbDomainName = StartOptions.DomainName ?? Domain?.NetBiosDomain ?? LocalNames.DefaultDomain ?? LocalNames.NetBiosName,
            DnsComputerName = StartOptions.DnsComputerName ?? LocalNames.DnsName ?? LocalNames.NetBiosName.ToLowerInvariant(),
            DnsDomainName = StartOptions.DnsDomainName ?? Domain?.DnsDomain ?? LocalNames.DnsName ?? LocalNames.NetBiosName.ToLowerInvariant(),
            TimeProvider = TimeProvider,
            RandomSource = Random,
            RequireMic = settings.Options.RequireNtlmMic,
        },
    };

    public AccountAuthenticator CreateAccountAuthenticator(StoreWaits store) => new(AccountPolicy, store);
}
