using System.Collections.Concurrent;
using System.Diagnostics;
using System.Text;
using RdpNla.Tests.Support;

[assembly: AssemblyFixture(typeof(RdpNla.Tests.Gateway.ShadowBackendLeakCheck))]

namespace RdpNla.Tests.Gateway;

/// <summary>
/// freerdp-shadow-cli as an NLA backend (docs/interop.md#freerdp-shadow): its own Xvfb to shadow, a SAM file written with winpr-hash, a
/// scratch HOME for its generated certificate, a free loopback port, and a <see cref="CountingTcpProxy"/> in front so
/// that tests can count the TCP connections the backend received.
/// </summary>
/// <remarks>
/// Every path stops both processes: a failed start disposes what it started, a retried start stops the failed try, and
/// <see cref="DisposeAsync"/> stops them even when the proxy fails to stop, then throws if any process started with the
/// backend's folders still runs. <see cref="ShadowBackendLeakCheck"/> fails the run for a backend never disposed.
/// </remarks>
public sealed class GatewayShadowBackend : IAsyncDisposable
{
    private static readonly ConcurrentDictionary<GatewayShadowBackend, bool> s_notDisposed = new();
    private readonly StringBuilder _output = new();
    private FrameBufferXvfb? _xvfb;
    private Process? _shadow;
    private string? _home;
    private bool _disposed;

    public int Port { get; private set; }

    public CountingTcpProxy Proxy { get; private set; } = null!;

    /// <summary>The backend address the gateway uses: the counting proxy.</summary>
    public string Address => $"127.0.0.1:{Proxy.Port}";

    public string Output => GatewayPeers.Snapshot(_output);

    public static Task<GatewayShadowBackend> StartAsync(params (string User, string Password)[] accounts) => StartAsync("nla", accounts);

    /// <summary>Starts it with <c>/sec:<paramref name="security"/></c> (nla, tls, rdp).</summary>
    public static async Task<GatewayShadowBackend> StartAsync(string security, params (string User, string Password)[] accounts)
    {
        var backend = new GatewayShadowBackend();
        s_notDisposed[backend] = true;
        try
        {
            await backend.StartCoreAsync(security, accounts);
            return backend;
        }
        catch (Exception failure)
        {
            try
            {
                await backend.DisposeAsync();
            }
            catch (InvalidOperationException leak)
            {
                throw new AggregateException(failure, leak);
            }

            throw;
        }
    }

    /// <summary>The backends started and not disposed, stopped here; a description of each (empty: none).</summary>
    internal static async Task<IReadOnlyList<string>> StopUndisposedAsync()
    {
        var left = new List<string>();
        foreach (GatewayShadowBackend backend in s_notDisposed.Keys)
        {
            left.Add($"freerdp-shadow-cli backend in {backend._home} on port {backend.Port}");
            try
            {
                await backend.DisposeAsync();
            }
            catch (InvalidOperationException leak)
            {
                left.Add(leak.Message);
            }
        }

        return left;
    }

    private async Task StartCoreAsync(string security, (string User, string Password)[] accounts)
    {
        _home = Path.Combine(Path.GetTempPath(), "rdpnla-gw-shadow-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_home);
        string sam = Path.Combine(_home, "sam");
        var lines = new StringBuilder();
        foreach ((string user, string password) in accounts)
        {
            lines.Append((await GatewayPeers.RunAsync("winpr-hash", "-u", user, "-p", password, "-f", "sam")).Trim()).Append('\n');
        }

        await File.WriteAllTextAsync(sam, lines.ToString());
        _xvfb = await FrameBufferXvfb.StartAsync();
        for (int attempt = 0; ; attempt++)
        {
            Port = PeerPorts.GetFreePort();
            _shadow = ExternalProcess.Start(
                "freerdp-shadow-cli",
                ["/bind-address:127.0.0.1", $"/port:{Port}", $"/sec:{security}", $"/sam-file:{sam}"],
                new Dictionary<string, string> { ["HOME"] = _home, ["DISPLAY"] = _xvfb.Display },
                _output);
            try
            {
                await GatewayPeers.WaitForPortAsync(Port, _shadow, _output, "freerdp-shadow-cli");
                break;
            }
            catch (InvalidOperationException) when (attempt < 4)
            {
                // docs/interop.md#freerdp-shadow: it sometimes starts before Xvfb accepts connections ("failed to open display"): retry.
                await ExternalProcess.StopAsync(_shadow);
                _shadow = null;
                await Task.Delay(500);
            }
        }

        Proxy = new CountingTcpProxy(Port);
    }

    /// <summary>Stops the proxy, freerdp-shadow-cli and its Xvfb; throws when a process started with its folders still runs.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        try
        {
            if (Proxy is not null)
            {
                await Proxy.DisposeAsync();
            }
        }
        finally
        {
            try
            {
                await ExternalProcess.StopAsync(_shadow);
            }
            finally
            {
                if (_xvfb is not null)
                {
                    await _xvfb.DisposeAsync();
                }
            }

            s_notDisposed.TryRemove(this, out _);
            string[] folders = [.. new[] { _home, _xvfb?.Directory }.OfType<string>()];
            IReadOnlyList<string> left = ExternalProcess.Running(folders);
            foreach (string folder in folders)
            {
                try
                {
                    Directory.Delete(folder, recursive: true);
                }
                catch (IOException)
                {
                }
            }

            if (left.Count > 0)
            {
                throw new InvalidOperationException($"the freerdp-shadow-cli backend left processes running after it stopped: {string.Join("; ", left)}");
            }
        }
    }
}

/// <summary>Fails the run, at its end, for a <see cref="GatewayShadowBackend"/> started and never disposed (and stops it).</summary>
public sealed class ShadowBackendLeakCheck : IAsyncDisposable
{
    public async ValueTask DisposeAsync()
    {
        IReadOnlyList<string> left = await GatewayShadowBackend.StopUndisposedAsync();
        if (left.Count > 0)
        {
            throw new InvalidOperationException($"freerdp-shadow-cli backends were not stopped by their tests: {string.Join("; ", left)}");
        }
    }
}
