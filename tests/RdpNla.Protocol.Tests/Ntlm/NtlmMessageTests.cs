using System.Buffers.Binary;
using System.Text;
using CsCheck;
using RdpNla.Protocol.Ntlm;

namespace RdpNla.Protocol.Tests.Ntlm;

public class NtlmMessageTests
{
    private static readonly byte[] s_specChallenge = Convert.FromHexString(
        "4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef00000000000000002400240044000000060070170000000f" +
        "53006500720076006500720002000c0044006f006d00610069006e0001000c0053006500720076006500720000000000");

    private static readonly byte[] s_specAuthenticate = Convert.FromHexString(
        "4e544c4d5353500003000000180018006c00000054005400840000000c000c00480000000800080054000000100010005c00000010001000" +
        "d8000000358288e20501280a0000000f44006f006d00610069006e00550073006500720043004f004d005000550054004500520086c35097" +
        "ac9cec102554764a57cccc19aaaaaaaaaaaaaaaa68cd0ab851e51c96aabc927bebef6a1c01010000000000000000000000000000aaaaaaaa" +
        "aaaaaaaa0000000002000c0044006f006d00610069006e0001000c005300650072007600650072000000000000000000c5dad2544fc97990" +
        "94ce1ce90bc9d03e");

    [Fact]
    public void NegotiateMessage_EncodeDecode_RoundTrips()
    {
        var message = new NtlmNegotiateMessage
        {
            Flags = NtlmClientContext.NegotiateMessageFlags | NegotiateFlags.OemDomainSupplied | NegotiateFlags.OemWorkstationSupplied,
            DomainName = "CONTOSO",
            Workstation = "WS01",
            Version = new NtlmVersion(10, 0, 26100),
        };

        byte[] encoded = message.Encode();
        NtlmNegotiateMessage decoded = NtlmNegotiateMessage.Decode(encoded);

        Assert.Equal(message.Flags, decoded.Flags);
        Assert.Equal("CONTOSO", decoded.DomainName);
        Assert.Equal("WS01", decoded.Workstation);
        Assert.Equal(message.Version, decoded.Version);
        Assert.Equal(encoded, decoded.Encode());
    }

    [Fact]
    public void NegotiateMessage_FreeRdpBytes_DecodesFlagsAndVersion()
    {
        // FreeRDP's NEGOTIATE (docs/interop.md#ntlm-flags): flags 0xE20882B7, Version 6.1.7601 rev 15, empty fields.
        byte[] bytes = Convert.FromHexString("4e544c4d5353500001000000b78208e2000000000000000000000000000000000601b11d0000000f");

        NtlmNegotiateMessage message = NtlmNegotiateMessage.Decode(bytes);

        Assert.Equal((NegotiateFlags)0xE20882B7, message.Flags);
        Assert.Equal(new NtlmVersion(6, 1, 7601), message.Version);

        // FreeRDP points empty fields at 0; Encode points them at the payload start (MS-NLMP §2.2.1.1 SHOULD). Only that differs.
        byte[] reencoded = message.Encode();
        Assert.Equal(bytes.AsSpan(0, 16).ToArray(), reencoded.AsSpan(0, 16).ToArray());
        Assert.Equal(bytes.AsSpan(32).ToArray(), reencoded.AsSpan(32).ToArray());
    }

    [Fact]
    public void NegotiateMessage_ShortForm_DecodesFlagsOnly()
    {
        byte[] bytes = Convert.FromHexString("4e544c4d535350000100000007820000");

        NtlmNegotiateMessage message = NtlmNegotiateMessage.Decode(bytes);

        Assert.Equal((NegotiateFlags)0x8207, message.Flags);
        Assert.Null(message.Version);
    }

    [Fact]
    public void ChallengeMessage_WithTimestamp_RoundTrips()
    {
        var message = new NtlmChallengeMessage
        {
            Flags = (NegotiateFlags)0xE28A8235,
            TargetName = "SERVER1",
            ServerChallenge = Convert.FromHexString("1122334455667788"),
            TargetInfo = new AvPairList(
            [
                AvPair.FromString(AvId.NbDomainName, "SERVER1"),
                AvPair.FromString(AvId.NbComputerName, "SERVER1"),
                AvPair.FromTimestamp(133_000_000_000_000_000),
            ]),
            Version = new NtlmVersion(10, 0, 17763),
        };

        byte[] encoded = message.Encode();
        NtlmChallengeMessage decoded = NtlmChallengeMessage.Decode(encoded);

        Assert.Equal(133_000_000_000_000_000, decoded.TargetInfo!.Timestamp);
        Assert.Equal("SERVER1", decoded.TargetName);
        Assert.Equal(encoded, decoded.Encode());
    }

