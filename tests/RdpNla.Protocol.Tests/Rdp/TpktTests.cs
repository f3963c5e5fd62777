using System.Buffers;
using CsCheck;
using RdpNla.Protocol.Rdp;

namespace RdpNla.Protocol.Tests.Rdp;

public class TpktTests
{
    private static readonly byte[] s_request = RdpTestData.Load(RdpTestData.SpecConnectionRequest);
    private static readonly byte[] s_trailing = RdpTestData.Load(RdpTestData.SpecConnectionConfirm);

    [Fact]
    public void TryReadFrame_EveryTwoSegmentSplitWithTrailingFrame_ReturnsFirstFrame()
    {
        byte[] stream = [.. s_request, .. s_trailing];
        for (int split = 0; split <= stream.Length; split++)
        {
            ReadOnlySequence<byte> buffer = RdpTestData.Segmented(stream[..split], stream[split..]);
            Assert.Equal(OperationStatus.Done, Tpkt.TryReadFrame(buffer, out int frameLength));
            Assert.Equal(s_request.Length, frameLength);
        }
    }

    [Fact]
    public void TryReadFrame_OneByteAtATime_NeedsMoreDataUntilTheFrameIsComplete()
    {
        byte[] stream = [.. s_request, .. s_trailing];
        for (int received = 0; received <= stream.Length; received++)
        {
            ReadOnlySequence<byte> buffer = RdpTestData.OneBytePerSegment(stream.AsSpan(0, received));
            OperationStatus status = Tpkt.TryReadFrame(buffer, out int frameLength);
            if (received < s_request.Length)
            {
                Assert.Equal(OperationStatus.NeedMoreData, status);
                Assert.Equal(received >= Tpkt.HeaderLength ? s_request.Length : 0, frameLength);
            }
            else
            {
                Assert.Equal(OperationStatus.Done, status);
                Assert.Equal(s_request.Length, frameLength);
            }

            Assert.Equal(status, Tpkt.TryReadFrame(stream.AsSpan(0, received), out int spanLength));
            Assert.Equal(frameLength, spanLength);
        }
    }

    [Fact]
    public void TryReadFrame_RandomChunksOfManyFrames_ReassemblesEveryFrame()
    {
        byte[][] frames = [.. RdpTestData.ConnectionRequests.Select(RdpTestData.Load), .. RdpTestData.ConnectionConfirms.Select(RdpTestData.Load)];
        byte[] stream = [.. frames.SelectMany(f => f)];
        Gen.Int[1, 20].Array[1, 200].Sample(chunkSizes =>
        {
            var received = new List<byte>();
            var output = new List<byte[]>();
            int position = 0;
            int chunk = 0;
            while (position < stream.Length)
            {
                int size = Math.Min(chunkSizes[chunk++ % chunkSizes.Length], stream.Length - position);
                received.AddRange(stream.AsSpan(position, size));
                position += size;
                while (Tpkt.TryReadFrame(new ReadOnlySequence<byte>(received.ToArray()), out int frameLength) == OperationStatus.Done)
                {
                    output.Add([.. received.Take(frameLength)]);
                    received.RemoveRange(0, frameLength);
                }
            }

            Assert.Empty(received);
            Assert.Equal(frames, output);
        });
    }

    [Theory]
    [InlineData("16", OperationStatus.InvalidData)] // TLS ClientHello sent to the X.224 port: rejected at the first byte
    [InlineData("16 03 01 00 f1", OperationStatus.InvalidData)]
    [InlineData("47 45 54 20", OperationStatus.InvalidData)] // "GET "
    [InlineData("03 01", OperationStatus.InvalidData)] // reserved byte not 0
    [InlineData("03 00 00 00", OperationStatus.InvalidData)]
    [InlineData("03 00 00 04", OperationStatus.InvalidData)]
    [InlineData("03 00 00 06 02 f0 80", OperationStatus.InvalidData)]
    [InlineData("", OperationStatus.NeedMoreData)]
    [InlineData("03", OperationStatus.NeedMoreData)]
    [InlineData("03 00 00", OperationStatus.NeedMoreData)]
    [InlineData("03 00 00 07 02 f0", OperationStatus.NeedMoreData)]
    [InlineData("03 00 00 07 02 f0 80", OperationStatus.Done)]
    [InlineData("03 00 ff ff", OperationStatus.NeedMoreData)]
    public void TryReadFrame_HeaderCases_ReturnExpectedStatus(string hex, OperationStatus expected)
    {
        byte[] bytes = RdpTestData.Hex(hex);
        Assert.Equal(expected, Tpkt.TryReadFrame(new ReadOnlySequence<byte>(bytes), out int frameLength));
        Assert.Equal(expected, Tpkt.TryReadFrame(bytes, out int spanLength));
        Assert.Equal(frameLength, spanLength);
        if (expected == OperationStatus.InvalidData)
        {
            Assert.Equal(0, frameLength);
        }
    }

    [Fact]
    public void TryReadFrame_RandomBytes_NeverThrows()
    {
        Gen.Byte.Array[0, 16].Sample(bytes =>
        {
            OperationStatus status = Tpkt.TryReadFrame(new ReadOnlySequence<byte>(bytes), out int frameLength);
            Assert.True(status is OperationStatus.Done or OperationStatus.NeedMoreData or OperationStatus.InvalidData);
            Assert.InRange(frameLength, 0, Tpkt.MaximumFrameLength);
        });
    }

    [Fact]
    public void Wrap_Payload_RoundTripsThroughGetPayload()
    {
        Gen.Byte.Array[3, 600].Sample(payload =>
        {
            byte[] frame = Tpkt.Wrap(payload);
            Assert.Equal([0x03, 0x00, (byte)(frame.Length >> 8), (byte)frame.Length], frame[..4]);
            Assert.Equal(payload, Tpkt.GetPayload(frame).ToArray());
        });
    }

    [Theory]
    [InlineData("03 00 00 0c 02 f0 80")] // announces more than the frame holds
    [InlineData("03 00 00 07 02 f0 80 00")] // frame longer than announced
    [InlineData("03 00 00 06 02 f0")]
    [InlineData("02 00 00 07 02 f0 80")]
    public void GetPayload_InconsistentFrame_ThrowsMalformed(string hex)
    {
        var exception = Assert.Throws<NlaProtocolException>(() => Tpkt.GetPayload(RdpTestData.Hex(hex)));
        Assert.Equal(NlaFailureReason.Malformed, exception.Reason);
    }

    [Fact]
    public void WriteHeader_OutOfRangeLength_Throws()
    {
        byte[] header = new byte[4];
        Assert.Throws<ArgumentOutOfRangeException>(() => Tpkt.WriteHeader(header, 6));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tpkt.WriteHeader(header, 65536));
        Assert.Throws<ArgumentOutOfRangeException>(() => Tpkt.Wrap(new byte[65532]));
        Tpkt.WriteHeader(header, 65535);
        Assert.Equal(RdpTestData.Hex("03 00 ff ff"), header);
    }
}
