namespace RdpNla.Server.Metrics;

/// <summary>
/// An optional Prometheus scrape endpoint (text exposition format 0.0.4) for one server's meters (front door and gateway), built on
/// <see cref="MeterListener"/> and <see cref="HttpListener"/> so no exporter package is needed. Counters and up-down
/// counters become <c>_total</c>/gauge series, histograms <c>_bucket</c>/<c>_sum</c>/<c>_count</c>. The same listener
/// answers <c>/health</c> for load balancers: 200 when the check passes, 503 with the reason otherwise.
/// </summary>
public sealed class PrometheusEndpoint : IAsyncDisposable
{
    private readonly MeterListener _listener = new();
    private readonly HttpListener _http = new();
    private readonly ConcurrentDictionary<(string Name, string Labels), double> _sums = new();
    private readonly ConcurrentDictionary<(string Name, string Labels), HistogramState> _histograms = new();
    private readonly ConcurrentDictionary<string, (string Type, string Help)> _descriptions = new();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Task _serving;
    private readonly Func<CancellationToken, Task<string?>>? _health;

    /// <summary>Starts listening on <paramref name="endpoint"/> (e.g. 127.0.0.1:9464) and serves <c>/metrics</c> for <paramref name="meter"/>.</summary>
    /// <remarks>It follows this one meter instance, not every meter of that name: two servers in one process keep separate figures.</remarks>
    /// <param name="endpoint">Where to listen.</param>
    /// <param name="meter">The meter to expose.</param>
    /// <param name="health">The check behind <c>/health</c>: null when healthy, else the reason; no <c>/health</c> without it.</param>
    /// <exception cref="HttpListenerException">The endpoint cannot be bound.</exception>
    public PrometheusEndpoint(IPEndPoint endpoint, Meter meter, Func<CancellationToken, Task<string?>>? health = null)
        : this(endpoint, [meter], health)
    {
    }

