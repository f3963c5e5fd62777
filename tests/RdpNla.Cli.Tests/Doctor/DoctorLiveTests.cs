using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Microsoft.Extensions.Time.Testing;
using RdpNla.Tests.Accounts;
using RdpNla.Tests.Client;
using RdpNla.Tests.Support;
using RdpNla.Protocol.Rdp;
using RdpNla.Server.FrontDoor;
using static RdpNla.Tests.Doctor.DoctorCli;

namespace RdpNla.Tests.Doctor;

/// <summary>
/// <c>rdpnla doctor HOST</c> in-process against loopback: each network failure class (closed port, dropped SYN,
/// silent listener, HTTP listener, unresolvable name; the TLS-1.0-only listener, an openssl peer, is the interop half)
/// and <c>rdpnla serve</c>, with the explanations shared with the offline (<c>--reg</c>) diagnosis.
/// </summary>
public class DoctorLiveTests
{
    private const string Password = "Corr3ct-Horse-Battery";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task ClosedPort_IsConnectionRefused()
    {
        using ClosedPort closed = PeerPorts.HoldClosedPort();

        (CliResult result, JsonElement json) = await JsonAsync(closed.Address);

        Assert.Equal((10, "connection-refused", "Tcp"), (result.ExitCode, json.Str("result"), json.Str("phase")));
        Assert.Equal($"TCP connection to {closed.Address} was refused.", Evidence(json)[0]);
    }

    [Fact]
    public async Task UnresolvableName_IsNameNotResolved()
    {
        (CliResult result, JsonElement json) = await JsonAsync("no-such-host.invalid", "--timeout", "5");

        Assert.Equal((10, "name-not-resolved", "NameResolution"), (result.ExitCode, json.Str("result"), json.Str("phase")));
        Assert.StartsWith("Name resolution of no-such-host.invalid failed", Evidence(json)[0], StringComparison.Ordinal);
        Assert.Contains(json.GetProperty("cause").GetProperty("messagesSeen").EnumerateArray(), m => m.Str("text")!.Contains("Remote Desktop can't find the computer \"no-such-host.invalid\"", StringComparison.Ordinal));
    }

    [Fact]
    public async Task DroppedSyn_IsNoAnswer()
    {
        // A firewall that drops the SYN, on loopback: a listener with a backlog of 0 whose accept queue is full and never
        // accepted. Linux drops further SYNs (ListenOverflows), so the connect times out as behind a dropping firewall.
        using var listener = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
        listener.Bind(new IPEndPoint(IPAddress.Loopback, 0));
        listener.Listen(0);
        int port = ((IPEndPoint)listener.LocalEndPoint!).Port;
        var fillers = new List<Socket>();
        for (int i = 0; i < 2; i++)
        {
            var filler = new Socket(AddressFamily.InterNetwork, SocketType.Stream, ProtocolType.Tcp);
            fillers.Add(filler);
            using var quick = new CancellationTokenSource(TimeSpan.FromMilliseconds(300));
            try
            {
                await filler.ConnectAsync(IPAddress.Loopback, port, quick.Token);
            }
            catch (OperationCanceledException)
            {
                break; // already full
            }
        }

        try
        {
            // The clock is fake: a new socket of this process in SYN-SENT towards the port says the walk is connecting,
            // and only advancing the clock by the timeout ends the connect.
            HashSet<int> before = PeerPorts.SynSentLocalPorts(port);
            var time = new FakeTimeProvider();
            Task<CliResult> running = Accounts.Cli.RunAsync(new FakeCliConsole { Time = time }, ["doctor", $"127.0.0.1:{port}", "--timeout", "1.5", "--json"]);
            while (!PeerPorts.SynSentLocalPorts(port).Except(before).Any())
            {
                Assert.False(running.IsCompleted, "the walk ended before it connected");
                await Task.Delay(20, Ct);
            }

            time.Advance(TimeSpan.FromSeconds(1.5));
            CliResult result = await running.WaitAsync(TimeSpan.FromSeconds(60), Ct);
            JsonElement json = ClientCli.Parse(result);

            Assert.Equal((10, "no-answer", "Tcp"), (result.ExitCode, json.Str("result"), json.Str("phase")));
            Assert.Contains("no answer", Evidence(json)[0], StringComparison.Ordinal);
            Assert.Contains("within 1.5 s", Evidence(json)[0], StringComparison.Ordinal);
        }
        finally
        {
            fillers.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task SilentListener_IsNotRdpServer_NothingWithinTheTimeout()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var held = new List<Socket>();
        _ = LoopbackPeers.AcceptForeverAsync(listener, s => { lock (held) { held.Add(s); } });
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;

        (CliResult result, JsonElement json) = await JsonAsync($"127.0.0.1:{port}", "--timeout", "1");

        Assert.Equal((11, "not-rdp-server", "Negotiation"), (result.ExitCode, json.Str("result"), json.Str("phase")));
        Assert.Equal($"127.0.0.1:{port} answered the X.224 Connection Request with nothing within the timeout.", Evidence(json)[0]);
        listener.Stop();
        lock (held)
        {
            held.ForEach(s => s.Dispose());
        }
    }

    [Fact]
    public async Task HttpListener_IsNotRdpServer_WithTheBytesSeen()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        _ = LoopbackPeers.AcceptForeverAsync(listener, socket => _ = LoopbackPeers.AnswerHttpAsync(socket));
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;

        CliResult result = await RunAsync($"127.0.0.1:{port}", "--timeout", "5");

        Assert.Equal(11, result.ExitCode);
        Assert.StartsWith("Cause: Something answers, but it is not a Remote Desktop server [not-rdp-server], measured", result.Output, StringComparison.Ordinal);
        Assert.Contains("\"HTTP\" (an HTTP server)", result.Output, StringComparison.Ordinal);
        Assert.Contains("netstat -ano | findstr :3389", result.Output, StringComparison.Ordinal);
        listener.Stop();
    }

