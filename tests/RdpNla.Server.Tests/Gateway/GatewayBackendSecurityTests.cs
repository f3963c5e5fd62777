using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using RdpNla.Tests.Support;
using RdpNla.Protocol.Rdp;
using RdpNla.Server.Accounts;
using RdpNla.Server.Gateway;

namespace RdpNla.Tests.Gateway;

/// <summary>
/// The backend leg against a credential downgrade: someone on the backend network rewrites the X.224 Connection Confirm
/// to PROTOCOL_SSL and terminates TLS to read the password from the Client Info PDU (<see cref="TlsEchoBackend"/> with and without ForwardTo).
/// The per-backend security setting, the protocol pin and the first-contact rule of TrustOnFirstUse each stop it; the
/// attacker's capture stays empty.
/// </summary>
public class GatewayBackendSecurityTests
{
    private const string Password = GatewayTestClient.Password;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task DefaultNla_BackendSelectingSsl_IsRefusedAsADowngrade_WithoutCredentials()
    {
        await using var attacker = new TlsEchoBackend();
        await using TestFrontDoor door = await StartDoorAsync(attacker.Address, BackendCertificateValidation.None, security: null);

        await ConnectExpectingCloseAsync(door);

        GatewaySessionRecord session = await door.WaitForGatewaySessionAsync("alice");
        Assert.Equal("protocol-downgrade", session.Outcome);
        Assert.StartsWith("possible downgrade: the backend selected PROTOCOL_SSL, which was not requested (PROTOCOL_HYBRID|PROTOCOL_HYBRID_EX, backend security nla); no credentials were sent", session.Reason, StringComparison.Ordinal);
        Assert.Contains($"Backend {attacker.Address} refused as a possible downgrade", door.LogText, StringComparison.Ordinal);
        Assert.Empty(attacker.Captured);
        Assert.Equal(1, attacker.Accepted);
    }

    [Fact]
    public async Task Negotiate_BackendSelectsSslAfterHavingSelectedHybridEx_IsRefused_UntilTheAdminForgetsTheProtocol()
    {
        // The real backend: a second gateway (HYBRID_EX) in front of a TLS-only echo host, which records what it gets.
        await using var host = new TlsEchoBackend();
        await using TestFrontDoor real = await StartDoorAsync(host.Address, BackendCertificateValidation.None, BackendSecurity.Tls);
        await using var attacker = new TlsEchoBackend { ForwardTo = real.Address };
        await using TestFrontDoor door = await StartDoorAsync(attacker.Address, BackendCertificateValidation.None, BackendSecurity.Negotiate);

        // First session: through to the real backend, which selects HYBRID_EX; the gateway records it.
        await RelayedEchoAsync(door);

        GatewaySessionRecord first = await door.WaitForGatewaySessionAsync("alice");
        Assert.Equal("HYBRID_EX", first.BackendProtocol);
        Assert.Equal(["\\alice:" + Password], host.Captured); // the password the gateway delegated in CredSSP, from its bytes
        BackendSecurityRecord pin = (await door.Database.Gateway.GetBackendSecurityAsync(attacker.Address, Ct))!;
        Assert.Equal("HYBRID_EX", pin.StrongestProtocol);

        // Second session: the man in the middle answers SSL.
        attacker.ForwardTo = null;
        await ConnectExpectingCloseAsync(door);

        GatewaySessionRecord second = await door.WaitForGatewaySessionAsync("alice", first.Id);
        Assert.Equal("protocol-downgrade", second.Outcome);
        Assert.StartsWith("possible downgrade: the backend selected SSL but selected HYBRID_EX before", second.Reason, StringComparison.Ordinal);
        Assert.Contains("forget the backend's recorded protocol", second.Reason, StringComparison.Ordinal);
        Assert.Empty(attacker.Captured);

        // The operator clears the pin (as after a deliberate change of the backend): TLS is accepted again, and with
        // CertificateValidation None the password reaches whoever answers, which is what the pin was preventing.
        Accounts.CliResult cleared = await Accounts.Cli.RunAsync("backends", "forget-protocol", attacker.Address, "--data", door.DataDirectory);
        Assert.True(cleared.ExitCode == 0, cleared.Output + cleared.Error);
        Assert.Contains($"protocol pin of {attacker.Address} forgotten", cleared.Output, StringComparison.Ordinal);
        await RelayedEchoAsync(door);

        Assert.Equal(["\\alice:" + Password], attacker.Captured);
    }

    [Fact]
    public async Task TrustOnFirstUse_TlsOnlyFirstContact_WithholdsTheCredentials_ThenTheRecordedCertificateIsUsed()
    {
        await using var backend = new TlsEchoBackend();
        await using TestFrontDoor door = await StartDoorAsync(backend.Address, BackendCertificateValidation.TrustOnFirstUse, BackendSecurity.Negotiate);

        await ConnectExpectingCloseAsync(door);

        GatewaySessionRecord first = await door.WaitForGatewaySessionAsync("alice");
        Assert.Equal("credentials-withheld", first.Outcome);
        Assert.StartsWith($"first contact with {backend.Address} over TLS only (PROTOCOL_SSL)", first.Reason, StringComparison.Ordinal);
        Assert.Empty(backend.Captured);
        TrustedCertificate recorded = (await door.Database.Gateway.GetTrustedCertificateAsync(backend.Address, Ct))!;
        Assert.Contains(recorded.Sha256, first.Reason, StringComparison.Ordinal);

        await RelayedEchoAsync(door);

        Assert.Equal(["\\alice:" + Password], backend.Captured);
    }

