using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace RdpNla.Tests.Support;

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
        Peers.Require("samba", "samba-tool", "ldbmodify", "winbindd", "kinit", "kvno", "unshare");
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
            "\tserver services = kdc, winbindd, rpc",
            "\tdisable netbios = yes",
            $"\tkrb5 port = {KdcPort}",
            $"\tkpasswd port = {kpasswdPort}",
            $"\tpid directory = {Path.Combine(Directory, "pid")}",
            $"\tncalrpc dir = {Path.Combine(Directory, "ncalrpc")}",
            $"\twinbindd socket directory = {Path.Combine(run, "winbindd")}",
            $"\tlog file = {Path.Combine(Directory, "samba.log")}");
        string provisioned = await File.ReadAllTextAsync(conf);

        // The provisioned "server services" line would override ours (the last one wins): KDC, winbind and the RPC
        // server winbind's name lookups need, nothing else (no LDAP, SMB or DNS ports).
        provisioned = System.Text.RegularExpressions.Regex.Replace(provisioned, @"^\s*server services = .*$", string.Empty, System.Text.RegularExpressions.RegexOptions.Multiline);
        await File.WriteAllTextAsync(conf, provisioned.Replace("[global]", settings, StringComparison.Ordinal));
        _conf = conf;

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

        await AddDomainAccountsAsync(conf);

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

        await StartAsync();

        await RunAsync("kinit", [$"alice@{Realm}"], AlicePassword + "\n", ClientEnvironment());
        await RunAsync("kvno", [$"{ServicePrincipal}@{Realm}"], null, ClientEnvironment());
    }

    /// <summary>Users of the domain tests (all with <see cref="AlicePassword"/>), created only in the DC.</summary>
    public static class Users
    {
        /// <summary>Disabled (samba-tool user disable).</summary>
        public const string Disabled = "bob";

        /// <summary>Must change the password at next logon.</summary>
        public const string MustChange = "frank";

        /// <summary>Locked out by the DC's bad-password count (<see cref="LockOutAsync"/>).</summary>
        public const string LockedOut = "lena";

        /// <summary>
        /// For wrong passwords only (so alice's bad-password count stays at zero). Its count grows over the run toward
        /// <see cref="LockoutThreshold"/>: a test that sends it wrong passwords starts with <see cref="ClearBadPasswordCountAsync"/>,
        /// and no test needs it to log on.
        /// </summary>
        public const string WrongPassword = "wanda";

        /// <summary>Account expired (samba-tool user setexpiry --days=0).</summary>
        public const string Expired = "ernie";

        /// <summary>No logon hour allowed (logonHours all zero).</summary>
        public const string OutsideHours = "hugo";

        /// <summary>May log on only from workstation NOWHERE (userWorkstations).</summary>
        public const string OtherWorkstation = "walt";

        /// <summary>A valid user outside <see cref="AllowedGroup"/>.</summary>
        public const string Outsider = "oscar";
    }

    /// <summary>The group of users allowed to log on through the front door (all the users above but <see cref="Users.Outsider"/>).</summary>
    public const string AllowedGroup = "rdp-users";

    /// <summary>The DC's run folder, bound on /run/samba in the namespaces of the DC and of its winbind clients.</summary>
    public string RunDirectory => Path.Combine(Directory, "run");

    /// <summary>The DC's bad-password lockout threshold.</summary>
    public const int LockoutThreshold = 3;

    private string? _conf;

    /// <summary>Starts the DC (again, after <see cref="StopAsync"/>) and waits until its KDC and winbind answer.</summary>
    public async Task StartAsync()
    {
        // The DC in a private mount namespace: its run folder on /run/samba, where Debian's libraries look.
        string script = $"if [ -d /run/samba ]; then mount --bind '{RunDirectory}' /run/samba || exit 1; fi; exec samba --foreground --no-process-group -M single -s '{_conf}'";
        _samba = ExternalProcess.Start("unshare", ["--mount", "--propagation", "private", "sh", "-c", script], new Dictionary<string, string> { ["KRB5_CONFIG"] = Krb5Config }, _output);
        bool listening = await PeerPorts.WaitForListenerAsync(KdcPort, TimeSpan.FromSeconds(60), _samba);
        Assert.True(listening, $"the Samba KDC did not listen on {KdcPort}:\n{Output}");
        for (int i = 0; i < 300; i++)
        {
            if ((await RunInNamespaceAsync(["wbinfo", "-n", $"LAB\\{AllowedGroup}"], check: false)).Contains("SID_DOM_GROUP", StringComparison.Ordinal))
            {
                return;
            }

            await Task.Delay(100);
        }

        Assert.Fail($"winbind of the DC did not answer:\n{Output}");
    }

    /// <summary>Stops the DC (SIGTERM to the samba process; its KDC, winbind and RPC server go with it).</summary>
    public async Task StopAsync()
    {
        await ExternalProcess.StopAsync(_samba);
        _samba = null;
    }

    /// <summary>
    /// Runs a winbind client (wbinfo, ntlm_auth) in a private mount namespace where <see cref="RunDirectory"/> is bound on
    /// /run/samba, so it reaches this DC's winbind.
    /// </summary>
    public Task<string> RunInNamespaceAsync(string[] command, string? input = null, bool check = true) =>
        RunAsync("unshare", ["--mount", "--propagation", "private", "sh", "-c", "mount --bind \"$0\" /run/samba && exec \"$@\"", RunDirectory, .. command], input, check: check);

    /// <summary>Locks <see cref="Users.LockedOut"/> out with wrong passwords checked by the DC itself.</summary>
    public async Task LockOutAsync()
    {
        for (int i = 0; i < LockoutThreshold; i++)
        {
            await RunInNamespaceAsync(["wbinfo", "-a", $"LAB\\{Users.LockedOut}%wrong-{i}"], check: false);
        }
    }

    /// <summary>
    /// Sets <paramref name="user"/>'s bad-password count back to zero with one logon by its right password, checked by
    /// the DC: a successful logon sets badPwdCount to zero, on Samba as on Windows.
    /// </summary>
    public async Task ClearBadPasswordCountAsync(string user)
    {
        string output = await RunInNamespaceAsync(["wbinfo", "-a", $"LAB\\{user}%{AlicePassword}"], check: false);
        Assert.True(output.Contains("succeeded", StringComparison.Ordinal), $"{user} could not log on to clear its bad-password count:\n{output}");
    }

    /// <summary><paramref name="user"/>'s badPwdCount as the DC holds it.</summary>
    public async Task<int> BadPasswordCountAsync(string user)
    {
        string output = await SambaToolAsync(_conf, "user", "show", user, "--attributes=badPwdCount");
        System.Text.RegularExpressions.Match count = System.Text.RegularExpressions.Regex.Match(output, @"^badPwdCount: (\d+)$", System.Text.RegularExpressions.RegexOptions.Multiline);
        return count.Success ? int.Parse(count.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }

    /// <summary>Adds a domain user (member of <see cref="AllowedGroup"/>) to the running DC, optionally one that must change the password at next logon.</summary>
    public async Task AddUserAsync(string name, string password, bool mustChange = false)
    {
        await SambaToolAsync(_conf, mustChange ? ["user", "add", name, password, "--must-change-at-next-login"] : ["user", "add", name, password]);
        await SambaToolAsync(_conf, "group", "addmembers", AllowedGroup, name);
    }

    /// <summary>Adds a domain group with these members to the running DC.</summary>
    public async Task AddGroupAsync(string name, params string[] members)
    {
        await SambaToolAsync(_conf, "group", "add", name);
        await SambaToolAsync(_conf, "group", "addmembers", name, string.Join(',', members));
    }

    private async Task AddDomainAccountsAsync(string conf)
    {
        await SambaToolAsync(conf, "domain", "passwordsettings", "set", $"--account-lockout-threshold={LockoutThreshold}");
        await SambaToolAsync(conf, "group", "add", AllowedGroup);
        foreach (string user in new[] { Users.Disabled, Users.LockedOut, Users.WrongPassword, Users.Outsider, Users.Expired, Users.OutsideHours, Users.OtherWorkstation })
        {
            await SambaToolAsync(conf, "user", "add", user, AlicePassword);
        }

        await SambaToolAsync(conf, "user", "add", Users.MustChange, AlicePassword, "--must-change-at-next-login");
        await SambaToolAsync(conf, "user", "disable", Users.Disabled);
        await SambaToolAsync(conf, "user", "setexpiry", Users.Expired, "--days=0");
        string restrictions = Path.Combine(Directory, "restrictions.ldif");
        await File.WriteAllTextAsync(restrictions, string.Join('\n',
            $"dn: CN={Users.OutsideHours},CN=Users,DC=lab,DC=test",
            "changetype: modify",
            "replace: logonHours",
            "logonHours:: " + Convert.ToBase64String(new byte[21]),
            string.Empty,
            $"dn: CN={Users.OtherWorkstation},CN=Users,DC=lab,DC=test",
            "changetype: modify",
            "replace: userWorkstations",
            "userWorkstations: NOWHERE",
            string.Empty));
        await RunAsync("ldbmodify", ["-H", Path.Combine(Directory, "private", "sam.ldb"), restrictions]);
        await SambaToolAsync(conf, "group", "addmembers", AllowedGroup, string.Join(',', "alice", Users.Disabled, Users.MustChange, Users.LockedOut, Users.WrongPassword, Users.Expired, Users.OutsideHours, Users.OtherWorkstation));
    }

    /// <summary>Runs <paramref name="fileName"/> and fails the fixture with its output when it fails.</summary>
    public async Task<string> RunAsync(string fileName, string[] arguments, string? input = null, IDictionary<string, string>? environment = null, bool check = true)
    {
        var info = new ProcessStartInfo(Peers.Require(fileName))
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

        Assert.True(!check || process.ExitCode == 0, $"{fileName} {arguments.FirstOrDefault()} failed ({process.ExitCode}):\n{output}");
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
