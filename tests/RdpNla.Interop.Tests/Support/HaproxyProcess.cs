using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace RdpNla.Tests.Support;

/// <summary>
/// HAProxy (Debian <c>haproxy</c>) in <c>mode tcp</c> on a free loopback port, round-robin over the given backends,
/// sending each a PROXY protocol v2 header (<c>send-proxy-v2</c>), as docs/high-availability.md configures it.
/// No health checks: a check connection would be a handshake and an audit row on every backend.
/// </summary>
public sealed class HaproxyProcess : IAsyncDisposable
{
    private readonly StringBuilder _output;
    private readonly string _directory;

    private HaproxyProcess(Process process, int port, StringBuilder output, string directory)
    {
        Process = process;
        Port = port;
        _output = output;
        _directory = directory;
    }

    public Process Process { get; }

    public int Port { get; }

    /// <summary>What HAProxy printed so far.</summary>
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

    public static async Task<HaproxyProcess> StartAsync(params int[] backendPorts)
    {
        Peers.Require("/usr/sbin/haproxy");
        for (int attempt = 1; ; attempt++)
        {
            int port = PeerPorts.GetFreePort();
            string directory = Directory.CreateTempSubdirectory("rdpnla-haproxy-").FullName;
            string file = Path.Combine(directory, "haproxy.cfg");
            await File.WriteAllTextAsync(file, Configuration(port, backendPorts));
            var output = new StringBuilder();
            Process process = ExternalProcess.Start("/usr/sbin/haproxy", ["-db", "-f", file], null, output);
            var haproxy = new HaproxyProcess(process, port, output, directory);
            if (await PeerPorts.WaitForListenerAsync(port, TimeSpan.FromSeconds(20), process))
            {
                return haproxy;
            }

            // Another test's peer was handed the same free port and bound it first. Take another.
            bool portTaken = process.HasExited && haproxy.Output.Contains("cannot bind socket", StringComparison.Ordinal);
            await haproxy.DisposeAsync();
            Assert.True(portTaken && attempt < 3, $"haproxy did not listen on {port}:\n{haproxy.Output}");
        }
    }

    private static string Configuration(int port, int[] backendPorts)
    {
        var config = new StringBuilder();
        config.AppendLine("global");
        config.AppendLine("    maxconn 1000");
        config.AppendLine("defaults");
        config.AppendLine("    mode tcp");
        config.AppendLine("    timeout connect 5s");
        config.AppendLine("    timeout client 60s");
        config.AppendLine("    timeout server 60s");
        config.AppendLine("frontend rdp");
        config.AppendLine(CultureInfo.InvariantCulture, $"    bind 127.0.0.1:{port}");
        config.AppendLine("    default_backend gateways");
        config.AppendLine("backend gateways");
        config.AppendLine("    balance roundrobin");
        for (int i = 0; i < backendPorts.Length; i++)
        {
            config.AppendLine(CultureInfo.InvariantCulture, $"    server gw{i} 127.0.0.1:{backendPorts[i]} send-proxy-v2");
        }

        return config.ToString();
    }

    public async ValueTask DisposeAsync()
    {
        await ExternalProcess.StopAsync(Process);
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
            // Best effort.
        }
    }
}
