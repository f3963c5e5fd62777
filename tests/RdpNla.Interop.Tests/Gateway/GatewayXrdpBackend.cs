using System.Diagnostics;
using System.Globalization;
using System.Net.Sockets;
using System.Text;
using RdpNla.Tests.Support;

namespace RdpNla.Tests.Gateway;

/// <summary>
/// xrdp 0.9.21 as a TLS backend (docs/interop.md#xrdp): a PAM user created for the run (useradd + chpasswd, removed at the end),
/// copies of xrdp.ini and sesman.ini with security_layer=tls, a free loopback port for xrdp and log files of their own.
/// xrdp 0.9 finds sesman through the port in /etc/xrdp/sesman.ini (compiled-in path), so sesman listens on that port
/// (3350); the fixture refuses to start if something else holds it.
/// </summary>
public sealed class GatewayXrdpBackend : IAsyncDisposable
{
    private readonly StringBuilder _output = new();
    private Process? _sesman;
    private Process? _xrdp;
    private string _directory = null!;

    public string UserName { get; private set; } = null!;

    /// <summary>A second PAM user with the same password, for tests that must not share the first one's xrdp session.</summary>
    public string SecondUserName { get; private set; } = null!;

    public string Password { get; } = "Xr-" + Guid.NewGuid().ToString("N")[..10];

    public int Port { get; private set; }

    public string Address => $"127.0.0.1:{Port}";

    public string SesmanLog => ReadShared(Path.Combine(_directory, "sesman.log"));

    public string XrdpLog => ReadShared(Path.Combine(_directory, "xrdp.log"));

    public static async Task<GatewayXrdpBackend> StartAsync()
    {
        var backend = new GatewayXrdpBackend();
        try
        {
            await backend.StartCoreAsync();
            return backend;
        }
        catch
        {
            await backend.DisposeAsync();
            throw;
        }
    }

    private async Task StartCoreAsync()
    {
        _directory = Path.Combine(Path.GetTempPath(), "rdpnla-gw-xrdp-" + Guid.NewGuid().ToString("N")[..8]);
        Directory.CreateDirectory(_directory);
        string suffix = Guid.NewGuid().ToString("N")[..7];
        UserName = "gwa" + suffix;
        await GatewayPeers.RunAsync("useradd", "-m", "-s", "/bin/bash", UserName);
        SecondUserName = "gwb" + suffix;
        await GatewayPeers.RunAsync("useradd", "-m", "-s", "/bin/bash", SecondUserName);
        ProcessResult chpasswd = await RunWithInputAsync("chpasswd", $"{UserName}:{Password}\n{SecondUserName}:{Password}\n");
        if (chpasswd.ExitCode != 0)
        {
            throw new InvalidOperationException($"chpasswd failed: {chpasswd.Output}");
        }

        foreach (string user in (string[])[UserName, SecondUserName])
        {
            // Debian's Xsession runs ~/.xsession; without a window manager or terminal installed, show who is logged on.
            string xsession = Path.Combine("/home", user, ".xsession");
            await File.WriteAllTextAsync(xsession, "#!/bin/sh\nexec xmessage -center \"rdpnla gateway: xrdp desktop of $USER on $DISPLAY, logged on with injected credentials\"\n");
            await GatewayPeers.RunAsync("chown", $"{user}:{user}", xsession);
            await GatewayPeers.RunAsync("chmod", "755", xsession);
        }

        int sesmanPort = ReadSystemSesmanPort();
        using (var probe = new TcpClient())
        {
            try
            {
                await probe.ConnectAsync("127.0.0.1", sesmanPort);
                throw new InvalidOperationException($"port {sesmanPort} (ListenPort of /etc/xrdp/sesman.ini) is in use: another xrdp-sesman runs; stop it first");
            }
            catch (SocketException)
            {
            }
        }

        Port = PeerPorts.GetFreePort();
        string xrdpIni = Path.Combine(_directory, "xrdp.ini");
        string sesmanIni = Path.Combine(_directory, "sesman.ini");
        await File.WriteAllTextAsync(xrdpIni, Rewrite(await File.ReadAllTextAsync("/etc/xrdp/xrdp.ini"), new()
        {
            ["port"] = $"tcp://127.0.0.1:{Port}",
            ["security_layer"] = "tls",
            ["LogFile"] = Path.Combine(_directory, "xrdp.log"),
            ["EnableSyslog"] = "false",
        }, onlyFirst: true));
        await File.WriteAllTextAsync(sesmanIni, Rewrite(await File.ReadAllTextAsync("/etc/xrdp/sesman.ini"), new()
        {
            ["ListenAddress"] = "127.0.0.1",
            ["LogFile"] = Path.Combine(_directory, "sesman.log"),
            ["EnableSyslog"] = "false",
        }, onlyFirst: false));
        _sesman = ExternalProcess.Start("xrdp-sesman", ["--nodaemon", "--config", sesmanIni], null, _output);
        await GatewayPeers.WaitForPortAsync(sesmanPort, _sesman, _output, "xrdp-sesman");
        _xrdp = ExternalProcess.Start("xrdp", ["--nodaemon", "--config", xrdpIni], null, _output);
        await GatewayPeers.WaitForPortAsync(Port, _xrdp, _output, "xrdp");
    }

