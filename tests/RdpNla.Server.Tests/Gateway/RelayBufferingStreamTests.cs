using RdpNla.Server.Gateway;

namespace RdpNla.Tests.Gateway;

/// <summary>The stream under the relay's SslStreams: records leave in one send per batch, reads are taken in large chunks.</summary>
public class RelayBufferingStreamTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Off_WritesAndReadsPassStraightThrough()
    {
        var inner = new CountingStream(Enumerable.Range(0, 100).Select(i => (byte)i).ToArray());
        await using var stream = new RelayBufferingStream(inner);

        await stream.WriteAsync(new byte[10], Ct);
        await stream.WriteAsync(new byte[20], Ct);
        int read = await stream.ReadAsync(new byte[7], Ct);

        Assert.Equal([10, 20], inner.Writes);
        Assert.Equal([7], inner.ReadRequests);
        Assert.Equal(7, read);
    }

    [Fact]
    public async Task BufferWrites_RecordsOfOneBatchLeaveInOneSendAtFlush_InOrder()
    {
        var inner = new CountingStream([]);
        await using var stream = new RelayBufferingStream(inner) { BufferWrites = true };

        await stream.WriteAsync(Filled(16_389, 1), Ct);
        await stream.WriteAsync(Filled(16_389, 2), Ct);
        await stream.WriteAsync(Filled(100, 3), Ct);
        Assert.Empty(inner.Writes);
        await stream.FlushAsync(Ct);

        Assert.Equal([16_389 + 16_389 + 100], inner.Writes);
        Assert.Equal([.. Filled(16_389, 1), .. Filled(16_389, 2), .. Filled(100, 3)], inner.Written.ToArray());
    }

    [Fact]
    public async Task BufferWrites_ABatchOver64KiB_SendsWhatIsHeldFirst()
    {
        var inner = new CountingStream([]);
        await using var stream = new RelayBufferingStream(inner) { BufferWrites = true };

        for (int i = 0; i < 5; i++)
        {
            await stream.WriteAsync(Filled(16_389, (byte)i), Ct);
        }

        await stream.FlushAsync(Ct);

        Assert.Equal([3 * 16_389, 2 * 16_389], inner.Writes);
        Assert.Equal(Enumerable.Range(0, 5).SelectMany(i => Filled(16_389, (byte)i)).ToArray(), inner.Written.ToArray());
    }

    [Fact]
    public async Task BufferReads_OneLargeReadServesManySmallOnes_InOrder()
    {
        byte[] data = Enumerable.Range(0, 40_000).Select(i => (byte)(i * 7)).ToArray();
        var inner = new CountingStream(data);
        await using var stream = new RelayBufferingStream(inner) { BufferReads = true };

        var received = new List<byte>();
        byte[] buffer = new byte[5];
        while (received.Count < data.Length)
        {
            int n = await stream.ReadAsync(buffer, Ct);
            Assert.True(n > 0);
            received.AddRange(buffer.AsSpan(0, n).ToArray());
        }

        Assert.Equal(data, received.ToArray());
        Assert.Equal([64 * 1024], inner.ReadRequests);
        Assert.Equal(0, await stream.ReadAsync(buffer, Ct));
    }

    [Fact]
    public async Task BufferWrites_TheCloseNotifyOfATlsShutdownStillLeaves()
    {
        // The gateway ends a session with SslStream.ShutdownAsync (TLS close_notify) and then a TCP shutdown; the alert
        // must not stay held here, or the peer sees a truncated TLS stream instead of a clean close.
        using var listener = new System.Net.Sockets.TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        using var client = new System.Net.Sockets.TcpClient();
        await client.ConnectAsync(System.Net.IPAddress.Loopback, ((System.Net.IPEndPoint)listener.LocalEndpoint).Port, Ct);
        using System.Net.Sockets.TcpClient accepted = await listener.AcceptTcpClientAsync(Ct);
        var transport = new RelayBufferingStream(accepted.GetStream());
        await using Support.TlsPair pair = await Support.TlsPair.HandshakeAsync(client.GetStream(), transport, Support.TestCertificates.Server, Ct);
        transport.BufferReads = true;
        transport.BufferWrites = true;

        await GatewaySession.ShutdownTlsAsync(pair.Server, transport);

        // The TCP connection stays open: only the close_notify can end this read.
        Assert.Equal(0, await pair.Client.ReadAsync(new byte[1], Ct).AsTask().WaitAsync(TimeSpan.FromSeconds(5), Ct));
    }

    private static byte[] Filled(int length, byte value) => Enumerable.Repeat(value, length).ToArray();

    /// <summary>Records each write and each read request; reads serve <c>source</c> as fast as asked.</summary>
    private sealed class CountingStream(byte[] source) : Stream
    {
        private int _position;

        public List<int> Writes { get; } = [];

        public List<int> ReadRequests { get; } = [];

        public MemoryStream Written { get; } = new();

        public override bool CanRead => true;

        public override bool CanSeek => false;

        public override bool CanWrite => true;

        public override long Length => throw new NotSupportedException();

        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            ReadRequests.Add(buffer.Length);
            int n = Math.Min(buffer.Length, source.Length - _position);
            source.AsSpan(_position, n).CopyTo(buffer.Span);
            _position += n;
            return ValueTask.FromResult(n);
        }

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Writes.Add(buffer.Length);
            Written.Write(buffer.Span);
            return ValueTask.CompletedTask;
        }

        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

        public override void Flush()
        {
        }

        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
