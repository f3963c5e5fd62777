namespace RdpNla.Tests.Support;

/// <summary>FreeRDP 2.11's X11 client, the interop oracle for our server (docs/interop.md#xfreerdp: exit codes and lines to match).</summary>
public static class Xfreerdp
{
    public static async Task<ProcessResult> RunAsync(XvfbDisplay display, IEnumerable<string> arguments, CancellationToken cancellationToken, TimeSpan? timeout = null)
    {
        string displayName = await display.GetDisplayAsync();
        string home = Path.Combine(Path.GetTempPath(), "rdpnla-xfreerdp-home");
        Directory.CreateDirectory(home);
        return await ExternalProcess.RunAsync(
            "xfreerdp",
            arguments,
            new Dictionary<string, string> { ["DISPLAY"] = displayName, ["HOME"] = home },
            timeout ?? TimeSpan.FromSeconds(30),
            cancellationToken);
    }
}
