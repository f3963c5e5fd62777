using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text.Json;
using RdpNla.Client;
using RdpNla.Tests.Accounts;
using RdpNla.Tests.Doctor;
using RdpNla.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Rdp;
using RdpNla.Transport;
using RdpNla.Server.Accounts;

namespace RdpNla.Tests.Client;

/// <summary><c>probe</c> and <c>login</c> against our own <c>rdpnla serve</c> in each configuration and account state.</summary>
public class FrontDoorClientTests
{
    private const string Password = "Corr3ct-horse";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<int, int, string[], bool, bool> LayerMatrix => new()
    {
        // SecurityLayer, UserAuthentication, accepted, NLA supported, NLA required
        { 0, 1, ["PROTOCOL_HYBRID", "PROTOCOL_HYBRID_EX"], true, true },
        { 1, 1, ["PROTOCOL_HYBRID", "PROTOCOL_HYBRID_EX"], true, true },
        { 2, 1, ["PROTOCOL_HYBRID", "PROTOCOL_HYBRID_EX"], true, true },
        { 0, 0, ["PROTOCOL_RDP"], false, false },
        { 1, 0, ["PROTOCOL_RDP", "PROTOCOL_SSL", "PROTOCOL_HYBRID", "PROTOCOL_HYBRID_EX"], true, false },
        { 2, 0, ["PROTOCOL_SSL", "PROTOCOL_HYBRID", "PROTOCOL_HYBRID_EX"], true, false },
    };

