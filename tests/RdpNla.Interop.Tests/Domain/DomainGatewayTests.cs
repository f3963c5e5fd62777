using System.Diagnostics;
using System.Net.Sockets;
using System.Text;
using RdpNla.Tests.Accounts;
using RdpNla.Tests.Gateway;
using RdpNla.Tests.Support;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Rdp;
using RdpNla.Server.ActiveDirectory;
using RdpNla.Server.Gateway;

namespace RdpNla.Tests.Domain;

/// <summary>
/// Domain users through the gateway (docs/active-directory.md): mapped backend credentials of a domain account, set
/// with <c>rdpnla users set-credentials 'LAB\alice'</c>, and backends chosen by domain group (<c>rdpnla groups
/// set-backend 'LAB\group'</c>), for NTLM pass-through logons (xfreerdp, the test client) and Kerberos logons alike.
/// Every domain user exists only in the Samba DC.
/// </summary>
[Collection(DomainControllerCollection.Name)]
public sealed class DomainGatewayTests(SambaDomainController dc)
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<TestFrontDoor> StartAsync(string defaultBackend, string allowedGroup, bool kerberos = false) => TestFrontDoor.StartAsync(o =>
    {
        if (kerberos)
        {
            o.Kerberos.Keytab = dc.Keytab;
        }

        o.Directory.NtlmPassthrough = "winbind";
        o.Directory.AllowedGroups = [allowedGroup];
        o.Directory.WinbindRunDirectory = dc.RunDirectory;
        o.Gateway.DefaultBackend = defaultBackend;
    });

    /// <summary><c>rdpnla ...</c> on the front door's data folder, asking the DC's winbind when the command names domain accounts.</summary>
    private Task<CliResult> CliAsync(TestFrontDoor door, string? input, params string[] arguments) =>
        Accounts.Cli.RunAsync(new FakeCliConsole(input ?? string.Empty), [.. arguments, "--data", door.DataDirectory]);

    private Task<CliResult> WinbindCliAsync(TestFrontDoor door, string? input, params string[] arguments) =>
        CliAsync(door, input, [.. arguments, "--winbind-run-dir", dc.RunDirectory]);

    [Fact]
    public async Task Xfreerdp_domain_user_reaches_an_xrdp_desktop_with_mapped_credentials()
    {
        await using GatewayXrdpBackend backend = await GatewayXrdpBackend.StartAsync();
        await using TestFrontDoor door = await StartAsync(backend.Address, $"LAB\\{SambaDomainController.AllowedGroup}");
        await door.Database.Gateway.SetBackendSecurityAsync(backend.Address, BackendSecurity.Tls, Ct);

        // alice is no user of the xrdp host: she reaches it as its PAM user, whose password she never types.
        CliResult mapped = await WinbindCliAsync(door, backend.Password + "\n", "users", "set-credentials", "LAB\\alice", "--backend-user", backend.UserName, "--backend", backend.Address, "--password-stdin");
        Assert.True(mapped.ExitCode == 0, mapped.Output + mapped.Error);
        Assert.Contains("domain account 'LAB\\alice' (LAB\\ALICE) mapped to backend account", mapped.Output, StringComparison.Ordinal);

        await XfreerdpReachesTheDesktopAsync(backend, door, ["/v:" + door.Address, "/u:alice", "/d:LAB", $"/p:{SambaDomainController.AlicePassword}", "/sec:nla"], () => string.Empty);
        Assert.Contains($"Relaying LAB\\alice to backend {backend.Address} (default) with mapped credentials for {backend.UserName}", door.LogText, StringComparison.Ordinal);
        Assert.Contains($"Injected the credentials of {backend.UserName} into the Client Info PDU (INFO_AUTOLOGON)", door.LogText, StringComparison.Ordinal);

        GatewaySessionRecord session = await door.WaitForGatewaySessionAsync("alice");
        Assert.Equal("mapped", session.CredentialMode);
        Assert.Equal(backend.UserName, session.BackendAccount);
        await AssertNoDomainSecretsAsync(door, backend.Password);
    }

    [Fact]
    public async Task Kerberos_domain_user_reaches_an_xrdp_desktop_with_mapped_credentials()
    {
        Kerberos.KerberosClientEnvironment.Use(dc);
        await using GatewayXrdpBackend backend = await GatewayXrdpBackend.StartAsync();
        await using TestFrontDoor door = await StartAsync(backend.Address, $"LAB\\{SambaDomainController.AllowedGroup}", kerberos: true);
        await door.Database.Gateway.SetBackendSecurityAsync(backend.Address, BackendSecurity.Tls, Ct);

        // Named by the UPN: the same account key as LAB\alice, which the Kerberos principal alice@LAB.TEST maps to.
        CliResult mapped = await WinbindCliAsync(door, backend.Password + "\n", "users", "set-credentials", "alice@lab.test", "--backend-user", backend.UserName, "--backend", backend.Address, "--password-stdin");
        Assert.True(mapped.ExitCode == 0, mapped.Output + mapped.Error);

        // alice's ticket comes from kinit alice@LAB.TEST (the fixture's credential cache); no password is used.
        await using var bridge = new KerberosTlsBridge(door.Port, () => new Kerberos.DotNetInitiator("Kerberos", SambaDomainController.ServicePrincipal), "alice", SambaDomainController.Realm);
        await XfreerdpReachesTheDesktopAsync(backend, door, [$"/v:127.0.0.1:{bridge.Port}", "/u:nobody", "/p:unused", "/sec:tls"], () => $"bridge: {bridge.Outcome} {bridge.Error}\n");

        Assert.True(bridge.Outcome?.Authenticated, $"{bridge.Outcome}\n{door.LogText}");
        Assert.Contains("User alice@LAB.TEST authenticated with CredSSP version 6 (Kerberos)", door.LogText, StringComparison.Ordinal);
        Assert.Contains($"Relaying alice@LAB.TEST to backend {backend.Address} (default) with mapped credentials for {backend.UserName}", door.LogText, StringComparison.Ordinal);
        GatewaySessionRecord session = await door.WaitForGatewaySessionAsync("alice");
        Assert.Equal("mapped", session.CredentialMode);
        await AssertNoDomainSecretsAsync(door, backend.Password);
    }

    /// <summary>
    /// alice is in rdp-admins-* and rdp-users, member-* in rdp-users only, oscar in neither: the first group by name with
    /// a backend decides, a non-member never gets a group's backend, and a local user of the same name is not consulted.
    /// </summary>
    [Fact]
    public async Task Domain_groups_choose_the_backend_of_their_members_first_by_name()
    {
        string suffix = Guid.NewGuid().ToString("N")[..6];
        string admins = "rdp-admins-" + suffix;
        string member = "member-" + suffix;
        await dc.AddGroupAsync(admins, "alice");
        await dc.AddUserAsync(member, SambaDomainController.AlicePassword);
        await using var adminsBackend = new TlsEchoBackend();
        await using var usersBackend = new TlsEchoBackend();
        await using var defaultBackend = new TlsEchoBackend();
        await using var localBackend = new TlsEchoBackend();
        await using TestFrontDoor door = await StartAsync(defaultBackend.Address, "LAB\\Domain Users");
        foreach (TlsEchoBackend backend in (TlsEchoBackend[])[adminsBackend, usersBackend, defaultBackend, localBackend])
        {
            await door.Database.Gateway.SetBackendSecurityAsync(backend.Address, BackendSecurity.Tls, Ct);
        }

        await door.AddUserAsync("alice", "Local-Passw0rd!");
        await door.Database.Gateway.SetUserBackendAsync("alice", localBackend.Address, Ct);

        CliResult setUsers = await WinbindCliAsync(door, null, "groups", "set-backend", $"LAB\\{SambaDomainController.AllowedGroup}", usersBackend.Address);
        CliResult setAdmins = await WinbindCliAsync(door, null, "groups", "set-backend", $"LAB\\{admins}", adminsBackend.Address);
        Assert.True(setUsers.ExitCode == 0 && setAdmins.ExitCode == 0, setUsers.Output + setUsers.Error + setAdmins.Output + setAdmins.Error);
        Assert.Matches($@"domain group 'LAB\\{admins}' \(S-1-5-21-[0-9-]+\) relayed to {adminsBackend.Address}", setAdmins.Output);
        CliResult mapped = await WinbindCliAsync(door, "Svc-Pass1\n", "users", "set-credentials", $"{member}@lab.test", "--backend-user", "svc", "--backend-domain", "BACKEND", "--backend", usersBackend.Address, "--password-stdin");
        Assert.True(mapped.ExitCode == 0, mapped.Output + mapped.Error);
        Assert.Contains($"(LAB\\{member.ToUpperInvariant()})", mapped.Output, StringComparison.Ordinal);

        await RelayAsync(door, "alice");
        await RelayAsync(door, member);
        await RelayAsync(door, SambaDomainController.Users.Outsider);

        Assert.Equal([$"\\alice:{GatewayTestClient.Password}"], adminsBackend.Captured);
        Assert.Equal(["BACKEND\\svc:Svc-Pass1"], usersBackend.Captured);
        Assert.Equal([$"\\{SambaDomainController.Users.Outsider}:{GatewayTestClient.Password}"], defaultBackend.Captured);
        Assert.Equal(0, localBackend.Accepted);
        Assert.Contains($"Relaying LAB\\alice to backend {adminsBackend.Address} (domain group LAB\\{admins})", door.LogText, StringComparison.Ordinal);
        Assert.Contains($"Relaying LAB\\{member} to backend {usersBackend.Address} (domain group LAB\\{SambaDomainController.AllowedGroup}) with mapped credentials for BACKEND\\svc", door.LogText, StringComparison.Ordinal);

        CliResult list = await CliAsync(door, null, "groups", "list");
        Assert.Contains($"LAB\\{admins}\tbackend {adminsBackend.Address}\tdomain group S-1-5-21-", list.Output, StringComparison.Ordinal);

        // Removed: alice's next group by name decides.
        CliResult removed = await WinbindCliAsync(door, null, "groups", "remove", $"LAB\\{admins}");
        Assert.True(removed.ExitCode == 0, removed.Output + removed.Error);
        await RelayAsync(door, "alice");
        Assert.Equal(["BACKEND\\svc:Svc-Pass1", $"\\alice:{GatewayTestClient.Password}"], usersBackend.Captured);
    }

    [Fact]
    public async Task Domain_account_commands_say_what_to_write_for_names_outside_the_domain()
    {
        await using TestFrontDoor door = await StartAsync("127.0.0.1:9", $"LAB\\{SambaDomainController.AllowedGroup}");

        CliResult otherDomain = await WinbindCliAsync(door, "x\n", "users", "set-credentials", "OTHER\\alice", "--backend-user", "svc", "--backend", "127.0.0.1:9", "--password-stdin");
        Assert.NotEqual(0, otherDomain.ExitCode);
        Assert.Contains("'OTHER\\alice' is not in the host's domain LAB (lab.test); write it as LAB\\user or user@lab.test", otherDomain.Error, StringComparison.Ordinal);

        CliResult unknown = await WinbindCliAsync(door, "x\n", "users", "set-credentials", "LAB\\nosuchuser", "--backend-user", "svc", "--backend", "127.0.0.1:9", "--password-stdin");
        Assert.NotEqual(0, unknown.ExitCode);
        Assert.Contains("wbinfo -n 'LAB\\nosuchuser'", unknown.Error, StringComparison.Ordinal);

        CliResult noBackend = await WinbindCliAsync(door, "x\n", "users", "set-credentials", "LAB\\alice", "--backend-user", "svc", "--password-stdin");
        Assert.NotEqual(0, noBackend.ExitCode);
        Assert.Contains("--backend HOST:PORT", noBackend.Error, StringComparison.Ordinal);

        CliResult localGroup = await CliAsync(door, null, "groups", "add", "LAB\\rdp-users");
        Assert.NotEqual(0, localGroup.ExitCode);
        Assert.Contains("rdpnla groups set-backend 'LAB\\rdp-users' HOST:PORT", localGroup.Error, StringComparison.Ordinal);

        Assert.Empty(await door.Database.Gateway.ListDomainMappedCredentialsAsync(Ct));
    }

    [Theory]
    [InlineData("LAB\\alice")]
    [InlineData("lab\\Alice")]
    [InlineData("lab.test\\alice")]
    [InlineData("alice@lab.test")]
    [InlineData("alice@LAB.TEST.")]
    [InlineData("alice@LAB")]
    public void Every_spelling_of_a_domain_account_has_one_key(string name) =>
        Assert.Equal("LAB\\ALICE", DomainAccountName.Normalize(name, "LAB", "lab.test", out _));

    /// <summary>
    /// Runs xfreerdp with <paramref name="arguments"/> on an Xvfb of its own until xrdp's sesman has started the session
    /// of the backend's PAM user (the desktop), then stops it.
    /// </summary>
    private static async Task XfreerdpReachesTheDesktopAsync(GatewayXrdpBackend backend, TestFrontDoor door, string[] arguments, Func<string> context)
    {
        var output = new StringBuilder();
        (FrameBufferXvfb xvfb, Process client) = await GatewayPeers.StartXfreerdpSessionAsync([.. arguments, "/cert:ignore", "/size:800x600", "-decorations"], output);
        try
        {
            Assert.True(
                await backend.WaitForSesmanLineAsync($"Session started successfully for user {backend.UserName}", TimeSpan.FromSeconds(45)),
                $"{context()}sesman:\n{backend.SesmanLog}\nxfreerdp:\n{GatewayPeers.Snapshot(output)}\ngateway:\n{door.LogText}");
        }
        finally
        {
            await ExternalProcess.StopAsync(client);
            await xvfb.DisposeAsync();
        }
    }

    /// <summary>NTLM through the gateway as a domain user of LAB (password <see cref="GatewayTestClient.Password"/>), one echo, then closed.</summary>
    private static async Task RelayAsync(TestFrontDoor door, string user)
    {
        long before = (await door.Database.Gateway.ListSessionsAsync(null, 1, Ct)).FirstOrDefault()?.Id ?? 0;
        using (var tcp = new TcpClient())
        {
            await tcp.ConnectAsync(System.Net.IPAddress.Loopback, door.Port, Ct);
            (System.Net.Security.SslStream tls, EarlyUserAuthorizationResult? authorization) = await GatewayTestClient.AuthenticateWithResultAsync(tcp.GetStream(), hybridEx: true, user);
            await using (tls)
            {
                Assert.Equal(EarlyUserAuthorizationResult.Success, authorization);
                await GatewayTestClient.StartSessionAsync(tls);
                await GatewayTestClient.EchoAsync(tls, 7);
            }
        }

        await door.WaitForGatewaySessionAsync(user, before);
    }

    /// <summary>rdpnla.db holds no users row, no NT hash of the domain password, and neither password in clear.</summary>
    private static async Task AssertNoDomainSecretsAsync(TestFrontDoor door, string backendPassword)
    {
        Assert.Empty(await door.Database.Users.ListAsync(Ct));
        byte[] hash = NtlmCrypto.NtOwfV1(SambaDomainController.AlicePassword);
        foreach (string file in Directory.GetFiles(door.DataDirectory, "rdpnla.db*"))
        {
            byte[] content;
            await using (var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete))
            using (var copy = new MemoryStream())
            {
                await stream.CopyToAsync(copy, Ct);
                content = copy.ToArray();
            }

            Assert.True(content.AsSpan().IndexOf(hash) < 0, $"{file} holds alice's NT hash");
            foreach (string secret in (string[])[SambaDomainController.AlicePassword, backendPassword])
            {
                Assert.True(content.AsSpan().IndexOf(Encoding.Unicode.GetBytes(secret)) < 0 && content.AsSpan().IndexOf(Encoding.UTF8.GetBytes(secret)) < 0, $"{file} holds a password in clear");
            }
        }
    }
}
