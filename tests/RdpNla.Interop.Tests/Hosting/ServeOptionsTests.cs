using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Options;
using RdpNla.Tests.Support;
using RdpNla.Server.Hosting;

namespace RdpNla.Tests.Hosting;

/// <summary>
/// The settings of <c>rdpnla serve</c> go through the options pipeline with <c>ValidateOnStart</c>: a generic host
/// built with them refuses to start, and the real <c>serve</c> process stops before it listens, with one line per
/// problem that names the setting.
/// </summary>
public sealed class ServeOptionsTests : IDisposable
{
    private readonly string _root = Directory.CreateTempSubdirectory("rdpnla-options-").FullName;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose() => Directory.Delete(_root, recursive: true);

    [Fact]
    public async Task GenericHost_WithServeOptions_RefusesToStart_OnAnInvalidSetting()
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?> { ["MaxCredSspVersion"] = "9", ["LockoutThreshold"] = "-1" });
        builder.Services.AddRdpNlaServeOptions(builder.Configuration);
        using IHost host = builder.Build();

        AggregateException ex = await Assert.ThrowsAsync<AggregateException>(() => host.StartAsync(Ct));

        Assert.Equal(
            ["MaxCredSspVersion must be between 2 and 6; got 9.", "LockoutThreshold is -1; use 0 (never lock) or a positive number of attempts."],
            ex.InnerExceptions.Cast<OptionsValidationException>().SelectMany(e => e.Failures));
    }

    [Fact]
    public async Task GenericHost_WithValidServeOptions_Starts_AndBindsEverySettingName()
    {
        HostApplicationBuilder builder = Host.CreateEmptyApplicationBuilder(new HostApplicationBuilderSettings());
        builder.Configuration.AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["SecurityLayer"] = "1",
            ["Limits:MaxMessageSize"] = "4096",
            ["Gateway:DefaultBackend"] = "10.0.0.5:3389",
            ["LockoutThreshold"] = "3",
        });
        builder.Services.AddRdpNlaServeOptions(builder.Configuration);
        using IHost host = builder.Build();

        await host.StartAsync(Ct);
        Assert.True(host.Services.TryGetServeOptions(out var options, out var policy, out IReadOnlyList<string> errors), string.Join("\n", errors));
        await host.StopAsync(Ct);

        Assert.Equal(Protocol.Rdp.SecurityLayer.Negotiate, options.SecurityLayer);
        Assert.Equal(4096, options.Limits.MaxMessageSize);
        Assert.Equal("10.0.0.5:3389", options.Gateway.DefaultBackend);
        Assert.Equal(3, policy.LockoutThreshold);
    }

    public static TheoryData<string, string, string> InvalidSettings => new()
    {
        { "{ \"Limits\": { \"MaxMessageSize\": 10 } }", "", "error: Limits:MaxMessageSize must be between 1024 and 1048576 bytes." },
        { "{}", "01:00:00", "error: LockoutWindow (01:00:00) is longer than LockoutDuration (00:15:00); Windows requires the window to be at most the duration." },
        { "{ \"SecurityLayer\": \"high\" }", "", "error: SecurityLayer: 'high' is not one of Rdp, Negotiate, Tls (or its number)" },
        { "{ \"LockoutAdmissionWait\": \"00:00:30\" }", "", "error: LockoutAdmissionWait (00:00:30) must be shorter than Limits:HandshakeTimeout (00:00:20); lower it, e.g. to 00:00:02. (rdpnla serve: --lockout-admission-wait TIME)" },
        { "{ \"Listen\": [\"127.0.0.1:1\", \"127.0.0.1:3390\", \"127.0.0.1:3390\"] }", "", "error: Listen names 127.0.0.1:3390 twice; give each endpoint once." },
        { "{ \"UserAuthentication\": null }", "", "error: UserAuthentication is empty (null in the settings file?); give a value (a number), or leave it out for the default" },
        { "{ \"SecurityLayer\": 2,", "", "error: cannot read the settings file: Failed to load configuration from file " },
        { "{ \"LockoutAdmissionWaiters\": -1 }", "", "error: LockoutAdmissionWaiters is -1; use 0 (no attempt waits) or a positive number of attempts, e.g. 32. (rdpnla serve: --lockout-admission-waiters COUNT)" },
    };

    [Theory]
    [MemberData(nameof(InvalidSettings))]
    public async Task Serve_InvalidSetting_StopsStartUp_WithOneLine(string settings, string lockoutWindow, string expected)
    {
        string config = Path.Combine(_root, "serve.json");
        await File.WriteAllTextAsync(config, settings, Ct);
        int port = PeerPorts.GetFreePort();
        var environment = new Dictionary<string, string>();
        if (lockoutWindow.Length > 0)
        {
            environment["RDPNLA_LockoutWindow"] = lockoutWindow;
        }

        ProcessResult result = await ExternalProcess.RunAsync(
            ServeProcess.DotnetHost(),
            [Path.Combine(AppContext.BaseDirectory, "rdpnla.dll"), "serve", "--data", Path.Combine(_root, "data"), "--config", config, "--listen", $"127.0.0.1:{port}"],
            environment,
            TimeSpan.FromSeconds(60),
            Ct);

        Assert.False(result.TimedOut, result.Output);
        Assert.Equal(1, result.ExitCode);
        string line = Assert.Single(result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        Assert.StartsWith(expected, line, StringComparison.Ordinal);
        if (expected.Contains("cannot read", StringComparison.Ordinal))
        {
            // The JSON reader's position of the mistake, so the user need not hunt for it.
            Assert.Matches("LineNumber: 0 \\| BytePositionInLine: 20\\.$", line);
        }

        Assert.False(Directory.Exists(Path.Combine(_root, "data")), "the store was opened before the settings were checked");
    }

    /// <summary>
    /// An endpoint in use, as the real serve process reports it: one line naming the address, the flag and how to find the
    /// program that holds it, exit code 3 (docs/serve.md#exit-codes), no stack trace, and no RDP endpoint left listening.
    /// </summary>
    [Theory]
    [InlineData("--listen", "Listen")]
    [InlineData("--metrics-listen", "MetricsListen")]
    [InlineData("--portal-listen", "Portal:Listen")]
    public async Task Serve_EndpointInUse_OneLineNamingTheFlag_ExitCode3(string flag, string setting)
    {
        using var taken = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        taken.Start();
        int port = ((System.Net.IPEndPoint)taken.LocalEndpoint).Port;
        string[] endpoints = flag == "--listen" ? [flag, $"127.0.0.1:{port}"] : ["--listen", "127.0.0.1:0", flag, $"127.0.0.1:{port}"];

        ProcessResult result = await ExternalProcess.RunAsync(
            ServeProcess.DotnetHost(),
            [Path.Combine(AppContext.BaseDirectory, "rdpnla.dll"), "serve", "--data", Path.Combine(_root, "data"), .. endpoints],
            null,
            TimeSpan.FromSeconds(60),
            Ct);

        Assert.False(result.TimedOut, result.Output);
        Assert.True(result.ExitCode == 3, result.Output);
        string[] lines = result.Output.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        Assert.Equal(
            $"error: cannot listen on 127.0.0.1:{port} ({setting}): address already in use; another program listens there (ss -ltnp 'sport = :{port}' names it): stop it, or choose another port with {flag}.",
            Assert.Single(lines, l => l.StartsWith("error:", StringComparison.Ordinal)));
        Assert.DoesNotContain(lines, l => l.StartsWith("at ", StringComparison.Ordinal) || l.Contains(" fail: ", StringComparison.Ordinal));
        Assert.DoesNotContain(lines, l => l.Contains("] Listening on", StringComparison.Ordinal));
    }
}
