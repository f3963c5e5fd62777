using System.Net;
using System.Text;
using RdpNla.Protocol;
using RdpNla.Transport;

namespace RdpNla.Tests.Limits;

/// <summary>PROXY protocol v1 and v2 headers (HAProxy proxy-protocol.txt §2.1, §2.2).</summary>
public class ProxyProtocolTests
{
    private static readonly byte[] s_v2Signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    private static async Task<(IPEndPoint? Client, byte[] Remaining)> ReadAsync(byte[] input)
    {
        using var stream = new MemoryStream([.. input, 0x03, 0x00]);
        IPEndPoint? client = await ProxyProtocol.ReadAsync(stream, TestContext.Current.CancellationToken);
        return (client, stream.ToArray()[(int)stream.Position..]);
    }

    [Theory]
    [InlineData("PROXY TCP4 203.0.113.7 192.0.2.1 50000 3389\r\n", "203.0.113.7:50000")]
    [InlineData("PROXY TCP6 2001:db8::7 2001:db8::1 50001 3389\r\n", "[2001:db8::7]:50001")]
    [InlineData("PROXY UNKNOWN\r\n", null)]
    [InlineData("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n", null)]
    public async Task ReadAsync_V1_ReturnsTheClientAndConsumesNothingMore(string line, string? expected)
    {
        (IPEndPoint? client, byte[] rest) = await ReadAsync(Encoding.ASCII.GetBytes(line));

        Assert.Equal(expected, client?.ToString());
        Assert.Equal([0x03, 0x00], rest);
    }

    [Theory]
    [InlineData(0x11, "cb007107c0000201c3500d3d", "203.0.113.7:50000")]
    [InlineData(0x21, "20010db800000000000000000000000720010db8000000000000000000000001c3510d3d", "[2001:db8::7]:50001")]
    public async Task ReadAsync_V2Proxy_ReturnsTheClient(byte family, string addresses, string expected)
    {
        byte[] body = Convert.FromHexString(addresses);
        byte[] header = [.. s_v2Signature, 0x21, family, (byte)(body.Length >> 8), (byte)body.Length, .. body];

        (IPEndPoint? client, byte[] rest) = await ReadAsync(header);

        Assert.Equal(expected, client?.ToString());
        Assert.Equal([0x03, 0x00], rest);
    }

    [Fact]
    public async Task ReadAsync_V2Local_ReturnsNull()
    {
        (IPEndPoint? client, _) = await ReadAsync([.. s_v2Signature, 0x20, 0x00, 0x00, 0x00]);

        Assert.Null(client);
    }

    [Theory]
    [InlineData("PROXY TCP4 999.0.0.1 192.0.2.1 1 2\r\n")]
    [InlineData("PROXY TCP4 2001:db8::7 192.0.2.1 1 2\r\n")]
    [InlineData("PROXY TCP4 203.0.113.7 192.0.2.1 70000 2\r\n")]
    [InlineData("PROXY TCP4 203.0.113.7\r\n")]
    [InlineData("GET / HTTP/1.1\r\n")]
    public async Task ReadAsync_MalformedV1_ThrowsProtocolException(string line)
    {
        await Assert.ThrowsAsync<NlaProtocolException>(() => ReadAsync(Encoding.ASCII.GetBytes(line)));
    }

    [Fact]
    public async Task ReadAsync_V1WithoutCrlfWithin107Bytes_ThrowsProtocolException()
    {
        await Assert.ThrowsAsync<NlaProtocolException>(() => ReadAsync(Encoding.ASCII.GetBytes("PROXY TCP4 " + new string('1', 200))));
    }

    [Fact]
    public async Task ReadAsync_V2OversizeOrShortBlock_ThrowsProtocolException()
    {
        await Assert.ThrowsAsync<NlaProtocolException>(() => ReadAsync([.. s_v2Signature, 0x21, 0x11, 0xFF, 0xFF]));
        await Assert.ThrowsAsync<NlaProtocolException>(() => ReadAsync([.. s_v2Signature, 0x21, 0x11, 0x00, 0x04, 1, 2, 3, 4]));
        await Assert.ThrowsAsync<NlaProtocolException>(() => ReadAsync([.. s_v2Signature, 0x31, 0x11, 0x00, 0x00]));
    }

    [Theory]
    [InlineData(new byte[] { 0x61, 0x62 })] // shorter than the 16-byte header (found by the proxy-header fuzz target)
    [InlineData(new byte[] { 0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A, 0x21, 0x11 })] // signature, no length
    [InlineData(new byte[] { 0x50, 0x52, 0x4F, 0x58, 0x59, 0x20, 0x54, 0x43, 0x50, 0x34, 0x20, 0x31, 0x20, 0x32, 0x20, 0x33 })] // a v1 line
    public void DecodeV2Addresses_HeaderThatIsNoV2Header_ThrowsProtocolException(byte[] header)
    {
        byte[] block = new byte[12];

        Assert.Equal(NlaFailureReason.Malformed, Assert.Throws<NlaProtocolException>(() => ProxyProtocol.DecodeV2Addresses(header, block)).Reason);
    }

    [Fact]
    public async Task ReadAsync_RandomInput_ReturnsOrThrowsOnlyProtocolOrEndOfStream()
    {
        var random = new Random(7);
        for (int i = 0; i < 3000; i++)
        {
            byte[] input = new byte[random.Next(0, 140)];
            random.NextBytes(input);
            if (i % 3 == 0 && input.Length > 12)
            {
                s_v2Signature.CopyTo(input, 0);
            }
            else if (i % 3 == 1 && input.Length > 6)
            {
                "PROXY "u8.CopyTo(input);
            }

            using var stream = new MemoryStream(input);
            try
            {
                await ProxyProtocol.ReadAsync(stream, TestContext.Current.CancellationToken);
            }
            catch (Exception ex) when (ex is NlaProtocolException or EndOfStreamException)
            {
            }
        }
    }
}
