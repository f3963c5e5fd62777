using System.Text.Json;
using RdpNla.Tests.Accounts;
using RdpNla.Tests.Client;

namespace RdpNla.Tests.Doctor;

/// <summary><c>rdpnla doctor</c> run in process, as the live doctor tests of both sets run it.</summary>
internal static class DoctorCli
{
    public static Task<CliResult> RunAsync(params string[] args) => Accounts.Cli.RunAsync(["doctor", .. args]);

    public static Task<CliResult> RunWithPasswordAsync(string password, params string[] args) =>
        Accounts.Cli.RunAsync(new FakeCliConsole(password + "\n"), ["doctor", .. args]);

    public static async Task<(CliResult Result, JsonElement Json)> JsonAsync(params string[] args)
    {
        CliResult result = await RunAsync([.. args, "--json"]);
        return (result, ClientCli.Parse(result));
    }

    public static string[] Evidence(JsonElement json) => json.GetProperty("evidence").Strings();
}
