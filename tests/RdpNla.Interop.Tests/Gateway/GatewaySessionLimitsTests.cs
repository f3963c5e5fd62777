using Microsoft.Extensions.Time.Testing;
using RdpNla.Tests.Support;
using RdpNla.Server.Gateway;

namespace RdpNla.Tests.Gateway;

/// <summary>One freerdp-shadow-cli backend for the session-limit tests, each of which runs its own front door.</summary>
public sealed class ShadowBackendFixture : IAsyncLifetime
{
    public const string Password = "Passw0rd!";

    public GatewayShadowBackend Backend { get; private set; } = null!;

    public async ValueTask InitializeAsync() => Backend = await GatewayShadowBackend.StartAsync(("alice", Password));

    public async ValueTask DisposeAsync()
    {
        if (Backend is not null)
        {
            await Backend.DisposeAsync();
        }
    }
}

/// <summary>
/// The relayed session's limits with a real client and backend: xfreerdp (a full session, not +auth-only) → rdpnla serve
/// → freerdp-shadow-cli. The maximum session length and the idle timeout end the session; stopping the server
/// (what SIGTERM does) drains it for DrainTimeout, then closes it; each is audited with its own outcome.
/// </summary>
public class GatewaySessionLimitsTests(ShadowBackendFixture backend, XvfbDisplay display) : IClassFixture<ShadowBackendFixture>
{
    private async Task<TestFrontDoor> StartDoorAsync(Action<GatewayOptions> configure, TimeProvider? timeProvider = null)
    {
        TestFrontDoor door = await TestFrontDoor.StartAsync(
            o =>
            {
                o.Gateway.DefaultBackend = backend.Backend.Address;
                o.Gateway.IdleTimeout = TimeSpan.Zero;
                o.Gateway.MaxSessionLength = TimeSpan.Zero;
                configure(o.Gateway);
            },
            timeProvider: timeProvider);
        await door.AddUserAsync("alice", ShadowBackendFixture.Password);
        return door;
    }

    private Task<ProcessResult> FullSessionAsync(TestFrontDoor door, TimeSpan timeout) => Xfreerdp.RunAsync(
        display,
        [$"/v:{door.Address}", "/u:alice", $"/p:{ShadowBackendFixture.Password}", "/sec:nla", "/cert:ignore", "/log-level:INFO"],
        TestContext.Current.CancellationToken,
        timeout);

    [Fact]
    public async Task MaxSessionLength_EndsTheRelayedSession()
    {
        // On the gateway's clock: far longer than the hang guard below, so only the fake clock can end the session.
        var time = new FakeTimeProvider(DateTimeOffset.UtcNow);
        TimeSpan maxSessionLength = TimeSpan.FromMinutes(10);
        await using TestFrontDoor door = await StartDoorAsync(g => g.MaxSessionLength = maxSessionLength, time);
        string displayName = await display.GetDisplayAsync();
        string home = Path.Combine(Path.GetTempPath(), "rdpnla-xfreerdp-home");
        Directory.CreateDirectory(home);
        var output = new System.Text.StringBuilder();
        System.Diagnostics.Process client = ExternalProcess.Start(
            "xfreerdp",
            [$"/v:{door.Address}", "/u:alice", $"/p:{ShadowBackendFixture.Password}", "/sec:nla", "/cert:ignore", "/log-level:DEBUG"],
            new Dictionary<string, string> { ["DISPLAY"] = displayName, ["HOME"] = home },
            output);
        try
        {
            // The session is up once xfreerdp finished the connection sequence; the relay armed its timer before that.
            while (!GatewayPeers.Snapshot(output).Contains("CONNECTION_STATE_ACTIVE", StringComparison.Ordinal))
            {
                Assert.False(client.HasExited, $"xfreerdp ended before its session was active:\n{GatewayPeers.Snapshot(output)}\n{door.LogText}");
                await Task.Delay(50, TestContext.Current.CancellationToken);
            }

            time.Advance(maxSessionLength);

            // Only a guard against a hang: the fake clock already ended the session.
            Task exited = client.WaitForExitAsync(TestContext.Current.CancellationToken);
            if (await Task.WhenAny(exited, Task.Delay(TimeSpan.FromSeconds(40), TestContext.Current.CancellationToken)) != exited)
            {
                Assert.Fail($"the session outlived its maximum length on the gateway's clock\n{door.LogText}");
            }
        }
        finally
        {
            await ExternalProcess.StopAsync(client);
        }

        GatewaySessionRecord session = await door.WaitForGatewaySessionAsync("alice");
        Assert.Equal("timeout", session.Outcome);
        Assert.Equal("maximum session length 00:10:00 reached", session.Reason);
        Assert.Equal(maxSessionLength, session.Ended - session.Started);
    }

