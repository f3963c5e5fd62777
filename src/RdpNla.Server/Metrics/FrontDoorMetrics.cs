namespace RdpNla.Server.Metrics;

/// <summary>
/// The front door's instruments (System.Diagnostics.Metrics, OpenTelemetry-style names and units). One instance per
/// server; exporters (the optional Prometheus endpoint, OpenTelemetry) listen to <see cref="MeterName"/>.
/// </summary>
public sealed class FrontDoorMetrics : ServerMeter
{
    public const string MeterName = "RdpNla.Server";

    private readonly Counter<long> _handshakes;
    private readonly Histogram<double> _handshakeDuration;
    private readonly UpDownCounter<long> _pending;
    private readonly UpDownCounter<long> _active;
    private readonly Counter<long> _rejections;
    private readonly Counter<long> _lockouts;
    private readonly Counter<long> _penalties;

    public FrontDoorMetrics()
        : base(new Meter(MeterName))
    {
        _handshakes = Meter.CreateCounter<long>("rdpnla.server.handshakes", "{handshake}", "Handshakes that ended, by result and CredSSP version.");
        _handshakeDuration = Seconds(Meter, "rdpnla.server.handshake.duration", "Time from accept to the end of the handshake.", 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30);
        _pending = Meter.CreateUpDownCounter<long>("rdpnla.server.connections.pending", "{connection}", "Connections not yet authenticated.");
        _active = Meter.CreateUpDownCounter<long>("rdpnla.server.connections.active", "{connection}", "Connections open, authenticated or not.");
        _rejections = Meter.CreateCounter<long>("rdpnla.server.rejections", "{connection}", "Connections refused before their handshake, by reason.");
        _lockouts = Meter.CreateCounter<long>("rdpnla.server.lockouts", "{lockout}", "Accounts locked out by repeated wrong passwords.");
        _penalties = Meter.CreateCounter<long>("rdpnla.server.penalties", "{penalty}", "Source addresses blocked by per-source penalties.");
    }

    public void ConnectionOpened()
    {
        _active.Add(1);
        _pending.Add(1);
    }

    public void ConnectionAuthenticatedOrEnded() => _pending.Add(-1);

    public void ConnectionClosed() => _active.Add(-1);

    /// <param name="result">success, failure, refused or error (the audit outcome).</param>
    /// <param name="credSspVersion">The client's CredSSP version, when the exchange got that far.</param>
    /// <param name="duration">Accept to end of handshake.</param>
    public void HandshakeEnded(string result, int? credSspVersion, TimeSpan duration)
    {
        var tags = new TagList { { "result", result }, { "credssp.version", credSspVersion?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "none" } };
        _handshakes.Add(1, tags);
        _handshakeDuration.Record(duration.TotalSeconds, new TagList { { "result", result } });
    }

    public void Rejected(RejectionReason reason) => Count(_rejections, "reason", RejectionNames.Name(reason));

    public void AccountLockedOut() => _lockouts.Add(1);

    public void SourcePenalized() => _penalties.Add(1);
}

/// <summary>The snake_case names of rejection reasons used in metrics and logs.</summary>
internal static class RejectionNames
{
    public static string Name(RejectionReason reason) => reason switch
    {
        RejectionReason.TotalUnauthenticated => "total_unauthenticated",
        RejectionReason.RandomEarlyDrop => "random_early_drop",
        RejectionReason.PerAddress => "per_address",
        RejectionReason.PerPrefix => "per_prefix",
        RejectionReason.ConnectionRate => "connection_rate",
        RejectionReason.Penalty => "penalty",
        RejectionReason.ProxyProtocol => "proxy_protocol",
        _ => reason.ToString(),
    };
}
