namespace RdpNla.Server.FrontDoor;

/// <summary>
/// A running front door and everything it owns (database, certificate, listener). <see cref="StartAsync"/> builds it
/// from validated options; disposing drains the connections and closes the database.
/// </summary>
public sealed class FrontDoorHost : IAsyncDisposable
{
    private readonly RdpNlaStore _database;
    private readonly FrontDoorContext _context;
    private readonly ILogger _logger;
    private readonly string _dataDirectory;
    private readonly string _certificateSubject;
    private readonly Lock _reloading = new();
    private ActiveDirectory.DomainLogons? _domain;

    /// <summary>The account policy the server started with (a reload cannot change it).</summary>
    private AccountPolicyOptions _startPolicy = new();

    // Every certificate loaded so far: a connection started before a reload may still be in its TLS handshake.
    private readonly List<X509Certificate2> _certificates = [];

    private FrontDoorHost(FrontDoorServer server, RdpNlaStore database, FrontDoorContext context, string dataDirectory, string certificateSubject)
    {
        Server = server;
        Metrics = context.Metrics;
        Gate = context.Gate;
        _database = database;
        _context = context;
        _logger = context.Logger;
        _dataDirectory = dataDirectory;
        _certificateSubject = certificateSubject;
        _certificates.Add(context.Settings.Certificate);
    }

    public FrontDoorServer Server { get; }

    /// <summary>The server's instruments (meter <see cref="FrontDoorMetrics.MeterName"/>).</summary>
    public FrontDoorMetrics Metrics { get; }

    /// <summary>The gateway's instruments (meter <see cref="GatewayMetrics.MeterName"/>).</summary>
    public GatewayMetrics GatewayMetrics { get; private init; } = null!;

    /// <summary>The Prometheus endpoint, when <see cref="FrontDoorOptions.MetricsListen"/> is set.</summary>
    public PrometheusEndpoint? Prometheus { get; private init; }

    /// <summary>The self-service portal, when <see cref="PortalOptions.Listen"/> is set.</summary>
    public PortalServer? Portal { get; private init; }

    /// <summary>The second factor's hold: connections waiting for approval.</summary>
    public Mfa.SecondFactorGate? SecondFactor { get; private init; }

    /// <summary>The pre-authentication admission state (penalized sources, counts).</summary>
    public ConnectionGate Gate { get; }

    /// <summary>The SHA-256 fingerprint of the TLS certificate new connections get.</summary>
    public string CertificateFingerprint => ServerCertificate.Sha256Fingerprint(Certificate);

    /// <summary>The DER certificate new connections get (clients pin it or trust it on first use).</summary>
    public X509Certificate2 Certificate => _context.Settings.Certificate;

    /// <summary>The settings new connections use: those at start, or those of the last accepted <see cref="Reload(FrontDoorOptions, AccountPolicyOptions?)"/>.</summary>
    public FrontDoorOptions CurrentOptions => _context.Settings.Options;

    /// <summary>
    /// Applies re-read settings to new connections: the certificate files and the NLA policy (SecurityLayer,
    /// UserAuthentication, AllowEncryptionOracle, MaxCredSspVersion). Running connections and relayed sessions keep
    /// what they started with. Settings that need a restart are logged, one line each, and keep their old values.
    /// Invalid settings or an unloadable certificate are refused with one logged line; the previous settings stay.
    /// </summary>
    /// <returns>Whether the new settings are in use.</returns>
    public bool Reload(FrontDoorOptions options) => Reload(options, null);

