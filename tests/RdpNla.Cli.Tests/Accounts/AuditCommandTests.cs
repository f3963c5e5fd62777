using System.Text.Json;
using RdpNla.Protocol;
using RdpNla.Server.Audit;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Accounts;

// CLI tests of `rdpnla audit` (kept under Accounts/ with the audit log tests).
public class AuditCommandTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<CliResult> RunAsync(params string[] args) => Cli.RunAsync(["audit", .. args, "--data", _directory.Path]);

    private async Task SeedAsync()
    {
        await using RdpNlaDatabase database = await DataDirectory.OpenDatabaseAsync(_directory.Path, null, Ct);
        DateTimeOffset now = DateTimeOffset.UtcNow;
        await database.Audit.AppendAsync(Storage.StoreContractTests.Entry(0, "alice", "10.0.0.1", AuditOutcome.Success, NtStatus.Success) with { Time = now.AddDays(-3) }, Ct);
        await database.Audit.AppendAsync(Storage.StoreContractTests.Entry(1, "bob", "10.0.0.2", AuditOutcome.Failure, NtStatus.LogonFailure) with { Time = now.AddHours(-2) }, Ct);
        await database.Audit.AppendAsync(Storage.StoreContractTests.Entry(2, "alice", "10.0.0.2", AuditOutcome.Failure, NtStatus.AccountLockedOut, "LAB") with { Time = now.AddMinutes(-5) }, Ct);
    }

    private static string[] ConnectionIds(CliResult result)
    {
        using JsonDocument document = JsonDocument.Parse(result.Output);
        return [.. document.RootElement.EnumerateArray().Select(e => e.GetProperty("connectionId").GetString()!)];
    }

    [Fact]
    public async Task Audit_Json_ListsNewestFirstWithFields()
    {
        await SeedAsync();

        CliResult result = await RunAsync("--json");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(["conn-2", "conn-1", "conn-0"], ConnectionIds(result));
        using JsonDocument document = JsonDocument.Parse(result.Output);
        JsonElement newest = document.RootElement[0];
        Assert.Equal("STATUS_ACCOUNT_LOCKED_OUT", newest.GetProperty("ntStatus").GetString());
        Assert.Equal("0xC0000234", newest.GetProperty("ntStatusValue").GetString());
        Assert.Equal("failure", newest.GetProperty("outcome").GetString());
        Assert.Equal("LAB", newest.GetProperty("domain").GetString());
        Assert.Equal(6, newest.GetProperty("credSspVersion").GetInt32());
        Assert.Equal("HYBRID_EX", newest.GetProperty("securityProtocol").GetString());
        Assert.Equal(50002, newest.GetProperty("clientPort").GetInt32());
    }

    [Theory]
    [InlineData(new[] { "--user", "ALICE" }, new[] { "conn-2", "conn-0" })]
    [InlineData(new[] { "--address", "10.0.0.2" }, new[] { "conn-2", "conn-1" })]
    [InlineData(new[] { "--outcome", "failure" }, new[] { "conn-2", "conn-1" })]
    [InlineData(new[] { "--since", "1d" }, new[] { "conn-2", "conn-1" })]
    [InlineData(new[] { "--since", "30m" }, new[] { "conn-2" })]
    [InlineData(new[] { "--limit", "1" }, new[] { "conn-2" })]
    [InlineData(new[] { "--user", "alice", "--outcome", "success" }, new[] { "conn-0" })]
    public async Task Audit_Filters_SelectMatchingEntries(string[] filter, string[] expected)
    {
        await SeedAsync();

        CliResult result = await RunAsync([.. filter, "--json"]);

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(expected, ConnectionIds(result));
    }

    [Fact]
    public async Task Audit_SinceIsoTime_Filters()
    {
        await SeedAsync();
        string since = DateTimeOffset.UtcNow.AddDays(-1).ToString("yyyy-MM-dd'T'HH:mm:ss'Z'", System.Globalization.CultureInfo.InvariantCulture);

        CliResult result = await RunAsync("--since", since, "--json");

        Assert.Equal(["conn-2", "conn-1"], ConnectionIds(result));
    }

    [Fact]
    public async Task Audit_Table_ShowsEntries()
    {
        await SeedAsync();

        CliResult result = await RunAsync();

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("STATUS_LOGON_FAILURE", result.Output, StringComparison.Ordinal);
        Assert.Contains("10.0.0.2:50001", result.Output, StringComparison.Ordinal);
        Assert.Contains("reason 1", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Audit_Empty_SaysSo()
    {
        await (await DataDirectory.OpenDatabaseAsync(_directory.Path, null, Ct)).DisposeAsync();

        CliResult result = await RunAsync();

        Assert.Equal((0, "no matching authentication attempts\n"), (result.ExitCode, result.Output));
    }

    [Theory]
    [InlineData("--outcome", "maybe", "--outcome 'maybe' is not an outcome")]
    [InlineData("--since", "yesterday-ish", "--since 'yesterday-ish' is not a time")]
    [InlineData("--limit", "0", "--limit 0 is not a positive number")]
    public async Task Audit_BadFilter_FailsWithOneLine(string option, string value, string expected)
    {
        CliResult result = await RunAsync(option, value);

        Assert.Equal(1, result.ExitCode);
        Assert.Equal($"error: {expected}", result.Error.TrimEnd('\n').Split("; ")[0]);
    }
}
