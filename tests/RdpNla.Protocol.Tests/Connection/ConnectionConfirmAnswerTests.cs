using RdpNla.Protocol.Connection;

namespace RdpNla.Protocol.Tests.Connection;

/// <summary>What a client reports when the answer to its Connection Request is no Connection Confirm.</summary>
public sealed class ConnectionConfirmAnswerTests
{
    [Theory]
    [InlineData("", ConnectionConfirmAnswerKind.Nothing, "", 0)]
    [InlineData("485454502F312E31", ConnectionConfirmAnswerKind.NotTpkt, "48545450", 0)] // "HTTP/1.1"
    [InlineData("160301", ConnectionConfirmAnswerKind.NotTpkt, "160301", 0)] // a TLS record, cut short
    [InlineData("0300", ConnectionConfirmAnswerKind.NotTpkt, "0300", 0)]
    [InlineData("03000800", ConnectionConfirmAnswerKind.ImplausibleLength, "03000800", 2048)]
    [InlineData("03000005", ConnectionConfirmAnswerKind.ImplausibleLength, "03000005", 5)]
    [InlineData("030000130ED0", ConnectionConfirmAnswerKind.Truncated, "030000130ED0", 19)]
    [InlineData("0300000902F0802180", ConnectionConfirmAnswerKind.McsDisconnectProviderUltimatum, "0300000902F0802180", 9)]
    [InlineData("0300000702F080FF", ConnectionConfirmAnswerKind.X224Data, "0300000702F080", 7)]
    [InlineData("0300000B06E00000000000", ConnectionConfirmAnswerKind.Malformed, "0300000B06E00000000000", 11)]
    public void Classify(string receivedHex, ConnectionConfirmAnswerKind kind, string frameHex, int announced)
    {
        ConnectionConfirmAnswer answer = ConnectionConfirmAnswer.Classify(Convert.FromHexString(receivedHex), 1024);

        Assert.Equal((kind, frameHex, announced), (answer.Kind, Convert.ToHexString(answer.Frame.Span), answer.AnnouncedLength));
    }

    [Fact]
    public void AnyBytes_Classify_NeverThrow()
    {
        var random = new Random(23);
        for (int i = 0; i < 5000; i++)
        {
            byte[] bytes = new byte[random.Next(24)];
            random.NextBytes(bytes);
            if (bytes.Length > 0 && random.Next(2) == 0)
            {
                bytes[0] = 0x03;
            }

            ConnectionConfirmAnswer.Classify(bytes, random.Next(7, 64));
        }
    }
}