    [Fact]
    public async Task TrustOnFirstUse_BackendDeclaredTls_GetsTheCredentialsOnFirstContact()
    {
        await using var backend = new TlsEchoBackend();
        await using TestFrontDoor door = await StartDoorAsync(backend.Address, BackendCertificateValidation.TrustOnFirstUse, BackendSecurity.Tls);

        await RelayedEchoAsync(door);

        Assert.Equal(["\\alice:" + Password], backend.Captured);
        Assert.Equal(BackendSecurity.Tls, (await door.Database.Gateway.GetBackendSecurityAsync(backend.Address, Ct))!.Security);
    }

    [Fact]
    public async Task SetSecurity_OnTheCommandLine_IsStored_AndAWrongValueIsOneLine()
    {
        await using TestFrontDoor door = await TestFrontDoor.StartAsync();

        Accounts.CliResult set = await Accounts.Cli.RunAsync("backends", "set-security", "10.0.0.5", "negotiate", "--data", door.DataDirectory);
        Accounts.CliResult wrong = await Accounts.Cli.RunAsync("backends", "set-security", "10.0.0.5", "ssl", "--data", door.DataDirectory);
        Accounts.CliResult list = await Accounts.Cli.RunAsync("backends", "list", "--data", door.DataDirectory);

        Assert.True(set.ExitCode == 0, set.Output + set.Error);
        Assert.Equal(BackendSecurity.Negotiate, (await door.Database.Gateway.GetBackendSecurityAsync("10.0.0.5:3389", Ct))!.Security);
        Assert.NotEqual(0, wrong.ExitCode);
        Assert.Contains("security 'ssl' is not one of nla, tls, negotiate, default", wrong.Error, StringComparison.Ordinal);
        Assert.Contains("10.0.0.5:3389\tsecurity negotiate\tstrongest -", list.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task MappedCredentials_ReachOnlyTheBackendTheyWereSetFor()
    {
        await using var first = new TlsEchoBackend();
        await using var other = new TlsEchoBackend();
        await using TestFrontDoor door = await StartDoorAsync(first.Address, BackendCertificateValidation.None, BackendSecurity.Tls);
        await door.Database.Gateway.SetBackendSecurityAsync(other.Address, BackendSecurity.Tls, Ct);

        Accounts.CliResult noBackend = await Accounts.Cli.RunAsync(new Accounts.FakeCliConsole("Svc-Pass1\n"), "users", "set-credentials", "alice", "--backend-user", "svc", "--password-stdin", "--data", door.DataDirectory);
        Accounts.CliResult mapped = await Accounts.Cli.RunAsync(new Accounts.FakeCliConsole("Svc-Pass1\n"), "users", "set-credentials", "alice", "--backend-user", "svc", "--backend", first.Address, "--password-stdin", "--data", door.DataDirectory);
        Assert.NotEqual(0, noBackend.ExitCode);
        Assert.Contains("give the backend these credentials are for: --backend HOST:PORT", noBackend.Error, StringComparison.Ordinal);
        Assert.True(mapped.ExitCode == 0, mapped.Output + mapped.Error);

        await RelayedEchoAsync(door);

        Assert.Equal(["\\svc:Svc-Pass1"], first.Captured);
        GatewaySessionRecord relayed = await door.WaitForGatewaySessionAsync("alice");

        // Someone with write access to the store relays alice elsewhere: the sealed password does not open for it.
        await door.Database.Gateway.SetUserBackendAsync("alice", other.Address, Ct);
        await ConnectExpectingCloseAsync(door);

        GatewaySessionRecord refused = await door.WaitForGatewaySessionAsync("alice", relayed.Id);
        Assert.Equal("no-credentials", refused.Outcome);
        Assert.StartsWith($"the mapped password cannot be opened (they were set for backend {first.Address}, not {other.Address}", refused.Reason, StringComparison.Ordinal);
        Assert.Equal(0, other.Accepted);
    }

    internal static async Task<TestFrontDoor> StartDoorAsync(string backend, BackendCertificateValidation validation, BackendSecurity? security, Func<UserAccount, UserAccount>? account = null)
    {
        TestFrontDoor door = await TestFrontDoor.StartAsync(o =>
        {
            o.Gateway.DefaultBackend = backend;
            o.Gateway.CertificateValidation = validation;
        });
        if (security is { } value)
        {
            await door.Database.Gateway.SetBackendSecurityAsync(backend, value, Ct);
        }

        await door.AddUserAsync("alice", Password, account);
        return door;
    }

    /// <summary>A whole session through the gateway: connection sequence, then one echo through the backend.</summary>
    private static async Task RelayedEchoAsync(TestFrontDoor door)
    {
        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, door.Port, Ct);
        using SslStream session = await GatewayTestClient.ConnectAsync(tcp.GetStream());
        await EchoAsync(session);
    }

    private static async Task ConnectExpectingCloseAsync(TestFrontDoor door)
    {
        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, door.Port, Ct);
        using SslStream tls = await GatewayTestClient.ConnectAsync(tcp.GetStream(), expectConnectResponse: false);
        Assert.Equal(0, await tls.ReadAsync(new byte[1], Ct)); // a clean disconnect: close_notify, then FIN
    }

    internal static async Task EchoAsync(SslStream session)
    {
        byte[] message = Enumerable.Range(0, 100).Select(i => (byte)i).ToArray();
        await session.WriteAsync(message, Ct);
        byte[] echo = new byte[message.Length];
        await session.ReadExactlyAsync(echo, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(20), Ct);
        Assert.Equal(message, echo);
    }
}
