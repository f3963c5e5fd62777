using System.Text.Json;
using RdpNla.Tests.Support;

namespace RdpNla.Tests.Kerberos;

/// <summary>
/// <c>rdpnla doctor --auth kerberos</c> and <c>rdpnla probe --auth kerberos</c> as processes, with alice's ticket cache,
/// against <c>rdpnla serve --keytab</c> and the Samba domain controller's KDC: each Kerberos failure is the real one.
/// </summary>
[Collection(DomainControllerCollection.Name)]
public sealed class DoctorKerberosTests : IAsyncLifetime
{
    private readonly SambaDomainController _dc;
    private readonly string _data = Path.Combine(Path.GetTempPath(), "rdpnla-tests", Guid.NewGuid().ToString("N"));
    private ServeProcess? _server;

    public DoctorKerberosTests(SambaDomainController dc)
    {
        _dc = dc;
    }

    private string Config => Path.Combine(_data, "settings.json");

    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(_data);
        await File.WriteAllTextAsync(Config, "{}");
        await ServeProcess.AddUserAsync(_data, "alice", "local-password-not-used-by-kerberos");
    }

    [Fact]
    public async Task Doctor_with_a_ticket_for_the_server_succeeds()
    {
        _server = await ServeProcess.StartAsync(_data, Config, "--keytab", _dc.Keytab);

        (ProcessResult doctor, JsonElement json) = await DoctorAsync(_server.Address, _dc.ClientEnvironment(), "--spn", SambaDomainController.ServicePrincipal);

        Assert.True(doctor.ExitCode == 0, doctor.Output + _server.Output);
        Assert.Equal("success", json.GetProperty("result").GetString());
    }

    [Fact]
    public async Task Doctor_names_an_unknown_spn()
    {
        _server = await ServeProcess.StartAsync(_data, Config, "--keytab", _dc.Keytab);

        (ProcessResult doctor, JsonElement json) = await DoctorAsync(_server.Address, _dc.ClientEnvironment(), "--spn", "TERMSRV/nosuch.lab.test");

        Assert.True((15, "kerberos-spn-unknown") == (doctor.ExitCode, json.GetProperty("result").GetString()), doctor.Output);
        string evidence = json.GetProperty("evidence")[0].GetString()!;
        Assert.StartsWith("The client could not get a Kerberos ticket for TERMSRV/nosuch.lab.test: KDC_ERR_S_PRINCIPAL_UNKNOWN", evidence, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Doctor_names_a_keytab_with_the_wrong_key()
    {
        _server = await ServeProcess.StartAsync(_data, Config, "--keytab", _dc.StaleKeytab, "--service-principal", SambaDomainController.ServicePrincipal + "@" + SambaDomainController.Realm);

        (ProcessResult doctor, JsonElement json) = await DoctorAsync(_server.Address, _dc.ClientEnvironment(), "--spn", SambaDomainController.ServicePrincipal);

        Assert.Equal((15, "kerberos-key-mismatch"), (doctor.ExitCode, json.GetProperty("result").GetString()));
        Assert.Contains("STATUS_LOGON_FAILURE", json.GetProperty("evidence")[0].GetString()!, StringComparison.Ordinal);
        Assert.Contains("KRB_AP_ERR_MODIFIED", _server.Output + json.GetProperty("evidence")[0].GetString(), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Doctor_names_an_unreachable_kdc()
    {
        _server = await ServeProcess.StartAsync(_data, Config, "--keytab", _dc.Keytab);

        // The same realm, its KDC on a port where nothing listens; the cache has a TGT but no ticket for this SPN.
        string config = Path.Combine(_data, "krb5-dead-kdc.conf");
        int dead = PeerPorts.GetFreePort();
        string realConfig = await File.ReadAllTextAsync(_dc.Krb5Config, TestContext.Current.CancellationToken);
        await File.WriteAllTextAsync(config, realConfig.Replace($"127.0.0.1:{_dc.KdcPort}", $"127.0.0.1:{dead}", StringComparison.Ordinal), TestContext.Current.CancellationToken);
        var environment = new Dictionary<string, string>(_dc.ClientEnvironment()) { ["KRB5_CONFIG"] = config };

        (ProcessResult doctor, JsonElement json) = await DoctorAsync(_server.Address, environment, "--spn", "TERMSRV/other.lab.test");

        Assert.True((10, "kerberos-kdc-unreachable") == (doctor.ExitCode, json.GetProperty("result").GetString()), doctor.Output);
        Assert.Contains("KRB5_KDC_UNREACH", json.GetProperty("evidence")[0].GetString()!, StringComparison.Ordinal);
    }

    /// <summary>
    /// doctor itself runs under Debian's faketime, its clock ten minutes ahead (the ticket is already in alice's cache,
    /// so no KDC is asked): the server answers the skewed authenticator with STATUS_TIME_DIFFERENCE_AT_DC.
    /// </summary>
    [Fact]
    public async Task Doctor_names_clock_skew_when_the_client_clock_is_ten_minutes_ahead()
    {
        _server = await ServeProcess.StartAsync(_data, Config, "--keytab", _dc.Keytab);

        (ProcessResult doctor, JsonElement json) = await DoctorWithClockAsync(_server.Address, _dc.ClientEnvironment(), "+600s", "--spn", SambaDomainController.ServicePrincipal);

        Assert.True((15, "kerberos-clock-skew") == (doctor.ExitCode, json.GetProperty("result").GetString()), doctor.Output + _server.Output);
        Assert.Contains("STATUS_TIME_DIFFERENCE_AT_DC", json.GetProperty("evidence")[0].GetString()!, StringComparison.Ordinal);
        Assert.Contains("Synchronise the client", doctor.Output, StringComparison.Ordinal);
        Assert.Contains("Clock skew too great", _server.Output, StringComparison.Ordinal);
    }

    /// <summary>A user of a realm the client's KRB5_CONFIG does not configure (no KDC, no DNS lookup): KRB5_REALM_UNKNOWN, before any server.</summary>
    [Fact]
    public async Task Doctor_names_a_realm_the_client_cannot_reach()
    {
        _server = await ServeProcess.StartAsync(_data, Config, "--keytab", _dc.Keytab);
        var environment = new Dictionary<string, string>(_dc.ClientEnvironment()) { ["RDPNLA_PASSWORD"] = SambaDomainController.AlicePassword };

        (ProcessResult doctor, JsonElement json) = await DoctorAsync(_server.Address, environment, "-u", "alice@NOWHERE.EXAMPLE", "--spn", SambaDomainController.ServicePrincipal);

        Assert.True((15, "kerberos-realm-unknown") == (doctor.ExitCode, json.GetProperty("result").GetString()), doctor.Output + _server.Output);
        Assert.Contains("KRB5_REALM_UNKNOWN", json.GetProperty("evidence")[0].GetString()!, StringComparison.Ordinal);
        Assert.Contains("NOWHERE.EXAMPLE", json.GetProperty("evidence")[0].GetString()!, StringComparison.Ordinal);
        Assert.Contains("configure the realm", doctor.Output, StringComparison.Ordinal);
    }

    /// <summary>
    /// An SPN in a realm KRB5_CONFIG does not configure, with alice's LAB.TEST ticket: MIT asks LAB.TEST's KDC for the
    /// cross-realm ticket, and the KDC, with no trust there, answers KDC_ERR_S_PRINCIPAL_UNKNOWN; doctor says so.
    /// </summary>
    [Fact]
    public async Task Doctor_names_an_spn_of_a_realm_without_a_trust()
    {
        _server = await ServeProcess.StartAsync(_data, Config, "--keytab", _dc.Keytab);

        (ProcessResult doctor, JsonElement json) = await DoctorAsync(_server.Address, _dc.ClientEnvironment(), "--spn", "TERMSRV/rdpgw.nowhere.example@NOWHERE.EXAMPLE");

        Assert.True((15, "kerberos-spn-unknown") == (doctor.ExitCode, json.GetProperty("result").GetString()), doctor.Output + _server.Output);
        Assert.Contains("The SPN names realm NOWHERE.EXAMPLE", json.GetProperty("evidence")[0].GetString()!, StringComparison.Ordinal);
    }

    /// <summary>
    /// A server that refuses NTLM (<c>serve --restrict-ntlm</c>), and a client that falls back to NTLM because it was
    /// given an IP address and no SPN: doctor names ntlm-blocked, with the server's STATUS_NTLM_BLOCKED as evidence.
    /// </summary>
    [Fact]
    public async Task Doctor_names_ntlm_blocked_when_negotiate_falls_back_to_ntlm()
    {
        _server = await ServeProcess.StartAsync(_data, Config, "--keytab", _dc.Keytab, "--restrict-ntlm");
        var environment = new Dictionary<string, string>(_dc.ClientEnvironment()) { ["RDPNLA_PASSWORD"] = "local-password-not-used-by-kerberos" };

        (ProcessResult doctor, JsonElement json) = await DoctorAsync(_server.Address, environment, "--auth", "negotiate", "-u", "alice");

        Assert.True((15, "ntlm-blocked") == (doctor.ExitCode, json.GetProperty("result").GetString()), doctor.Output + _server.Output);
        Assert.Contains("STATUS_NTLM_BLOCKED", json.GetProperty("evidence").ToString(), StringComparison.Ordinal);
        Assert.Contains("Kerberos", doctor.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Probe_auth_kerberos_proves_the_server_accepts_the_ticket()
    {
        _server = await ServeProcess.StartAsync(_data, Config, "--keytab", _dc.Keytab);
        string cli = Path.Combine(AppContext.BaseDirectory, "rdpnla.dll");

        ProcessResult probe = await ExternalProcess.RunAsync(ServeProcess.DotnetHost(), [cli, "probe", _server.Address, "--json", "--no-tls-versions", "--auth", "kerberos", "--spn", SambaDomainController.ServicePrincipal], _dc.ClientEnvironment(), TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

        Assert.True(probe.ExitCode == 0, probe.Output + _server.Output);
        using JsonDocument json = JsonDocument.Parse(probe.Output.Split('\n').Last(line => line.StartsWith('{')));
        JsonElement kerberos = json.RootElement.GetProperty("kerberos");
        Assert.True(kerberos.GetProperty("accepted").GetBoolean(), probe.Output);
        Assert.Equal("Kerberos", kerberos.GetProperty("package").GetString());
        Assert.True(json.RootElement.GetProperty("nla_supported").GetBoolean());
    }

    [Fact]
    public async Task Probe_auth_kerberos_reports_a_refused_ticket()
    {
        _server = await ServeProcess.StartAsync(_data, Config, "--keytab", _dc.StaleKeytab, "--service-principal", SambaDomainController.ServicePrincipal + "@" + SambaDomainController.Realm);
        string cli = Path.Combine(AppContext.BaseDirectory, "rdpnla.dll");

        ProcessResult probe = await ExternalProcess.RunAsync(ServeProcess.DotnetHost(), [cli, "probe", _server.Address, "--json", "--no-tls-versions", "--auth", "kerberos", "--spn", SambaDomainController.ServicePrincipal], _dc.ClientEnvironment(), TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

        using JsonDocument json = JsonDocument.Parse(probe.Output.Split('\n').Last(line => line.StartsWith('{')));
        JsonElement kerberos = json.RootElement.GetProperty("kerberos");
        Assert.False(kerberos.GetProperty("accepted").GetBoolean(), probe.Output);
        Assert.Equal("STATUS_LOGON_FAILURE", kerberos.GetProperty("ntstatus").GetString());
    }

    private static Task<(ProcessResult Result, JsonElement Json)> DoctorAsync(string target, IDictionary<string, string> environment, params string[] arguments) =>
        DoctorWithClockAsync(target, environment, null, arguments);

    /// <param name="clockOffset">Runs doctor under faketime with its clock moved by this offset (e.g. "+600s"); the monotonic clock is left alone.</param>
    private static async Task<(ProcessResult Result, JsonElement Json)> DoctorWithClockAsync(string target, IDictionary<string, string> environment, string? clockOffset, params string[] arguments)
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "rdpnla.dll");
        string[] auth = arguments.Contains("--auth") ? [] : ["--auth", "kerberos"];
        string[] command = [ServeProcess.DotnetHost(), cli, "doctor", target, "--json", .. auth, .. arguments];
        if (clockOffset is not null)
        {
            command = [Peers.Require("/usr/bin/faketime"), "-f", clockOffset, .. command];
            environment = new Dictionary<string, string>(environment) { ["FAKETIME_DONT_FAKE_MONOTONIC"] = "1", ["DONT_FAKE_MONOTONIC"] = "1" };
        }

        ProcessResult result = await ExternalProcess.RunAsync(command[0], command[1..], environment, TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        // Standard error (merged in) may carry warnings before the indented JSON report.
        int start = result.Output.IndexOf("{\n", StringComparison.Ordinal);
        Assert.True(start >= 0, $"no JSON (exit {result.ExitCode}): {result.Output}");
        using JsonDocument json = JsonDocument.Parse(result.Output[start..(result.Output.LastIndexOf('}') + 1)]);
        return (result, json.RootElement.Clone());
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