    /// <summary>
    /// <see cref="Reload(FrontDoorOptions)"/>, and the account policy re-read with it: the lockout settings are the
    /// store's shared state and need a restart, so each one that changed is logged (one line each) and keeps its value.
    /// </summary>
    /// <returns>Whether the new settings are in use.</returns>
    public bool Reload(FrontDoorOptions options, AccountPolicyOptions? accountPolicy)
    {
        ArgumentNullException.ThrowIfNull(options);
        IReadOnlyList<string> errors = options.Validate();
        if (errors.Count > 0)
        {
            RefuseReload(string.Join(" ", errors));
            return false;
        }

        lock (_reloading)
        {
            X509Certificate2 certificate;
            try
            {
                certificate = ServerCertificate.Load(options.Certificate, _dataDirectory, _certificateSubject, _context.TimeProvider, out _);
            }
            catch (InvalidOperationException ex)
            {
                RefuseReload(ex.Message);
                return false;
            }

            foreach (string setting in RestartOnlyChanges(_context.StartOptions, options).Concat(accountPolicy is null ? [] : PolicyChanges(_startPolicy, accountPolicy)))
            {
                FrontDoorLog.ReloadNeedsRestart(_logger, setting);
            }

            lock (_certificates)
            {
                _certificates.Add(certificate);
            }

            _context.Reload(new FrontDoorSettings(options, certificate));
            FrontDoorLog.Reloaded(_logger, certificate.Subject, ServerCertificate.Sha256Fingerprint(certificate), Server.ActiveConnections);
            FrontDoorLog.Policy(_logger, (int)options.SecurityLayer, options.UserAuthentication, (int)options.AllowEncryptionOracle, options.MaxCredSspVersion, options.RequireNtlmMic);
            return true;
        }
    }

    /// <summary>The health endpoint's check: the listeners are bound and the store answers. Null when healthy.</summary>
    private static async Task<string?> CheckHealthAsync(FrontDoorServer server, RdpNlaStore database, CancellationToken cancellationToken)
    {
        if (!server.IsListening)
        {
            return "the listeners are closed (the server is stopping)";
        }

        try
        {
            await database.CheckAsync(cancellationToken).ConfigureAwait(false);
            return null;
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or IOException or InvalidOperationException or UnauthorizedAccessException or TimeoutException)
        {
            return $"the store does not answer: {ex.Message.ReplaceLineEndings(" ")}";
        }
    }

    /// <summary>Logs, on one line, why re-read settings were not applied (e.g. the settings file does not parse).</summary>
    public void RefuseReload(string reason)
    {
        ArgumentNullException.ThrowIfNull(reason);
        FrontDoorLog.ReloadRefused(_logger, reason.ReplaceLineEndings(" "));
    }

    /// <summary>The account policy settings (LockoutThreshold, LockoutWindow, ...) that differ: all need a restart.</summary>
    private static IEnumerable<string> PolicyChanges(AccountPolicyOptions running, AccountPolicyOptions next) =>
        typeof(AccountPolicyOptions).GetProperties(System.Reflection.BindingFlags.Public | System.Reflection.BindingFlags.Instance)
            .Where(p => p.CanRead && !Equals(p.GetValue(running), p.GetValue(next)))
            .Select(p => p.Name);

    /// <summary>The settings a reload cannot change (they shape the listeners, the store or shared state).</summary>
    private static IEnumerable<string> RestartOnlyChanges(FrontDoorOptions running, FrontDoorOptions next)
    {
        (string Name, Func<FrontDoorOptions, object?> Value)[] settings =
        [
            (nameof(FrontDoorOptions.Listen), o => o.Listen),
            (nameof(FrontDoorOptions.DataDirectory), o => o.DataDirectory),
            (nameof(FrontDoorOptions.MetricsListen), o => o.MetricsListen),
            (nameof(FrontDoorOptions.TrustedProxies), o => o.TrustedProxies),
            (nameof(FrontDoorOptions.ComputerName), o => o.ComputerName),
            (nameof(FrontDoorOptions.DomainName), o => o.DomainName),
            (nameof(FrontDoorOptions.DnsComputerName), o => o.DnsComputerName),
            (nameof(FrontDoorOptions.DnsDomainName), o => o.DnsDomainName),
            (nameof(FrontDoorOptions.Limits), o => o.Limits),
            (nameof(FrontDoorOptions.Gateway), o => o.Gateway),
            (nameof(FrontDoorOptions.OpenTelemetry), o => o.OpenTelemetry),
            (nameof(FrontDoorOptions.Portal), o => o.Portal),
            (nameof(FrontDoorOptions.Mfa), o => o.Mfa),
        ];
        foreach ((string name, Func<FrontDoorOptions, object?> value) in settings)
        {
            if (JsonSerializer.Serialize(value(running)) != JsonSerializer.Serialize(value(next)))
            {
                yield return name;
            }
        }
    }

