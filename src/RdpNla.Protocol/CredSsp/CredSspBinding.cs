namespace RdpNla.Protocol.CredSsp;

/// <summary>
/// The public-key binding that ties CredSSP to the TLS server certificate (MS-CSSP §3.1.5 steps 3–4).
/// The key is the contents of the certificate's subjectPublicKey BIT STRING without the unused-bits octet
/// (docs/interop.md#public-key-binding) — what <c>X509Certificate2.GetPublicKey()</c> returns.
/// </summary>
public static class CredSspBinding
{
    /// <summary>The size of TSRequest.clientNonce in bytes (MS-CSSP §2.2.1): 32.</summary>
    public const int ClientNonceSize = 32;

    // MS-CSSP §3.1.5: the magic strings include their terminating NUL.
    private static ReadOnlySpan<byte> ClientServerHashMagic => "CredSSP Client-To-Server Binding Hash\0"u8;

    private static ReadOnlySpan<byte> ServerClientHashMagic => "CredSSP Server-To-Client Binding Hash\0"u8;

    // MS-CSSP §3.1.5 step 3 (v5+): ClientServerHash = SHA256(ClientServerHashMagic, Nonce, SubjectPublicKey)
    /// <summary>
    /// The client's pubKeyAuth content for CredSSP version 5 and later: SHA-256 over "CredSSP Client-To-Server Binding
    /// Hash\0", the client nonce and the server's subject public key (MS-CSSP §3.1.5 step 3).
    /// </summary>
    /// <param name="clientNonce">TSRequest.clientNonce, <see cref="ClientNonceSize"/> bytes.</param>
    /// <param name="subjectPublicKey">The TLS server certificate's public key, without the unused-bits octet.</param>
    /// <returns>The 32-byte hash, before the security package wraps it.</returns>
    public static byte[] ComputeClientServerHash(ReadOnlySpan<byte> clientNonce, ReadOnlySpan<byte> subjectPublicKey)
        => Hash(ClientServerHashMagic, clientNonce, subjectPublicKey);

    // MS-CSSP §3.1.5 step 4 (v5+): ServerClientHash = SHA256(ServerClientHashMagic, Nonce, SubjectPublicKey)
    /// <summary>
    /// The server's pubKeyAuth content for CredSSP version 5 and later: SHA-256 over "CredSSP Server-To-Client Binding
    /// Hash\0", the client nonce and the server's subject public key (MS-CSSP §3.1.5 step 4).
    /// </summary>
    /// <param name="clientNonce">TSRequest.clientNonce the client sent, <see cref="ClientNonceSize"/> bytes.</param>
    /// <param name="subjectPublicKey">The TLS server certificate's public key, without the unused-bits octet.</param>
    /// <returns>The 32-byte hash, before the security package wraps it.</returns>
    public static byte[] ComputeServerClientHash(ReadOnlySpan<byte> clientNonce, ReadOnlySpan<byte> subjectPublicKey)
        => Hash(ServerClientHashMagic, clientNonce, subjectPublicKey);

    /// <summary>
    /// MS-CSSP §3.1.5 step 4 (v2–4): the server answers with the public key whose first byte is incremented by one.
    /// FreeRDP treats it as a little-endian integer increment; with a DER key the first byte is 0x30, so it is 0x31.
    /// </summary>
    public static byte[] IncrementFirstByte(ReadOnlySpan<byte> subjectPublicKey)
    {
        byte[] result = subjectPublicKey.ToArray();
        for (int i = 0; i < result.Length; i++)
        {
            if (++result[i] != 0)
            {
                break;
            }
        }

        return result;
    }

    private static byte[] Hash(ReadOnlySpan<byte> magic, ReadOnlySpan<byte> nonce, ReadOnlySpan<byte> key)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        sha.AppendData(magic);
        sha.AppendData(nonce);
        sha.AppendData(key);
        return sha.GetHashAndReset();
    }
}