    /// <summary>Starts listening on <paramref name="endpoint"/> and serves <c>/metrics</c> for every one of <paramref name="meters"/>.</summary>
    /// <param name="endpoint">Where to listen.</param>
    /// <param name="meters">The meters to expose (e.g. the front door's and the gateway's).</param>
    /// <param name="health">The check behind <c>/health</c>: null when healthy, else the reason; no <c>/health</c> without it.</param>
    /// <exception cref="HttpListenerException">The endpoint cannot be bound.</exception>
    public PrometheusEndpoint(IPEndPoint endpoint, IReadOnlyList<Meter> meters, Func<CancellationToken, Task<string?>>? health = null)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        ArgumentNullException.ThrowIfNull(meters);
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (meters.Any(meter => ReferenceEquals(instrument.Meter, meter)))
            {
                listener.EnableMeasurementEvents(instrument);
            }
        };
        _listener.SetMeasurementEventCallback<long>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.SetMeasurementEventCallback<double>((instrument, value, tags, _) => Record(instrument, value, tags));
        _listener.Start();
        string host = endpoint.AddressFamily == System.Net.Sockets.AddressFamily.InterNetworkV6 ? $"[{endpoint.Address}]" : endpoint.Address.ToString();
        _http.Prefixes.Add($"http://{host}:{endpoint.Port}/metrics/");
        _health = health;
        if (health is not null)
        {
            _http.Prefixes.Add($"http://{host}:{endpoint.Port}/health/");
        }

        _http.Start();
        EndPoint = endpoint;
        _serving = ServeAsync();
    }

    /// <summary>Where it listens.</summary>
    public IPEndPoint EndPoint { get; }

    private void Record(Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        string name = instrument.Name.Replace('.', '_');
        string labels = Labels(tags);
        switch (instrument)
        {
            case Histogram<double> histogram:
                _descriptions.TryAdd(name, ("histogram", instrument.Description ?? name));
                double[] bounds = histogram.Advice?.HistogramBucketBoundaries?.ToArray() ?? [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];
                _histograms.GetOrAdd((name, labels), _ => new HistogramState(bounds)).Add(value);
                break;
            case Counter<long> or Counter<double>:
                _descriptions.TryAdd(name + "_total", ("counter", instrument.Description ?? name));
                _sums.AddOrUpdate((name + "_total", labels), value, (_, old) => old + value);
                break;
            default:
                _descriptions.TryAdd(name, ("gauge", instrument.Description ?? name));
                _sums.AddOrUpdate((name, labels), value, (_, old) => old + value);
                break;
        }
    }

    private static string Labels(ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        if (tags.IsEmpty)
        {
            return string.Empty;
        }

        var pairs = new List<string>(tags.Length);
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            string value = Convert.ToString(tag.Value, CultureInfo.InvariantCulture) ?? string.Empty;
            pairs.Add($"{tag.Key.Replace('.', '_')}=\"{value.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal)}\"");
        }

        pairs.Sort(StringComparer.Ordinal);
        return string.Join(',', pairs);
    }

    /// <summary>The current exposition text.</summary>
    public string Render()
    {
        var text = new StringBuilder();
        foreach ((string name, (string type, string help)) in _descriptions.OrderBy(d => d.Key, StringComparer.Ordinal))
        {
            text.Append(CultureInfo.InvariantCulture, $"# HELP {name} {help}\n# TYPE {name} {(type == "counter" ? "counter" : type)}\n");
            if (type == "histogram")
            {
                foreach (((string _, string labels), HistogramState state) in _histograms.Where(h => h.Key.Name == name).OrderBy(h => h.Key.Labels, StringComparer.Ordinal))
                {
                    state.WriteTo(text, name, labels);
                }

                continue;
            }

            foreach (((string _, string labels), double value) in _sums.Where(s => s.Key.Name == name).OrderBy(s => s.Key.Labels, StringComparer.Ordinal))
            {
                text.Append(CultureInfo.InvariantCulture, $"{name}{(labels.Length == 0 ? string.Empty : "{" + labels + "}")} {value}\n");
            }
        }

        return text.ToString();
    }

    private async Task ServeAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            HttpListenerContext context;
            try
            {
                context = await _http.GetContextAsync().WaitAsync(_stopping.Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is OperationCanceledException or HttpListenerException or ObjectDisposedException)
            {
                return;
            }

            try
            {
                if (_health is not null && context.Request.Url?.AbsolutePath.TrimEnd('/') == "/health")
                {
                    await AnswerHealthAsync(context.Response).ConfigureAwait(false);
                    continue;
                }

                byte[] body = Encoding.UTF8.GetBytes(Render());
                context.Response.ContentType = "text/plain; version=0.0.4; charset=utf-8";
                context.Response.ContentLength64 = body.Length;
                await context.Response.OutputStream.WriteAsync(body, _stopping.Token).ConfigureAwait(false);
                context.Response.Close();
            }
            catch (Exception ex) when (ex is HttpListenerException or IOException or OperationCanceledException)
            {
                context.Response.Abort();
            }
        }
    }

    private async Task AnswerHealthAsync(HttpListenerResponse response)
    {
        string? problem;
        using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token))
        {
            timeout.CancelAfter(TimeSpan.FromSeconds(5));
            try
            {
                problem = await _health!(timeout.Token).ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (!_stopping.IsCancellationRequested)
            {
                problem = "the health check did not finish within 5 seconds";
            }
        }

        byte[] body = Encoding.UTF8.GetBytes(problem is null ? "ok\n" : $"unhealthy: {problem}\n");
        response.StatusCode = problem is null ? 200 : 503;
        response.ContentType = "text/plain; charset=utf-8";
        response.ContentLength64 = body.Length;
        await response.OutputStream.WriteAsync(body, _stopping.Token).ConfigureAwait(false);
        response.Close();
    }

    public async ValueTask DisposeAsync()
    {
        await _stopping.CancelAsync().ConfigureAwait(false);
        _http.Close();
        await _serving.ConfigureAwait(false);
        _listener.Dispose();
        _stopping.Dispose();
    }

    private sealed class HistogramState(double[] bounds)
    {
        private readonly long[] _counts = new long[bounds.Length + 1];
        private readonly Lock _lock = new();
        private double _sum;
        private long _count;

        public void Add(double value)
        {
            lock (_lock)
            {
                int index = Array.FindIndex(bounds, b => value <= b);
                _counts[index < 0 ? bounds.Length : index]++;
                _sum += value;
                _count++;
            }
        }

        public void WriteTo(StringBuilder text, string name, string labels)
        {
            lock (_lock)
            {
                string prefix = labels.Length == 0 ? string.Empty : labels + ",";
                long cumulative = 0;
                for (int i = 0; i < bounds.Length; i++)
                {
                    cumulative += _counts[i];
                    text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{prefix}le=\"{bounds[i]}\"}} {cumulative}\n");
                }

                cumulative += _counts[bounds.Length];
                text.Append(CultureInfo.InvariantCulture, $"{name}_bucket{{{prefix}le=\"+Inf\"}} {cumulative}\n");
                string suffix = labels.Length == 0 ? string.Empty : "{" + labels + "}";
                text.Append(CultureInfo.InvariantCulture, $"{name}_sum{suffix} {_sum}\n{name}_count{suffix} {_count}\n");
            }
        }
    }
}
