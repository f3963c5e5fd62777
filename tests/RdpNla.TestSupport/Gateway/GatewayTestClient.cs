using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;
using RdpNla.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Protocol.Connection;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Rdp;
using RdpNla.Transport;

namespace RdpNla.Tests.Gateway;

/// <summary>
/// The client side of an RDP connection through the gateway, as far as the gateway cares: X.224 (SSL|HYBRID), TLS,
/// CredSSP as alice (and the Early User Authorization Result with HYBRID_EX), MCS Connect Initial and Response,
/// Client Info. Then the stream is the relayed session.
/// </summary>
internal static class GatewayTestClient
{
    public const string Password = "Relay-Pass1";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    /// <summary>Sends 100 bytes of <paramref name="value"/> over a relayed session and expects the echo backend's copy.</summary>
    public static async Task EchoAsync(SslStream session, byte value)
    {
        byte[] message = Enumerable.Repeat(value, 100).ToArray();
        await session.WriteAsync(message, Ct);
        byte[] echo = new byte[message.Length];
        await session.ReadExactlyAsync(echo, Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(5), Ct);
        Assert.Equal(message, echo);
    }

    public static async Task<SslStream> ConnectAsync(NetworkStream network, bool expectConnectResponse = true)
    {
        SslStream tls = await AuthenticateAsync(network, hybridEx: false);
        await StartSessionAsync(tls, expectConnectResponse);
        return tls;
    }

    /// <summary>
    /// X.224 (SSL|HYBRID, or SSL|HYBRID|HYBRID_EX), TLS and CredSSP as alice (or <paramref name="user"/>, domain LAB,
    /// with <see cref="Password"/>). With HYBRID_EX the front door's Early User Authorization Result is read too and
    /// returned; the caller goes on with <see cref="StartSessionAsync"/>.
    /// </summary>
    public static async Task<(SslStream Tls, EarlyUserAuthorizationResult? Authorization)> AuthenticateWithResultAsync(NetworkStream network, bool hybridEx, string user = "alice")
    {
        SecurityProtocols requested = SecurityProtocols.Ssl | SecurityProtocols.Hybrid | (hybridEx ? SecurityProtocols.HybridEx : 0);
        using RdpClientConnector connector = TestSecurityPhase.Connector("relay", requested, TestSecurityPhase.Password(user, TestFrontDoor.Domain, Password));
        ClientSecurityPhaseResult result = await SecurityPhaseDriver.RunClientAsync(network, connector, TestSecurityPhase.AnyCertificate(leaveInnerStreamOpen: false), Ct);
        Assert.Equal(hybridEx ? SecurityProtocols.HybridEx : SecurityProtocols.Hybrid, connector.SelectedProtocol);
        Assert.Equal(NlaFailureReason.None, connector.CredSsp!.FailureReason);
        Assert.True(result.Succeeded || connector.EarlyUserAuthorization is not null, $"{connector.State} {result.Step}");
        return (result.Tls!, connector.EarlyUserAuthorization);
    }

    private static async Task<SslStream> AuthenticateAsync(NetworkStream network, bool hybridEx) =>
        (await AuthenticateWithResultAsync(network, hybridEx)).Tls;

    /// <summary>The MCS Connect Initial, and unless told otherwise the Connect Response and the Client Info PDU.</summary>
    public static async Task StartSessionAsync(SslStream tls, bool expectConnectResponse = true, params byte[][] beforeClientInfo)
    {
        byte[] clientCore = new byte[216];
        BitConverter.TryWriteBytes(clientCore.AsSpan(0), GccBlockType.ClientCore);
        BitConverter.TryWriteBytes(clientCore.AsSpan(2), (ushort)clientCore.Length);
        BitConverter.TryWriteBytes(clientCore.AsSpan(McsConnectPdu.ServerSelectedProtocolOffset), (uint)SecurityProtocols.Hybrid);
        await tls.WriteAsync(McsConnectPdu.EncodeConnectInitial([clientCore]), Ct);
        if (!expectConnectResponse)
        {
            return;
        }

        McsConnectPdu response = McsConnectPdu.Decode(await MessageFraming.ReadTpktFrameAsync(tls, 65535, Ct));
        Assert.True(response.IsResponse);
        foreach (byte[] frame in beforeClientInfo)
        {
            await tls.WriteAsync(frame, Ct);
        }

        using var info = new ClientInfoPdu(1033, 1003, 0, 0, InfoFlags.Mouse | InfoFlags.Unicode, "", "alice", [], "", "", []);
        await tls.WriteAsync(info.Encode(), Ct);
    }
}
