namespace RdpNla.Protocol.Ntlm;

/// <summary>
/// NTLM session security with extended session security, KEY_EXCH and 128-bit keys, as CredSSP negotiates it
/// (MS-NLMP §3.4.3, §3.4.4.2, §3.4.6). One RC4 handle per direction keeps its keystream across messages; the send and
/// receive sequence numbers are independent, start at 0 and advance once per Wrap/GetMic and Unwrap/VerifyMic.
/// Not thread-safe: call in protocol order from one thread at a time. The NTLM contexts create it once AUTHENTICATE is
/// produced or verified (their SessionSecurity property).
/// </summary>
public sealed class NtlmSessionSecurity : IDisposable
{
    /// <summary>The size of an NTLMSSP_MESSAGE_SIGNATURE (MS-NLMP §2.2.2.9.1).</summary>
    public const int SignatureSize = 16;

    private const uint SignatureVersion = 1;

    private readonly byte[] _sendSigningKey;
    private readonly byte[] _receiveSigningKey;
    private readonly byte[] _sendSealingKey;
    private readonly byte[] _receiveSealingKey;
    private Rc4 _sendCipher;
    private Rc4 _receiveCipher;
    private bool _disposed;

    /// <summary>Derives the four keys from ExportedSessionKey for <paramref name="role"/> and creates the RC4 handles.</summary>
    /// <exception cref="ArgumentException"><paramref name="exportedSessionKey"/> is not 16 bytes.</exception>
    internal NtlmSessionSecurity(ReadOnlySpan<byte> exportedSessionKey, NtlmRole role)
    {
        NtlmRole peer = role == NtlmRole.Client ? NtlmRole.Server : NtlmRole.Client;
        Role = role;
        _sendSigningKey = NtlmCrypto.SignKey(exportedSessionKey, role);
        _receiveSigningKey = NtlmCrypto.SignKey(exportedSessionKey, peer);
        _sendSealingKey = NtlmCrypto.SealKey(exportedSessionKey, role);
        _receiveSealingKey = NtlmCrypto.SealKey(exportedSessionKey, peer);
        _sendCipher = new Rc4(_sendSealingKey);
        _receiveCipher = new Rc4(_receiveSealingKey);
    }

    /// <summary>The role these keys were derived for.</summary>
    internal NtlmRole Role { get; }

    /// <summary>The sequence number the next Wrap or GetMic uses.</summary>
    public uint SendSequenceNumber { get; private set; }

    /// <summary>The sequence number the next Unwrap or VerifyMic expects.</summary>
    public uint ReceiveSequenceNumber { get; private set; }

