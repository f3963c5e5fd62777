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
    private readonly SemaphoreSlim _gate = new(1, 1);
    private Process? _process;
    private string? _display;

    public async Task<string> GetDisplayAsync()
    {
        await _gate.WaitAsync();
        try
        {
            if (_display is not null)
            {
                return _display;
            }

            for (int number = 90 + Environment.ProcessId % 100; ; number++)
            {
                if (File.Exists($"/tmp/.X{number}-lock"))
                {
                    continue;
                }

                var output = new StringBuilder();
                Process process = ExternalProcess.Start("Xvfb", [$":{number}", "-screen", "0", "1024x768x24", "-nolisten", "tcp"], null, output);
                for (int i = 0; i < 100 && !File.Exists($"/tmp/.X11-unix/X{number}"); i++)
                {
                    await Task.Delay(50);
                }

                if (process.HasExited)
                {
                    continue;
                }

                _process = process;
                _display = $":{number}";
                return _display;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await ExternalProcess.StopAsync(_process);
        _gate.Dispose();
    }
}