    [Fact]
    public void AuthenticateMessage_WithMic_RoundTripsAndExposesMicOffset()
    {
        byte[] mic = Enumerable.Range(1, 16).Select(i => (byte)i).ToArray();
        var message = new NtlmAuthenticateMessage
        {
            Flags = (NegotiateFlags)0xE2888235,
            LmChallengeResponse = new byte[24],
            NtChallengeResponse = new byte[64],
            DomainName = "",
            UserName = "bob",
            Workstation = "WS",
            EncryptedRandomSessionKey = new byte[16],
            Version = NtlmVersion.Default,
            Mic = mic,
        };

        byte[] encoded = message.Encode();
        NtlmAuthenticateMessage decoded = NtlmAuthenticateMessage.Decode(encoded);

        Assert.Equal(72, decoded.MicOffset);
        Assert.Equal(mic, decoded.Mic!.Value.ToArray());
        Assert.Equal(mic, encoded.AsSpan(72, 16).ToArray());
        Assert.Equal(88u, BinaryPrimitives.ReadUInt32LittleEndian(encoded.AsSpan(32))); // DomainName offset: payload after the MIC
        Assert.Equal(encoded, decoded.Encode());
        Assert.All(NtlmAuthenticateMessage.CopyWithMicZeroed(encoded).AsSpan(72, 16).ToArray(), b => Assert.Equal(0, b));
    }

    [Fact]
    public void AuthenticateMessage_WithoutVersionField_HasNeitherVersionNorMic()
    {
        // A client that omits Version puts the payload at 64 (gss-ntlmssp #62): bytes 64.. are payload, not a MIC.
        var builder = new List<byte>();
        builder.AddRange("NTLMSSP\0"u8.ToArray());
        builder.AddRange(BitConverter.GetBytes(3u));
        void Field(ushort length, uint offset)
        {
            builder.AddRange(BitConverter.GetBytes(length));
            builder.AddRange(BitConverter.GetBytes(length));
            builder.AddRange(BitConverter.GetBytes(offset));
        }

        Field(0, 64); // LM
        Field(0, 64); // NT
        Field(0, 64); // domain
        Field(6, 64); // user "bob"
        Field(0, 70); // workstation
        Field(0, 70); // session key
        builder.AddRange(BitConverter.GetBytes((uint)(NegotiateFlags.Unicode | NegotiateFlags.Version)));
        builder.AddRange(Encoding.Unicode.GetBytes("bob"));

        NtlmAuthenticateMessage message = NtlmAuthenticateMessage.Decode(builder.ToArray());

        Assert.Equal("bob", message.UserName);
        Assert.Null(message.Version);
        Assert.Null(message.Mic);
    }

    [Fact]
    public void Decode_WrongSignature_ThrowsMalformed()
    {
        byte[] bytes = s_specChallenge.ToArray();
        bytes[0] = (byte)'X';

        var exception = Assert.Throws<NlaProtocolException>(() => NtlmChallengeMessage.Decode(bytes));
        Assert.Equal(NlaFailureReason.Malformed, exception.Reason);
    }

    [Fact]
    public void Decode_WrongMessageType_ThrowsUnexpectedMessage()
    {
        var exception = Assert.Throws<NlaProtocolException>(() => NtlmAuthenticateMessage.Decode(s_specChallenge));
        Assert.Equal(NlaFailureReason.UnexpectedMessage, exception.Reason);
    }

    [Fact]
    public void Decode_FieldOffsetPastEnd_ThrowsMalformed()
    {
        byte[] bytes = s_specAuthenticate.ToArray();
        BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(24), uint.MaxValue); // NtChallengeResponse offset

