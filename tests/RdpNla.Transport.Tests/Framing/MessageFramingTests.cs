using RdpNla.Protocol;
using RdpNla.Transport;

namespace RdpNla.Tests.Framing;

/// <summary>
/// <see cref="MessageFraming"/> over in-memory streams: a TPKT frame (T.123 §8) is read whole and nothing past it, and
/// the two ways a peer can end, between frames or inside one, are told apart.
/// </summary>
public class MessageFramingTests
{
    // A TPKT header announcing 7 bytes, then a 3-byte X.224 Data TPDU (X.224 §13.7), then one byte of the next layer.
    private static readonly byte[] FrameThenNext = [0x03, 0x00, 0x00, 0x07, 0x02, 0xF0, 0x80, 0xAA];

    [Fact]
    public async Task A_whole_frame_is_read_and_the_next_layers_byte_is_left()
    {
        using var stream = new MemoryStream(FrameThenNext);

        byte[]? frame = await MessageFraming.ReadTpktFrameOrEndAsync(stream, 64, TestContext.Current.CancellationToken);

        Assert.Equal(FrameThenNext[..7], frame);
        Assert.Equal(7, stream.Position);
    }

    [Fact]
    public async Task A_close_before_the_first_byte_is_an_ordinary_end_without_an_exception()
    {
        using var stream = new MemoryStream([]);

        byte[]? frame = await MessageFraming.ReadTpktFrameOrEndAsync(stream, 64, TestContext.Current.CancellationToken);

        Assert.Null(frame);
    }

    [Fact]
    public async Task The_throwing_reader_reports_the_same_close_as_PeerClosedException()
    {
        using var stream = new MemoryStream([]);

        await Assert.ThrowsAsync<PeerClosedException>(() => MessageFraming.ReadTpktFrameAsync(stream, 64, TestContext.Current.CancellationToken).AsTask());
    }

    [Theory]
    [InlineData(2)] // inside the header
    [InlineData(5)] // inside the body
    public async Task A_close_inside_a_frame_is_a_truncation_not_an_end(int bytesSent)
    {
        using var stream = new MemoryStream(FrameThenNext[..bytesSent]);

        EndOfStreamException ex = await Assert.ThrowsAnyAsync<EndOfStreamException>(() => MessageFraming.ReadTpktFrameOrEndAsync(stream, 64, TestContext.Current.CancellationToken).AsTask());

        Assert.IsNotType<PeerClosedException>(ex);
    }

    [Fact]
    public async Task A_frame_above_the_limit_is_refused_before_its_body_is_read()
    {
        using var stream = new MemoryStream(FrameThenNext);

        NlaProtocolException ex = await Assert.ThrowsAsync<NlaProtocolException>(() => MessageFraming.ReadTpktFrameOrEndAsync(stream, 6, TestContext.Current.CancellationToken).AsTask());

        Assert.Equal(NlaFailureReason.MessageTooLarge, ex.Reason);
        Assert.Equal(4, stream.Position);
    }
}
