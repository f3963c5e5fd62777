using RdpNla.Tests.Support;
using RdpNla.Server.Audit;
using RdpNla.Server.Gateway;

namespace RdpNla.Tests.Kerberos;

/// <summary>
/// A gateway chained to a second front door that has the keytab: the gateway's backend leg requests a ticket for the
/// user with the password the client delegated, and authenticates to the backend with Kerberos.
/// </summary>
[Collection(DomainControllerCollection.Name)]
public sealed class GatewayKerberosBackendTests
{
    private readonly SambaDomainController _dc;

    public GatewayKerberosBackendTests(SambaDomainController dc)
    {
        _dc = dc;
        KerberosClientEnvironment.Use(dc);
    }

    [Fact]
    public async Task The_backend_leg_authenticates_with_Kerberos_using_the_delegated_password()
    {
        await using TestFrontDoor backend = await TestFrontDoor.StartAsync(o => o.Kerberos.Keytab = _dc.Keytab);
        await backend.AddUserAsync("alice", "local-password-not-used-by-kerberos");
        await using TestFrontDoor gateway = await TestFrontDoor.StartAsync(o =>
        {
            o.Gateway.DefaultBackend = backend.Address;
            o.Gateway.CertificateValidation = BackendCertificateValidation.None;
            o.Gateway.BackendAuthentication = "kerberos";
            o.Gateway.BackendServicePrincipal = SambaDomainController.ServicePrincipal;
            o.Gateway.BackendKerberosRealm = SambaDomainController.Realm;
        });
        await gateway.AddUserAsync("alice", SambaDomainController.AlicePassword);

        using var tcp = new System.Net.Sockets.TcpClient { NoDelay = true };
        await tcp.ConnectAsync(System.Net.IPAddress.Loopback, gateway.Port, TestContext.Current.CancellationToken);
        using System.Net.Security.SslStream tls = await Gateway.GatewayTestClient.ConnectAsync(tcp.GetStream(), expectConnectResponse: false);

        IReadOnlyList<AuditEntry> rows = await backend.WaitForAuditAsync(1);
        Assert.True(rows.Count > 0, $"no audit row at the backend\n{gateway.LogText}\n{backend.LogText}");
        AuditEntry row = Assert.Single(rows, r => r.UserName is not null);
        Assert.Equal(AuditOutcome.Success, row.Outcome);
        Assert.Equal("alice", row.UserName);
        Assert.Equal("LAB.TEST", row.Domain);
        Assert.True(row.Reason.StartsWith("authenticated with Kerberos", StringComparison.Ordinal), $"{row.Reason}\n{gateway.LogText}\n{backend.LogText}");
        Assert.StartsWith("authenticated with NTLM", Assert.Single(await gateway.WaitForAuditAsync(1)).Reason, StringComparison.Ordinal);
    }
}