        var exception = Assert.Throws<NlaProtocolException>(() => NtlmAuthenticateMessage.Decode(bytes));
        Assert.Equal(NlaFailureReason.Malformed, exception.Reason);
    }

    [Fact]
    public void Decode_OddLengthUnicodeUserName_ThrowsMalformed()
    {
        byte[] bytes = s_specAuthenticate.ToArray();
        BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(36), 7); // UserName length

        Assert.Throws<NlaProtocolException>(() => NtlmAuthenticateMessage.Decode(bytes));
    }

    [Fact]
    public void AvPairList_DuplicateId_ThrowsMalformed()
    {
        byte[] bytes = Convert.FromHexString("0100020041000100020042000000" + "0000");

        var exception = Assert.Throws<NlaProtocolException>(() => AvPairList.Decode(bytes));
        Assert.Equal(NlaFailureReason.Malformed, exception.Reason);
    }

    [Fact]
    public void AvPairList_TooManyPairs_ThrowsMessageTooLarge()
    {
        var bytes = new List<byte>();
        for (int id = 0x100; id < 0x100 + AvPairList.MaxPairs + 1; id++)
        {
            bytes.AddRange(BitConverter.GetBytes((ushort)id));
            bytes.AddRange(BitConverter.GetBytes((ushort)0));
        }

        bytes.AddRange(new byte[4]);

        var exception = Assert.Throws<NlaProtocolException>(() => AvPairList.Decode(bytes.ToArray()));
        Assert.Equal(NlaFailureReason.MessageTooLarge, exception.Reason);
    }

    [Fact]
    public void AvPairList_MissingEol_ThrowsMalformed()
    {
        Assert.Throws<NlaProtocolException>(() => AvPairList.Decode(Convert.FromHexString("01000400410042")));
        Assert.Throws<NlaProtocolException>(() => AvPairList.Decode(Convert.FromHexString("0100020041004200")));
    }

    [Fact]
    public void AvPairList_TrailingBytesAfterEol_AreIgnored()
    {
        AvPairList list = AvPairList.Decode(Convert.FromHexString("01000200410000000000" + "00000000"), out int consumed);

        Assert.Equal(10, consumed);
        Assert.Equal("A", list.NbComputerName);
    }

    [Fact]
    public void AvPairList_Set_ReplacesInPlaceAndEncodeRoundTrips()
    {
        var list = new AvPairList([AvPair.FromString(AvId.NbDomainName, "D"), AvPair.FromFlags(MsvAvFlags.None), AvPair.FromString(AvId.NbComputerName, "C")]);

        list.Set(AvPair.FromFlags(MsvAvFlags.MicPresent));
        AvPairList decoded = AvPairList.Decode(list.Encode());

        Assert.Equal([AvId.NbDomainName, AvId.Flags, AvId.NbComputerName], decoded.Select(p => p.Id));
        Assert.Equal(MsvAvFlags.MicPresent, decoded.Flags);
        Assert.True(decoded.Remove(AvId.Flags));
        Assert.Null(decoded.Flags);
    }

    [Fact]
    public void AvPair_WrongTimestampLength_ThrowsMalformed()
    {
        AvPairList list = AvPairList.Decode(Convert.FromHexString("07000400000000000000" + "0000"));

        Assert.Throws<NlaProtocolException>(() => list.Timestamp);
    }

    [Fact]
    public void Decoders_RandomBytes_ReturnValueOrThrowNlaProtocolExceptionOnly()
    {
        Gen<byte[]> gen = Gen.OneOf(
            Gen.Byte.Array[0, 200],
            Gen.Byte.Array[0, 120].Select(tail => (byte[])[.. "NTLMSSP\0"u8, (byte)(tail.Length % 3 + 1), 0, 0, 0, .. tail]));

        gen.Sample(AssertAllDecodersTotal, iter: 20_000);
    }

    [Fact]
    public void Decoders_MutatedValidMessages_ReturnValueOrThrowNlaProtocolExceptionOnly()
    {
        byte[][] seeds = ValidMessages();
        Gen<byte[]> gen =
            from seed in Gen.Int[0, seeds.Length - 1]
            from mutations in Gen.Select(Gen.Int[0, 1000], Gen.Byte, Gen.Int[0, 3]).Array[1, 6]
            from truncate in Gen.Int[0, 400]
            select Mutate(seeds[seed], mutations, truncate);

        gen.Sample(AssertAllDecodersTotal, iter: 20_000);
    }

    private static byte[] Mutate(byte[] seed, (int Position, byte Value, int Kind)[] mutations, int truncate)
    {
        byte[] bytes = seed.ToArray();
        foreach ((int position, byte value, int kind) in mutations)
        {
            int at = position % bytes.Length;
            switch (kind)
            {
                case 0:
                    bytes[at] = value;
                    break;
                case 1:
                    bytes[at] ^= (byte)(1 << (value % 8));
                    break;
                case 2 when at + 1 < bytes.Length:
                    // Aim at length/offset fields: write an extreme 16-bit value.
                    BinaryPrimitives.WriteUInt16LittleEndian(bytes.AsSpan(at), (ushort)(value % 2 == 0 ? 0xFFFF : value));
                    break;
                default:
                    break;
            }
        }

        return truncate < bytes.Length ? bytes[..truncate] : bytes;
    }

    private static void AssertAllDecodersTotal(byte[] bytes)
    {
        AssertTotal(() => NtlmNegotiateMessage.Decode(bytes));
        AssertTotal(() => NtlmChallengeMessage.Decode(bytes));
        AssertTotal(() => NtlmAuthenticateMessage.Decode(bytes));
        AssertTotal(() => AvPairList.Decode(bytes));
        AssertTotal(() =>
        {
            NtlmChallengeMessage challenge = NtlmChallengeMessage.Decode(bytes);
            _ = challenge.TargetInfo?.Timestamp;
            _ = challenge.TargetInfo?.Flags;
            return challenge.Encode();
        });
    }

    private static void AssertTotal(Func<object> decode)
    {
        try
        {
            decode();
        }
        catch (NlaProtocolException)
        {
        }
    }

    private static byte[][] ValidMessages()
    {
        using NtlmClientContext client = NtlmTestPeers.Client();
        using NtlmServerContext server = NtlmTestPeers.Server();
        byte[] negotiate = client.GetOutgoingBlob([], out _)!;
        byte[] challenge = server.GetOutgoingBlob(negotiate, out _)!;
        byte[] authenticate = client.GetOutgoingBlob(challenge, out _)!;
        return [negotiate, challenge, authenticate, s_specChallenge, s_specAuthenticate, challenge.AsSpan(56).ToArray()];
    }
}
