using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using RdpNla.Protocol;
using RdpNla.Server.Accounts;
using RdpNla.Server.Hosting;
using RdpNla.Server.Limits;
using RdpNla.Server.Metrics;
using RdpNla.Server.Storage;
using RdpNla.Transport;

namespace RdpNla.Server.FrontDoor;

/// <summary>
/// A running front door and everything it owns (database, certificate, listener). <see cref="StartAsync"/> builds it
/// from validated options; disposing drains the connections and closes the database.
/// </summary>
public sealed class FrontDoorHost : IAsyncDisposable
{
    private readonly RdpNlaStore _database;
    private readonly X509Certificate2 _certificate;

    private FrontDoorHost(FrontDoorServer server, RdpNlaStore database, X509Certificate2 certificate, string fingerprint, FrontDoorMetrics metrics, ConnectionGate gate)
    {
        Server = server;
        Metrics = metrics;
        Gate = gate;
        _database = database;
        _certificate = certificate;
        CertificateFingerprint = fingerprint;
    }

    public FrontDoorServer Server { get; }

    /// <summary>The server's instruments (meter <see cref="FrontDoorMetrics.MeterName"/>).</summary>
    public FrontDoorMetrics Metrics { get; }

    /// <summary>The Prometheus endpoint, when <see cref="FrontDoorOptions.MetricsListen"/> is set.</summary>
    public PrometheusEndpoint? Prometheus { get; private init; }

    /// <summary>The pre-authentication admission state (penalized sources, counts).</summary>
    public ConnectionGate Gate { get; }

    /// <summary>The SHA-256 fingerprint of the TLS certificate in use.</summary>
    public string CertificateFingerprint { get; }

    /// <summary>The DER certificate in use (clients pin it or trust it on first use).</summary>
    public X509Certificate2 Certificate => _certificate;

    /// <summary>Opens the store, loads or generates the certificate, binds the listeners and starts serving.</summary>
    /// <exception cref="InvalidOperationException">The options are invalid or the certificate cannot be loaded.</exception>
    /// <exception cref="SocketException">A listen endpoint cannot be bound.</exception>
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
        try
        {
            LocalDomainNames localNames = options.ComputerName is null
                ? LocalDomainNames.FromEnvironment(options.DomainName)
                : new LocalDomainNames(options.ComputerName, options.DnsComputerName, options.DomainName);
            certificate = ServerCertificate.Load(options.Certificate, dataDirectory, localNames.DnsName ?? localNames.NetBiosName.ToLowerInvariant(), timeProvider, out bool generated);
            string fingerprint = ServerCertificate.Sha256Fingerprint(certificate);
            FrontDoorLog.CertificateLoaded(logger, certificate.Subject, fingerprint, generated ? " (generated now, self-signed)" : string.Empty);
            FrontDoorLog.Policy(logger, (int)options.SecurityLayer, options.UserAuthentication, (int)options.AllowEncryptionOracle, options.MaxCredSspVersion);
            StoreLog.Opened(logger, database.Location.Description, database.Postgres?.SchemaVersion ?? database.Sqlite.SchemaVersion, options.EffectiveInstanceName);
            if (database.Location.IsPostgres)
            {
                StoreLog.GatewayStaysLocal(logger, DataDirectory.GetDatabasePath(dataDirectory));
            }

            if ((await database.Users.ListAsync(cancellationToken).ConfigureAwait(false)).Count == 0)
            {
                FrontDoorLog.NoUsers(logger, database.Location.IsPostgres ? dataDirectory + " --store CONNECTION-STRING" : dataDirectory);
            }

            var policy = new AccountPolicy(database.Users, localNames, Options.Create(accountPolicyOptions), timeProvider, loggerFactory.CreateLogger<AccountPolicy>());
            metrics = new FrontDoorMetrics();
            Gateway.GatewayRelay? gateway = Gateway.GatewaySetup.Create(options.Gateway, database.Sqlite, dataDirectory, loggerFactory.CreateLogger("RdpNla.Gateway"), timeProvider);
            var context = new FrontDoorContext(options, certificate, localNames, policy, database.Audit, logger, timeProvider, SystemRandomSource.Instance, metrics, gateway);
            var server = new FrontDoorServer(context);
            server.Start();
            PrometheusEndpoint? prometheus = null;
            if (!string.IsNullOrEmpty(options.MetricsListen) && ListenEndpoint.TryParse(options.MetricsListen, out System.Net.IPEndPoint? metricsEndpoint, out _))
            {
                prometheus = new PrometheusEndpoint(metricsEndpoint, metrics.Meter);
                FrontDoorLog.MetricsListening(logger, metricsEndpoint);
            }

            return new FrontDoorHost(server, database, certificate, fingerprint, metrics, context.Gate) { Prometheus = prometheus };
        }
        catch
        {
            certificate?.Dispose();
            metrics?.Dispose();
            await database.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await Server.DisposeAsync().ConfigureAwait(false);
        if (Prometheus is not null)
        {
            await Prometheus.DisposeAsync().ConfigureAwait(false);
        }

        await _database.DisposeAsync().ConfigureAwait(false);
        _certificate.Dispose();
        Metrics.Dispose();
    }
}
