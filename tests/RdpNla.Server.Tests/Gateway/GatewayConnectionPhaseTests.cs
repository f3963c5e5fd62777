using System.Buffers.Binary;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using RdpNla.Tests.Support;
using RdpNla.Protocol.Rdp;
using RdpNla.Server.Gateway;

namespace RdpNla.Tests.Gateway;

/// <summary>
/// The relay's connection phase: a HYBRID_EX client learns the backend leg's outcome from its Early User Authorization
/// Result, and the client frames before the Client Info PDU are checked, not forwarded blindly.
/// </summary>
public class GatewayConnectionPhaseTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task HybridExClient_BackendDown_GetsAccessDenied_NotASuccessFollowedByADrop()
    {
        using ClosedPort closed = PeerPorts.HoldClosedPort();
        await using TestFrontDoor door = await GatewayBackendSecurityTests.StartDoorAsync(closed.Address, BackendCertificateValidation.None, BackendSecurity.Tls);

        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, door.Port, Ct);
        (SslStream tls, EarlyUserAuthorizationResult? authorization) = await GatewayTestClient.AuthenticateWithResultAsync(tcp.GetStream(), hybridEx: true);
        using (tls)
        {
            Assert.Equal("AUTHZ_ACCESS_DENIED", authorization!.Value.Name);
            Assert.Equal(0, await tls.ReadAsync(new byte[1], Ct));
        }

        GatewaySessionRecord session = await door.WaitForGatewaySessionAsync("alice");
        Assert.Equal("backend-down", session.Outcome);
        Assert.EndsWith("; the client was sent AUTHZ_ACCESS_DENIED", session.Reason, StringComparison.Ordinal);
        Assert.Contains("Early User Authorization Result AUTHZ_ACCESS_DENIED sent to the client (backend leg not connected)", door.LogText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task HybridExClient_BackendRefusesTheCredentials_GetsAccessDenied()
    {
        // The backend is a second gateway whose account for alice is denied remote logon (its own AUTHZ_ACCESS_DENIED).
        await using var echo = new TlsEchoBackend();
        await using TestFrontDoor backend = await GatewayBackendSecurityTests.StartDoorAsync(echo.Address, BackendCertificateValidation.None, BackendSecurity.Tls, u => u with { RemoteLogonDenied = true });
        await using TestFrontDoor door = await GatewayBackendSecurityTests.StartDoorAsync(backend.Address, BackendCertificateValidation.None, BackendSecurity.Nla);

        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, door.Port, Ct);
        (SslStream tls, EarlyUserAuthorizationResult? authorization) = await GatewayTestClient.AuthenticateWithResultAsync(tcp.GetStream(), hybridEx: true);
        using (tls)
        {
            Assert.Equal("AUTHZ_ACCESS_DENIED", authorization!.Value.Name);
        }

        GatewaySessionRecord session = await door.WaitForGatewaySessionAsync("alice");
        Assert.Equal("credentials-rejected", session.Outcome);
        Assert.Equal("Early User Authorization Result AUTHZ_ACCESS_DENIED; the client was sent AUTHZ_ACCESS_DENIED", session.Reason);
        Assert.Equal(0, echo.Accepted);
    }

    [Fact]
    public async Task HybridExClient_BackendConnected_GetsSuccessAfterTheBackendLeg_ThenTheSessionRuns()
    {
        await using var echo = new TlsEchoBackend();
        await using TestFrontDoor door = await GatewayBackendSecurityTests.StartDoorAsync(echo.Address, BackendCertificateValidation.None, BackendSecurity.Tls);

        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, door.Port, Ct);
        (SslStream tls, EarlyUserAuthorizationResult? authorization) = await GatewayTestClient.AuthenticateWithResultAsync(tcp.GetStream(), hybridEx: true);
        using (tls)
        {
            Assert.True(authorization!.Value.IsSuccess);
            string log = door.LogText;
            int connected = log.IndexOf($"Backend {echo.Address} connected", StringComparison.Ordinal);
            int sent = log.IndexOf("Early User Authorization Result AUTHZ_SUCCESS sent to the client (backend leg connected)", StringComparison.Ordinal);
            Assert.True(connected >= 0 && sent > connected, log);
            await GatewayTestClient.StartSessionAsync(tls);
            await GatewayBackendSecurityTests.EchoAsync(tls);
        }

        Assert.Equal("HYBRID_EX", (await door.WaitForGatewaySessionAsync("alice")).FrontProtocol);
    }

    public static TheoryData<string> FramesBeforeClientInfo => new() { "security-exchange", "client-info-with-a-wrong-per-length", "disconnect-provider-ultimatum" };

    [Theory]
    [MemberData(nameof(FramesBeforeClientInfo))]
    public async Task ClientFrameThatIsNotStrictlyAClientInfoPdu_EndsTheSession_AndNeverReachesTheBackend(string kind)
    {
        await using var backend = new TlsEchoBackend();
        await using TestFrontDoor door = await GatewayBackendSecurityTests.StartDoorAsync(backend.Address, BackendCertificateValidation.None, BackendSecurity.Tls);
        byte[] attachUser = Tpkt.Wrap([0x02, 0xF0, 0x80, 0x28]);

        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, door.Port, Ct);
        using SslStream tls = await GatewayTestClient.ConnectAsync(tcp.GetStream(), expectConnectResponse: false);
        _ = McsConnectPdu.Decode(await Transport.MessageFraming.ReadTpktFrameAsync(tls, 65535, Ct));
        await tls.WriteAsync(attachUser, Ct);
        await tls.WriteAsync(Frame(kind), Ct);

        GatewaySessionRecord session = await door.WaitForGatewaySessionAsync("alice");
        Assert.Equal("error", session.Outcome);
        Assert.Contains("client frame 2 after the MCS Connect Response refused before the Client Info PDU", session.Reason, StringComparison.Ordinal);
        Assert.Equal(0, await tls.ReadAsync(new byte[1], Ct));
        for (int i = 0; i < 100 && backend.OtherFrames.IsEmpty; i++)
        {
            await Task.Delay(20, Ct);
        }

        Assert.Equal([attachUser], backend.OtherFrames); // the Attach User Request went through, the bad frame did not
        Assert.Empty(backend.Captured);
    }

    [Fact]
    public async Task ClientInfoPduWithNoRoomForTheInjectedCredentials_EndsTheSession_AndNothingReachesTheBackend()
    {
        await using var backend = new TlsEchoBackend();
        await using TestFrontDoor door = await GatewayBackendSecurityTests.StartDoorAsync(backend.Address, BackendCertificateValidation.None, BackendSecurity.Tls);
        // Empty credentials and as much extra info as one Send Data Request holds (0x3FFF bytes of user data: the
        // security header, TS_INFO_PACKET's fixed part and five terminators before it). Found while writing the gateway-pdus fuzz target.
        using var info = new ClientInfoPdu(1007, 1003, 0, 0, InfoFlags.Unicode, "", "", [], "", "", new byte[0x3FFF - 4 - 18 - 10]);
        byte[] frame = info.Encode();
        Assert.Equal(0x3FFF, BinaryPrimitives.ReadUInt16BigEndian(frame.AsSpan(4 + 3 + 1 + 2 + 2 + 1)) & 0x3FFF);

        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, door.Port, Ct);
        using SslStream tls = await GatewayTestClient.ConnectAsync(tcp.GetStream(), expectConnectResponse: false);
        _ = McsConnectPdu.Decode(await Transport.MessageFraming.ReadTpktFrameAsync(tls, 65535, Ct));
        await tls.WriteAsync(frame, Ct);

        GatewaySessionRecord session = await door.WaitForGatewaySessionAsync("alice");
        Assert.Equal("error", session.Outcome);
        Assert.Contains($"the client's Client Info PDU ({info.ExtraInfo.Length} bytes of extra info) leaves no room for the injected credentials", session.Reason, StringComparison.Ordinal);
        Assert.Equal(0, await tls.ReadAsync(new byte[1], Ct));
        Assert.Empty(backend.Captured);
        Assert.Empty(backend.OtherFrames);
    }

    private static byte[] Frame(string kind)
    {
        using var info = new ClientInfoPdu(1007, 1003, 0, 0, InfoFlags.Unicode, "OTHER", "mallory", "client-chosen"u8.ToArray().SelectMany(b => new[] { b, (byte)0 }).ToArray(), "", "", []);
        byte[] frame = info.Encode();
        const int security = 4 + 3 + 1 + 2 + 2 + 1 + 1;
        switch (kind)
        {
            case "security-exchange":
                frame[security] = 0x01; // SEC_EXCHANGE_PKT instead of SEC_INFO_PKT
                return frame;
            case "client-info-with-a-wrong-per-length":
                // One byte more than the Send Data Request announces: not a Client Info PDU to a lenient check, so it
                // used to be forwarded unchanged, with the client's own credentials, to a backend that may read it.
                byte[] longer = [.. frame, 0x00];
                BinaryPrimitives.WriteUInt16BigEndian(longer.AsSpan(2), (ushort)longer.Length);
                return longer;
            default:
                return Tpkt.Wrap([0x02, 0xF0, 0x80, 0x21, 0x80]);
        }
    }
}