    /// <summary>Opens the store, loads or generates the certificate, binds the listeners and starts serving.</summary>
    /// <exception cref="InvalidOperationException">The options are invalid or the certificate cannot be loaded.</exception>
    /// <exception cref="ListenFailedException">A listen endpoint (RDP, metrics, portal) cannot be bound; nothing stays bound.</exception>
    /// <exception cref="StoreUnavailableException">The PostgreSQL store cannot be reached.</exception>
    public static async Task<FrontDoorHost> StartAsync(
        FrontDoorOptions options,
        AccountPolicyOptions accountPolicyOptions,
        ILoggerFactory loggerFactory,
        TimeProvider timeProvider,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(loggerFactory);
        IReadOnlyList<string> errors = options.Validate();
        if (errors.Count > 0)
        {
            throw new InvalidOperationException(string.Join(Environment.NewLine, errors));
        }

        ILogger logger = loggerFactory.CreateLogger("RdpNla.FrontDoor");
        string dataDirectory = DataDirectory.Resolve(options.DataDirectory);
        RdpNlaStore database = await RdpNlaStore.OpenAsync(Storage.StoreLocation.Parse(options.Store.ConnectionString, dataDirectory), dataDirectory, timeProvider, cancellationToken).ConfigureAwait(false);
        X509Certificate2? certificate = null;
        FrontDoorMetrics? metrics = null;
        GatewayMetrics? gatewayMetrics = null;
        PortalServer? portal = null;
        PrometheusEndpoint? prometheus = null;
        KerberosAcceptance? kerberos = null;
        ActiveDirectory.DomainLogons? domain = null;
        try
        {
            LocalDomainNames localNames = options.ComputerName is null
                ? LocalDomainNames.FromEnvironment(options.DomainName)
                : new LocalDomainNames(options.ComputerName, options.DnsComputerName, options.DomainName);
            string subject = localNames.DnsName ?? localNames.NetBiosName.ToLowerInvariant();
            certificate = ServerCertificate.Load(options.Certificate, dataDirectory, subject, timeProvider, out bool generated);
            FrontDoorLog.CertificateLoaded(logger, certificate.Subject, ServerCertificate.Sha256Fingerprint(certificate), generated ? " (generated now, self-signed)" : string.Empty);
            FrontDoorLog.Policy(logger, (int)options.SecurityLayer, options.UserAuthentication, (int)options.AllowEncryptionOracle, options.MaxCredSspVersion, options.RequireNtlmMic);
            StoreLog.Opened(logger, database.Location.Description, database.SchemaVersion, options.EffectiveInstanceName);

            if (!options.Directory.Enabled && (await database.Users.ListAsync(cancellationToken).ConfigureAwait(false)).Count == 0)
            {
                FrontDoorLog.NoUsers(logger, database.Location.Description);
            }

            var policy = new AccountPolicy(database.Users, localNames, Options.Create(accountPolicyOptions), timeProvider, loggerFactory.CreateLogger<AccountPolicy>());
            metrics = new FrontDoorMetrics();
            gatewayMetrics = new GatewayMetrics();
            Gateway.GatewayRelay? gateway = Gateway.GatewaySetup.Create(options.Gateway, database.Gateway, dataDirectory, loggerFactory.CreateLogger("RdpNla.Gateway"), timeProvider, gatewayMetrics);
            kerberos = KerberosAcceptance.Create(options.Kerberos, dataDirectory);
            if (kerberos is not null)
            {
                FrontDoorLog.KerberosReady(logger, kerberos.ServicePrincipal, options.Kerberos.Keytab!, kerberos.Realm);
            }

            if (options.Ntlm.Incoming == NtlmIncomingPolicy.Deny)
            {
                FrontDoorLog.NtlmRefused(logger);
            }

            if (options.Directory.Enabled)
            {
                domain = await ActiveDirectory.DomainLogons.StartAsync(options.Directory).ConfigureAwait(false);
                FrontDoorLog.DomainReady(logger, domain.NetBiosDomain, domain.DnsDomain, domain.AllowedGroupNames);
            }

            (Mfa.SecondFactorGate secondFactor, SelfService selfService) = PortalSetup.Create(options, database, dataDirectory, policy, localNames, domain, gateway?.Live, loggerFactory, timeProvider);

            var context = new FrontDoorContext(options, certificate, localNames, policy, database.Audit, logger, timeProvider, SystemRandomSource.Instance, metrics, gateway) { SecondFactor = secondFactor, Kerberos = kerberos, Domain = domain };
            if (options.Portal.Enabled)
            {
                portal = await PortalServer.StartAsync(options.Portal, certificate, selfService, loggerFactory, cancellationToken).ConfigureAwait(false);
                secondFactor.PortalUrl = string.IsNullOrWhiteSpace(options.Portal.Url) ? $"https://{portal.LocalEndPoint}/" : options.Portal.PublicUrl;
                PortalLog.Listening(logger, portal.LocalEndPoint, secondFactor.PortalUrl!);
            }

            // Every endpoint is bound before the first connection is accepted; a failure closes those bound before it.
            var server = new FrontDoorServer(context);
            if (!string.IsNullOrEmpty(options.MetricsListen) && ListenEndpoint.TryParse(options.MetricsListen, out System.Net.IPEndPoint? metricsEndpoint, out _))
            {
                try
                {
                    prometheus = new PrometheusEndpoint(metricsEndpoint, [metrics.Meter, gatewayMetrics.Meter], token => CheckHealthAsync(server, database, token));
                }
                catch (System.Net.HttpListenerException ex)
                {
                    throw new ListenFailedException(nameof(FrontDoorOptions.MetricsListen), metricsEndpoint, ex);
                }
            }

            server.Start();
            if (prometheus is not null)
            {
                FrontDoorLog.MetricsListening(logger, prometheus.EndPoint);
            }

            return new FrontDoorHost(server, database, context, dataDirectory, subject) { GatewayMetrics = gatewayMetrics, Prometheus = prometheus, Portal = portal, SecondFactor = secondFactor, _domain = domain, _startPolicy = accountPolicyOptions };
        }
        catch
        {
            if (portal is not null)
            {
                await portal.DisposeAsync().ConfigureAwait(false);
            }

            if (prometheus is not null)
            {
                await prometheus.DisposeAsync().ConfigureAwait(false);
            }

            certificate?.Dispose();
            metrics?.Dispose();
            gatewayMetrics?.Dispose();
            kerberos?.Dispose();
            domain?.Dispose();
            await database.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (Portal is not null)
        {
            await Portal.DisposeAsync().ConfigureAwait(false);
        }

        await Server.DisposeAsync().ConfigureAwait(false);
        if (Prometheus is not null)
        {
            await Prometheus.DisposeAsync().ConfigureAwait(false);
        }

        await _database.DisposeAsync().ConfigureAwait(false);
        lock (_certificates)
        {
            foreach (X509Certificate2 certificate in _certificates)
            {
                certificate.Dispose();
            }
        }

        _domain?.Dispose();
        Metrics.Dispose();
        GatewayMetrics.Dispose();
    }
}
