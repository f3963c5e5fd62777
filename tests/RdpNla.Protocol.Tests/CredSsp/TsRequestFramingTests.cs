using System.Buffers;
using RdpNla.Protocol.CredSsp;
using static RdpNla.Protocol.Tests.CredSsp.HexVector;

namespace RdpNla.Protocol.Tests.CredSsp;

public class TsRequestFramingTests
{
    private const int Max = 64 * 1024;

    public static TheoryData<string> Messages =>
    [
        "credssp/tsrequest-ntlm-negotiate-v6.hex", // 30 37: short form
        "credssp/tsrequest-ntlm-challenge-v6.hex", // 30 81 88
        "credssp/tsrequest-ntlm-authenticate-pubkeyauth-v2.hex", // 30 82 01 59
    ];

    [Theory]
    [MemberData(nameof(Messages))]
    public void TryGetMessageLength_EveryPrefix_NeedMoreDataUntilComplete(string vector)
    {
        byte[] message = Load(vector);
        for (int length = 0; length < message.Length; length++)
        {
            OperationStatus status = TsRequest.TryGetMessageLength(new ReadOnlySequence<byte>(message, 0, length), Max, out _);
            Assert.Equal(OperationStatus.NeedMoreData, status);
        }

        Assert.Equal(OperationStatus.Done, TsRequest.TryGetMessageLength(new ReadOnlySequence<byte>(message), Max, out int messageLength));
        Assert.Equal(message.Length, messageLength);
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void TryGetMessageLength_SplitAtEveryOffset_Done(string vector)
    {
        byte[] message = Load(vector);
        byte[] stream = [.. message, .. Load("credssp/tsrequest-pubkeyauth-v6.hex")];
        for (int split = 0; split <= stream.Length; split++)
        {
            ReadOnlySequence<byte> buffer = Segments.Create(stream[..split], stream[split..]);

            Assert.Equal(OperationStatus.Done, TsRequest.TryGetMessageLength(buffer, Max, out int messageLength));
            Assert.Equal(message.Length, messageLength);
        }
    }

    [Theory]
    [MemberData(nameof(Messages))]
    public void TryGetMessageLength_OneByteSegmentsArrivingOneAtATime_DoneExactlyAtTheEnd(string vector)
    {
        byte[] message = Load(vector);
        for (int received = 0; received <= message.Length; received++)
        {
            ReadOnlySequence<byte> buffer = Segments.Create([.. message[..received].Select(b => new[] { b })]);
            OperationStatus status = TsRequest.TryGetMessageLength(buffer, Max, out int messageLength);

            Assert.Equal(received == message.Length ? OperationStatus.Done : OperationStatus.NeedMoreData, status);
            if (status == OperationStatus.Done || received >= HeaderLength(message))
            {
                Assert.Equal(message.Length, messageLength);
            }
        }
    }

    [Theory]
    [InlineData("30 82 ff fb", 65535)] // 0xFFFB + 4: fits in 64 KiB
    [InlineData("30 84 00 00 00 05", 11)] // non-minimal long form (BER) is accepted
    public void TryGetMessageLength_HeaderOnlyWithinLimit_NeedMoreDataWithKnownLength(string header, int expectedLength)
    {
        OperationStatus status = TsRequest.TryGetMessageLength(new ReadOnlySequence<byte>(Hex(header)), Max, out int messageLength);

        Assert.Equal(OperationStatus.NeedMoreData, status);
        Assert.Equal(expectedLength, messageLength);
    }

    [Theory]
    [InlineData("30 83 01 00 00")] // 65536 + 5 > 64 KiB
    [InlineData("30 82 ff fd")] // 65533 + 4 = 65537
    [InlineData("30 84 7f ff ff ff")] // 2 GiB
    [InlineData("30 84 ff ff ff ff")] // 4 GiB: larger than int
    [InlineData("30 88 ff ff ff ff ff ff ff ff")] // 2^64 - 1
    [InlineData("30 84 01")] // decided after the first length octet: at least 16 MiB
    public void TryGetMessageLength_Oversize_RejectedFromHeaderBeforeAnyContent(string header)
    {
        OperationStatus status = TsRequest.TryGetMessageLength(
            new ReadOnlySequence<byte>(Hex(header)), Max, out int messageLength, out NlaFailureReason reason);

        Assert.Equal(OperationStatus.InvalidData, status);
        Assert.Equal(NlaFailureReason.MessageTooLarge, reason);
        Assert.Equal(0, messageLength);
    }

    [Fact]
    public void TryGetMessageLength_ExactlyMax_Done()
    {
        byte[] message = new byte[300];
        message[0] = 0x30;
        message[1] = 0x82;
        message[2] = 0x01;
        message[3] = 0x28; // 296 + 4 = 300

        Assert.Equal(OperationStatus.Done, TsRequest.TryGetMessageLength(new ReadOnlySequence<byte>(message), 300, out int length));
        Assert.Equal(300, length);
        Assert.Equal(OperationStatus.InvalidData, TsRequest.TryGetMessageLength(new ReadOnlySequence<byte>(message), 299, out _, out NlaFailureReason reason));
        Assert.Equal(NlaFailureReason.MessageTooLarge, reason);
    }

    [Theory]
    [InlineData("03 00 00 13")] // TPKT
    [InlineData("31 03 02 01 06")] // SET
    [InlineData("a0 03 02 01 06")] // context tag
    [InlineData("00")]
    [InlineData("30 80 a0 03 02 01 06 00 00")] // indefinite length
    [InlineData("30 ff 00")] // reserved length octet
    public void TryGetMessageLength_NotADerSequenceHeader_InvalidDataMalformed(string hex)
    {
        OperationStatus status = TsRequest.TryGetMessageLength(new ReadOnlySequence<byte>(Hex(hex)), Max, out _, out NlaFailureReason reason);

        Assert.Equal(OperationStatus.InvalidData, status);
        Assert.Equal(NlaFailureReason.Malformed, reason);
    }

    [Fact]
    public void TryGetMessageLength_EmptyBuffer_NeedMoreData()
    {
        Assert.Equal(OperationStatus.NeedMoreData, TsRequest.TryGetMessageLength(ReadOnlySequence<byte>.Empty, Max, out int length));
        Assert.Equal(0, length);
    }

    [Fact]
    public void TryGetMessageLength_MaxBelowTwo_ThrowsArgumentOutOfRange()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => TsRequest.TryGetMessageLength(ReadOnlySequence<byte>.Empty, 1, out _));
    }

    private static int HeaderLength(byte[] message) => message[1] < 0x80 ? 2 : 2 + (message[1] & 0x7F);

    private sealed class Segments : ReadOnlySequenceSegment<byte>
    {
        private Segments(byte[] data, long runningIndex)
        {
            Memory = data;
            RunningIndex = runningIndex;
        }

        public static ReadOnlySequence<byte> Create(params byte[][] parts)
        {
            if (parts.Length == 0)
            {
                return ReadOnlySequence<byte>.Empty;
            }

            var first = new Segments(parts[0], 0);
            Segments last = first;
            foreach (byte[] part in parts.Skip(1))
            {
                var next = new Segments(part, last.RunningIndex + last.Memory.Length);
                last.Next = next;
                last = next;
            }

            return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
        }
    }
}
