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
    /// Waits until something listens on 127.0.0.1:<paramref name="port"/>, reading /proc/net/tcp rather than connecting
    /// (a probe connection would cost the peer a handshake and a log line).
    /// </summary>
    public static async Task<bool> WaitForListenerAsync(int port, TimeSpan timeout, Func<bool>? stop = null)
    {
        string local = $"0100007F:{port:X4}";
        DateTime until = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < until)
        {
            if (stop?.Invoke() == true)
            {
                return false;
            }

            foreach (string line in await File.ReadAllLinesAsync("/proc/net/tcp"))
            {
                string[] fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
                if (fields.Length > 3 && fields[1] == local && fields[3] == "0A")
                {
                    return true;
                }
            }

            await Task.Delay(50);
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
