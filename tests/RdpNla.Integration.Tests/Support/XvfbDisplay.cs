using System.Diagnostics;
using System.Text;

[assembly: AssemblyFixture(typeof(RdpNla.Integration.Tests.Support.XvfbDisplay))]

namespace RdpNla.Integration.Tests.Support;

/// <summary>
/// One Xvfb server for the whole test run: xfreerdp needs an X display even with +auth-only (peers.md).
/// Started lazily, so test runs without interop tests never start it.
/// </summary>
public sealed class XvfbDisplay : IAsyncDisposable
{
    // One start at a time in this process: two Xvfb started together with -displayfd can race for the same number.
    private static readonly SemaphoreSlim s_gate = new(1, 1);
    private readonly StringBuilder _output = new();
    private Process? _process;

    public bool HasExited => _process?.HasExited ?? true;

    /// <summary>What Xvfb printed (for failure messages).</summary>
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
    private string? _display;

    public async Task<string> GetDisplayAsync()
    {
        await s_gate.WaitAsync();
        try
        {
            if (_display is not null)
            {
                return _display;
            }

            // -displayfd: Xvfb picks a free display itself and writes its number once it accepts connections, so
            // neither a stale socket file nor a slow start can make a client fail with "failed to open display".
            var output = _output;
            Process process = ExternalProcess.Start("Xvfb", ["-displayfd", "1", "-screen", "0", "1024x768x24", "-nolisten", "tcp"], null, output);
            for (int i = 0; i < 400 && !process.HasExited; i++)
            {
                string text;
                lock (output)
                {
                    text = output.ToString();
                }

                string? number = text.Split('\n', StringSplitOptions.TrimEntries).FirstOrDefault(line => line.Length > 0 && line.All(char.IsAsciiDigit));
                if (number is not null && await AcceptsConnectionsAsync(number) && !process.HasExited)
                {
                    _process = process;
                    _display = $":{number}";
                    return _display;
                }

                await Task.Delay(25);
            }

            await ExternalProcess.StopAsync(process);
            throw new InvalidOperationException($"Xvfb did not report a display within 10 s: {output}");
        }
        finally
        {
            s_gate.Release();
        }
    }

    private static async Task<bool> AcceptsConnectionsAsync(string number)
    {
        using var socket = new System.Net.Sockets.Socket(System.Net.Sockets.AddressFamily.Unix, System.Net.Sockets.SocketType.Stream, System.Net.Sockets.ProtocolType.Unspecified);
        try
        {
            await socket.ConnectAsync(new System.Net.Sockets.UnixDomainSocketEndPoint($"/tmp/.X11-unix/X{number}"));
            return true;
        }
        catch (System.Net.Sockets.SocketException)
        {
            return false;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await ExternalProcess.StopAsync(_process);
    }
}
