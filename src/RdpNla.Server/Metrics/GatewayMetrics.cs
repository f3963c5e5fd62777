namespace RdpNla.Server.Metrics;

/// <summary>
/// The gateway's instruments, beside the front door's <see cref="FrontDoorMetrics"/>: the backend leg's outcome and
/// duration, the relayed sessions and their bytes, the credentials injected and the downgrades refused. The Prometheus
/// endpoint and the OTLP export follow <see cref="MeterName"/> (docs/hardening.md#metrics).
/// </summary>
public sealed class GatewayMetrics(Meter meter) : ServerMeter(meter)
{
    public const string MeterName = "RdpNla.Gateway";

    private readonly Counter<long> _backendConnects = meter.CreateCounter<long>("rdpnla.gateway.backend.connects", "{connection}", "Backend legs that ended their security phase, by outcome and reason.");

    private readonly Histogram<double> _backendConnectDuration = Seconds(meter, "rdpnla.gateway.backend.connect.duration", "Time to open the backend leg: TCP, X.224, TLS and CredSSP with the injected credentials.", 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30);

    private readonly UpDownCounter<long> _sessionsActive = meter.CreateUpDownCounter<long>("rdpnla.gateway.sessions.active", "{session}", "Sessions being relayed (after the MCS connect exchange).");

    private readonly Counter<long> _bytes = meter.CreateCounter<long>("rdpnla.gateway.relayed.bytes", "By", "Bytes relayed, by direction (to_backend, to_client).");

    private readonly Counter<long> _injections = meter.CreateCounter<long>("rdpnla.gateway.credential.injections", "{injection}", "Client Info PDUs rewritten with the injected credentials, by credential mode.");

    private readonly Counter<long> _downgradeRefusals = meter.CreateCounter<long>("rdpnla.gateway.downgrade.refusals", "{connection}", "Backend legs refused because the backend selected a weaker security protocol, by reason.");

    /// <summary>Creates the instruments on a new meter named <see cref="MeterName"/>.</summary>
    public GatewayMetrics()
        : this(new Meter(MeterName))
    {
    }

    /// <summary>A backend leg is open: its security phase succeeded.</summary>
    public void BackendConnected(TimeSpan duration) => BackendConnectEnded("success", "none", duration);

    /// <summary>A backend leg failed; <paramref name="reason"/> is snake_case (e.g. backend_down, protocol_downgrade, timeout).</summary>
    public void BackendConnectFailed(string reason, TimeSpan duration)
    {
        BackendConnectEnded("failure", reason, duration);
        if (reason is "protocol_downgrade" or "standard_rdp_security_only")
        {
            Count(_downgradeRefusals, "reason", reason);
        }
    }

    public void SessionStarted() => _sessionsActive.Add(1);

    public void SessionEnded() => _sessionsActive.Add(-1);

    public void RelayedToBackend(long bytes) => Count(_bytes, "direction", "to_backend", bytes);

    public void RelayedToClient(long bytes) => Count(_bytes, "direction", "to_client", bytes);

    /// <param name="mode">mapped or pass-through.</param>
    public void CredentialsInjected(string mode) => Count(_injections, "mode", mode);

    private void BackendConnectEnded(string outcome, string reason, TimeSpan duration)
    {
        _backendConnects.Add(1, new TagList { { "outcome", outcome }, { "reason", reason } });
        _backendConnectDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("outcome", outcome));
    }
}
