using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace RdpNla.Integration.Tests.Support;

/// <summary>The tests that need the Active Directory domain controller share one, provisioned once per test run.</summary>
[CollectionDefinition(Name)]
public sealed class DomainControllerCollection : ICollectionFixture<SambaDomainController>
{
    public const string Name = "Samba AD domain controller";
}

/// <summary>
/// A real Active Directory domain controller (Samba 4, Debian <c>samba</c>) for realm LAB.TEST, provisioned in a temporary
/// folder and started on 127.0.0.1 only: its KDC on a free port, nothing written to the host's /etc, DNS or /run/samba
/// (it runs in a private mount namespace where its own run folder is bound on /run/samba). Accounts: the user
/// <c>alice</c>; the service account <c>rdpgw</c> with SPN <c>TERMSRV/rdpgw.lab.test</c> and AES keys, exported to
/// <see cref="Keytab"/>; <see cref="StaleKeytab"/> holds that account's keys from before a password change (the classic
/// wrong keytab). Clients use <see cref="Krb5Config"/> and <see cref="AliceCache"/> (filled by <c>kinit alice</c>).
/// Stopped by PID (SIGTERM to the <c>samba</c> process, then SIGKILL).
/// </summary>
public sealed class SambaDomainController : IAsyncLifetime
{
    public const string Realm = "LAB.TEST";
    public const string ServicePrincipal = "TERMSRV/rdpgw.lab.test";
    /// <summary>alice's domain password: the gateway test client's, so a gateway can request her ticket with what it delegates.</summary>
    public const string AlicePassword = Gateway.GatewayTestClient.Password;
    private const string AdminPassword = "Adm1n!Pass-krb";
    private const string ServicePassword = "Svc!Pass-krb-1234";
    private static readonly TimeSpan CommandTimeout = TimeSpan.FromSeconds(120);

    private readonly StringBuilder _output = new();
    private Process? _samba;

    public string Directory { get; } = Path.Combine(Path.GetTempPath(), "rdpnla-dc-" + Guid.NewGuid().ToString("N")[..8]);

    public int KdcPort { get; private set; }

    /// <summary>A krb5.conf for clients of this realm only (the host's /etc/krb5.conf is not used).</summary>
    public string Krb5Config => Path.Combine(Directory, "krb5.conf");

    /// <summary>The keytab of TERMSRV/rdpgw.lab.test (AES256 and AES128), as <c>samba-tool domain exportkeytab</c> wrote it.</summary>
    public string Keytab => Path.Combine(Directory, "rdpgw.keytab");

    /// <summary>The same principal's keytab from before its password was changed: tickets do not decrypt with it.</summary>
    public string StaleKeytab => Path.Combine(Directory, "rdpgw-stale.keytab");

    /// <summary>alice's credential cache, filled by <c>kinit alice@LAB.TEST</c>.</summary>
    public string AliceCache => Path.Combine(Directory, "alice.ccache");

    /// <summary>What the DC and the provisioning commands wrote.</summary>
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

    /// <summary>The environment a Kerberos client of this realm needs (KRB5_CONFIG, KRB5CCNAME with alice's tickets).</summary>
    public IDictionary<string, string> ClientEnvironment(string? cache = null) => new Dictionary<string, string>
    {
        ["KRB5_CONFIG"] = Krb5Config,
        ["KRB5CCNAME"] = "FILE:" + (cache ?? AliceCache),
    };

