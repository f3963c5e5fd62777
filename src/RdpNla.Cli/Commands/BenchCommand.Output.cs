namespace RdpNla.Cli.Commands;

internal static partial class BenchCommand
{
    private static double Round(double value) => Math.Round(value, 2);

    private static JsonObject? LatencyJson(LatencySummary? latency) => latency is null ? null : new JsonObject
    {
        ["count"] = latency.Count,
        ["p50"] = Round(latency.P50),
        ["p90"] = Round(latency.P90),
        ["p99"] = Round(latency.P99),
        ["max"] = Round(latency.Max),
        ["mean"] = Round(latency.Mean),
    };

    private static JsonObject? HeldJson(HeldConnectionStats? held) => held is null ? null : new JsonObject
    {
        ["target"] = held.Target,
        ["opened"] = held.Opened,
        ["connect_failures"] = held.ConnectFailures,
        ["closed_by_server"] = held.ClosedByServer,
        ["peak_held"] = held.PeakHeld,
        ["held_at_end"] = held.HeldAtEnd,
        ["bytes_sent"] = held.BytesSent,
        ["time_to_target_s"] = held.TimeToTarget is { } t ? Round(t.TotalSeconds) : null,
        ["median_lifetime_ms"] = held.MedianLifetimeMs is { } m ? Round(m) : null,
    };

    internal static JsonObject ToJson(NlaBenchResult result, NlaBenchOptions options)
    {
        var errors = new JsonObject();
        foreach ((NlaFailureKind kind, long n) in result.Errors)
        {
            errors[ClientCommandSupport.SnakeCase(kind.ToString())] = n;
        }

        var examples = new JsonObject();
        foreach ((NlaFailureKind kind, string message) in result.ErrorExamples)
        {
            examples[ClientCommandSupport.SnakeCase(kind.ToString())] = message;
        }

        var tls = new JsonObject();
        foreach ((System.Security.Authentication.SslProtocols version, long n) in result.TlsVersions)
        {
            tls[NlaClient.TlsName(version)] = n;
        }

        return new JsonObject
        {
            ["target"] = result.Target,
            ["connections"] = result.Connections,
            ["duration_s"] = options.Duration.TotalSeconds,
            ["sources"] = options.SourceAddresses.Count,
            ["elapsed_s"] = Round(result.Elapsed.TotalSeconds),
            ["handshake_elapsed_s"] = Round(result.HandshakeElapsed.TotalSeconds),
            ["attempts"] = result.Attempts,
            ["successes"] = result.Successes,
            ["handshakes_per_second"] = Round(result.HandshakesPerSecond),
            ["attempts_per_second"] = Round(result.AttemptsPerSecond),
            ["latency_ms"] = LatencyJson(result.SuccessLatency),
            ["latency_all_ms"] = LatencyJson(result.AllLatency),
            ["errors"] = errors,
            ["error_examples"] = examples,
            ["tls_versions"] = tls,
            ["idle"] = HeldJson(result.Idle),
            ["slowloris"] = HeldJson(result.Slowloris),
        };
    }

    private static async Task WriteTextAsync(TextWriter output, NlaBenchResult result)
    {
        CultureInfo c = CultureInfo.InvariantCulture;
        await output.WriteLineAsync($"target: {result.Target}, {result.Connections} connections, {result.Elapsed.TotalSeconds.ToString("0.0", c)} s");
        if (result.Connections > 0)
        {
            await output.WriteLineAsync(string.Create(c, $"handshakes: {result.Attempts} attempted, {result.Successes} succeeded: {result.HandshakesPerSecond:0.0}/s ({result.AttemptsPerSecond:0.0} attempts/s)"));
            if (result.SuccessLatency is { } l)
            {
                await output.WriteLineAsync(string.Create(c, $"latency (successes): p50 {l.P50:0.0} ms, p90 {l.P90:0.0} ms, p99 {l.P99:0.0} ms, max {l.Max:0.0} ms"));
            }
            else if (result.AllLatency is { } a)
            {
                await output.WriteLineAsync(string.Create(c, $"latency (all attempts, none succeeded): p50 {a.P50:0.0} ms, p90 {a.P90:0.0} ms, p99 {a.P99:0.0} ms, max {a.Max:0.0} ms"));
            }

            if (result.TlsVersions.Count > 0)
            {
                await output.WriteLineAsync($"tls: {string.Join(", ", result.TlsVersions.Select(v => $"{NlaClient.TlsName(v.Key)} {v.Value}"))}");
            }

            await output.WriteLineAsync(result.Errors.Count == 0 ? "errors: none"
                : $"errors: {string.Join(", ", result.Errors.Select(e => $"{ClientCommandSupport.SnakeCase(e.Key.ToString())} {e.Value}"))}");
            foreach ((NlaFailureKind kind, string message) in result.ErrorExamples)
            {
                await output.WriteLineAsync($"  {ClientCommandSupport.SnakeCase(kind.ToString())}: e.g. {message}");
            }
        }

        foreach ((string name, HeldConnectionStats? held) in new[] { ("idle", result.Idle), ("slowloris", result.Slowloris) })
        {
            if (held is not null)
            {
                await output.WriteLineAsync(string.Create(c, $"{name}: target {held.Target}, peak held {held.PeakHeld}, held at end {held.HeldAtEnd}, opened {held.Opened}, closed by server {held.ClosedByServer}, connect failures {held.ConnectFailures}{(held.BytesSent > 0 ? $", {held.BytesSent} bytes sent" : "")}{(held.TimeToTarget is { } t ? $", all open after {t.TotalSeconds:0.0} s" : "")}{(held.MedianLifetimeMs is { } m ? $", median life {m:0} ms" : "")}"));
            }
        }
    }
}