    [Theory]
    [MemberData(nameof(LayerMatrix))]
    public async Task Probe_SecurityLayerAndUserAuthentication_ReportsExactly(int layer, int userAuthentication, string[] accepted, bool nlaSupported, bool nlaRequired)
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o =>
        {
            o.SecurityLayer = (SecurityLayer)layer;
            o.UserAuthentication = userAuthentication;
        });

        (CliResult result, JsonElement json) = await ClientCli.ProbeJsonAsync(server.Address, "--no-tls-versions");

        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        Assert.Equal(accepted, json.GetProperty("protocols").GetProperty("accepted").Strings());
        Assert.Equal(nlaSupported, json.GetProperty("nla_supported").GetBoolean());
        Assert.Equal(nlaRequired, json.GetProperty("nla_required").GetBoolean());
        string[] findings = json.FindingIds();
        Assert.Equal(!nlaSupported, findings.Contains("nla-not-supported"));
        Assert.Equal(nlaSupported && !nlaRequired, findings.Contains("nla-not-required"));
        Assert.Equal(accepted.Contains("PROTOCOL_RDP"), findings.Contains("standard-rdp-security"));
        if (nlaSupported)
        {
            Assert.Equal(6, json.GetProperty("credssp_version").GetInt32());
            JsonElement ntlm = json.GetProperty("ntlm");
            Assert.Equal(TestFrontDoor.ComputerName, ntlm.Str("netbios_computer_name"));
            Assert.Equal(TestFrontDoor.Domain, ntlm.Str("netbios_domain_name"));
            Assert.NotNull(ntlm.Str("server_time"));
            Assert.DoesNotContain("no-early-user-authorization", findings);
        }
    }

    public static TheoryData<int, int> OracleMatrix()
    {
        var data = new TheoryData<int, int>();
        foreach (int oracle in new[] { 0, 1, 2 })
        {
            foreach (int version in new[] { 2, 3, 4, 5, 6 })
            {
                data.Add(oracle, version);
            }
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(OracleMatrix))]
    public async Task ProbeAndLogin_AllowEncryptionOracleAndMaxVersion_ReportsExactly(int oracle, int maxVersion)
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o =>
        {
            o.AllowEncryptionOracle = (EncryptionOraclePolicy)oracle;
            o.MaxCredSspVersion = maxVersion;
        });
        await server.AddUserAsync("alice", Password);

        (CliResult probe, JsonElement json) = await ClientCli.ProbeJsonAsync(server.Address, "--no-tls-versions");

        Assert.True(probe.ExitCode == 0, probe.Output + probe.Error);
        Assert.Equal(maxVersion, json.GetProperty("credssp_version").GetInt32());
        Assert.Equal(maxVersion >= 5, json.GetProperty("credssp_cve_2018_0886_fixed").GetBoolean());
        // The server refuses a version-3 client only under Force Updated Clients (and only when it is patched itself).
        Assert.Equal(!(oracle == 0 && maxVersion >= 5), json.GetProperty("credssp_accepts_unpatched_clients").GetBoolean());
        Assert.Equal(maxVersion < 5, json.FindingIds().Contains("credssp-unpatched"));

        // Default client (Mitigated) refuses an unpatched server before sending anything derived from the password.
        (CliResult login, JsonElement loginJson) = await ClientCli.LoginJsonAsync(server.Address, "alice", Password);
        if (maxVersion >= 5)
        {
            Assert.True(login.ExitCode == 0, login.Output);
            Assert.Equal("success", loginJson.Str("result"));
        }
        else
        {
            Assert.Equal(28, login.ExitCode);
            Assert.Equal("error", loginJson.Str("result"));
            Assert.Equal("cred_ssp_version_not_permitted", loginJson.Str("failure_kind"));
            Assert.Equal(maxVersion, loginJson.GetProperty("credssp").GetProperty("server_version").GetInt32());

            // AllowEncryptionOracle 2 (Vulnerable) falls back to the version 2-4 public-key echo.
            (CliResult vulnerable, JsonElement vulnerableJson) = await ClientCli.LoginJsonAsync(server.Address, "alice", Password, "--allow-encryption-oracle", "2");
            Assert.True(vulnerable.ExitCode == 0, vulnerable.Output);
            Assert.Equal("success", vulnerableJson.Str("result"));
        }

        // An unpatched client (version 3): refused by Force Updated Clients with errorCode STATUS_NOT_SUPPORTED.
        (CliResult old, JsonElement oldJson) = await ClientCli.LoginJsonAsync(server.Address, "alice", Password, "--max-credssp-version", "3", "--allow-encryption-oracle", "2");
        if (oracle == 0 && maxVersion == 5)
        {
            // Version 5 has no errorCode (MS-CSSP §2.2.1): the server just closes.
            Assert.Equal(31, old.ExitCode);
            Assert.Equal("connection_closed", oldJson.Str("failure_kind"));
        }
        else if (oracle == 0 && maxVersion >= 5)
        {
            Assert.Equal(10, old.ExitCode);
            Assert.Equal("STATUS_NOT_SUPPORTED", oldJson.Str("ntstatus"));
        }
        else
        {
            Assert.True(old.ExitCode == 0, old.Output);
        }
    }

    public static TheoryData<string, string, string?, int, string?> AccountStates => new()
    {
        // state, password, NTSTATUS name, exit code, EUAR
        { "normal", Password, null, 0, "AUTHZ_SUCCESS" },
        { "wrong-password", "Wr0ng-password", "STATUS_LOGON_FAILURE", 10, null },
        { "unknown-user", Password, "STATUS_LOGON_FAILURE", 10, null },
        { "locked", Password, "STATUS_ACCOUNT_LOCKED_OUT", 10, null },
        { "disabled", Password, "STATUS_ACCOUNT_DISABLED", 10, null },
        { "password-expired", Password, "STATUS_PASSWORD_EXPIRED", 10, null },
        { "must-change", Password, "STATUS_PASSWORD_MUST_CHANGE", 10, null },
        { "deny-logon", Password, null, 12, "AUTHZ_ACCESS_DENIED" },
    };

    [Theory]
    [MemberData(nameof(AccountStates))]
    public async Task Login_AccountState_ReportsNtStatusAndEarlyAuthorization(string state, string password, string? ntStatus, int exitCode, string? euar)
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync();
        Func<UserAccount, UserAccount>? modify = state switch
        {
            "locked" => a => a with { LockedUntil = DateTimeOffset.UtcNow.AddHours(1), FailedLogonCount = 5 },
            "disabled" => a => a with { Disabled = true },
            "password-expired" => a => a with { PasswordExpired = true },
            "must-change" => a => a with { MustChangePassword = true },
            "deny-logon" => a => a with { RemoteLogonDenied = true },
            _ => null,
        };
        await server.AddUserAsync("alice", Password, modify);
        string user = state == "unknown-user" ? "mallory" : "alice";

        (CliResult result, JsonElement json) = await ClientCli.LoginJsonAsync(server.Address, $"{TestFrontDoor.Domain}\\{user}", password);

        Assert.True(exitCode == result.ExitCode, $"{result.Output}\n{server.LogText}");
        Assert.Equal(ntStatus, json.Str("ntstatus"));
        Assert.Equal(euar, json.Str("early_user_authorization"));
        Assert.Equal(exitCode == 0 ? "success" : "failure", json.Str("result"));
        Assert.Equal("PROTOCOL_HYBRID_EX", json.GetProperty("negotiation").Str("selected_protocol"));
    }

    [Fact]
    public async Task Login_Text_NamesNtStatusInPlainWords()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync();
        await server.AddUserAsync("alice", Password, a => a with { Disabled = true });

        CliResult result = await Accounts.Cli.RunAsync(new FakeCliConsole(Password + "\n"), "login", server.Address, "-u", "alice", "--password-stdin", "--cert-ignore");

        Assert.Equal(10, result.ExitCode);
        Assert.StartsWith("result: failure\nntstatus: STATUS_ACCOUNT_DISABLED (0xC0000072): the account is disabled\n", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task LoginDoctorAndProbe_Text_ServerNamesAndCertificateSubjectWithControlCharacters_AreEscaped_JsonKeepsThem()
    {
        // A hostile server's NTLM CHALLENGE: NetBIOS names holding an OSC title sequence, a bell, a carriage return and a
        // right-to-left override. The text output must not hand them to the terminal; JSON carries them, escaped by JSON.
        const string computer = "EV\u001B]0;x\u0007L";
        const string domain = "D\rOM\u202E";
        using X509Certificate2 certificate = HostileChallengeServer.CertificateFor("ev\u001B]0;cn\u0007il");
        await using var server = new HostileChallengeServer(computer, domain, certificate);

        CliResult text = await Accounts.Cli.RunAsync(new FakeCliConsole(Password + "\n"), "login", server.Address, "-u", "alice", "--password-stdin", "--cert-ignore", "--auth", "ntlm");
        CliResult json = await Accounts.Cli.RunAsync(new FakeCliConsole(Password + "\n"), "login", server.Address, "-u", "alice", "--password-stdin", "--cert-ignore", "--auth", "ntlm", "--json");
        CliResult doctor = await DoctorCli.RunAsync(server.Address);
        CliResult probe = await Accounts.Cli.RunAsync("probe", server.Address);

        Assert.Contains("NetBIOS D\\u000DOM\\u202E\\EV\\u001B]0;x\\u0007L", text.Output, StringComparison.Ordinal);
        Assert.Contains("certificate: CN=\"ev\\u001B]0;cn\\u0007il\"", text.Output, StringComparison.Ordinal);
        Assert.Contains("ev\\u001B]0;cn\\u0007il", doctor.Output, StringComparison.Ordinal);
        Assert.Contains("D\\u000DOM\\u202E\\EV\\u001B]0;x\\u0007L", probe.Output, StringComparison.Ordinal);
        foreach (string output in (string[])[text.Output, doctor.Output, probe.Output])
        {
            Assert.DoesNotContain(output, c => c is '\u001B' or '\u0007' or '\r' or '\u202E');
        }

        JsonElement ntlm = JsonDocument.Parse(json.Output).RootElement.GetProperty("credssp").GetProperty("ntlm");
        Assert.Equal(computer, ntlm.Str("netbios_computer_name"));
        Assert.Equal(domain, ntlm.Str("netbios_domain_name"));
    }

    /// <summary>
    /// Answers every connection with a Connection Confirm selecting PROTOCOL_HYBRID, TLS, and an NTLM CHALLENGE whose
    /// TargetInfo carries the given names, then closes: what a client learns from a server before it authenticates.
    /// </summary>
    private sealed class HostileChallengeServer : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly CancellationTokenSource _stop = new();
        private readonly Task _accepting;

        public HostileChallengeServer(string computerName, string domainName, X509Certificate2 certificate)
        {
            _listener.Start();
            _accepting = AcceptAsync(computerName, domainName, certificate);
        }

        /// <summary>A self-signed certificate whose subject CN is <paramref name="commonName"/>, control characters and all.</summary>
        public static X509Certificate2 CertificateFor(string commonName)
        {
            var subject = new X500DistinguishedNameBuilder();
            subject.AddCommonName(commonName);
            using var rsa = RSA.Create(2048);
            var request = new CertificateRequest(subject.Build(), rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
            using X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(1));
            return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pfx), null);
        }

        public string Address => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

        private async Task AcceptAsync(string computerName, string domainName, X509Certificate2 certificate)
        {
            while (!_stop.IsCancellationRequested)
            {
                using TcpClient client = await _listener.AcceptTcpClientAsync(_stop.Token);
                try
                {
                    await AnswerAsync(client.GetStream(), computerName, domainName, certificate);
                }
                catch (Exception ex) when (ex is IOException or AuthenticationException or NlaProtocolException or EndOfStreamException)
                {
                    // probe's TLS version checks and a client that gives up end a conversation early; the next one is answered.
                }
            }
        }

        private async Task AnswerAsync(NetworkStream network, string computerName, string domainName, X509Certificate2 certificate)
        {
            _ = await MessageFraming.ReadTpktFrameAsync(network, 4096, _stop.Token);
            await network.WriteAsync(new X224ConnectionConfirm(new RdpNegResponse(RdpNegResponseFlags.None, SecurityProtocols.Hybrid)).Encode(), _stop.Token);
            await using var tls = new SslStream(network);
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, _stop.Token);
            TsRequest negotiate = TsRequest.Decode(await MessageFraming.ReadTsRequestAsync(tls, 64 * 1024, _stop.Token));
            using var ntlm = new NtlmServerContext(new NtlmServerOptions
            {
                NbComputerName = computerName,
                NbDomainName = domainName,
                DnsComputerName = "server.test",
                DnsDomainName = "test",
                TimeProvider = TimeProvider.System,
                RandomSource = new DeterministicRandom(11),
            });
            byte[] challenge = ntlm.GetOutgoingBlob(negotiate.NegoTokens[0], out _)!;
            await tls.WriteAsync(new TsRequest { Version = 6, NegoTokens = [challenge] }.Encode(), _stop.Token);
        }

        public async ValueTask DisposeAsync()
        {
            await _stop.CancelAsync();
            _listener.Stop();
            await Task.WhenAny(_accepting);
            _stop.Dispose();
        }
    }

    [Fact]
    public async Task Login_HybridOnly_DeniedUserClosedAfterCredentials_NormalUserSucceeds()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync();
        await server.AddUserAsync("alice", Password);
        await server.AddUserAsync("bob", Password, a => a with { RemoteLogonDenied = true });

        NlaClientResult alice = await RunHybridAsync(server, "alice");
        NlaClientResult bob = await RunHybridAsync(server, "bob");

        Assert.Equal((NlaOutcome.Success, SecurityProtocols.Hybrid), (alice.Outcome, alice.Negotiation!.SelectedProtocol!.Value));
        Assert.Null(alice.EarlyAuthorization);
        Assert.Equal((NlaOutcome.Failure, NlaFailureKind.AccessDenied), (bob.Outcome, bob.FailureKind));
        Assert.True(bob.CredSsp!.ServerBindingVerified);
    }

    private static async Task<NlaClientResult> RunHybridAsync(TestFrontDoor server, string user)
    {
        using var credentials = new NlaCredentials(user, "", Password);
        return await NlaClient.RunAsync(
            new NlaClientOptions
            {
                Host = "127.0.0.1",
                Port = server.Port,
                RequestedProtocols = SecurityProtocols.Ssl | SecurityProtocols.Hybrid,
                Credentials = credentials,
                Timeout = TimeSpan.FromSeconds(10),
            },
            Ct);
    }

    [Fact]
    public async Task Login_IndeterminateWhenServerSelectsStandardRdp()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o =>
        {
            o.SecurityLayer = SecurityLayer.Rdp;
            o.UserAuthentication = 0;
        });

        (CliResult result, JsonElement json) = await ClientCli.LoginJsonAsync(server.Address, "alice", Password);

        Assert.Equal(13, result.ExitCode);
        Assert.Equal("indeterminate", json.Str("result"));
        Assert.Equal("PROTOCOL_RDP", json.GetProperty("negotiation").Str("selected_protocol"));
    }

    [Fact]
    public async Task Login_CertificatePolicies_PinKnownHostsAndChange()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync();
        await server.AddUserAsync("alice", Password);
        using var directory = new TempDirectory();
        string knownHosts = Path.Combine(directory.Path, "known_hosts");

        CliResult first = await Accounts.Cli.RunAsync(new FakeCliConsole(Password + "\n"), "login", server.Address, "-u", "alice", "--password-stdin", "--known-hosts", knownHosts, "--json");
        JsonElement firstJson = ClientCli.Parse(first);
        string fingerprint = firstJson.GetProperty("certificate").Str("sha256")!;
        Assert.Equal(0, first.ExitCode);
        Assert.Contains("trusted on first use", firstJson.GetProperty("tls").Str("certificate_check"), StringComparison.Ordinal);
        Assert.Contains($"127.0.0.1 {server.Port} {fingerprint}", await File.ReadAllTextAsync(knownHosts, Ct), StringComparison.Ordinal);

        CliResult second = await Accounts.Cli.RunAsync(new FakeCliConsole(Password + "\n"), "login", server.Address, "-u", "alice", "--password-stdin", "--known-hosts", knownHosts, "--json");
        Assert.Equal(0, second.ExitCode);
        Assert.Contains("matches the certificate recorded", ClientCli.Parse(second).GetProperty("tls").Str("certificate_check"), StringComparison.Ordinal);

        CliResult pinned = await Accounts.Cli.RunAsync(new FakeCliConsole(Password + "\n"), "login", server.Address, "-u", "alice", "--password-stdin", "--cert-fingerprint", fingerprint.Replace(":", "", StringComparison.Ordinal).ToLowerInvariant());
        Assert.Equal(0, pinned.ExitCode);

        // A different certificate for the same host:port: refused, nothing sent.
        string other = string.Join(':', Enumerable.Repeat("AB", 32));
        await File.WriteAllTextAsync(knownHosts, $"127.0.0.1 {server.Port} {other} CN=old\n", Ct);
        CliResult changed = await Accounts.Cli.RunAsync(new FakeCliConsole(Password + "\n"), "login", server.Address, "-u", "alice", "--password-stdin", "--known-hosts", knownHosts, "--json");
        Assert.Equal(26, changed.ExitCode);
        Assert.Contains("CHANGED", ClientCli.Parse(changed).Str("message"), StringComparison.Ordinal);
        Assert.Null(ClientCli.Parse(changed).GetProperty("credssp").ValueKind == JsonValueKind.Null ? null : "credssp ran");

        CliResult wrongPin = await Accounts.Cli.RunAsync(new FakeCliConsole(Password + "\n"), "login", server.Address, "-u", "alice", "--password-stdin", "--cert-fingerprint", other);
        Assert.Equal(26, wrongPin.ExitCode);
    }
}
