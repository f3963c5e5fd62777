using System.Buffers.Binary;
using Text = System.Text;
using RdpNla.Fuzz;
using RdpNla.Protocol.Rdp;

namespace RdpNla.Protocol.Tests.Rdp;

public class McsConnectPduTests
{
    // The blocks the gateway-pdus fuzz target is seeded with (fuzz/RdpNla.Fuzz.Targets/Seeds.cs).
    private static byte[] ClientCore(SecurityProtocols selected) => Seeds.ClientCoreBlock(selected);

    private static byte[] ServerCore(SecurityProtocols requested) => Seeds.ServerCoreBlock(requested);

    private static byte[] Block(ushort type, int length) => Seeds.GccBlock(type, length);

    [Fact]
    public void ConnectInitial_RoundTrip_FindsBlocksAndRewritesServerSelectedProtocol()
    {
        byte[] frame = McsConnectPdu.EncodeConnectInitial([ClientCore(SecurityProtocols.Hybrid), Block(GccBlockType.ClientSecurity, 12), Block(GccBlockType.ClientNetwork, 8)]);

        McsConnectPdu pdu = McsConnectPdu.Decode(frame);
        byte[] rewritten = pdu.WithServerSelectedProtocol(SecurityProtocols.Ssl);
        McsConnectPdu again = McsConnectPdu.Decode(rewritten);

        Assert.False(pdu.IsResponse);
        Assert.Equal([GccBlockType.ClientCore, GccBlockType.ClientSecurity, GccBlockType.ClientNetwork], pdu.Blocks.Select(b => b.Type));
        Assert.Equal(SecurityProtocols.Hybrid, pdu.ServerSelectedProtocol);
        Assert.Equal(SecurityProtocols.Ssl, again.ServerSelectedProtocol);
        Assert.Equal(frame.Length, rewritten.Length);
        Assert.Equal(1, frame.Zip(rewritten).Count(p => p.First != p.Second)); // one byte differs (2 -> 1)
    }

    [Fact]
    public void ConnectResponse_RoundTrip_RewritesClientRequestedProtocols()
    {
        byte[] frame = McsConnectPdu.EncodeConnectResponse([ServerCore(SecurityProtocols.Ssl | SecurityProtocols.Hybrid | SecurityProtocols.HybridEx), Block(GccBlockType.ServerNetwork, 8), Block(GccBlockType.ServerSecurity, 12)]);

        McsConnectPdu pdu = McsConnectPdu.Decode(frame);
        McsConnectPdu again = McsConnectPdu.Decode(pdu.WithClientRequestedProtocols(SecurityProtocols.Ssl | SecurityProtocols.Hybrid));

        Assert.True(pdu.IsResponse);
        Assert.Equal(SecurityProtocols.Ssl | SecurityProtocols.Hybrid | SecurityProtocols.HybridEx, pdu.ClientRequestedProtocols);
        Assert.Equal(SecurityProtocols.Ssl | SecurityProtocols.Hybrid, again.ClientRequestedProtocols);
        Assert.Equal(1u, again.ServerEarlyCapabilityFlags);
        Assert.Throws<InvalidOperationException>(() => pdu.WithServerSelectedProtocol(SecurityProtocols.Ssl));
    }