    [Fact]
    public async Task NoUser_StopsAtTheChallenge_AndSaysTheCredentialsWereNotChecked()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync();

        CliResult result = await RunAsync(server.Address);
        (CliResult _, JsonElement json) = await JsonAsync(server.Address);

        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("OK so far: the server requires and speaks Network Level Authentication", result.Output, StringComparison.Ordinal);
        Assert.Contains("The credentials were NOT checked (no -u)", result.Output, StringComparison.Ordinal);
        Assert.Contains("CredSSP: client version 6, server version 6.", result.Output, StringComparison.Ordinal);
        Assert.False(json.GetProperty("credentialsChecked").GetBoolean());
        Assert.Equal("success", json.Str("result"));
    }

    [Theory]
    [InlineData("1", 14, "encryption-oracle-server-unpatched")]
    [InlineData("0", 14, "encryption-oracle-server-unpatched")]
    [InlineData("2", 0, "success")]
    public async Task NoUser_UnpatchedServer_TheOracleCheckStillApplies(string clientOracle, int exitCode, string cause)
    {
        // Without credentials NlaClient stops at the CHALLENGE; doctor applies the emulated client's policy to the
        // server's version there, as the client would before sending anything.
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o => o.MaxCredSspVersion = 4);

        (CliResult result, JsonElement json) = await JsonAsync(server.Address, "--client-allow-encryption-oracle", clientOracle);

        Assert.Equal((exitCode, cause), (result.ExitCode, json.Str("result")));
        Assert.False(json.GetProperty("credentialsChecked").GetBoolean());
    }

    [Fact]
    public async Task HostName_ShowsTheAddressItResolvedTo()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync();

        (CliResult result, JsonElement json) = await JsonAsync($"localhost:{server.Port}");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains(Evidence(json), e => e.StartsWith("localhost resolves to ", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RightPassword_Succeeds_WithTheEarlyUserAuthorizationResult()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync();
        await server.AddUserAsync("alice", Password);

        CliResult result = await RunWithPasswordAsync(Password, server.Address, "-u", "alice", "--password-stdin");

        Assert.Equal((0, ""), (result.ExitCode, result.Error));
        Assert.StartsWith("OK: the connection succeeded with Network Level Authentication, measured.", result.Output, StringComparison.Ordinal);
        Assert.Contains("Early User Authorization Result AUTHZ_SUCCESS.", result.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, result.Output, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("wrong", 15, "wrong-credentials", "errorCode STATUS_LOGON_FAILURE")]
    [InlineData("locked", 16, "account-locked", "STATUS_ACCOUNT_LOCKED_OUT")]
    [InlineData("expired", 16, "password-expired", "STATUS_PASSWORD_EXPIRED")]
    [InlineData("denied", 17, "remote-logon-denied", "AUTHZ_ACCESS_DENIED")]
    public async Task AccountProblems_AreNamed(string user, int exitCode, string cause, string evidence)
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o => o.Limits = new FrontDoorLimits { PenaltiesEnabled = false });
        await server.AddUserAsync(user, Password, user switch
        {
            "locked" => a => a with { LockedUntil = DateTimeOffset.UtcNow.AddHours(1) },
            "expired" => a => a with { PasswordExpired = true },
            "denied" => a => a with { RemoteLogonDenied = true },
            _ => null,
        });

        CliResult result = await RunWithPasswordAsync(user == "wrong" ? "not-the-password" : Password, server.Address, "-u", user, "--password-stdin", "--json");
        JsonElement json = ClientCli.Parse(result);

        Assert.Equal((exitCode, cause), (result.ExitCode, json.Str("result")));
        Assert.Contains(Evidence(json), e => e.Contains(evidence, StringComparison.Ordinal));
        Assert.True(json.GetProperty("credentialsChecked").GetBoolean());
    }

    [Fact]
    public async Task AccountDatabaseFault_IsTheServersFault_NamedByItsStatus_NotASilentRefusal_AndLoginGivesNoVerdict()
    {
        // The server's store refuses writes (as a full disk does): rdpnla serve answers STATUS_INTERNAL_DB_ERROR.
        await using TestFrontDoor server = await TestFrontDoor.StartAsync();
        await server.AddUserAsync("alice", Password);
        await using (var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={server.Database.FilePath};Pooling=False"))
        {
            await connection.OpenAsync(Ct);
            await using Microsoft.Data.Sqlite.SqliteCommand command = connection.CreateCommand();
            command.CommandText = "CREATE TRIGGER users_read_only BEFORE UPDATE ON users BEGIN SELECT RAISE(ABORT, 'database or disk is full'); END;";
            await command.ExecuteNonQueryAsync(Ct);
        }

        CliResult result = await RunWithPasswordAsync(Password, server.Address, "-u", "alice", "--password-stdin", "--json");
        JsonElement json = ClientCli.Parse(result);

        Assert.Equal((19, "account-database-failed", "ServerFault"), (result.ExitCode, json.Str("result"), json.GetProperty("cause").Str("class")));
        Assert.Contains(Evidence(json), e => e == "The server answered CredSSP errorCode STATUS_INTERNAL_DB_ERROR for alice.");
        Assert.DoesNotContain(Evidence(json), e => e.Contains("without an errorCode", StringComparison.Ordinal));

        // login says the same to scripts: no verdict on the password (exit code 14), not a refused logon (10).
        (CliResult login, JsonElement loginJson) = await ClientCli.LoginJsonAsync(server.Address, "alice", Password);
        Assert.Equal((14, "error", "STATUS_INTERNAL_DB_ERROR"), (login.ExitCode, loginJson.Str("result"), loginJson.Str("ntstatus")));
    }

    [Fact]
    public async Task XpClientWithoutCredSsp_Live_SharesTheOfflineExplanationAndFixes()
    {
        // The XP SP3 case (CredSSP provider not enabled, KB951608), live against an NLA-requiring rdpnla serve and offline from the .reg files:
        // the same catalogue entry, so the same message, explanation and fixes.
        await using TestFrontDoor server = await TestFrontDoor.StartAsync();

        CliResult live = await RunAsync(server.Address, "--client-credssp", "none");
        CliResult offline = await RunAsync("--reg", DoctorPaths.RegVector("server-nla-required.reg"), "--reg", DoctorPaths.RegVector("client-xp-sp3-no-credssp.reg"));

        Assert.Equal((13, 13), (live.ExitCode, offline.ExitCode));
        Assert.StartsWith("Cause: The server requires NLA and the client cannot do it (XP SP3: CredSSP provider not enabled) [nla-required-client-unsupported], measured", live.Output, StringComparison.Ordinal);
        Assert.Contains("The server answered RDP_NEG_FAILURE HYBRID_REQUIRED_BY_SERVER to a request for PROTOCOL_SSL", live.Output, StringComparison.Ordinal);
        Assert.Equal(SharedPart(offline.Output), SharedPart(live.Output));
        Assert.Contains("\"The remote computer requires Network Level Authentication, which your computer does not support.", SharedPart(live.Output), StringComparison.Ordinal);
    }

    [Fact]
    public async Task PatchedClientAgainstUnpatchedServer_Live_SharesTheOfflineExplanationAndFixes()
    {
        // The CredSSP encryption oracle case (KB4093492): an updated client (AllowEncryptionOracle 1) and a server
        // without the update (CredSSP version 4). doctor refuses the server's version before sending the password.
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o => o.MaxCredSspVersion = 4);
        await server.AddUserAsync("alice", Password);

        CliResult live = await RunWithPasswordAsync(Password, server.Address, "-u", "alice", "--password-stdin", "--client-allow-encryption-oracle", "1");
        CliResult offline = await RunAsync("--reg", DoctorPaths.RegVector("server-2012r2-unpatched.reg"), "--reg", DoctorPaths.RegVector("client-win10-mitigated.reg"), "--server-credssp", "unpatched");

        Assert.Equal((14, 14), (live.ExitCode, offline.ExitCode));
        Assert.Contains("[encryption-oracle-server-unpatched], measured", live.Output, StringComparison.Ordinal);
        Assert.Contains("CredSSP: client version 6, server version 4.", live.Output, StringComparison.Ordinal);
        Assert.Equal(SharedPart(offline.Output), SharedPart(live.Output).Replace("127.0.0.1", "<host>", StringComparison.Ordinal));
        Assert.Contains("This could be due to CredSSP encryption oracle remediation.", live.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(await server.WaitForAuditAsync(1), r => r.UserName == "alice"); // no AUTHENTICATE was sent
    }

    [Fact]
    public async Task UnpatchedClientAgainstForceUpdatedClientsServer_Live_IsTheOtherDirection()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o => o.AllowEncryptionOracle = RdpNla.Protocol.CredSsp.EncryptionOraclePolicy.ForceUpdatedClients);

        (CliResult result, JsonElement json) = await JsonAsync(server.Address, "--client-credssp", "unpatched");

        Assert.Equal((14, "encryption-oracle-client-unpatched"), (result.ExitCode, json.Str("result")));
        Assert.Contains(Evidence(json), e => e.Contains("errorCode STATUS_NOT_SUPPORTED", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SecurityLayer0Server_Live_IsServerRefusesNla()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync(o => { o.SecurityLayer = SecurityLayer.Rdp; o.UserAuthentication = 0; });

        CliResult result = await RunAsync(server.Address);

        Assert.Equal(13, result.ExitCode);
        Assert.Contains("[server-refuses-nla], measured", result.Output, StringComparison.Ordinal);
        Assert.Contains("/v SecurityLayer /t REG_DWORD /d 2 /f", result.Output, StringComparison.Ordinal);
    }

    /// <summary>The part of a report that comes from the catalogue: messages seen, explanation and fixes (not the evidence).</summary>
    private static string SharedPart(string report)
    {
        int messages = report.IndexOf("\nWhat the Windows client shows:", StringComparison.Ordinal);
        int why = report.IndexOf("\nWhy: ", StringComparison.Ordinal);
        int whyEnd = report.IndexOf('\n', why + 1);
        int fixes = report.IndexOf("\nFix (", StringComparison.Ordinal);
        int end = new[] { "\nWarning:", "\nNotes:", "\nexit code" }.Select(m => report.IndexOf(m, fixes + 1, StringComparison.Ordinal)).Where(i => i >= 0).Min();
        Assert.True(messages >= 0 && why > messages && fixes > why && end > fixes, report);
        return report[messages..whyEnd] + report[fixes..end];
    }
}
