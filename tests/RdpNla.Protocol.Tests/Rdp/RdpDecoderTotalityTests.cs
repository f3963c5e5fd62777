using System.Buffers;
using CsCheck;
using RdpNla.Protocol.Rdp;

namespace RdpNla.Protocol.Tests.Rdp;

/// <summary>Every decoder is total: any input gives a value or an NlaProtocolException, never another exception.</summary>
public class RdpDecoderTotalityTests
{
    private static readonly byte[][] s_seeds =
    [
        .. RdpTestData.ConnectionRequests.Select(RdpTestData.Load),
        .. RdpTestData.ConnectionConfirms.Select(RdpTestData.Load),
    ];

    /// <summary>Random bytes, random frames with a consistent TPKT header and LI, random X.224 Data frames, and mutated test vectors.</summary>
    private static readonly Gen<byte[]> s_inputs = Gen.OneOf(
        Gen.Byte.Array[0, 300],
        Gen.Select(Gen.Byte[0x00, 0x7F], Gen.Byte.Array[0, 120]).Select((choice, rest) => Tpkt.Wrap([0x02, 0xF0, 0x80, choice, .. rest])),
        Gen.Select(Gen.Byte[0xD0, 0xE0], Gen.Byte.Array[5, 120]).Select((code, rest) =>
        {
            byte[] frame = [0x03, 0x00, 0, 0, (byte)(rest.Length + 1), code, .. rest];
            frame[2] = (byte)(frame.Length >> 8);
            frame[3] = (byte)frame.Length;
            return frame;
        }),
        Gen.Select(Gen.Int[0, s_seeds.Length - 1], Gen.Select(Gen.Int[0, 400], Gen.Byte).Array[1, 4], Gen.Int[-3, 3]).Select((seed, mutations, resize) =>
        {
            byte[] bytes = [.. s_seeds[seed]];
            foreach ((int position, byte value) in mutations)
            {
                bytes[position % bytes.Length] = value;
            }

            return resize switch
            {
                < 0 => bytes[..Math.Max(0, bytes.Length + resize)],
                > 0 => [.. bytes, .. new byte[resize]],
                _ => bytes,
            };
        }));

    [Fact]
    public void Decoders_AnyInput_ReturnValueOrThrowNlaProtocolException()
    {
        s_inputs.Sample(bytes =>
        {
            Total(() => X224ConnectionRequest.Decode(bytes), request => X224ConnectionRequest.Decode(request.Encode()));
            Total(() => X224ConnectionConfirm.Decode(bytes), confirm => Assert.Equal(confirm, X224ConnectionConfirm.Decode(confirm.Encode())));
            Total(() => RdpNegRequest.Decode(bytes), _ => { });
            Total(() => RdpNegData.Decode(bytes), _ => { });
            Total(() => RdpNegCorrelationInfo.Decode(bytes), _ => { });
            Total(() => EarlyUserAuthorizationResult.Decode(bytes), _ => { });
            Total(() => McsDomainPdu.ClassifyClientFrame(bytes), _ => { });
            Total(() => McsConnectPdu.Decode(bytes), _ => { });
            Total(() => { using ClientInfoPdu info = ClientInfoPdu.Decode(bytes); return info.UserName; }, _ => { });
            Total(() => Tpkt.GetPayload(bytes).Length, _ => { });
            _ = Tpkt.TryReadFrame(new ReadOnlySequence<byte>(bytes), out _);
        }, iter: 20_000);
    }

    [Fact]
    public void Decode_ValidRequestsWithOneByteMutated_AreTotalAndDecodedValuesReencode()
    {
        foreach (string name in RdpTestData.ConnectionRequests)
        {
            byte[] vector = RdpTestData.Load(name);
            for (int position = 0; position < vector.Length; position++)
            {
                foreach (byte value in new byte[] { 0x00, 0x01, 0x06, 0x0A, 0x0D, 0x7F, 0xFF, (byte)(vector[position] ^ 0x01) })
                {
                    byte[] mutated = [.. vector];
                    mutated[position] = value;
                    Total(() => X224ConnectionRequest.Decode(mutated), request => X224ConnectionRequest.Decode(request.Encode()));
                }
            }

            for (int length = 0; length < vector.Length; length++)
            {
                Total(() => X224ConnectionRequest.Decode(vector.AsSpan(0, length)), _ => { });
            }
        }
    }

    private static void Total<T>(Func<T> decode, Action<T> onValue)
    {
        T value;
        try
        {
            value = decode();
        }
        catch (NlaProtocolException)
        {
            return;
        }

        onValue(value);
    }
}
