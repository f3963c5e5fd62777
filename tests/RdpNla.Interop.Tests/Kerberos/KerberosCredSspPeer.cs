using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography;
using RdpNla.Protocol;
using RdpNla.Protocol.CredSsp;
using RdpNla.Tests.Support;
using RdpNla.Protocol.Rdp;
using RdpNla.Transport;

namespace RdpNla.Tests.Kerberos;

/// <summary>What the independent Kerberos CredSSP client saw.</summary>
public sealed record KerberosPeerOutcome(bool Authenticated, NtStatus? ServerErrorCode, bool ServerBindingVerified, EarlyUserAuthorizationResult? EarlyUserAuthorization, int ServerVersion, string? Error);

/// <summary>
/// A Kerberos CredSSP client for tests: X.224 (HYBRID_EX), TLS, and CredSSP whose security context is an independent
/// initiator (<see cref="ITestInitiator"/>: .NET's NegotiateAuthentication for raw Kerberos, python3-gssapi for MIT's
/// SPNEGO) with the ticket cache in KRB5CCNAME. Only the TSRequest framing and the binding hash are ours.
/// </summary>
public static class KerberosCredSspPeer
{
    public static async Task<KerberosPeerOutcome> ConnectAsync(int port, ITestInitiator context, int version, string user, string domain, string password, CancellationToken cancellationToken = default)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
        (KerberosPeerOutcome outcome, SslStream tls) = await AuthenticateAsync(tcp.GetStream(), context, version, user, domain, password, cancellationToken);
        await using (tls)
        {
            if (outcome.EarlyUserAuthorization is not null)
            {
                await tls.WriteAsync(Tpkt.Wrap([0x02, 0xF0, 0x80, 0x7F, 0x65, 0x00]), cancellationToken);
            }

            return outcome;
        }
    }

    /// <summary>
    /// X.224, TLS and CredSSP as in <see cref="ConnectAsync"/>, up to and including the Early User Authorization Result;
    /// the TLS stream is returned open (the caller disposes it) so that the RDP connection can go on over it.
    /// </summary>
    public static async Task<(KerberosPeerOutcome Outcome, SslStream Tls)> AuthenticateAsync(NetworkStream network, ITestInitiator context, int version, string user, string domain, string password, CancellationToken cancellationToken = default)
    {
        SecurityProtocols requested = SecurityProtocols.Hybrid | SecurityProtocols.HybridEx | SecurityProtocols.Ssl;
        SslStream tls = await TestSecurityPhase.TlsAsync(network, requested, "alice", "rdpgw.lab.test", cancellationToken, SecurityProtocols.HybridEx);
        using var certificate = new System.Security.Cryptography.X509Certificates.X509Certificate2(tls.RemoteCertificate!);
        byte[] publicKey = certificate.GetPublicKey();
        byte[]? nonce = version >= 5 ? RandomNumberGenerator.GetBytes(32) : null;

        byte[]? token = context.Step(null, out bool complete);
        int serverVersion = 0;
        while (true)
        {
            // MS-CSSP §3.1.5 step 3: with the last token, the public-key binding.
            byte[]? pubKeyAuth = !complete ? null
                : context.Wrap( nonce is null ? publicKey : CredSspBinding.ComputeClientServerHash(nonce, publicKey));
            var request = new TsRequest { Version = version, NegoTokens = token is null ? [] : [token], ClientNonce = nonce, PubKeyAuth = pubKeyAuth };

            await MessageFraming.WriteMessageAsync(tls, request.Encode(), cancellationToken);
            TsRequest reply;
            try
            {
                reply = TsRequest.Decode(await MessageFraming.ReadTsRequestAsync(tls, 64 * 1024, cancellationToken));
            }
            catch (Exception ex) when (ex is EndOfStreamException or IOException)
            {
                return (new KerberosPeerOutcome(false, null, false, null, serverVersion, $"server closed: {ex.Message}"), tls);
            }

            serverVersion = reply.Version;
            if (reply.ErrorCode is { } errorCode)
            {
                return (new KerberosPeerOutcome(false, errorCode, false, null, serverVersion, null), tls);
            }

            if (!complete)
            {
                // The server's Kerberos/SPNEGO answer (AP-REP for mutual authentication).
                token = context.Step(reply.NegoTokens.Count > 0 ? reply.NegoTokens[0] : [], out complete);
                continue;
            }

            if (reply.NegoTokens.Count > 0)
            {
                context.Step(reply.NegoTokens[0], out _);
            }

            if (reply.PubKeyAuth is null)
            {
                return (new KerberosPeerOutcome(false, null, false, null, serverVersion, "no pubKeyAuth from the server"), tls);
            }

            byte[] serverBinding = context.Unwrap(reply.PubKeyAuth);
            byte[] expected = nonce is null ? CredSspBinding.IncrementFirstByte(publicKey) : CredSspBinding.ComputeServerClientHash(nonce, publicKey);
            if (!serverBinding.AsSpan().SequenceEqual(expected))
            {
                return (new KerberosPeerOutcome(false, null, false, null, serverVersion, "server binding mismatch"), tls);
            }

            using TsCredentials credentials = TsCredentials.ForPassword(domain, user, password);
            await MessageFraming.WriteMessageAsync(tls, new TsRequest { Version = version, AuthInfo = context.Wrap(credentials.Encode()), ClientNonce = nonce }.Encode(), cancellationToken);
            byte[] result = new byte[EarlyUserAuthorizationResult.Length];
            try
            {
                await tls.ReadExactlyAsync(result, cancellationToken);
            }
            catch (Exception ex) when (ex is EndOfStreamException or IOException)
            {
                return (new KerberosPeerOutcome(false, null, true, null, serverVersion, $"no Early User Authorization Result: {ex.Message}"), tls);
            }

            EarlyUserAuthorizationResult euar = EarlyUserAuthorizationResult.Decode(result);
            return (new KerberosPeerOutcome(euar.IsSuccess, null, true, euar, serverVersion, null), tls);
        }
    }
}
