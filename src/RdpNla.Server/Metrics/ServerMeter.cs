namespace RdpNla.Server.Metrics;

/// <summary>
/// One meter of the server and its instruments: the front door's (<see cref="FrontDoorMetrics"/>) and the gateway's
/// (<see cref="GatewayMetrics"/>). Each server owns its instances, so two servers in one process keep separate figures.
/// </summary>
public abstract class ServerMeter : IDisposable
{
    protected ServerMeter(Meter meter) => Meter = meter;

    /// <summary>The meter the exporters listen to (the Prometheus endpoint follows this instance).</summary>
    public Meter Meter { get; }

    public void Dispose()
    {
        Dispose(true);
        GC.SuppressFinalize(this);
    }

    protected virtual void Dispose(bool disposing)
    {
        if (disposing)
        {
            Meter.Dispose();
        }
    }

    /// <summary>A duration histogram in seconds with explicit bucket boundaries (OpenTelemetry's defaults suit milliseconds).</summary>
    protected static Histogram<double> Seconds(Meter meter, string name, string description, params double[] boundaries) =>
        meter.CreateHistogram<double>(name, "s", description, tags: null, advice: new InstrumentAdvice<double> { HistogramBucketBoundaries = boundaries });

    /// <summary>A counter of one event with one tag.</summary>
    protected static void Count(Counter<long> counter, string tag, string value, long delta = 1) =>
        counter.Add(delta, new KeyValuePair<string, object?>(tag, value));
}