    [Fact]
    public async Task IdleTimeout_EndsASessionWithNoTraffic()
    {
        await using TestFrontDoor door = await StartDoorAsync(g => g.IdleTimeout = TimeSpan.FromSeconds(2));

        ProcessResult result = await FullSessionAsync(door, TimeSpan.FromSeconds(40));

        Assert.False(result.TimedOut, $"the idle session was not ended\n{door.LogText}");
        GatewaySessionRecord session = await door.WaitForGatewaySessionAsync("alice");
        Assert.Equal("timeout", session.Outcome);
        Assert.Contains("idle for 00:00:02", session.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task ServerStopping_DrainsThenClosesTheSession()
    {
        await using TestFrontDoor door = await StartDoorAsync(g => g.DrainTimeout = TimeSpan.FromSeconds(1));
        Task<ProcessResult> client = FullSessionAsync(door, TimeSpan.FromSeconds(40));
        for (int i = 0; i < 400 && !door.LogText.Contains("accepted the injected credentials", StringComparison.Ordinal); i++)
        {
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }

        Assert.Contains("accepted the injected credentials", door.LogText, StringComparison.Ordinal);
        await Task.Delay(500, TestContext.Current.CancellationToken);

        // What SIGTERM does: stop accepting, then give relayed sessions DrainTimeout before closing them.
        await door.Host.Server.StopAsync(TestContext.Current.CancellationToken);
        ProcessResult result = await client;

        Assert.False(result.TimedOut, door.LogText);
        GatewaySessionRecord session = await door.WaitForGatewaySessionAsync("alice");
        Assert.Equal("shutdown", session.Outcome);
        Assert.Contains("drain time of 00:00:01", session.Reason, StringComparison.Ordinal);
    }
}

/// <summary>The backend leg's pinned-certificate mode, with the shadow server's real certificate.</summary>
public class GatewayPinnedCertificateTests(ShadowBackendFixture backend, XvfbDisplay display) : IClassFixture<ShadowBackendFixture>
{
    private async Task<(ProcessResult Result, TestFrontDoor Door)> AuthOnlyAsync(BackendCertificateValidation validation, string? pin)
    {
        TestFrontDoor door = await TestFrontDoor.StartAsync(o =>
        {
            o.Gateway.DefaultBackend = backend.Backend.Address;
            o.Gateway.CertificateValidation = validation;
            if (pin is not null)
            {
                o.Gateway.PinnedCertificates[backend.Backend.Address] = pin;
            }
        });
        await door.AddUserAsync("alice", ShadowBackendFixture.Password);
        ProcessResult result = await Xfreerdp.RunAsync(
            display,
            [$"/v:{door.Address}", "/u:alice", $"/p:{ShadowBackendFixture.Password}", "/sec:nla", "/cert:ignore", "+auth-only"],
            TestContext.Current.CancellationToken);
        return (result, door);
    }

    [Fact]
    public async Task Pinned_RightFingerprintConnects_OtherFingerprintIsRefusedByName()
    {
        // Learn the backend's real fingerprint the way an operator would: trust on first use, then read it back.
        (ProcessResult first, TestFrontDoor learning) = await AuthOnlyAsync(BackendCertificateValidation.TrustOnFirstUse, null);
        string fingerprint;
        await using (learning)
        {
            Assert.Equal(0, first.ExitCode);
            fingerprint = (await learning.Database.Gateway.GetTrustedCertificateAsync(backend.Backend.Address, TestContext.Current.CancellationToken))!.Sha256;
        }

        (ProcessResult pinned, TestFrontDoor right) = await AuthOnlyAsync(BackendCertificateValidation.Pinned, fingerprint);
        await using (right)
        {
            Assert.True(pinned.ExitCode == 0, $"{pinned.Output}\n{right.LogText}");
        }

        (ProcessResult refused, TestFrontDoor wrong) = await AuthOnlyAsync(BackendCertificateValidation.Pinned, new string('B', 64));
        await using (wrong)
        {
            Assert.NotEqual(0, refused.ExitCode);
            Assert.Contains("the certificate differs from the pinned one", wrong.LogText, StringComparison.Ordinal);
            GatewaySessionRecord session = (await wrong.Database.Gateway.ListSessionsAsync("alice", 1, TestContext.Current.CancellationToken))[0];
            Assert.Equal("certificate-changed", session.Outcome);
        }
    }
}
