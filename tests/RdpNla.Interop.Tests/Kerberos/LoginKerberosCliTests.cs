using System.Text.Json;
using Microsoft.Data.Sqlite;
using RdpNla.Tests.Support;

namespace RdpNla.Tests.Kerberos;

/// <summary>
/// The client and server roles as processes: <c>rdpnla login --auth kerberos</c> with the ticket cache that
/// <c>kinit alice</c> filled, against <c>rdpnla serve --keytab</c> with the keytab exported from the domain controller.
/// </summary>
[Collection(DomainControllerCollection.Name)]
public sealed class LoginKerberosCliTests : IAsyncLifetime
{
    private readonly SambaDomainController _dc;
    private readonly string _data = Path.Combine(Path.GetTempPath(), "rdpnla-tests", Guid.NewGuid().ToString("N"));
    private const string LocalPassword = "local-password-not-used-by-kerberos";
    private ServeProcess? _server;

    public LoginKerberosCliTests(SambaDomainController dc)
    {
        _dc = dc;
    }

    private string Config => Path.Combine(_data, "settings.json");

    public async ValueTask InitializeAsync()
    {
        Directory.CreateDirectory(_data);
        await File.WriteAllTextAsync(Config, "{}");
        await ServeProcess.AddUserAsync(_data, "alice", LocalPassword);
    }