    [Fact]
    public void ConnectInitial_ClientCoreTooShortForServerSelectedProtocol_IsRefused()
    {
        byte[] frame = McsConnectPdu.EncodeConnectInitial([Block(GccBlockType.ClientCore, 132), Block(GccBlockType.ClientNetwork, 8)]);

        NlaProtocolException error = Assert.Throws<NlaProtocolException>(() => McsConnectPdu.Decode(frame));

        Assert.Equal(NlaFailureReason.Malformed, error.Reason);
        Assert.Contains("too few to hold serverSelectedProtocol", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ConnectInitial_TwoClientCoreBlocks_IsRefused()
    {
        // The second block would carry a serverSelectedProtocol that a relay rewriting the first one never touched.
        byte[] frame = McsConnectPdu.EncodeConnectInitial([ClientCore(SecurityProtocols.Hybrid), Block(GccBlockType.ClientNetwork, 8), ClientCore(SecurityProtocols.Ssl)]);

        NlaProtocolException error = Assert.Throws<NlaProtocolException>(() => McsConnectPdu.Decode(frame));

        Assert.Equal(NlaFailureReason.Malformed, error.Reason);
        Assert.Contains("more than one client core data block", error.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void ConnectInitial_NoClientCoreBlock_IsRefused_ButAResponseNeedsNone()
    {
        Assert.Throws<NlaProtocolException>(() => McsConnectPdu.Decode(McsConnectPdu.EncodeConnectInitial([Block(GccBlockType.ClientNetwork, 8)])));

        Assert.True(McsConnectPdu.Decode(McsConnectPdu.EncodeConnectResponse([Block(GccBlockType.ServerNetwork, 8)])).IsResponse);
    }

    [Fact]
    public void Decode_EveryTruncationAndEveryByteFlip_ReturnsOrThrowsNlaProtocolExceptionOnly()
    {
        byte[] frame = McsConnectPdu.EncodeConnectInitial([ClientCore(SecurityProtocols.Hybrid), Block(GccBlockType.ClientNetwork, 8)]);
        for (int length = 0; length < frame.Length; length++)
        {
            Assert.Throws<NlaProtocolException>(() => McsConnectPdu.Decode(frame.AsSpan(0, length)));
        }

        for (int i = 0; i < frame.Length; i++)
        {
            foreach (byte value in (byte[])[0x00, 0x7F, 0x80, 0xFF])
            {
                byte[] mutated = (byte[])frame.Clone();
                mutated[i] = value;
                try
                {
                    _ = McsConnectPdu.Decode(mutated);
                }
                catch (NlaProtocolException)
                {
                }
            }
        }
    }

    [Fact]
    public void Decode_BlockLengthPastTheEnd_Throws()
    {
        byte[] frame = McsConnectPdu.EncodeConnectInitial([Block(GccBlockType.ClientNetwork, 8)]);
        BinaryPrimitives.WriteUInt16LittleEndian(frame.AsSpan(frame.Length - 6), 9);

        NlaProtocolException error = Assert.Throws<NlaProtocolException>(() => McsConnectPdu.Decode(frame));
        Assert.Equal(NlaFailureReason.Malformed, error.Reason);
    }
}

public class ClientInfoPduTests
{
    private static ClientInfoPdu Sample(string password = "client-password") => new(
        1007, 1003, 0, 0, InfoFlags.Mouse | InfoFlags.Unicode | InfoFlags.LogonNotify,
        "LAB", "alice", Text.Encoding.Unicode.GetBytes(password), string.Empty, string.Empty, [0x02, 0x00, 0x1C, 0x00, 0x31, 0x00]);

    [Fact]
    public void RoundTrip_KeepsEveryField()
    {
        using ClientInfoPdu pdu = Sample();
        byte[] frame = pdu.Encode();

        Assert.True(ClientInfoPdu.IsClientInfo(frame));
        using ClientInfoPdu decoded = ClientInfoPdu.Decode(frame);
        Assert.Equal(1007, decoded.Initiator);
        Assert.Equal(1003, decoded.ChannelId);
        Assert.Equal("LAB", decoded.Domain);
        Assert.Equal("alice", decoded.UserName);
        Assert.Equal("client-password", Text.Encoding.Unicode.GetString(decoded.PasswordUtf16));
        Assert.Equal(pdu.Flags, decoded.Flags);
        Assert.Equal(pdu.ExtraInfo, decoded.ExtraInfo);
        Assert.Equal(frame, decoded.Encode());
    }

    [Fact]
    public void WithCredentials_SetsAutoLogonAndTheInjectedCredentials_AndAGrowingLengthUsesTwoBytePer()
    {
        using ClientInfoPdu pdu = Sample(string.Empty);
        using ClientInfoPdu injected = pdu.WithCredentials(string.Empty, "svc", Text.Encoding.Unicode.GetBytes(new string('x', 120)));

        using ClientInfoPdu decoded = ClientInfoPdu.Decode(injected.Encode());

        Assert.True(decoded.Flags.HasFlag(InfoFlags.AutoLogon));
        Assert.Equal("svc", decoded.UserName);
        Assert.Equal(string.Empty, decoded.Domain);
        Assert.Equal(new string('x', 120), Text.Encoding.Unicode.GetString(decoded.PasswordUtf16));
        Assert.Equal(pdu.ExtraInfo, decoded.ExtraInfo);
    }

    [Fact]
    public void Decode_Truncations_ThrowNlaProtocolException_AndIsClientInfoSaysFalse()
    {
        using ClientInfoPdu pdu = Sample();
        byte[] frame = pdu.Encode();
        for (int length = 0; length < frame.Length; length++)
        {
            Assert.Throws<NlaProtocolException>(() => ClientInfoPdu.Decode(frame.AsSpan(0, length)));
            Assert.False(ClientInfoPdu.IsClientInfo(frame.AsSpan(0, length)));
        }
    }

    [Fact]
    public void Decode_SecurityFlagsBesidesSecInfoPkt_OrASegment_IsRefused_AndTheClassifierStillSaysSendData()
    {
        using ClientInfoPdu pdu = Sample();
        byte[] frame = pdu.Encode();
        const int security = 4 + 3 + 1 + 2 + 2 + 1 + 1;
        byte[] exchange = (byte[])frame.Clone();
        exchange[security] |= 0x01; // SEC_EXCHANGE_PKT as well
        Assert.Equal(NlaFailureReason.Malformed, Assert.Throws<NlaProtocolException>(() => ClientInfoPdu.Decode(exchange)).Reason);
        Assert.Equal(ClientConnectionPdu.SendDataRequest, McsDomainPdu.ClassifyClientFrame(exchange));

        byte[] segment = (byte[])frame.Clone();
        segment[4 + 3 + 1 + 2 + 2] = 0x60; // dataPriority high, segmentation begin only
        Assert.Contains("segment", Assert.Throws<NlaProtocolException>(() => ClientInfoPdu.Decode(segment)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_EncryptedOrAnsi_IsRefused()
    {
        using ClientInfoPdu pdu = Sample();
        byte[] frame = pdu.Encode();
        const int security = 4 + 3 + 1 + 2 + 2 + 1 + 1; // TPKT, X.224, SDrq choice, initiator, channel, priority, one-byte PER length.
        byte[] encrypted = (byte[])frame.Clone();
        encrypted[security] |= (byte)ClientInfoPdu.SecEncrypt;
        Assert.Equal(NlaFailureReason.UnsupportedMechanism, Assert.Throws<NlaProtocolException>(() => ClientInfoPdu.Decode(encrypted)).Reason);

        byte[] ansi = (byte[])frame.Clone();
        ansi[security + 4 + 4] &= unchecked((byte)~(byte)InfoFlags.Unicode);
        Assert.Equal(NlaFailureReason.UnsupportedMechanism, Assert.Throws<NlaProtocolException>(() => ClientInfoPdu.Decode(ansi)).Reason);
    }
}

public class McsDomainPduTests
{
    private static byte[] Frame(params byte[] mcs) => Tpkt.Wrap([0x02, 0xF0, 0x80, .. mcs]);

    [Fact]
    public void ConnectionSequencePdus_AreClassified()
    {
        Assert.Equal(ClientConnectionPdu.ErectDomainRequest, McsDomainPdu.ClassifyClientFrame(Frame(0x04, 0x01, 0x00, 0x01, 0x00)));
        Assert.Equal(ClientConnectionPdu.AttachUserRequest, McsDomainPdu.ClassifyClientFrame(Frame(0x28)));
        Assert.Equal(ClientConnectionPdu.ChannelJoinRequest, McsDomainPdu.ClassifyClientFrame(Frame(0x38, 0x00, 0x06, 0x03, 0xEB)));
        using var info = new ClientInfoPdu(1007, 1003, 0, 0, InfoFlags.Unicode, "", "alice", [], "", "", []);
        Assert.Equal(ClientConnectionPdu.SendDataRequest, McsDomainPdu.ClassifyClientFrame(info.Encode()));
    }

    [Theory]
    [InlineData(new byte[] { 0x28, 0x00 })] // Attach User Request with a trailing byte
    [InlineData(new byte[] { 0x38, 0x00, 0x06, 0x03 })] // Channel Join Request one byte short
    [InlineData(new byte[] { 0x04, 0x01, 0x00, 0x05, 0x00 })] // Erect Domain with a PER integer past the end
    [InlineData(new byte[] { 0x04, 0x01, 0x00, 0x01, 0x00, 0x00 })] // Erect Domain with a trailing byte
    [InlineData(new byte[] { 0x29 })] // Attach User Request with low bits set
    [InlineData(new byte[] { 0x20 })] // Disconnect Provider Ultimatum (8): not a client PDU of this phase
    [InlineData(new byte[] { 0x7F, 0x65, 0x00 })] // another Connect Initial
    public void AnythingElse_IsRefused(byte[] mcs) =>
        Assert.Throws<NlaProtocolException>(() => McsDomainPdu.ClassifyClientFrame(Frame(mcs)));

    [Fact]
    public void NotAnX224DataTpdu_IsRefused()
    {
        Assert.Throws<NlaProtocolException>(() => McsDomainPdu.ClassifyClientFrame(Tpkt.Wrap([0x02, 0xF0, 0x00, 0x28])));
        Assert.Throws<NlaProtocolException>(() => McsDomainPdu.ClassifyClientFrame([0x03, 0x00, 0x00, 0x07, 0x02, 0xF0, 0x80]));
        Assert.Throws<NlaProtocolException>(() => McsDomainPdu.ClassifyClientFrame([0x44, 0x05, 0x00, 0x00, 0x00]));
    }
}
