using System.Diagnostics.Metrics;
using System.Net;
using System.Text.Json;
using RdpNla.Client;
using RdpNla.Tests.Accounts;
using RdpNla.Tests.Support;
using RdpNla.Server.Audit;
using RdpNla.Server.Metrics;

namespace RdpNla.Tests.Client;

/// <summary>
/// <c>rdpnla bench</c> against our front door: what it counts (behaviour only, never timings), its loopback-only
/// attack modes, and the brute-force guarantees it measures (zero successes, every attempt audited, penalties and
/// lockout engaged, another user unaffected).
/// </summary>
public class BenchCommandTests
{
    private const string Password = "Corr3ct-horse";

    private static Task<CliResult> BenchAsync(string password, params string[] args) =>
        Accounts.Cli.RunAsync(new FakeCliConsole(password + "\n"), ["bench", .. args, "--json"]);

    private static JsonElement Json(CliResult result)
    {
        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        return ClientCli.Parse(result);
    }

    [Fact]
    public async Task Bench_RightPassword_CountsEveryProvenHandshakeAndAuditsIt()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync();
        await server.AddUserAsync("alice", Password);

        JsonElement json = Json(await BenchAsync(Password, server.Address, "-u", "alice", "--password-stdin", "-c", "2", "--count", "6", "--duration", "60"));

