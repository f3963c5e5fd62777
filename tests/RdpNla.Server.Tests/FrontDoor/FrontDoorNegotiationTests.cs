using System.Net;
using System.Net.Sockets;
using RdpNla.Tests.Support;
using RdpNla.Protocol.Rdp;
using RdpNla.Transport;

namespace RdpNla.Tests.FrontDoor;

/// <summary>
/// Every SecurityLayer × UserAuthentication × requested-protocols cell, from raw X.224 bytes sent to a running front
/// door to the raw Connection Confirm it answers. The table is the Windows behaviour of docs/interop.md#windows-security-layer.
/// </summary>
public class FrontDoorNegotiationTests
{
    // Expected CC payload after the 7-byte X.224 header: "RSP xx" = RDP_NEG_RSP selectedProtocol, "FAIL xx" =
    // RDP_NEG_FAILURE failureCode (1 SSL_REQUIRED_BY_SERVER, 5 HYBRID_REQUIRED_BY_SERVER), "LEGACY" = no rdpNegData.
    public static TheoryData<int, int, string, string> Cells() => new()
    {
        // SecurityLayer 0 (RDP), UserAuthentication 0: Standard RDP Security whatever is requested.
        { 0, 0, "none", "LEGACY" }, { 0, 0, "00", "RSP 00" }, { 0, 0, "01", "RSP 00" }, { 0, 0, "03", "RSP 00" }, { 0, 0, "0B", "RSP 00" },

        // SecurityLayer 1 (Negotiate), UserAuthentication 0: the most secure the client supports.
        { 1, 0, "none", "LEGACY" }, { 1, 0, "00", "RSP 00" }, { 1, 0, "01", "RSP 01" }, { 1, 0, "03", "RSP 02" }, { 1, 0, "0B", "RSP 08" },

        // SecurityLayer 2 (TLS), UserAuthentication 0: TLS required.
        { 2, 0, "none", "FAIL 01" }, { 2, 0, "00", "FAIL 01" }, { 2, 0, "01", "RSP 01" }, { 2, 0, "03", "RSP 02" }, { 2, 0, "0B", "RSP 08" },

        // UserAuthentication 1 on any layer: NLA required.
        { 0, 1, "none", "FAIL 05" }, { 0, 1, "00", "FAIL 05" }, { 0, 1, "01", "FAIL 05" }, { 0, 1, "03", "RSP 02" }, { 0, 1, "0B", "RSP 08" },
        { 1, 1, "none", "FAIL 05" }, { 1, 1, "00", "FAIL 05" }, { 1, 1, "01", "FAIL 05" }, { 1, 1, "03", "RSP 02" }, { 1, 1, "0B", "RSP 08" },
        { 2, 1, "none", "FAIL 05" }, { 2, 1, "00", "FAIL 05" }, { 2, 1, "01", "FAIL 05" }, { 2, 1, "03", "RSP 02" }, { 2, 1, "0B", "RSP 08" },
    };

    [Theory]
    [MemberData(nameof(Cells))]
    public async Task ConnectionRequest_RawBytes_AnswerAsTheWindowsTable(int securityLayer, int userAuthentication, string requested, string expected)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using TestFrontDoor door = await TestFrontDoor.StartAsync(o =>
        {
            o.SecurityLayer = (SecurityLayer)securityLayer;
            o.UserAuthentication = userAuthentication;
        });

        // TPKT + X.224 CR + "Cookie: mstshash=probe\r\n" [+ RDP_NEG_REQ], written byte by byte from MS-RDPBCGR §2.2.1.1.
        byte[] cookie = "Cookie: mstshash=probe\r\n"u8.ToArray();
        byte[] negotiation = requested == "none" ? [] : [0x01, 0x00, 0x08, 0x00, Convert.ToByte(requested, 16), 0x00, 0x00, 0x00];
        int length = 4 + 7 + cookie.Length + negotiation.Length;
        byte[] request = [0x03, 0x00, (byte)(length >> 8), (byte)length, (byte)(length - 5), 0xE0, 0, 0, 0, 0, 0, .. cookie, .. negotiation];

        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, door.Port, ct);
        NetworkStream stream = tcp.GetStream();
        await stream.WriteAsync(request, ct);
        byte[] confirm = await MessageFraming.ReadTpktFrameAsync(stream, 64, ct);

        Assert.Equal(0xD0, confirm[5]);
        byte[] expectedTail = expected.Split(' ') switch
        {
            ["LEGACY"] => [],
            ["RSP", string protocol] => [0x02, 0x01, 0x08, 0x00, Convert.ToByte(protocol, 16), 0x00, 0x00, 0x00],
            ["FAIL", string code] => [0x03, 0x00, 0x08, 0x00, Convert.ToByte(code, 16), 0x00, 0x00, 0x00],
            _ => throw new ArgumentException(expected),
        };
        Assert.Equal(Convert.ToHexString(expectedTail), Convert.ToHexString(confirm.AsSpan(11)));
        Assert.Equal(expectedTail.Length == 0 ? 6 : 14, confirm[4]);
    }
}
