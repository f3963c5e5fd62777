using System.Diagnostics;
using System.Text;

[assembly: AssemblyFixture(typeof(RdpNla.Tests.Support.XvfbDisplay))]

namespace RdpNla.Tests.Support;

/// <summary>
/// One Xvfb server for the whole test run: xfreerdp needs an X display even with +auth-only (docs/interop.md#xfreerdp).
/// Started lazily, so test runs without interop tests never start it.
/// </summary>
public sealed class XvfbDisplay : IAsyncDisposable
{
    private readonly SemaphoreSlim _gate = new(1, 1);
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
        await _gate.WaitAsync();
        try
        {
            if (_display is null)
            {
                (_process, _display) = await XvfbServer.StartAsync([], _output);
            }

            return _display;
        }
        finally
        {
            _gate.Release();
        }
    }

    public async ValueTask DisposeAsync()
    {
        await ExternalProcess.StopAsync(_process);
    }
}
