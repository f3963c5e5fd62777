using System.Diagnostics;
using System.Text;
using System.Text.RegularExpressions;

namespace RdpNla.Tests.Support;

/// <summary>
/// xrdp 0.9 (TLS, no NLA) with a copied xrdp.ini: its own loopback port, security_layer, certificate, log file; never
/// the system service, and no sesman (negotiation and TLS happen in xrdp itself).
/// </summary>
public sealed partial class XrdpServer : IAsyncDisposable
{
    private readonly StringBuilder _output = new();
    private readonly string _directory;
    private Process? _process;

    private XrdpServer(string directory, int port, string securityLayer)
    {
        _directory = directory;
        Port = port;
        SecurityLayer = securityLayer;
    }

    public int Port { get; }

    public string SecurityLayer { get; }

    public string Address => $"127.0.0.1:{Port}";

    public string LogText => File.Exists(Path.Combine(_directory, "xrdp.log")) ? File.ReadAllText(Path.Combine(_directory, "xrdp.log")) : "";

    /// <summary>Starts xrdp with <c>security_layer=<paramref name="securityLayer"/></c> (negotiate, tls, rdp).</summary>
    public static async Task<XrdpServer> StartAsync(string securityLayer)
    {
        string directory = Directory.CreateTempSubdirectory("rdpnla-xrdp-").FullName;
        // Our own certificate: the snakeoil key of the default config is readable by root and ssl-cert only.
        using var certificate = TestCertificates.Create("rdpnla-xrdp-test");
        string certPath = Path.Combine(directory, "cert.pem");
        string keyPath = Path.Combine(directory, "key.pem");
        await File.WriteAllTextAsync(certPath, certificate.ExportCertificatePem());
        using (var rsa = System.Security.Cryptography.X509Certificates.RSACertificateExtensions.GetRSAPrivateKey(certificate)!)
        {
            await File.WriteAllTextAsync(keyPath, rsa.ExportPkcs8PrivateKeyPem());
        }

        for (int attempt = 0; ; attempt++)
        {
            int port = PeerPorts.GetFreePort();
            string config = await File.ReadAllTextAsync("/etc/xrdp/xrdp.ini");
            config = PortLine().Replace(config, $"port=tcp://127.0.0.1:{port}", 1);
            config = Setting("security_layer").Replace(config, $"security_layer={securityLayer}");
            config = Setting("certificate").Replace(config, $"certificate={certPath}");
            config = Setting("key_file").Replace(config, $"key_file={keyPath}");
            config = Setting("LogFile").Replace(config, $"LogFile={Path.Combine(directory, "xrdp.log")}");
            config = Setting("EnableSyslog").Replace(config, "EnableSyslog=false");
            string configPath = Path.Combine(directory, "xrdp.ini");
            await File.WriteAllTextAsync(configPath, config);

            var server = new XrdpServer(directory, port, securityLayer);
            server._process = ExternalProcess.Start("xrdp", ["--nodaemon", "--config", configPath], null, server._output);
            if (await PeerPorts.WaitForListenerAsync(port, TimeSpan.FromSeconds(15), server._process))
            {
                return server;
            }

            string output = server._output.ToString() + server.LogText;
            await server.StopAsync();
            if (attempt == 1)
            {
                throw new InvalidOperationException($"xrdp did not start listening on 127.0.0.1:{port}:\n{output}");
            }
        }
    }

    [GeneratedRegex(@"^port=3389\s*$", RegexOptions.Multiline)]
    private static partial Regex PortLine();

    private static Regex Setting(string name) => new($@"^{name}=.*$", RegexOptions.Multiline);

    private async Task StopAsync()
    {
        await ExternalProcess.StopAsync(_process);
        _process = null;
    }

    public async ValueTask DisposeAsync()
    {
        await StopAsync();
        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>Two xrdp instances for a test class: security_layer negotiate and tls.</summary>
public sealed class XrdpServers : IAsyncLifetime
{
    public XrdpServer Negotiate { get; private set; } = null!;

    public XrdpServer Tls { get; private set; } = null!;

    public async ValueTask InitializeAsync()
    {
        Negotiate = await XrdpServer.StartAsync("negotiate");
        Tls = await XrdpServer.StartAsync("tls");
    }

    public async ValueTask DisposeAsync()
    {
        if (Negotiate is not null)
        {
            await Negotiate.DisposeAsync();
        }

        if (Tls is not null)
        {
            await Tls.DisposeAsync();
        }
    }
}
