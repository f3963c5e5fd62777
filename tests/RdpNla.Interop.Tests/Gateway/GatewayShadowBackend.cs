using System.Diagnostics;
using System.Text;
using RdpNla.Tests.Support;

namespace RdpNla.Tests.Gateway;

/// <summary>
/// freerdp-shadow-cli as an NLA backend (docs/interop.md#freerdp-shadow): its own Xvfb to shadow, a SAM file written with winpr-hash, a
/// scratch HOME for its generated certificate, a free loopback port, and a <see cref="CountingTcpProxy"/> in front so
/// that tests can count the TCP connections the backend received.
/// </summary>
public sealed class GatewayShadowBackend : IAsyncDisposable
{
    private readonly StringBuilder _output = new();
    private Process? _xvfb;
    private Process? _shadow;
    private string? _home;

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
        try
        {
            await backend.StartCoreAsync(security, accounts);
            return backend;
        }
        catch
        {
            await backend.DisposeAsync();
            throw;
        }
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
        (Process xvfb, string display, _) = await GatewayPeers.StartXvfbAsync();
        _xvfb = xvfb;
        for (int attempt = 0; ; attempt++)
        {
            Port = PeerPorts.GetFreePort();
            _shadow = ExternalProcess.Start(
                "freerdp-shadow-cli",
                ["/bind-address:127.0.0.1", $"/port:{Port}", $"/sec:{security}", $"/sam-file:{sam}"],
                new Dictionary<string, string> { ["HOME"] = _home, ["DISPLAY"] = display },
                _output);
            try
            {
                await GatewayPeers.WaitForPortAsync(Port, _shadow, _output, "freerdp-shadow-cli");
                break;
            }
            catch (InvalidOperationException) when (attempt < 4)
            {
                // docs/interop.md#freerdp-shadow: it sometimes starts before Xvfb accepts connections ("failed to open display"): retry.
                await Task.Delay(500);
            }
        }

        Proxy = new CountingTcpProxy(Port);
    }

    public async ValueTask DisposeAsync()
    {
        if (Proxy is not null)
        {
            await Proxy.DisposeAsync();
        }

        await ExternalProcess.StopAsync(_shadow);
        await ExternalProcess.StopAsync(_xvfb);
        if (_home is not null)
        {
            try
            {
                Directory.Delete(_home, recursive: true);
            }
            catch (IOException)
            {
            }
        }
    }
}