    /// <summary>Waits until sesman's log has <paramref name="fragment"/>.</summary>
    public async Task<bool> WaitForSesmanLineAsync(string fragment, TimeSpan timeout)
    {
        var watch = Stopwatch.StartNew();
        while (watch.Elapsed < timeout)
        {
            if (SesmanLog.Contains(fragment, StringComparison.Ordinal))
            {
                return true;
            }

            await Task.Delay(200);
        }

        return false;
    }

    private static int ReadSystemSesmanPort()
    {
        foreach (string line in File.ReadLines("/etc/xrdp/sesman.ini"))
        {
            if (line.StartsWith("ListenPort=", StringComparison.Ordinal))
            {
                return int.Parse(line["ListenPort=".Length..].Trim(), CultureInfo.InvariantCulture);
            }
        }

        return 3350;
    }

    private static string Rewrite(string ini, Dictionary<string, string> values, bool onlyFirst)
    {
        var done = new HashSet<string>();
        var output = new StringBuilder();
        foreach (string line in ini.Split('\n'))
        {
            int equals = line.IndexOf('=', StringComparison.Ordinal);
            string key = equals > 0 ? line[..equals].Trim() : string.Empty;
            if (values.TryGetValue(key, out string? value) && !(onlyFirst && done.Contains(key)))
            {
                done.Add(key);
                output.Append(key).Append('=').Append(value).Append('\n');
            }
            else
            {
                output.Append(line).Append('\n');
            }
        }

        return output.ToString();
    }

    private static string ReadShared(string path)
    {
        try
        {
            using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
            using var reader = new StreamReader(stream);
            return reader.ReadToEnd();
        }
        catch (FileNotFoundException)
        {
            return string.Empty;
        }
    }

    private static async Task<ProcessResult> RunWithInputAsync(string file, string input)
    {
        var info = new ProcessStartInfo(Peers.Require(file)) { RedirectStandardInput = true, RedirectStandardOutput = true, RedirectStandardError = true };
        using Process process = Process.Start(info)!;
        await process.StandardInput.WriteAsync(input);
        process.StandardInput.Close();
        string output = await process.StandardOutput.ReadToEndAsync() + await process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        return new ProcessResult(process.ExitCode, output, false);
    }

    public async ValueTask DisposeAsync()
    {
        await ExternalProcess.StopAsync(_xrdp);
        await ExternalProcess.StopAsync(_sesman);
        foreach (string? user in (string?[])[UserName, SecondUserName])
        {
            if (user is not null)
            {
                await RemoveUserAsync(user);
            }
        }

        try
        {
            Directory.Delete(_directory, recursive: true);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentNullException)
        {
        }
    }

    private static async Task RemoveUserAsync(string user)
    {
        ProcessResult id = await ExternalProcess.RunAsync("id", ["-u", user], null, TimeSpan.FromSeconds(10), CancellationToken.None);
        if (id.ExitCode != 0)
        {
            return;
        }

        // The session's Xorg, window manager and chansrv run as the test user: end them by pid, then remove the user.
        int uid = int.Parse(id.Output.Trim(), CultureInfo.InvariantCulture);
        foreach (int pid in ProcessesOf(uid))
        {
            try
            {
                using Process process = Process.GetProcessById(pid);
                process.Kill();
            }
            catch (Exception ex) when (ex is ArgumentException or InvalidOperationException or System.ComponentModel.Win32Exception)
            {
            }
        }

        await Task.Delay(300);
        await ExternalProcess.RunAsync("userdel", ["-r", "-f", user], null, TimeSpan.FromSeconds(30), CancellationToken.None);
    }

    private static List<int> ProcessesOf(int uid)
    {
        var pids = new List<int>();
        foreach (string directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out int pid))
            {
                continue;
            }

            try
            {
                string? line = File.ReadLines(Path.Combine(directory, "status")).FirstOrDefault(l => l.StartsWith("Uid:", StringComparison.Ordinal));
                if (line is not null && int.Parse(line.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) == uid)
                {
                    pids.Add(pid);
                }
            }
            catch (IOException)
            {
            }
        }

        return pids;
    }
}
