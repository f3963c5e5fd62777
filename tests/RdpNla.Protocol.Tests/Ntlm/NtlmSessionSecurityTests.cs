using RdpNla.Protocol.Ntlm;

namespace RdpNla.Protocol.Tests.Ntlm;

public class NtlmSessionSecurityTests
{
    private static readonly byte[] s_key = Convert.FromHexString("00112233445566778899aabbccddeeff");

    [Fact]
    public void WrapUnwrap_BothDirectionsSeveralMessages_RoundTripWithIndependentSequenceNumbers()
    {
        using var client = new NtlmSessionSecurity(s_key, NtlmRole.Client);
        using var server = new NtlmSessionSecurity(s_key, NtlmRole.Server);

        for (int i = 0; i < 3; i++)
        {
            byte[] clientToken = client.Wrap([(byte)i, 1, 2, 3]);
            Assert.Equal([(byte)i, 1, 2, 3], server.Unwrap(clientToken));
            Assert.Equal((uint)i, BitConverter.ToUInt32(clientToken, 12));
        }

        byte[] serverToken = server.Wrap("hello"u8);

        Assert.Equal("hello"u8.ToArray(), client.Unwrap(serverToken));
        Assert.Equal(0u, BitConverter.ToUInt32(serverToken, 12));
        Assert.Equal((3u, 1u), (client.SendSequenceNumber, client.ReceiveSequenceNumber));
        Assert.Equal((1u, 3u), (server.SendSequenceNumber, server.ReceiveSequenceNumber));
    }

    [Fact]
    public void Wrap_EmptyMessage_IsSignatureOnly()
    {
        using var client = new NtlmSessionSecurity(s_key, NtlmRole.Client);
        using var server = new NtlmSessionSecurity(s_key, NtlmRole.Server);

        byte[] token = client.Wrap([]);

        Assert.Equal(16, token.Length);
        Assert.Empty(server.Unwrap(token));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(5)]
    [InlineData(13)]
    [InlineData(20)]
    public void Unwrap_TamperedByte_ThrowsDecryptionFailed(int index)
    {
        using var client = new NtlmSessionSecurity(s_key, NtlmRole.Client);
        using var server = new NtlmSessionSecurity(s_key, NtlmRole.Server);
        byte[] token = client.Wrap("some sealed data"u8);
        token[index] ^= 0x01;

        var exception = Assert.Throws<NlaProtocolException>(() => server.Unwrap(token));
        Assert.Equal(NlaFailureReason.DecryptionFailed, exception.Reason);
    }

    [Fact]
    public void Unwrap_Replay_ThrowsDecryptionFailed()
    {
        using var client = new NtlmSessionSecurity(s_key, NtlmRole.Client);
        using var server = new NtlmSessionSecurity(s_key, NtlmRole.Server);
        byte[] token = client.Wrap("once"u8);
        server.Unwrap(token);

        Assert.Throws<NlaProtocolException>(() => server.Unwrap(token));
    }

    [Fact]
    public void Unwrap_OwnToken_ThrowsBecauseDirectionKeysDiffer()
    {
        using var client = new NtlmSessionSecurity(s_key, NtlmRole.Client);
        using var otherClient = new NtlmSessionSecurity(s_key, NtlmRole.Client);

        Assert.Throws<NlaProtocolException>(() => otherClient.Unwrap(client.Wrap("x"u8)));
    }

    [Fact]
    public void Unwrap_ShorterThanSignature_ThrowsDecryptionFailed()
    {
        using var server = new NtlmSessionSecurity(s_key, NtlmRole.Server);

        var exception = Assert.Throws<NlaProtocolException>(() => server.Unwrap(new byte[15]));
        Assert.Equal(NlaFailureReason.DecryptionFailed, exception.Reason);
    }

    [Fact]
    public void GetMicVerifyMic_ThenResetEachDirection_KeepsSequenceNumbersAndStaysInSync()
    {
        using var client = new NtlmSessionSecurity(s_key, NtlmRole.Client);
        using var server = new NtlmSessionSecurity(s_key, NtlmRole.Server);
        byte[] mechList = Convert.FromHexString("300c060a2b06010401823702020a");

        // SPNEGO: each direction's RC4 state restarts right after its mechListMIC (docs/interop.md#mic-and-mechlistmic). The client
        // may wrap pubKeyAuth before it has the server's MIC (the three-leg exchange).
        byte[] clientMic = client.GetMic(mechList);
        client.ResetSendCipher();
        byte[] token = client.Wrap("pubKeyAuth"u8);
        Assert.True(server.VerifyMic(mechList, clientMic));
        server.ResetReceiveCipher();
        Assert.True(client.VerifyMic(mechList, server.GetMic(mechList)));
        client.ResetReceiveCipher();
        server.ResetSendCipher();

        Assert.Equal(1u, BitConverter.ToUInt32(token, 12));
        Assert.Equal("pubKeyAuth"u8.ToArray(), server.Unwrap(token));
        Assert.Equal((2u, 1u), (client.SendSequenceNumber, client.ReceiveSequenceNumber));
    }

    [Fact]
    public void ResetSendCipher_OnOneSideOnly_BreaksUnwrap()
    {
        using var client = new NtlmSessionSecurity(s_key, NtlmRole.Client);
        using var server = new NtlmSessionSecurity(s_key, NtlmRole.Server);
        server.Unwrap(client.Wrap("first"u8));
        client.ResetSendCipher();

        Assert.Throws<NlaProtocolException>(() => server.Unwrap(client.Wrap("second"u8)));
    }

    [Fact]
    public void VerifyMic_WrongMic_ReturnsFalse()
    {
        using var client = new NtlmSessionSecurity(s_key, NtlmRole.Client);
        using var server = new NtlmSessionSecurity(s_key, NtlmRole.Server);
        byte[] mic = client.GetMic("m"u8);
        mic[6] ^= 0x80;

        Assert.False(server.VerifyMic("m"u8, mic));
        Assert.False(server.VerifyMic("m"u8, new byte[3]));
    }

    [Fact]
    public void Dispose_ThenWrap_ThrowsObjectDisposed()
    {
        var client = new NtlmSessionSecurity(s_key, NtlmRole.Client);
        client.Dispose();

        Assert.Throws<ObjectDisposedException>(() => client.Wrap("x"u8));
    }
}
