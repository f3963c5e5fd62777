using System.Net;
using System.Net.Security;
using RdpNla.Gssapi;
using RdpNla.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Protocol.Negotiate;

namespace RdpNla.Tests.Kerberos;

/// <summary>
/// The GSSAPI binding against the real KDC of a Samba domain controller and an independent initiator: .NET's
/// NegotiateAuthentication client, which goes through the system GSSAPI with alice's credential cache.
/// </summary>
[Collection(DomainControllerCollection.Name)]
public sealed class GssapiBindingTests
{
    private readonly SambaDomainController _dc;

    public GssapiBindingTests(SambaDomainController dc)
    {
        _dc = dc;
        KerberosClientEnvironment.Use(dc);
    }

    [Fact]
    public void Acceptor_with_the_exported_keytab_accepts_alices_ticket_and_names_her()
    {
        using KerberosCredential keytab = KerberosCredential.ForAcceptor(_dc.Keytab, SambaDomainController.ServicePrincipal + "@" + SambaDomainController.Realm);
        using KerberosContext acceptor = KerberosContext.CreateAcceptor(keytab);
        using var client = new NegotiateAuthentication(new NegotiateAuthenticationClientOptions
        {
            Package = "Kerberos",
            TargetName = SambaDomainController.ServicePrincipal,
            RequiredProtectionLevel = ProtectionLevel.EncryptAndSign,
            Credential = CredentialCache.DefaultNetworkCredentials,
        });

        byte[]? apReq = client.GetOutgoingBlob(ReadOnlySpan<byte>.Empty, out NegotiateAuthenticationStatusCode clientStatus);
        Assert.Equal(GssStepStatus.Completed, acceptor.Step(apReq, out byte[]? apRep));

        // An AP-REP comes back exactly when the initiator asked for mutual authentication (RFC 4120 §3.2.4).
        Assert.Equal(clientStatus == NegotiateAuthenticationStatusCode.ContinueNeeded, apRep is not null);
        Assert.Equal(acceptor.MutualAuthentication, apRep is not null);
        if (apRep is not null)
        {
            client.GetOutgoingBlob(apRep, out clientStatus);
        }

        Assert.Equal(NegotiateAuthenticationStatusCode.Completed, clientStatus);
        Assert.Equal("alice@LAB.TEST", acceptor.PeerPrincipal);

        // Client → server: .NET wraps with RRC 0 (plain RFC 4121); the acceptor opens it.
        byte[] message = "CredSSP pubKeyAuth"u8.ToArray();
        var wrapped = new System.Buffers.ArrayBufferWriter<byte>();
        Assert.Equal(NegotiateAuthenticationStatusCode.Completed, client.Wrap(message, wrapped, requestEncryption: true, out bool encrypted));
        Assert.True(encrypted);
        Assert.Equal(message, acceptor.Unwrap(wrapped.WrittenSpan));

        // Server → client: SSPI layout, 60-byte security trailer (16-byte header, 16-byte confounder, 16-byte
        // encrypted header copy, 12-byte checksum) before the data, RRC 28 in the header (RFC 4121 §4.2.6.2).
        byte[] reply = acceptor.Wrap(message);
        Assert.Equal(60 + message.Length, reply.Length);
        Assert.Equal(new byte[] { 0x05, 0x04 }, reply[..2]);
        Assert.Equal(28, (reply[6] << 8) | reply[7]);
        var opened = new System.Buffers.ArrayBufferWriter<byte>();
        Assert.Equal(NegotiateAuthenticationStatusCode.Completed, client.Unwrap(reply, opened, out bool wasEncrypted));
        Assert.True(wasEncrypted);
        Assert.Equal(message, opened.WrittenSpan.ToArray());
    }

    [Fact]
    public void Acceptor_with_a_stale_keytab_fails_with_logon_failure_and_the_library_reason()
    {
        using KerberosCredential keytab = KerberosCredential.ForAcceptor(_dc.StaleKeytab, null);
        using KerberosContext acceptor = KerberosContext.CreateAcceptor(keytab);
        using var client = new NegotiateAuthentication(new NegotiateAuthenticationClientOptions
        {
            Package = "Kerberos",
            TargetName = SambaDomainController.ServicePrincipal,
            Credential = CredentialCache.DefaultNetworkCredentials,
        });

        byte[]? apReq = client.GetOutgoingBlob(ReadOnlySpan<byte>.Empty, out _);
        Assert.Equal(GssStepStatus.Failed, acceptor.Step(apReq, out byte[]? output));
        Assert.Null(output);
        Assert.Equal(NtStatus.LogonFailure, acceptor.FailureStatus);
        Assert.Contains("Kerberos", acceptor.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void Acceptor_rejects_a_malformed_token_without_crashing()
    {
        using KerberosCredential keytab = KerberosCredential.ForAcceptor(_dc.Keytab, null);
        using KerberosContext acceptor = KerberosContext.CreateAcceptor(keytab);
        byte[] token = [0x60, 0x0D, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x12, 0x01, 0x02, 0x02, 0x01, 0x00];
        Assert.Equal(GssStepStatus.Failed, acceptor.Step(token, out _));
        Assert.Equal(NtStatus.LogonFailure, acceptor.FailureStatus);
    }

    [Fact]
    public void A_keytab_that_does_not_exist_is_reported_when_credentials_are_acquired()
    {
        GssException error = Assert.Throws<GssException>(() => KerberosCredential.ForAcceptor(Path.Combine(_dc.Directory, "missing.keytab"), SambaDomainController.ServicePrincipal));
        Assert.Contains("missing.keytab", error.Message, StringComparison.Ordinal);
    }
}

/// <summary>Points this test process's GSSAPI clients at the test realm (KRB5_CONFIG) and alice's tickets (KRB5CCNAME).</summary>
internal static class KerberosClientEnvironment
{
    public static void Use(SambaDomainController dc)
    {
        foreach ((string name, string value) in dc.ClientEnvironment())
        {
            NativeEnvironment.Set(name, value);
        }
    }
}
