using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;
using RdpNla.Tests.Support;

namespace RdpNla.Tests.Gateway;

/// <summary>Helpers shared by the gateway's real-peer fixtures.</summary>
internal static class GatewayPeers
{
    public static async Task WaitForPortAsync(int port, Process process, StringBuilder output, string what)
    {
        for (int i = 0; i < 200; i++)
        {
            if (process.HasExited)
            {
                throw new InvalidOperationException($"{what} exited with {process.ExitCode}: {Snapshot(output)}");
            }

            foreach (IPAddress address in (IPAddress[])[IPAddress.Loopback, IPAddress.IPv6Loopback])
            {
                try
                {
                    using var probe = new TcpClient(address.AddressFamily);
                    await probe.ConnectAsync(address, port);
                    return;
                }
                catch (SocketException)
                {
                }
            }

            await Task.Delay(50);
        }

        throw new TimeoutException($"{what} does not listen on {port}: {Snapshot(output)}");
    }

    public static string Snapshot(StringBuilder output)
    {
        lock (output)
        {
            return output.ToString();
        }
    }

    /// <summary>Runs a short command and returns its output; throws when it fails.</summary>
    public static async Task<string> RunAsync(string file, params string[] arguments)
    {
        ProcessResult result = await ExternalProcess.RunAsync(file, arguments, null, TimeSpan.FromSeconds(30), CancellationToken.None);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException($"{file} {string.Join(' ', arguments)} exited with {result.ExitCode}: {result.Output}");
        }

        return result.Output;
    }

    /// <summary>
    /// A fresh Xvfb (frame buffer in a file, for screenshots) and on it a full-session xfreerdp with NLA to
    /// <paramref name="address"/>; the caller stops the client, and disposes the Xvfb.
    /// </summary>
    public static Task<(FrameBufferXvfb Xvfb, Process Client)> StartXfreerdpSessionAsync(string address, string user, string password, StringBuilder output) =>
        StartXfreerdpSessionAsync([$"/v:{address}", $"/u:{user}", $"/p:{password}", "/sec:nla", "/cert:ignore", "/size:1024x768", "-decorations"], output);

    /// <summary>A fresh <see cref="FrameBufferXvfb"/> and on it xfreerdp with <paramref name="arguments"/> (HOME in the Xvfb's folder).</summary>
    public static async Task<(FrameBufferXvfb Xvfb, Process Client)> StartXfreerdpSessionAsync(IReadOnlyList<string> arguments, StringBuilder output)
    {
        FrameBufferXvfb xvfb = await FrameBufferXvfb.StartAsync();
        try
        {
            string home = Path.Combine(xvfb.Directory, "home");
            Directory.CreateDirectory(home);
            Process client = ExternalProcess.Start(
                "xfreerdp",
                arguments,
                new Dictionary<string, string> { ["DISPLAY"] = xvfb.Display, ["HOME"] = home },
                output);
            return (xvfb, client);
        }
        catch
        {
            await xvfb.DisposeAsync();
            throw;
        }
    }
}

/// <summary>
/// An Xvfb of its own, started with <c>-fbdir</c> so that its screen can be read as an XWD file, in a folder of its own
/// that also holds the client's HOME. Disposing it stops the Xvfb and deletes the folder.
/// </summary>
public sealed class FrameBufferXvfb : IAsyncDisposable
{
    private FrameBufferXvfb(Process process, string display, string directory) => (Process, Display, Directory) = (process, display, directory);

    public Process Process { get; }

    /// <summary>The DISPLAY value, e.g. <c>:412</c>.</summary>
    public string Display { get; }

    /// <summary>The folder of the frame buffer file (Xvfb_screen0).</summary>
    public string Directory { get; }

    public static async Task<FrameBufferXvfb> StartAsync()
    {
        string directory = System.IO.Directory.CreateTempSubdirectory("rdpnla-gw-fb-").FullName;
        try
        {
            (Process process, string display) = await XvfbServer.StartAsync(["-fbdir", directory], new StringBuilder());
            return new FrameBufferXvfb(process, display, directory);
        }
        catch
        {
            System.IO.Directory.Delete(directory, recursive: true);
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        try
        {
            await ExternalProcess.StopAsync(Process);
        }
        finally
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
    }
}

/// <summary>A TCP proxy in front of a backend that counts the connections it accepts (to prove none was opened).</summary>
public sealed class CountingTcpProxy : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly int _targetPort;
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private int _accepted;

    public CountingTcpProxy(int targetPort)
    {
        _targetPort = targetPort;
        _listener.Start();
        _loop = AcceptLoopAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public int Accepted => Volatile.Read(ref _accepted);

    private async Task AcceptLoopAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception ex) when (ex is OperationCanceledException or ObjectDisposedException or SocketException or InvalidOperationException)
            {
                // InvalidOperationException: the listener stopped between the loop's check and the next accept.
                return;
            }

            Interlocked.Increment(ref _accepted);
            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using (client)
        using (var backend = new TcpClient())
        {
            try
            {
                await backend.ConnectAsync(IPAddress.Loopback, _targetPort, _stop.Token);
                Stream a = client.GetStream();
                Stream b = backend.GetStream();
                Task up = a.CopyToAsync(b, _stop.Token).ContinueWith(_ => backend.Client.Shutdown(SocketShutdown.Send), TaskScheduler.Default);
                Task down = b.CopyToAsync(a, _stop.Token).ContinueWith(_ => client.Client.Shutdown(SocketShutdown.Send), TaskScheduler.Default);
                await Task.WhenAny(Task.WhenAll(up, down), Task.Delay(Timeout.Infinite, _stop.Token));
            }
            catch (Exception ex) when (ex is OperationCanceledException or IOException or SocketException or ObjectDisposedException)
            {
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _loop;
        _stop.Dispose();
    }
}
