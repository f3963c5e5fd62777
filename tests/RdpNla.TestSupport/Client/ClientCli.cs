using System.Text.Json;
using RdpNla.Tests.Accounts;

namespace RdpNla.Tests.Client;

/// <summary>Runs <c>rdpnla login</c> / <c>rdpnla probe</c> in process and parses their JSON.</summary>
internal static class ClientCli
{
    public static Task<CliResult> LoginAsync(string target, string user, string password, params string[] more) =>
        Accounts.Cli.RunAsync(new FakeCliConsole(password + "\n"), ["login", target, "-u", user, "--password-stdin", "--cert-ignore", "--json", .. more]);

    public static async Task<(CliResult Result, JsonElement Json)> LoginJsonAsync(string target, string user, string password, params string[] more)
    {
        CliResult result = await LoginAsync(target, user, password, more);
        return (result, Parse(result));
    }

    /// <summary><c>rdpnla login</c> timed by <paramref name="time"/>.</summary>
    public static async Task<(CliResult Result, JsonElement Json)> LoginJsonAsync(TimeProvider time, string target, string user, string password, params string[] more)
    {
        CliResult result = await Accounts.Cli.RunAsync(new FakeCliConsole(password + "\n") { Time = time }, ["login", target, "-u", user, "--password-stdin", "--cert-ignore", "--json", .. more]);
        return (result, Parse(result));
    }

    public static Task<(CliResult Result, JsonElement Json)> ProbeJsonAsync(params string[] args) => ProbeJsonAsync(TimeProvider.System, args);

    /// <summary><c>rdpnla probe</c> timed by <paramref name="time"/>.</summary>
    public static async Task<(CliResult Result, JsonElement Json)> ProbeJsonAsync(TimeProvider time, params string[] args)
    {
        CliResult result = await Accounts.Cli.RunAsync(new FakeCliConsole { Time = time }, ["probe", "--json", .. args]);
        return (result, Parse(result));
    }

    public static async Task<(CliResult Result, List<JsonElement> Lines)> ProbeManyAsync(params string[] args)
    {
        CliResult result = await Accounts.Cli.RunAsync(["probe", "--json", .. args]);
        var lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => JsonDocument.Parse(l).RootElement.Clone()).ToList();
        return (result, lines);
    }

    public static JsonElement Parse(CliResult result)
    {
        try
        {
            return JsonDocument.Parse(result.Output).RootElement.Clone();
        }
        catch (JsonException ex)
        {
            throw new InvalidOperationException($"not JSON (exit {result.ExitCode}): {result.Output}\nstderr: {result.Error}", ex);
        }
    }

    public static string? Str(this JsonElement element, string name) =>
        element.TryGetProperty(name, out JsonElement value) && value.ValueKind == JsonValueKind.String ? value.GetString() : null;

    public static string[] Strings(this JsonElement element) => element.EnumerateArray().Select(e => e.GetString()!).ToArray();

    public static string[] FindingIds(this JsonElement probe) => probe.GetProperty("findings").EnumerateArray().Select(f => f.GetProperty("id").GetString()!).ToArray();
}
