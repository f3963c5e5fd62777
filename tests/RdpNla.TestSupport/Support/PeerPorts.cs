using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;

namespace RdpNla.Tests.Support;

/// <summary>Free loopback ports for peers that need a port number up front, and waiting for them to listen.</summary>
public static class PeerPorts
{
    /// <summary>A port the OS considers free right now (a peer started next binds it).</summary>
    public static int GetFreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    /// <summary>
    /// A loopback port where a connection is refused for as long as the result is held: a TCP socket bound to it and not
    /// listening, so the kernel answers a SYN with a reset, and no other process can bind the port meanwhile (the socket
    /// does not set SO_REUSEADDR). A port from <see cref="GetFreePort"/> would be free for any test process to take.
    /// </summary>
    public static ClosedPort HoldClosedPort()
    {
        var socket = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        socket.SetSocketOption(SocketOptionLevel.Socket, SocketOptionName.ReuseAddress, false);
        socket.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        return new ClosedPort(socket);
    }

    /// <summary>
    /// Waits until <paramref name="owner"/>, or a process it started, listens on 127.0.0.1:<paramref name="port"/>; false
    /// when it exits first or the time runs out. It reads /proc/net/tcp and the owner's open sockets (proc(5)) rather than
    /// connecting: a probe connection would cost the peer a handshake and a log line, and a listener of another process
    /// does not count. The port came from <see cref="GetFreePort"/>, which another test process can be handed too before
    /// the owner binds it; the owner then fails to bind, and waiting on any listener would take the other's for its own.
    /// </summary>
    public static async Task<bool> WaitForListenerAsync(int port, TimeSpan timeout, Process owner)
    {
        string local = $"0100007F:{port:X4}";
        DateTime until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until && !owner.HasExited)
        {
            var listeners = new HashSet<string>(StringComparer.Ordinal);
            foreach (string line in await File.ReadAllLinesAsync("/proc/net/tcp"))
            {
                string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 9 && fields[1] == local && fields[3] == "0A")
                {
                    listeners.Add($"socket:[{fields[9]}]");
                }
            }

            if (listeners.Count > 0 && HoldsAnyOf(owner, listeners))
            {
                return true;
            }

            await Task.Delay(50);
        }

        return false;
    }

    /// <summary>Whether <paramref name="owner"/> or one of its descendants has one of <paramref name="sockets"/> (<c>socket:[inode]</c>) open.</summary>
    private static bool HoldsAnyOf(Process owner, HashSet<string> sockets)
    {
        foreach (int pid in (int[])[owner.Id, .. ExternalProcess.Descendants(owner.Id)])
        {
            try
            {
                foreach (string fd in Directory.EnumerateFileSystemEntries($"/proc/{pid}/fd"))
                {
                    if (new FileInfo(fd).LinkTarget is { } target && sockets.Contains(target))
                    {
                        return true;
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
            {
                // The process ended while its descriptors were read.
            }
        }

        return false;
    }

    /// <summary>The local ports of the loopback sockets in SYN-SENT towards 127.0.0.1:<paramref name="port"/> (/proc/net/tcp).</summary>
    public static HashSet<int> SynSentLocalPorts(int port)
    {
        string remote = $"0100007F:{port:X4}";
        var ports = new HashSet<int>();
        foreach (string line in File.ReadAllLines("/proc/net/tcp"))
        {
            string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 3 && fields[2] == remote && fields[3] == "02")
            {
                ports.Add(int.Parse(fields[1].AsSpan(fields[1].IndexOf(':', StringComparison.Ordinal) + 1), NumberStyles.HexNumber, CultureInfo.InvariantCulture));
            }
        }

        return ports;
    }

    public static string Text(int value) => value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>A loopback port that refuses connections while held (<see cref="PeerPorts.HoldClosedPort"/>).</summary>
public sealed class ClosedPort(Socket socket) : IDisposable
{
    public int Port { get; } = ((IPEndPoint)socket.LocalEndPoint!).Port;

    public string Address => $"127.0.0.1:{Port}";

    public void Dispose() => socket.Dispose();
}
