using System.Buffers;
using System.Net;
using System.Net.Security;
using RdpNla.Protocol.Ntlm;

namespace RdpNla.Protocol.Tests.Ntlm;

/// <summary>
/// The .NET managed NTLM client (System.Net.Security, UseManagedNtlm=true in this test project) as an independent peer
/// for <see cref="NtlmServerContext"/>.
/// </summary>
public class ManagedNtlmInteropTests
{
    private const string User = "alice";
    private const string Domain = "WORKGROUP";
    private const string Password = "Pa$$w0rd-interop";

    private static NegotiateAuthentication DotNetClient(string password) =>
        new(new NegotiateAuthenticationClientOptions
        {
            Package = "NTLM",
            Credential = new NetworkCredential(User, password, Domain),
            TargetName = "TERMSRV/host",
            RequiredProtectionLevel = System.Net.Security.ProtectionLevel.EncryptAndSign,
        });

    private static (NegotiateAuthenticationStatusCode ClientStatus, NlaStatus ServerStatus) Authenticate(
        NegotiateAuthentication client, NtlmServerContext server, string storedPassword)
    {
        byte[]? negotiate = client.GetOutgoingBlob([], out NegotiateAuthenticationStatusCode clientStatus);
        Assert.Equal(NegotiateAuthenticationStatusCode.ContinueNeeded, clientStatus);
        byte[]? challenge = server.GetOutgoingBlob(negotiate, out NlaStatus serverStatus);
        Assert.Equal(NlaStatus.ContinueNeeded, serverStatus);
        byte[]? authenticate = client.GetOutgoingBlob(challenge, out clientStatus);
        Assert.NotNull(authenticate);
        server.GetOutgoingBlob(authenticate, out serverStatus);
        if (serverStatus == NlaStatus.CredentialLookupNeeded)
        {
            server.ProvideCredential(NtlmCredentialLookup.Found(NtlmCrypto.NtOwfV1(storedPassword)));
            server.GetOutgoingBlob([], out serverStatus);
        }

        return (clientStatus, serverStatus);
    }

    [Fact]
    public void GetOutgoingBlob_DotNetClientRightPassword_BothComplete()
    {
        using NegotiateAuthentication client = DotNetClient(Password);
        using NtlmServerContext server = NtlmTestPeers.Server();

        (NegotiateAuthenticationStatusCode clientStatus, NlaStatus serverStatus) = Authenticate(client, server, Password);

        Assert.Equal(NegotiateAuthenticationStatusCode.Completed, clientStatus);
        Assert.Equal(NlaStatus.Completed, serverStatus);
        Assert.True(server.PasswordVerified);
        Assert.Equal((User, Domain), (server.UserName, server.DomainName));
        Assert.NotNull(server.AuthenticateMessage!.Mic); // .NET sends a MIC because our CHALLENGE has a timestamp
    }

    [Fact]
    public void GetOutgoingBlob_DotNetClientWrongPassword_ServerFails()
    {
        using NegotiateAuthentication client = DotNetClient("not the password");
        using NtlmServerContext server = NtlmTestPeers.Server();

        (_, NlaStatus serverStatus) = Authenticate(client, server, Password);

        Assert.Equal(NlaStatus.Failed, serverStatus);
        Assert.False(server.PasswordVerified);
        Assert.Equal(NtStatus.LogonFailure, server.FailureStatus);
        Assert.Equal("NTProofStr mismatch", server.FailureMessage);
    }

    [Fact]
    public void Wrap_DotNetClientToOurServer_UnwrapsAndViceVersa()
    {
        using NegotiateAuthentication client = DotNetClient(Password);
        using NtlmServerContext server = NtlmTestPeers.Server();
        Assert.Equal(NlaStatus.Completed, Authenticate(client, server, Password).ServerStatus);
        NtlmSessionSecurity session = server.SessionSecurity!;

        for (int i = 0; i < 3; i++)
        {
            byte[] message = [.. "client message "u8, (byte)i];
            var wrapped = new ArrayBufferWriter<byte>();
            Assert.Equal(NegotiateAuthenticationStatusCode.Completed, client.Wrap(message, wrapped, requestEncryption: true, out bool isEncrypted));
            Assert.True(isEncrypted);
            Assert.Equal(message, session.Unwrap(wrapped.WrittenSpan));

            byte[] reply = [.. "server reply "u8, (byte)i];
            var unwrapped = new ArrayBufferWriter<byte>();
            Assert.Equal(NegotiateAuthenticationStatusCode.Completed, client.Unwrap(session.Wrap(reply), unwrapped, out bool wasEncrypted));
            Assert.True(wasEncrypted);
            Assert.Equal(reply, unwrapped.WrittenSpan.ToArray());
        }
    }

    [Fact]
    public void Wrap_DotNetClientOutput_IsSignatureThenCiphertext()
    {
        using NegotiateAuthentication client = DotNetClient(Password);
        using NtlmServerContext server = NtlmTestPeers.Server();
        Authenticate(client, server, Password);
        var wrapped = new ArrayBufferWriter<byte>();

        client.Wrap("0123456789"u8, wrapped, requestEncryption: true, out _);

        Assert.Equal(16 + 10, wrapped.WrittenCount);
        Assert.Equal([1, 0, 0, 0], wrapped.WrittenSpan[..4].ToArray());
        Assert.Equal([0, 0, 0, 0], wrapped.WrittenSpan[12..16].ToArray()); // sequence number 0
    }
}
