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

    /// <summary>Starts an Xvfb of its own (with <c>-fbdir</c>, so its screen can be read as an XWD file).</summary>
    public static async Task<(Process Process, string Display, string FrameBufferDirectory)> StartXvfbAsync()
    {
        string fbdir = Path.Combine(Path.GetTempPath(), "rdpnla-gw-fb-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(fbdir);
        (Process process, string display) = await XvfbServer.StartAsync(["-fbdir", fbdir], new StringBuilder());
        return (process, display, fbdir);
    }

    /// <summary>
    /// A fresh Xvfb (frame buffer in a file, for screenshots) and on it a full-session xfreerdp with NLA to
    /// <paramref name="address"/>; the caller stops both.
    /// </summary>
    public static async Task<(Process Xvfb, string FrameBufferDirectory, Process Client)> StartXfreerdpSessionAsync(string address, string user, string password, StringBuilder output)
    {
        (Process xvfb, string displayName, string fbdir) = await StartXvfbAsync();
        try
        {
            string home = Path.Combine(fbdir, "home");
            Directory.CreateDirectory(home);
            Process client = ExternalProcess.Start(
                "xfreerdp",
                [$"/v:{address}", $"/u:{user}", $"/p:{password}", "/sec:nla", "/cert:ignore", "/size:1024x768", "-decorations"],
                new Dictionary<string, string> { ["DISPLAY"] = displayName, ["HOME"] = home },
                output);
            return (xvfb, fbdir, client);
        }
        catch
        {
            await ExternalProcess.StopAsync(xvfb);
            throw;
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
