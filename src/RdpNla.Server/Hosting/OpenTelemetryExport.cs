namespace RdpNla.Server.Hosting;

/// <summary>
/// The opt-in OTLP export (OpenTelemetry .NET SDK) of the front door's meter and traces. Off unless
/// <see cref="OpenTelemetryOptions.Endpoint"/> is set; the Prometheus endpoint is independent of it.
/// </summary>
public sealed class OpenTelemetryExport : IDisposable
{
    private readonly TracerProvider _tracer;
    private readonly MeterProvider _meter;

    private OpenTelemetryExport(TracerProvider tracer, MeterProvider meter)
    {
        _tracer = tracer;
        _meter = meter;
    }

    /// <summary>Starts exporting, or returns null when no endpoint is configured.</summary>
    public static OpenTelemetryExport? Start(OpenTelemetryOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (string.IsNullOrEmpty(options.Endpoint))
        {
            return null;
        }

        bool grpc = string.Equals(options.Protocol, OpenTelemetryOptions.Grpc, StringComparison.OrdinalIgnoreCase);
        string endpoint = options.Endpoint.TrimEnd('/');
        void Configure(OtlpExporterOptions exporter, string signal)
        {
            exporter.Protocol = grpc ? OtlpExportProtocol.Grpc : OtlpExportProtocol.HttpProtobuf;
            // OTLP/HTTP puts each signal on its own path under the base endpoint (OpenTelemetry protocol exporter spec).
            exporter.Endpoint = new Uri(grpc ? endpoint : $"{endpoint}/v1/{signal}");
        }

        ResourceBuilder resource = ResourceBuilder.CreateDefault().AddService(options.ServiceName, serviceVersion: typeof(OpenTelemetryExport).Assembly.GetName().Version?.ToString());
        TracerProvider tracer = Sdk.CreateTracerProviderBuilder()
            .SetResourceBuilder(resource)
            .AddSource(FrontDoorTracing.SourceName)
            .AddOtlpExporter(exporter =>
            {
                Configure(exporter, "traces");
                exporter.BatchExportProcessorOptions.ScheduledDelayMilliseconds = (int)options.ExportInterval.TotalMilliseconds;
            })
            .Build();
        MeterProvider meter = Sdk.CreateMeterProviderBuilder()
            .SetResourceBuilder(resource)
            .AddMeter(FrontDoorMetrics.MeterName, GatewayMetrics.MeterName)
            .AddOtlpExporter((exporter, reader) =>
            {
                Configure(exporter, "metrics");
                reader.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = (int)options.ExportInterval.TotalMilliseconds;
            })
            .Build();
        return new OpenTelemetryExport(tracer, meter);
    }

    /// <summary>Flushes what is pending and stops.</summary>
    public void Dispose()
    {
        _tracer.ForceFlush(5_000);
        _meter.ForceFlush(5_000);
        _tracer.Dispose();
        _meter.Dispose();
    }
}

/// <summary>The <c>OpenTelemetry</c> settings section: where to send the meter and traces over OTLP.</summary>
public sealed class OpenTelemetryOptions
{
    public const string HttpProtobuf = "http/protobuf";
    public const string Grpc = "grpc";

    /// <summary>The OTLP collector, e.g. <c>http://127.0.0.1:4318</c> (http/protobuf) or <c>http://127.0.0.1:4317</c> (grpc). Empty: no export.</summary>
    public string? Endpoint { get; set; }

    /// <summary><c>http/protobuf</c> (default) or <c>grpc</c>.</summary>
    public string Protocol { get; set; } = HttpProtobuf;

    /// <summary>The <c>service.name</c> resource attribute.</summary>
    public string ServiceName { get; set; } = "rdpnla";

    /// <summary>How often metrics are exported and batched spans sent.</summary>
    public TimeSpan ExportInterval { get; set; } = TimeSpan.FromSeconds(15);

    internal IEnumerable<string> Validate()
    {
        if (!string.IsNullOrEmpty(Endpoint) && (!Uri.TryCreate(Endpoint, UriKind.Absolute, out Uri? uri) || uri.Scheme is not ("http" or "https")))
        {
            yield return $"OpenTelemetry:Endpoint '{Endpoint}' is not an http:// or https:// URL (e.g. http://127.0.0.1:4318).";
        }

        if (!string.Equals(Protocol, HttpProtobuf, StringComparison.OrdinalIgnoreCase) && !string.Equals(Protocol, Grpc, StringComparison.OrdinalIgnoreCase))
        {
            yield return $"OpenTelemetry:Protocol must be http/protobuf or grpc; got '{Protocol}'.";
        }

        if (ExportInterval < TimeSpan.FromMilliseconds(100) || ExportInterval > TimeSpan.FromHours(1))
        {
            yield return "OpenTelemetry:ExportInterval must be between 00:00:00.1 and 01:00:00.";
        }

        if (string.IsNullOrWhiteSpace(ServiceName))
        {
            yield return "OpenTelemetry:ServiceName must not be empty.";
        }
    }
}
