using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Text;
using RdpNla.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Rdp;
using RdpNla.Server.Audit;

namespace RdpNla.Tests.FrontDoor;

/// <summary>Malformed and hostile input: each is logged with its specific reason, closed, and the server keeps serving.</summary>
public class FrontDoorRobustnessTests
{
    private const string Password = "Passw0rd!";

    private static async Task<TestFrontDoor> StartAsync(TimeSpan? handshakeTimeout = null, int perAddress = 16)
    {
        TestFrontDoor door = await TestFrontDoor.StartAsync(o =>
        {
            o.Limits.HandshakeTimeout = handshakeTimeout ?? TimeSpan.FromSeconds(20);
            o.Limits.MaxUnauthenticatedConnectionsPerAddress = perAddress;
        });
        await door.AddUserAsync("alice", Password);
        return door;
    }

    /// <summary>Sends raw bytes, half-closes or not, and waits until the server closes the connection.</summary>
    private static async Task<byte[]> SendRawAsync(int port, byte[] bytes, bool halfClose, CancellationToken ct)
    {
        using var tcp = new TcpClient();
        using var received = new MemoryStream();
        try
        {
            await tcp.ConnectAsync(IPAddress.Loopback, port, ct);
            NetworkStream stream = tcp.GetStream();
            await stream.WriteAsync(bytes, ct);
            if (halfClose)
            {
                tcp.Client.Shutdown(SocketShutdown.Send);
            }

            await stream.CopyToAsync(received, ct);
        }
        catch (Exception ex) when (IsReset(ex))
        {
            // The server closed with our bytes unread (or dropped us at accept): the kernel answers with a reset.
        }

        return received.ToArray();
    }

