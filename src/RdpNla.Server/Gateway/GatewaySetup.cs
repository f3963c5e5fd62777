namespace RdpNla.Server.Gateway;

/// <summary>Builds the gateway of a front door host.</summary>
internal static class GatewaySetup
{
    /// <summary>
    /// The relay is always created: per-user and per-group backends live in the store and can be set while the server
    /// runs. Users with no backend (and no default) get the plain front door behaviour. The sealing key is loaded
    /// lazily, the first time a mapped credential is needed.
    /// </summary>
    public static GatewayRelay Create(GatewayOptions options, GatewayStore store, string dataDirectory, ILogger logger, TimeProvider timeProvider, Metrics.GatewayMetrics metrics)
    {
        GatewayKey? key = null;
        var gate = new Lock();
        GatewayKey LoadKey()
        {
            lock (gate)
            {
                return key ??= GatewayKey.Load(dataDirectory, options.KeyFile, create: false);
            }
        }

        GatewayLog.Configured(logger, options.DefaultBackend ?? "(none; per-user and per-group backends only)", options.CertificateValidation, options.BackendSecurity.Name(), options.IdleTimeout, options.MaxSessionLength);
        return new GatewayRelay(options, store, LoadKey, logger, timeProvider, SystemRandomSource.Instance, metrics);
    }
}