        Assert.Equal(6, json.GetProperty("attempts").GetInt64());
        Assert.Equal(6, json.GetProperty("successes").GetInt64());
        Assert.Empty(json.GetProperty("errors").EnumerateObject());
        JsonElement latency = json.GetProperty("latency_ms");
        Assert.Equal(6, latency.GetProperty("count").GetInt64());
        Assert.True(latency.GetProperty("p50").GetDouble() <= latency.GetProperty("p99").GetDouble());
        Assert.True(latency.GetProperty("p99").GetDouble() <= latency.GetProperty("max").GetDouble());
        Assert.True(json.GetProperty("handshakes_per_second").GetDouble() > 0);
        Assert.Equal(6, json.GetProperty("tls_versions").EnumerateObject().Sum(p => p.Value.GetInt64()));
        IReadOnlyList<AuditEntry> audit = await server.WaitForAuditAsync(6);
        Assert.Equal(6, audit.Count(a => a.Outcome == AuditOutcome.Success && a.UserName == "alice"));
    }

    [Fact]
    public async Task Bench_WrongPassword_CountsNoSuccessAndNamesTheError()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync();
        await server.AddUserAsync("alice", Password);

        JsonElement json = Json(await BenchAsync("wrong", server.Address, "-u", "alice", "--password-stdin", "--count", "3", "--duration", "60"));

        Assert.Equal(3, json.GetProperty("attempts").GetInt64());
        Assert.Equal(0, json.GetProperty("successes").GetInt64());
        Assert.Equal(3, json.GetProperty("errors").GetProperty("logon_refused").GetInt64());
        Assert.Contains("STATUS_LOGON_FAILURE", json.GetProperty("error_examples").Str("logon_refused"), StringComparison.Ordinal);
        Assert.Equal(JsonValueKind.Null, json.GetProperty("latency_ms").ValueKind);
    }

    [Theory]
    [InlineData("--idle")]
    [InlineData("--slowloris")]
    [InlineData("--sources")]
    public async Task Bench_AttackModes_RefuseANonLoopbackTarget(string mode)
    {
        CliResult result = await BenchAsync(Password, "192.0.2.10:3389", "-u", "alice", "--password-stdin", mode, "5", "--duration", "1");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("only target a server on this machine", result.Error, StringComparison.Ordinal);
        Assert.Equal("", result.Output);
    }

    [Fact]
    public async Task Bench_NoPasswordSourceWithoutTerminal_RefusesNamingStdinAndEnvironment()
    {
        var console = new FakeCliConsole(isTerminal: false);
        CliResult result = await Accounts.Cli.RunAsync(console, ["bench", "127.0.0.1:1", "-u", "alice", "--duration", "1"]);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--password-stdin", result.Error, StringComparison.Ordinal);
        Assert.Contains("RDPNLA_PASSWORD", result.Error, StringComparison.Ordinal);
        Assert.Equal(0, console.SecretPrompts);
    }

    [Fact]
    public async Task Bench_IdleFromOneAddress_IsCappedPerAddress_SpreadOverSourcesIsHeld()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o =>
        {
            o.Limits.MaxUnauthenticatedConnectionsPerAddress = 2;
            o.Limits.NegotiationTimeout = TimeSpan.FromMinutes(5);
            o.Limits.HandshakeTimeout = TimeSpan.FromMinutes(5);
        });

        // One address: the front door admits 2 and resets the rest at accept.
        JsonElement single = Json(await BenchAsync("", server.Address, "--idle", "6", "--no-reconnect", "--duration", "3"));
        JsonElement idle = single.GetProperty("idle");
        Assert.Equal(6, idle.GetProperty("opened").GetInt64() + idle.GetProperty("connect_failures").GetInt64());
        // The 4 refused ones are reset at accept: the client sees that either while connecting or right after.
        Assert.True(idle.GetProperty("closed_by_server").GetInt64() + idle.GetProperty("connect_failures").GetInt64() >= 4, single.ToString());

        // The first run's connections are closed by the client when it exits, but the server reaps them only as it
        // reads their end: wait until it has, or one of them is still counted below (seen once as 21 instead of 20).
        for (int i = 0; i < 200 && server.Host.Gate.Unauthenticated > 0; i++)
        {
            await Task.Delay(25, TestContext.Current.CancellationToken);
        }

        Assert.Equal(0, server.Host.Gate.Unauthenticated);

        // Spread over 10 loopback addresses: all 20 are held (2 per address) and the server sees 10 sources.
        Task<CliResult> spread = BenchAsync("", server.Address, "--idle", "20", "--sources", "10", "--no-reconnect", "--duration", "4");
        int maxSeen = 0;
        while (!spread.IsCompleted)
        {
            maxSeen = Math.Max(maxSeen, server.Host.Gate.Unauthenticated);
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }

        idle = Json(await spread).GetProperty("idle");
        Assert.Equal(20, idle.GetProperty("peak_held").GetInt32());
        Assert.Equal(20, idle.GetProperty("held_at_end").GetInt32());
        Assert.Equal(0, idle.GetProperty("closed_by_server").GetInt64());
        Assert.Equal(20, maxSeen);
    }

    [Fact]
    public async Task Bench_Slowloris_IsCutByTheMinimumDataRate()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o =>
        {
            o.Limits.MinDataRateGracePeriod = TimeSpan.FromSeconds(1);
            o.Limits.NegotiationTimeout = TimeSpan.FromMinutes(5);
            o.Limits.HandshakeTimeout = TimeSpan.FromMinutes(5);
        });

        JsonElement json = Json(await BenchAsync("", server.Address, "--slowloris", "3", "--slowloris-interval", "0.3", "--no-reconnect", "--duration", "8"));

        JsonElement slow = json.GetProperty("slowloris");
        Assert.Equal(3, slow.GetProperty("opened").GetInt64());
        Assert.Equal(3, slow.GetProperty("closed_by_server").GetInt64());
        Assert.True(slow.GetProperty("bytes_sent").GetInt64() >= 3);
        Assert.Contains("minimum data rate", (await server.WaitForAuditAsync(3)).Select(a => a.Reason).First(), StringComparison.Ordinal);
    }

    /// <summary>
    /// Brute force: 500 wrong passwords spread over 500 addresses, then 500 from one address. Zero successes;
    /// every attempt that reached CredSSP has its audit row (each failure the client saw was written before it was
    /// sent); the one address is blocked by the per-source penalty (refusals counted in the metrics); the account is
    /// locked out; another user's login still succeeds.
    /// </summary>
    [Fact]
    public async Task BruteForce_OneAddressAndSpread_NoSuccessEveryAttemptAuditedPenaltyAndLockoutEngaged()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o => o.Limits.MaxConnectionRatePerAddress = 0);
        await server.AddUserAsync("alice", Password);
        await server.AddUserAsync("bob", "B0b-s3cret!");
        long penaltyRejections = 0;
        using var listener = new MeterListener();
        listener.InstrumentPublished = (instrument, l) =>
        {
            if (instrument.Meter == server.Host.Metrics.Meter && instrument.Name == "rdpnla.server.rejections")
            {
                l.EnableMeasurementEvents(instrument);
            }
        };
        listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == "reason" && (string?)tag.Value == RejectionNames.Name(Server.Limits.RejectionReason.Penalty))
                {
                    Interlocked.Add(ref penaltyRejections, value);
                }
            }
        });
        listener.Start();

        JsonElement spread = Json(await BenchAsync("wrong", server.Address, "-u", "alice", "--password-stdin", "-c", "4", "--count", "500", "--sources", "500", "--duration", "300"));
        JsonElement single = Json(await BenchAsync("wrong", server.Address, "-u", "alice", "--password-stdin", "-c", "4", "--count", "500", "--sources", "1", "--duration", "300"));

        Assert.Equal(0, single.GetProperty("successes").GetInt64());
        Assert.Equal(0, spread.GetProperty("successes").GetInt64());
        Assert.Equal(500, single.GetProperty("attempts").GetInt64());
        Assert.Equal(500, spread.GetProperty("attempts").GetInt64());

        // One address: blocked after a few failures; the rest refused at accept, counted in the metrics.
        long singleRefused = single.GetProperty("errors").TryGetProperty("logon_refused", out JsonElement r1) ? r1.GetInt64() : 0;
        Assert.InRange(singleRefused, 1, 100);
        Assert.Contains(IPAddress.Parse("127.1.1.1"), server.Host.Gate.BlockedSources().Keys);
        Assert.True(Interlocked.Read(ref penaltyRejections) >= 500 - singleRefused - 4, $"penalty rejections {penaltyRejections}");

        // Spread: no address fails often enough for a penalty; every attempt reaches CredSSP and is refused.
        long spreadRefused = spread.GetProperty("errors").GetProperty("logon_refused").GetInt64();
        Assert.Equal(500, spreadRefused);

        // Every failure the client received has its audit row (the row is written before the failure is sent).
        IReadOnlyList<AuditEntry> audit = await server.WaitForAuditAsync((int)(singleRefused + spreadRefused));
        List<AuditEntry> alice = audit.Where(a => a.UserName == "alice").ToList();
        Assert.Equal(singleRefused + spreadRefused, alice.Count(a => a.Outcome == AuditOutcome.Failure));
        Assert.DoesNotContain(alice, a => a.Outcome == AuditOutcome.Success);
        Assert.Contains(alice, a => a.StatusName == "STATUS_ACCOUNT_LOCKED_OUT");
        Assert.NotNull((await server.Database.Users.FindAsync("alice", TestContext.Current.CancellationToken))!.LockedUntil);

        // Another user, from another address, is not affected.
        (CliResult login, JsonElement result) = await ClientCli.LoginJsonAsync(server.Address, "bob", "B0b-s3cret!");
        Assert.True(login.ExitCode == 0, login.Output + login.Error);
        Assert.Equal("success", result.Str("result"));
    }
}