    private static bool IsReset(Exception ex) =>
        ex is SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.Shutdown }
        || ex.InnerException is SocketException { SocketErrorCode: SocketError.ConnectionReset or SocketError.Shutdown };

    private static async Task AssertStillServesAsync(TestFrontDoor door, CancellationToken ct)
    {
        TestRdpOutcome outcome = await TestRdpClient.ConnectAsync(door.Port, SecurityProtocols.Ssl | SecurityProtocols.Hybrid, "alice", Password, cancellationToken: ct);
        Assert.Equal(NlaStatus.Completed, outcome.CredSspStatus);
    }

    private static async Task<string> WaitForLogAsync(TestFrontDoor door, string fragment)
    {
        for (int i = 0; i < 200 && !door.LogText.Contains(fragment, StringComparison.Ordinal); i++)
        {
            await Task.Delay(25);
        }

        return door.LogText;
    }

    [Theory]
    [InlineData("http", "Not a TPKT header: 47 45 54 20")]
    [InlineData("tls-client-hello", "Not a TPKT header: 16 03 01")]
    [InlineData("truncated-tpkt", "X.224: truncated message")]
    [InlineData("tpkt-too-short", "Not a TPKT header: 03 00 00 02")]
    [InlineData("not-x224", "X.224")]
    public async Task Connect_MalformedPreTlsInput_IsLoggedClosedAndServerKeepsServing(string kind, string logFragment)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using TestFrontDoor door = await StartAsync();
        byte[] input = kind switch
        {
            "http" => Encoding.ASCII.GetBytes("GET / HTTP/1.1\r\nHost: x\r\n\r\n"),
            "tls-client-hello" => Convert.FromHexString("16030100a5010000a10303"),
            "truncated-tpkt" => Convert.FromHexString("0300002a25e00000"),
            "tpkt-too-short" => Convert.FromHexString("03000002"),
            _ => Convert.FromHexString("0300000b06f000000000"),
        };

        byte[] answer = await SendRawAsync(door.Port, input, halfClose: true, ct);

        Assert.Empty(answer);
        string log = await WaitForLogAsync(door, logFragment);
        Assert.Contains(logFragment, log, StringComparison.Ordinal);
        AuditEntry row = Assert.Single(await door.WaitForAuditAsync(1));
        Assert.Equal(AuditOutcome.Error, row.Outcome);
        await AssertStillServesAsync(door, ct);
    }

    [Theory]
    [InlineData("bad-der", "Not a DER TSRequest")]
    [InlineData("oversize-der", "The TSRequest announces more than")]
    [InlineData("bogus-ntlm", "NEGOTIATE_MESSAGE is truncated")]
    public async Task Connect_MalformedCredSspInput_IsLoggedClosedAndServerKeepsServing(string kind, string logFragment)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using TestFrontDoor door = await StartAsync();
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, door.Port, ct);
        NetworkStream network = tcp.GetStream();
        await using SslStream tls = await TestSecurityPhase.TlsAsync(network, SecurityProtocols.Ssl | SecurityProtocols.Hybrid, "x", "localhost", ct);
        byte[] payload = kind switch
        {
            "bad-der" => [0x04, 0x02, 0x00, 0x00],
            "oversize-der" => [0x30, 0x84, 0x7F, 0xFF, 0xFF, 0xFF],
            // A TSRequest v6 whose negoToken says NTLMSSP but is cut after the signature and type.
            _ => new Protocol.CredSsp.TsRequest { Version = 6, NegoTokens = [[.. "NTLMSSP\0"u8, 0x01, 0x00, 0x00, 0x00, 0xFF]] }.Encode(),
        };
        await tls.WriteAsync(payload, ct);

        using var received = new MemoryStream();
        await tls.CopyToAsync(received, ct);

        string log = await WaitForLogAsync(door, logFragment);
        Assert.True(log.Contains(logFragment, StringComparison.Ordinal), log);
        if (kind == "bogus-ntlm")
        {
            // A version 6 client understands errorCode: it is told STATUS_LOGON_FAILURE, not left guessing.
            Assert.Equal(NtStatus.LogonFailure, Protocol.CredSsp.TsRequest.Decode(received.ToArray()).ErrorCode);
        }

        await AssertStillServesAsync(door, ct);
    }

    [Fact]
    public async Task Connect_StalledPeer_IsClosedAtTheHandshakeDeadlineAndOthersAreServed()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using TestFrontDoor door = await StartAsync(handshakeTimeout: TimeSpan.FromSeconds(1));
        using var stalled = new TcpClient();
        await stalled.ConnectAsync(IPAddress.Loopback, door.Port, ct);

        await AssertStillServesAsync(door, ct);
        int read = await stalled.GetStream().ReadAsync(new byte[16], ct);

        Assert.Equal(0, read);
        Assert.Contains("Deadline of 00:00:01 passed in phase X.224", await WaitForLogAsync(door, "Deadline of"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_MoreUnauthenticatedConnectionsThanThePerAddressCap_AreRefusedAtAccept()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using TestFrontDoor door = await StartAsync(perAddress: 2);
        using var first = new TcpClient();
        using var second = new TcpClient();
        await first.ConnectAsync(IPAddress.Loopback, door.Port, ct);
        await second.ConnectAsync(IPAddress.Loopback, door.Port, ct);
        await WaitForLogAsync(door, "Connection accepted");

        byte[] refused = await SendRawAsync(door.Port, [], halfClose: false, ct);

        Assert.Empty(refused);
        Assert.Contains("2 unauthenticated connections from 127.0.0.1 already", await WaitForLogAsync(door, "refused before the handshake"), StringComparison.Ordinal);
        first.Dispose();
        second.Dispose();
        for (int i = 0; i < 100 && door.Host.Server.ActiveConnections > 0; i++)
        {
            await Task.Delay(20, ct);
        }

        await AssertStillServesAsync(door, ct);
    }

    [Fact]
    public async Task Logs_AtEveryLevel_NeverContainPasswordsHashesOrTokens()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using TestFrontDoor door = await StartAsync();
        const string wrongPassword = "Wr0ng-Secret#";
        await AssertStillServesAsync(door, ct);
        await TestRdpClient.ConnectAsync(door.Port, SecurityProtocols.Ssl | SecurityProtocols.Hybrid | SecurityProtocols.HybridEx, "alice", wrongPassword, cancellationToken: ct);
        await TestRdpClient.ConnectAsync(door.Port, SecurityProtocols.Ssl | SecurityProtocols.Hybrid, "nobody", wrongPassword, cancellationToken: ct);
        await door.WaitForAuditAsync(3);

        string[] secrets =
        [
            Password,
            wrongPassword,
            Convert.ToHexString(Encoding.Unicode.GetBytes(Password)),
            Convert.ToHexString(NtlmCrypto.NtOwfV1(Password)),
            Convert.ToBase64String(NtlmCrypto.NtOwfV1(Password)),
            Convert.ToHexString(NtlmCrypto.NtOwfV1(wrongPassword)),
            "NTLMSSP",
            "TlRMTVNTUA", // "NTLMSSP" in base64
            "4E544C4D535350", // "NTLMSSP" in hex
        ];
        Assert.NotEmpty(door.LogRecords);
        Assert.Contains(door.LogRecords, r => r.Level == Microsoft.Extensions.Logging.LogLevel.Debug);
        foreach (var record in door.LogRecords)
        {
            string text = string.Join(" | ", record.Message, record.Exception?.ToString(), string.Join(",", record.StructuredState?.Select(kv => kv.Value) ?? []), string.Join(",", record.Scopes.Select(s => s?.ToString())));
            foreach (string secret in secrets)
            {
                Assert.DoesNotContain(secret, text, StringComparison.OrdinalIgnoreCase);
            }
        }
    }
}