    [Fact]
    public async Task Login_with_alices_ticket_cache_succeeds_against_serve_with_the_keytab_and_is_audited_as_Kerberos()
    {
        _server = await ServeProcess.StartAsync(_data, Config, "--keytab", _dc.Keytab);

        ProcessResult login = await LoginAsync(_server.Address, "--auth", "kerberos", "--spn", SambaDomainController.ServicePrincipal);

        Assert.True(login.ExitCode == 0, login.Output + _server.Output);
        using JsonDocument json = JsonOf(login);
        Assert.Equal("Kerberos", json.RootElement.GetProperty("credssp").GetProperty("package").GetString());
        Assert.Equal("LAB.TEST\\alice", json.RootElement.GetProperty("account").GetString());
        (string outcome, string reason, string user) = await WaitForAuditAsync();
        Assert.Equal("success", outcome);
        Assert.Equal("alice", user);
        Assert.StartsWith("authenticated with Kerberos", reason, StringComparison.Ordinal);
        Assert.Contains("SPNEGO/Kerberos", _server.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_wrong_keytab_fails_with_a_logon_failure_status()
    {
        _server = await ServeProcess.StartAsync(_data, Config, "--keytab", _dc.StaleKeytab, "--service-principal", SambaDomainController.ServicePrincipal + "@" + SambaDomainController.Realm);

        ProcessResult login = await LoginAsync(_server.Address, "--auth", "kerberos", "--spn", SambaDomainController.ServicePrincipal);

        Assert.Equal(10, login.ExitCode);
        using JsonDocument json = JsonOf(login);
        Assert.Equal("STATUS_LOGON_FAILURE", json.RootElement.GetProperty("ntstatus").GetString());
        (string outcome, string reason, _) = await WaitForAuditAsync();
        Assert.Equal("failure", outcome);
        Assert.StartsWith("Kerberos: ", reason, StringComparison.Ordinal);
    }

    /// <summary>
    /// <c>rdpnla serve --restrict-ntlm</c> (docs/kerberos.md, "Refusing NTLM"): NTLM, asked for or fallen back to by
    /// negotiate (a target given by IP address), is refused with STATUS_NTLM_BLOCKED although the password is right;
    /// Kerberos logs on.
    /// </summary>
    [Theory]
    [InlineData("ntlm")]
    [InlineData("negotiate")]
    public async Task With_ntlm_refused_an_ntlm_login_gets_ntlm_blocked_and_kerberos_logs_on(string auth)
    {
        _server = await ServeProcess.StartAsync(_data, Config, "--keytab", _dc.Keytab, "--restrict-ntlm");
        var withPassword = new Dictionary<string, string>(_dc.ClientEnvironment()) { ["RDPNLA_PASSWORD"] = LocalPassword };

        ProcessResult ntlm = await LoginAsync(_server.Address, withPassword, "--auth", auth, "-u", "alice");

        Assert.True(ntlm.ExitCode == 10, ntlm.Output + _server.Output);
        using (JsonDocument json = JsonOf(ntlm))
        {
            Assert.Equal("STATUS_NTLM_BLOCKED", json.RootElement.GetProperty("ntstatus").GetString());
        }

        (string outcome, string reason, string user) = await WaitForAuditAsync();
        Assert.Equal(("failure", "alice"), (outcome, user));
        Assert.StartsWith("NTLM: this server refuses NTLM", reason, StringComparison.Ordinal);
        Assert.Contains("NTLM logons are refused with STATUS_NTLM_BLOCKED (Ntlm:Incoming is Deny)", _server.Output, StringComparison.Ordinal);
        Assert.Contains("failed: STATUS_NTLM_BLOCKED: NTLM: this server refuses NTLM", _server.Output, StringComparison.Ordinal);

        ProcessResult kerberos = await LoginAsync(_server.Address, "--auth", "kerberos", "--spn", SambaDomainController.ServicePrincipal);

        Assert.True(kerberos.ExitCode == 0, kerberos.Output + _server.Output);
    }

    [Fact]
    public async Task Restrict_ntlm_without_a_keytab_stops_serve_with_one_line()
    {
        ProcessResult serve = await ExternalProcess.RunAsync(ServeProcess.DotnetHost(), [Path.Combine(AppContext.BaseDirectory, "rdpnla.dll"), "serve", "--data", _data, "--config", Config, "--listen", "127.0.0.1:0", "--restrict-ntlm"], null, TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);

        Assert.Equal(1, serve.ExitCode);
        Assert.Contains("error: Ntlm:Incoming is Deny but Kerberos:Keytab is not set", serve.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Kerberos_by_ip_address_without_spn_is_a_usage_error_with_the_fix()
    {
        ProcessResult login = await LoginAsync("127.0.0.1:1", "--auth", "kerberos");

        Assert.Equal(1, login.ExitCode);
        Assert.Contains("--spn TERMSRV/NAME", login.Output, StringComparison.Ordinal);
    }

    /// <summary>The JSON line of the output (stderr, merged in, carries the --cert-ignore warning).</summary>
    private static JsonDocument JsonOf(ProcessResult login) =>
        JsonDocument.Parse(login.Output.Split('\n').Last(line => line.StartsWith('{')));

    private Task<ProcessResult> LoginAsync(string target, params string[] arguments) => LoginAsync(target, _dc.ClientEnvironment(), arguments);

    private static async Task<ProcessResult> LoginAsync(string target, IDictionary<string, string> environment, params string[] arguments)
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "rdpnla.dll");
        return await ExternalProcess.RunAsync(ServeProcess.DotnetHost(), [cli, "login", target, "--cert-ignore", "--json", .. arguments], environment, TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
    }

    private async Task<(string Outcome, string Reason, string User)> WaitForAuditAsync()
    {
        string connectionString = new SqliteConnectionStringBuilder { DataSource = Path.Combine(_data, "rdpnla.db"), Pooling = false }.ToString();
        for (int i = 0; i < 200; i++)
        {
            await using var connection = new SqliteConnection(connectionString);
            await connection.OpenAsync(TestContext.Current.CancellationToken);
            await using SqliteCommand command = connection.CreateCommand();
            command.CommandText = "SELECT outcome, reason, coalesce(user_name, '') FROM audit ORDER BY id LIMIT 1;";
            await using SqliteDataReader reader = await command.ExecuteReaderAsync(TestContext.Current.CancellationToken);
            if (await reader.ReadAsync(TestContext.Current.CancellationToken))
            {
                return (reader.GetString(0), reader.GetString(1), reader.GetString(2));
            }

            await Task.Delay(50, TestContext.Current.CancellationToken);
        }

        throw new TimeoutException("no audit row after 10 s:\n" + _server?.Output);
    }

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }
    }
}
