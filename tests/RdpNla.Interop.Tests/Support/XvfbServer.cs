using System.Diagnostics;
using System.Net.Sockets;
using System.Text;

namespace RdpNla.Tests.Support;

/// <summary>
/// Starts and stops Xvfb servers for the interop peers (xfreerdp and freerdp-shadow-cli need a display).
/// </summary>
/// <remarks>
/// The display-number space is shared with whatever else runs on the machine, and on the CI hosts
/// <c>/tmp/.X11-unix</c> is shared between containers while lock files and abstract sockets are not: a server
/// listening on the socket file there can have its file unlinked by another container's Xvfb, and a client then
/// reaches the wrong server ("failed to open display"). So the server listens only on the abstract socket
/// (<c>-nolisten unix</c>; libxcb tries it first), whose bind is atomic and private to the network namespace,
/// picks its own number (<c>-displayfd</c>), never resets when its last client leaves (<c>-noreset</c>), and is
/// stopped with SIGTERM (<see cref="ExternalProcess.StopAsync"/>) so it removes its lock file.
/// </remarks>
public static class XvfbServer
{
    // One start at a time in this process, so concurrent starts do not both probe the same numbers.
    private static readonly SemaphoreSlim s_gate = new(1, 1);

    /// <summary>Starts an Xvfb and returns it with its display name (":N") once it accepts connections.</summary>
    public static async Task<(Process Process, string Display)> StartAsync(IEnumerable<string> extraArguments, StringBuilder output)
    {
        await s_gate.WaitAsync();
        try
        {
            Process process = ExternalProcess.Start(
                "Xvfb",
                ["-displayfd", "1", "-screen", "0", "1024x768x24", "-nolisten", "tcp", "-nolisten", "unix", "-noreset", .. extraArguments],
                null,
                output);
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
                    return (process, $":{number}");
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
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            // A leading NUL names a Linux abstract socket: the one Xvfb binds as "@/tmp/.X11-unix/XN".
            await socket.ConnectAsync(new UnixDomainSocketEndPoint($"\0/tmp/.X11-unix/X{number}"));
            return true;
        }
        catch (SocketException)
        {
            return false;
        }
    }
}
