using System.Diagnostics;
using System.Text;

namespace RdpNla.Tests.Support;

/// <summary>
/// FreeRDP 2.11's NLA server (freerdp-shadow-cli /sec:nla) on a free loopback port, with a SAM file written by
/// winpr-hash and its own Xvfb display; one per test class (docs/interop.md#freerdp-shadow: about 40 ms of CPU per connection).
/// Users: alice / Passw0rd! (no domain), bob / S3cret in domain LAB.
/// </summary>
public sealed class FreeRdpShadowServer : IAsyncLifetime
{
    public const string AlicePassword = "Passw0rd!";
    public const string BobPassword = "S3cret";

    private readonly XvfbDisplay _display = new();
    private readonly StringBuilder _output = new();
    private Process? _process;
    private string _home = "";

    public int Port { get; private set; }

    public string Address => $"127.0.0.1:{Port}";

    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    public async ValueTask InitializeAsync()
    {
        _home = Directory.CreateTempSubdirectory("rdpnla-shadow-").FullName;
        string sam = Path.Combine(_home, "sam");
        await WinprHashAsync(["-u", "alice", "-p", AlicePassword, "-f", "sam"], sam);
        await WinprHashAsync(["-u", "bob", "-p", BobPassword, "-d", "LAB", "-f", "sam"], sam);
        string display = await _display.GetDisplayAsync();

        // docs/interop.md#freerdp-shadow: it sometimes starts before Xvfb accepts connections ("failed to open display"): retry once.
        for (int attempt = 0; attempt < 2; attempt++)
        {
            Port = PeerPorts.GetFreePort();
            lock (_output)
            {
                _output.Clear();
            }

            _process = ExternalProcess.Start(
                "freerdp-shadow-cli",
                ["/bind-address:127.0.0.1", $"/port:{Port}", "/sec:nla", $"/sam-file:{sam}"],
                new Dictionary<string, string> { ["HOME"] = _home, ["DISPLAY"] = display },
                _output);
            if (await PeerPorts.WaitForListenerAsync(Port, TimeSpan.FromSeconds(15), _process))
            {
                return;
            }

            await StopAsync();
        }

        throw new InvalidOperationException($"freerdp-shadow-cli did not start listening on 127.0.0.1:{Port}:\n{Output}\nXvfb {display} (exited: {_display.HasExited}):\n{_display.Output}");
    }

    private static async Task WinprHashAsync(string[] arguments, string samFile)
    {
        ProcessResult result = await ExternalProcess.RunAsync("winpr-hash", arguments, null, TimeSpan.FromSeconds(20), CancellationToken.None);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"winpr-hash failed: {result.Output}");
        }

        await File.AppendAllTextAsync(samFile, result.Output.Trim() + "\n");
    }

    private async Task StopAsync()
    {
        await ExternalProcess.StopAsync(_process);
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        await _display.DisposeAsync();
        try
        {
            Directory.Delete(_home, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