    public async ValueTask InitializeAsync()
    {
        System.IO.Directory.CreateDirectory(Directory);
        string conf = Path.Combine(Directory, "etc", "smb.conf");
        string run = Path.Combine(Directory, "run");
        foreach (string sub in new[] { "run", "pid", "ncalrpc" })
        {
            System.IO.Directory.CreateDirectory(Path.Combine(Directory, sub));
        }

        // An empty configuration: provisioning must not copy the host's smb.conf or its DNS forwarder.
        string empty = Path.Combine(Directory, "empty.conf");
        await File.WriteAllTextAsync(empty, string.Empty);
        await SambaToolAsync(null, "domain", "provision", "-s", empty, "--targetdir=" + Directory, "--realm=" + Realm, "--domain=LAB",
            "--server-role=dc", "--dns-backend=NONE", "--host-name=dc1", "--adminpass=" + AdminPassword);

        KdcPort = PeerPorts.GetFreePort();
        int kpasswdPort = PeerPorts.GetFreePort();
        string settings = string.Join('\n',
            "[global]",
            "\tinterfaces = 127.0.0.1",
            "\tbind interfaces only = yes",
            "\tserver services = kdc",
            "\tdisable netbios = yes",
            $"\tkrb5 port = {KdcPort}",
            $"\tkpasswd port = {kpasswdPort}",
            $"\tpid directory = {Path.Combine(Directory, "pid")}",
            $"\tncalrpc dir = {Path.Combine(Directory, "ncalrpc")}",
            $"\twinbindd socket directory = {Path.Combine(run, "winbindd")}",
            $"\tlog file = {Path.Combine(Directory, "samba.log")}");
        // Provisioning writes its own "server services" (every AD service, RPC on port 135 included): ours replaces it.
        IEnumerable<string> provisioned = (await File.ReadAllLinesAsync(conf)).Where(line => !line.TrimStart().StartsWith("server services", StringComparison.Ordinal));
        await File.WriteAllTextAsync(conf, string.Join('\n', provisioned).Replace("[global]", settings, StringComparison.Ordinal) + "\n");

        await SambaToolAsync(conf, "user", "add", "alice", AlicePassword);
        await SambaToolAsync(conf, "user", "add", "rdpgw", ServicePassword);
        await SambaToolAsync(conf, "spn", "add", ServicePrincipal, "rdpgw");

        // Without msDS-SupportedEncryptionTypes a new service account gets RC4 tickets only (24 = AES128 | AES256).
        string ldif = Path.Combine(Directory, "aes.ldif");
        await File.WriteAllTextAsync(ldif, "dn: CN=rdpgw,CN=Users,DC=lab,DC=test\nchangetype: modify\nreplace: msDS-SupportedEncryptionTypes\nmsDS-SupportedEncryptionTypes: 24\n");
        await RunAsync("ldbmodify", ["-H", Path.Combine(Directory, "private", "sam.ldb"), ldif]);
        await SambaToolAsync(conf, "domain", "exportkeytab", StaleKeytab, "--principal=" + ServicePrincipal);
        await SambaToolAsync(conf, "user", "setpassword", "rdpgw", "--newpassword=" + ServicePassword + "-2");
        await SambaToolAsync(conf, "domain", "exportkeytab", Keytab, "--principal=" + ServicePrincipal);

        await File.WriteAllTextAsync(Krb5Config, string.Join('\n',
            "[libdefaults]",
            $"\tdefault_realm = {Realm}",
            "\tdns_lookup_kdc = false",
            "\tdns_lookup_realm = false",
            "\trdns = false",
            "\tdns_canonicalize_hostname = false",
            "\tudp_preference_limit = 1",
            "[realms]",
            $"\t{Realm} = {{",
            $"\t\tkdc = 127.0.0.1:{KdcPort}",
            "\t}",
            "[domain_realm]",
            "\t.lab.test = LAB.TEST",
            "\tlab.test = LAB.TEST",
            string.Empty));

        // The DC in a private mount namespace: its run folder on /run/samba, where Debian's libraries look.
        string script = $"if [ -d /run/samba ]; then mount --bind '{run}' /run/samba || exit 1; fi; exec samba --foreground --no-process-group -M single -s '{conf}'";
        _samba = ExternalProcess.Start("unshare", ["--mount", "--propagation", "private", "sh", "-c", script], new Dictionary<string, string> { ["KRB5_CONFIG"] = Krb5Config }, _output);
        bool listening = await PeerPorts.WaitForListenerAsync(KdcPort, TimeSpan.FromSeconds(60), () => _samba.HasExited);
        if (!listening)
        {
            string log = Path.Combine(Directory, "samba.log");
            string exit = _samba.HasExited ? $"exited with {_samba.ExitCode}" : "still running";
            Assert.Fail($"the Samba KDC did not listen on {KdcPort} (samba {exit}):\n{Output}\n{(File.Exists(log) ? await File.ReadAllTextAsync(log) : "(no samba.log)")}");
        }

        await RunAsync("kinit", [$"alice@{Realm}"], AlicePassword + "\n", ClientEnvironment());
        await RunAsync("kvno", [$"{ServicePrincipal}@{Realm}"], null, ClientEnvironment());
    }

    /// <summary>Runs <paramref name="fileName"/> and fails the fixture with its output when it fails.</summary>
    public async Task<string> RunAsync(string fileName, string[] arguments, string? input = null, IDictionary<string, string>? environment = null)
    {
        var info = new ProcessStartInfo(fileName)
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        foreach ((string key, string value) in environment ?? new Dictionary<string, string>())
        {
            info.Environment[key] = value;
        }

        using var process = Process.Start(info)!;
        await process.StandardInput.WriteAsync(input ?? string.Empty);
        process.StandardInput.Close();
        Task<string> stdout = process.StandardOutput.ReadToEndAsync();
        Task<string> stderr = process.StandardError.ReadToEndAsync();
        using var timeout = new CancellationTokenSource(CommandTimeout);
        await process.WaitForExitAsync(timeout.Token);
        string output = await stdout + await stderr;
        lock (_output)
        {
            _output.AppendLine($"$ {fileName} {string.Join(' ', arguments.Select(a => a.Contains("ass", StringComparison.Ordinal) ? "***" : a))}").AppendLine(output);
        }

        Assert.True(process.ExitCode == 0, $"{fileName} {arguments.FirstOrDefault()} failed ({process.ExitCode}):\n{output}");
        return output;
    }

    private Task<string> SambaToolAsync(string? conf, params string[] arguments) =>
        RunAsync("samba-tool", conf is null ? arguments : [.. arguments, "-s", conf]);

    public async ValueTask DisposeAsync()
    {
        await ExternalProcess.StopAsync(_samba);
        try
        {
            System.IO.Directory.Delete(Directory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>The native process environment (what GSSAPI reads with getenv), which Environment.SetEnvironmentVariable does not change on Unix.</summary>
internal static class NativeEnvironment
{
    public static void Set(string name, string value)
    {
        if (SetEnv(name, value, 1) != 0)
        {
            throw new InvalidOperationException($"setenv {name} failed");
        }

        Environment.SetEnvironmentVariable(name, value);
    }

    [DllImport("libc", EntryPoint = "setenv")]
    private static extern int SetEnv(string name, string value, int overwrite);
}