    // MS-NLMP §3.4.3 / §3.4.6 (GSS_WrapEx) with ESS: seal the message first, then sign with the same RC4 handle:
    //   Set SealedMessage to RC4(Handle, Message)
    //   Set NTLMSSP_MESSAGE_SIGNATURE to MAC(Handle, SigningKey, SeqNum, Message)
    /// <summary>Seals <paramref name="message"/>: returns the 16-byte signature followed by the ciphertext.</summary>
    /// <exception cref="ObjectDisposedException">The instance is disposed.</exception>
    public byte[] Wrap(ReadOnlySpan<byte> message)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var output = new byte[SignatureSize + message.Length];
        _sendCipher.Transform(message, output.AsSpan(SignatureSize));
        ComputeSignature(_sendSigningKey, _sendCipher, SendSequenceNumber++, message, output.AsSpan(0, SignatureSize));
        return output;
    }

    /// <summary>Unseals a token produced by the peer's Wrap (signature ‖ ciphertext) and verifies its signature.</summary>
    /// <exception cref="NlaProtocolException">Too short, or the signature does not verify (<see cref="NlaFailureReason.DecryptionFailed"/>).</exception>
    /// <exception cref="ObjectDisposedException">The instance is disposed.</exception>
    public byte[] Unwrap(ReadOnlySpan<byte> token)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        if (token.Length < SignatureSize)
        {
            throw new NlaProtocolException(NlaFailureReason.DecryptionFailed, "Sealed message is shorter than its 16-byte signature.", "MS-NLMP §2.2.2.9.1");
        }

        byte[] plaintext = _receiveCipher.Transform(token[SignatureSize..]);
        Span<byte> expected = stackalloc byte[SignatureSize];
        ComputeSignature(_receiveSigningKey, _receiveCipher, ReceiveSequenceNumber++, plaintext, expected);
        if (!CryptographicOperations.FixedTimeEquals(expected, token[..SignatureSize]))
        {
            CryptographicOperations.ZeroMemory(plaintext);
            throw new NlaProtocolException(
                NlaFailureReason.DecryptionFailed,
                "Sealed message signature does not verify (wrong key, tampered data or wrong sequence number).",
                "MS-NLMP §3.4.4.2");
        }

        return plaintext;
    }

    // MS-NLMP §3.4.4.2: GSS_GetMICEx — the signature alone, over the plaintext, with the sending RC4 handle.
    /// <summary>The 16-byte signature of <paramref name="message"/> (SPNEGO mechListMIC).</summary>
    /// <exception cref="ObjectDisposedException">The instance is disposed.</exception>
    public byte[] GetMic(ReadOnlySpan<byte> message)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        var signature = new byte[SignatureSize];
        ComputeSignature(_sendSigningKey, _sendCipher, SendSequenceNumber++, message, signature);
        return signature;
    }

    /// <summary>Verifies the peer's GetMic signature over <paramref name="message"/> (constant-time).</summary>
    /// <exception cref="ObjectDisposedException">The instance is disposed.</exception>
    public bool VerifyMic(ReadOnlySpan<byte> message, ReadOnlySpan<byte> mic)
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        Span<byte> expected = stackalloc byte[SignatureSize];
        ComputeSignature(_receiveSigningKey, _receiveCipher, ReceiveSequenceNumber++, message, expected);
        return mic.Length == SignatureSize && CryptographicOperations.FixedTimeEquals(expected, mic);
    }

    /// <summary>
    /// Restarts the sending RC4 handle from the sealing key, keeping the sequence number. SPNEGO needs it right after
    /// the mechListMIC this side sends (docs/interop.md#mic-and-mechlistmic: pyspnego, .NET ManagedSpnego and FreeRDP reset the
    /// RC4 state after the mechListMIC; the sequence numbers keep counting).
    /// </summary>
    internal void ResetSendCipher()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _sendCipher.Dispose();
        _sendCipher = new Rc4(_sendSealingKey);
    }

    /// <summary>Restarts the receiving RC4 handle after the peer's mechListMIC was verified (see <see cref="ResetSendCipher"/>).</summary>
    internal void ResetReceiveCipher()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        _receiveCipher.Dispose();
        _receiveCipher = new Rc4(_receiveSealingKey);
    }

    /// <summary>Zeroes the keys and the RC4 states.</summary>
    public void Dispose()
    {
        if (_disposed)
        {
            return;
        }

        _disposed = true;
        CryptographicOperations.ZeroMemory(_sendSigningKey);
        CryptographicOperations.ZeroMemory(_receiveSigningKey);
        CryptographicOperations.ZeroMemory(_sendSealingKey);
        CryptographicOperations.ZeroMemory(_receiveSealingKey);
        _sendCipher.Dispose();
        _receiveCipher.Dispose();
    }

    // MS-NLMP §3.4.4.2 MAC(Handle, SigningKey, SeqNum, Message) with ESS and KEY_EXCH:
    //   Set NTLMSSP_MESSAGE_SIGNATURE.Version to 0x00000001
    //   Set NTLMSSP_MESSAGE_SIGNATURE.Checksum to HMAC_MD5(SigningKey, ConcatenationOf(SeqNum, Message))[0..7]
    //   Set NTLMSSP_MESSAGE_SIGNATURE.Checksum to RC4(Handle, NTLMSSP_MESSAGE_SIGNATURE.Checksum)
    //   Set NTLMSSP_MESSAGE_SIGNATURE.SeqNum to SeqNum
    private static void ComputeSignature(byte[] signingKey, Rc4 cipher, uint sequenceNumber, ReadOnlySpan<byte> message, Span<byte> signature)
    {
        Span<byte> sequence = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(sequence, sequenceNumber);
        Span<byte> hash = stackalloc byte[16];
        using (var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.MD5, signingKey))
        {
            hmac.AppendData(sequence);
            hmac.AppendData(message);
            hmac.GetHashAndReset(hash);
        }

        BinaryPrimitives.WriteUInt32LittleEndian(signature, SignatureVersion);
        cipher.Transform(hash[..8], signature[4..12]);
        sequence.CopyTo(signature[12..]);
        CryptographicOperations.ZeroMemory(hash);
    }
}
