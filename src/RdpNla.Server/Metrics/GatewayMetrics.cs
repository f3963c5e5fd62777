using System.Diagnostics;
using System.Diagnostics.Metrics;

namespace RdpNla.Server.Metrics;

/// <summary>
/// The gateway's instruments (System.Diagnostics.Metrics, OpenTelemetry-style names and units), beside the front door's
/// <see cref="FrontDoorMetrics"/>: the backend leg's outcome and duration, the relayed sessions and their bytes, the
/// credentials injected and the downgrades refused. One instance per server; the Prometheus endpoint and the OTLP
/// export follow <see cref="MeterName"/> (docs/hardening.md#metrics).
/// </summary>
public sealed class GatewayMetrics : IDisposable
{
    public const string MeterName = "RdpNla.Gateway";

    private readonly Counter<long> _backendConnects;
    private readonly Histogram<double> _backendConnectDuration;
    private readonly UpDownCounter<long> _sessionsActive;
    private readonly Counter<long> _bytes;
    private readonly Counter<long> _injections;
    private readonly Counter<long> _downgradeRefusals;

    public GatewayMetrics()
    {
        Meter = new Meter(MeterName);
        _backendConnects = Meter.CreateCounter<long>("rdpnla.gateway.backend.connects", "{connection}", "Backend legs that ended their security phase, by outcome and reason.");
        _backendConnectDuration = Meter.CreateHistogram<double>(
            "rdpnla.gateway.backend.connect.duration",
            "s",
            "Time to open the backend leg: TCP, X.224, TLS and CredSSP with the injected credentials.",
            tags: null,
            advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30] });
        _sessionsActive = Meter.CreateUpDownCounter<long>("rdpnla.gateway.sessions.active", "{session}", "Sessions being relayed (after the MCS connect exchange).");
        _bytes = Meter.CreateCounter<long>("rdpnla.gateway.relayed.bytes", "By", "Bytes relayed, by direction (to_backend, to_client).");
        _injections = Meter.CreateCounter<long>("rdpnla.gateway.credential.injections", "{injection}", "Client Info PDUs rewritten with the injected credentials, by credential mode.");
        _downgradeRefusals = Meter.CreateCounter<long>("rdpnla.gateway.downgrade.refusals", "{connection}", "Backend legs refused because the backend selected a weaker security protocol, by reason.");
    }

    public Meter Meter { get; }

    /// <summary>A backend leg is open: its security phase succeeded.</summary>
    public void BackendConnected(TimeSpan duration) => BackendConnectEnded("success", "none", duration);

    /// <summary>A backend leg failed; <paramref name="reason"/> is snake_case (e.g. backend_down, protocol_downgrade, timeout).</summary>
    public void BackendConnectFailed(string reason, TimeSpan duration)
    {
        BackendConnectEnded("failure", reason, duration);
        if (reason is "protocol_downgrade" or "standard_rdp_security_only")
        {
            _downgradeRefusals.Add(1, new KeyValuePair<string, object?>("reason", reason));
        }
    }

    public void SessionStarted() => _sessionsActive.Add(1);

    public void SessionEnded() => _sessionsActive.Add(-1);

    public void RelayedToBackend(long bytes) => _bytes.Add(bytes, new KeyValuePair<string, object?>("direction", "to_backend"));

    public void RelayedToClient(long bytes) => _bytes.Add(bytes, new KeyValuePair<string, object?>("direction", "to_client"));

    /// <param name="mode">mapped or pass-through.</param>
    public void CredentialsInjected(string mode) => _injections.Add(1, new KeyValuePair<string, object?>("mode", mode));

    public void Dispose() => Meter.Dispose();

    private void BackendConnectEnded(string outcome, string reason, TimeSpan duration)
    {
        _backendConnects.Add(1, new TagList { { "outcome", outcome }, { "reason", reason } });
        _backendConnectDuration.Record(duration.TotalSeconds, new KeyValuePair<string, object?>("outcome", outcome));
    }
}
