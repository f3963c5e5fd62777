namespace RdpNla.Protocol.Ntlm;

/// <summary>Which end of an NTLM exchange: selects the magic constants of SIGNKEY/SEALKEY (MS-NLMP §3.4.5.2–3.4.5.3).</summary>
internal enum NtlmRole
{
    /// <summary>The initiator.</summary>
    Client,

    /// <summary>The acceptor.</summary>
    Server,
}

/// <summary>
/// The NTLM key and response computations of MS-NLMP §3.3 and §3.4, named after the spec's pseudocode. Public: the NT
/// hash (NTOWFv1), which a credential store keeps and <see cref="NtlmCredentialLookup"/> takes; the rest is internal to
/// the NTLM contexts.
/// </summary>
public static partial class NtlmCrypto
{
    /// <summary>The size of an NT hash (NTOWFv1, MS-NLMP §3.3.1) in bytes: 16, the MD4 digest size.</summary>
    public const int NtOwfSize = 16;

    /// <summary>The size of NTProofStr, SessionBaseKey, KeyExchangeKey and ExportedSessionKey.</summary>
    internal const int KeySize = 16;

    /// <summary>The size of ChallengeFromClient.</summary>
    internal const int ClientChallengeSize = 8;

    /// <summary>The fixed part of the NTLMv2 "temp" blob before the AV pairs (MS-NLMP §2.2.2.7).</summary>
    internal const int NtlmV2TempHeaderSize = 28;

    /// <summary>MsvAvTimestamp/FILETIME of <paramref name="time"/> (100 ns ticks since 1601-01-01 UTC).</summary>
    internal static long ToFileTime(DateTimeOffset time) => time.ToFileTime();

    // MS-NLMP §3.3.1: Define NTOWFv1(Passwd, User, UserDom) as MD4(UNICODE(Passwd))
    /// <summary>The NT hash of a password: MD4 over its UTF-16LE encoding.</summary>
    public static byte[] NtOwfV1(ReadOnlySpan<char> password)
    {
        byte[] passwordBytes = new byte[Encoding.Unicode.GetByteCount(password)];
        try
        {
            Encoding.Unicode.GetBytes(password, passwordBytes);
            return Md4.HashData(passwordBytes);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(passwordBytes);
        }
    }

    // MS-NLMP §3.3.2: Define NTOWFv2(Passwd, User, UserDom) as
    //   HMAC_MD5(MD4(UNICODE(Passwd)), UNICODE(ConcatenationOf(Uppercase(User), UserDom)))
    /// <summary>ResponseKeyNT (= ResponseKeyLM) from the NT hash; the user is uppercased, the domain used exactly as sent.</summary>
    /// <exception cref="ArgumentException"><paramref name="ntOwfV1"/> is not 16 bytes.</exception>
    internal static byte[] NtOwfV2(ReadOnlySpan<byte> ntOwfV1, string user, string userDomain)
    {
        ArgumentNullException.ThrowIfNull(user);
        ArgumentNullException.ThrowIfNull(userDomain);
        RequireLength(ntOwfV1, NtOwfSize, nameof(ntOwfV1));
        byte[] identity = Encoding.Unicode.GetBytes(user.ToUpperInvariant() + userDomain);
        return HMACMD5.HashData(ntOwfV1, identity);
    }

    /// <summary>NTOWFv2 from a password.</summary>
    internal static byte[] NtOwfV2(ReadOnlySpan<char> password, string user, string userDomain)
    {
        byte[] ntOwfV1 = NtOwfV1(password);
        try
        {
            return NtOwfV2(ntOwfV1, user, userDomain);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(ntOwfV1);
        }
    }

    // MS-NLMP §3.3.2: Set temp to ConcatenationOf(Responserversion, HiResponserversion, Z(6), Time,
    //   ClientChallenge, Z(4), ServerName, Z(4))
    /// <summary>The NTLMv2 client challenge blob "temp"; <paramref name="serverName"/> is the encoded AV pair list.</summary>
    /// <exception cref="ArgumentException"><paramref name="clientChallenge"/> is not 8 bytes.</exception>
    internal static byte[] ComputeNtlmV2Temp(long time, ReadOnlySpan<byte> clientChallenge, ReadOnlySpan<byte> serverName)
    {
        RequireLength(clientChallenge, ClientChallengeSize, nameof(clientChallenge));
        var temp = new byte[NtlmV2TempHeaderSize + serverName.Length + 4];
        temp[0] = 1; // Responserversion
        temp[1] = 1; // HiResponserversion
        BinaryPrimitives.WriteInt64LittleEndian(temp.AsSpan(8), time);
        clientChallenge.CopyTo(temp.AsSpan(16));
        serverName.CopyTo(temp.AsSpan(NtlmV2TempHeaderSize));
        return temp;
    }

    // MS-NLMP §3.3.2: Set NTProofStr to HMAC_MD5(ResponseKeyNT, ConcatenationOf(CHALLENGE_MESSAGE.ServerChallenge, temp))
    /// <summary>NTProofStr.</summary>
    internal static byte[] ComputeNtProofStr(ReadOnlySpan<byte> responseKeyNt, ReadOnlySpan<byte> serverChallenge, ReadOnlySpan<byte> temp)
    {
        RequireLength(serverChallenge, NtlmChallengeMessage.ServerChallengeSize, nameof(serverChallenge));
        byte[] input = Concat(serverChallenge, temp);
        return HMACMD5.HashData(responseKeyNt, input);
    }

    // MS-NLMP §3.3.2: Set NtChallengeResponse to ConcatenationOf(NTProofStr, temp)
    /// <summary>NtChallengeResponse.</summary>
    internal static byte[] ComputeNtChallengeResponse(ReadOnlySpan<byte> ntProofStr, ReadOnlySpan<byte> temp) => Concat(ntProofStr, temp);

    // MS-NLMP §3.3.2: Set LmChallengeResponse to ConcatenationOf(HMAC_MD5(ResponseKeyLM,
    //   ConcatenationOf(CHALLENGE_MESSAGE.ServerChallenge, ClientChallenge)), ClientChallenge)
    /// <summary>The LMv2 response (use Z(24) instead when the CHALLENGE carried MsvAvTimestamp).</summary>
    internal static byte[] ComputeLmV2Response(ReadOnlySpan<byte> responseKeyLm, ReadOnlySpan<byte> serverChallenge, ReadOnlySpan<byte> clientChallenge)
    {
        RequireLength(serverChallenge, NtlmChallengeMessage.ServerChallengeSize, nameof(serverChallenge));
        RequireLength(clientChallenge, ClientChallengeSize, nameof(clientChallenge));
        byte[] proof = HMACMD5.HashData(responseKeyLm, Concat(serverChallenge, clientChallenge));
        return Concat(proof, clientChallenge);
    }

    // MS-NLMP §3.3.2: Set SessionBaseKey to HMAC_MD5(ResponseKeyNT, NTProofStr)
    /// <summary>SessionBaseKey.</summary>
    internal static byte[] ComputeSessionBaseKey(ReadOnlySpan<byte> responseKeyNt, ReadOnlySpan<byte> ntProofStr) =>
        HMACMD5.HashData(responseKeyNt, ntProofStr);

    // MS-NLMP §3.4.5.1: KXKEY — "If NTLM v2 authentication is used, KeyExchangeKey MUST be set to the value of SessionBaseKey."
    /// <summary>KeyExchangeKey for NTLMv2 (a copy of SessionBaseKey).</summary>
    internal static byte[] KxKey(ReadOnlySpan<byte> sessionBaseKey)
    {
        RequireLength(sessionBaseKey, KeySize, nameof(sessionBaseKey));
        return sessionBaseKey.ToArray();
    }

    // MS-NLMP §3.1.5.1.2: Set EncryptedRandomSessionKey to RC4K(KeyExchangeKey, ExportedSessionKey)
    // MS-NLMP §3.2.5.1.2: Set ExportedSessionKey to RC4K(KeyExchangeKey, AUTHENTICATE_MESSAGE.EncryptedRandomSessionKey)
    /// <summary>RC4K(KeyExchangeKey, key): encrypts ExportedSessionKey on the client, decrypts it on the server.</summary>
    internal static byte[] Rc4K(ReadOnlySpan<byte> keyExchangeKey, ReadOnlySpan<byte> sessionKey)
    {
        RequireLength(keyExchangeKey, KeySize, nameof(keyExchangeKey));
        RequireLength(sessionKey, KeySize, nameof(sessionKey));
        return Rc4.Transform(keyExchangeKey, sessionKey);
    }

    // MS-NLMP §3.4.5.2 SIGNKEY(NegFlg, ExportedSessionKey, Mode), with ESS:
    //   If (Mode equals "Client")
    //     Set SignKey to MD5(ConcatenationOf(ExportedSessionKey, "session key to client-to-server signing key magic constant"))
    //   Else
    //     Set SignKey to MD5(ConcatenationOf(ExportedSessionKey, "session key to server-to-client signing key magic constant"))
    /// <summary>The signing key of the messages <paramref name="mode"/> sends.</summary>
    internal static byte[] SignKey(ReadOnlySpan<byte> exportedSessionKey, NtlmRole mode) => DirectionalKey(
        exportedSessionKey,
        mode,
        "session key to client-to-server signing key magic constant\0"u8,
        "session key to server-to-client signing key magic constant\0"u8);

    // MS-NLMP §3.4.5.3 SEALKEY(NegFlg, ExportedSessionKey, Mode), with ESS and NTLMSSP_NEGOTIATE_128:
    //   Set SealKey to ExportedSessionKey
    //   If (Mode equals "Client")
    //     Set SealKey to MD5(ConcatenationOf(SealKey, "session key to client-to-server sealing key magic constant"))
    //   Else
    //     Set SealKey to MD5(ConcatenationOf(SealKey, "session key to server-to-client sealing key magic constant"))
    // (56- and 40-bit variants truncate ExportedSessionKey first; they are not supported.)
    /// <summary>The 128-bit sealing key of the messages <paramref name="mode"/> sends.</summary>
    internal static byte[] SealKey(ReadOnlySpan<byte> exportedSessionKey, NtlmRole mode) => DirectionalKey(
        exportedSessionKey,
        mode,
        "session key to client-to-server sealing key magic constant\0"u8,
        "session key to server-to-client sealing key magic constant\0"u8);

    /// <summary>MD5(ExportedSessionKey, the magic constant of the direction <paramref name="mode"/> sends in).</summary>
    private static byte[] DirectionalKey(ReadOnlySpan<byte> exportedSessionKey, NtlmRole mode, ReadOnlySpan<byte> clientMagic, ReadOnlySpan<byte> serverMagic)
    {
        RequireLength(exportedSessionKey, KeySize, nameof(exportedSessionKey));
        return HashWithMagic(exportedSessionKey, mode == NtlmRole.Client ? clientMagic : serverMagic);
    }

    // MS-NLMP §3.1.5.1.2: Set AUTHENTICATE_MESSAGE.MIC to HMAC_MD5(ExportedSessionKey,
    //   ConcatenationOf(NEGOTIATE_MESSAGE, CHALLENGE_MESSAGE, AUTHENTICATE_MESSAGE))   (computed with the MIC field zeroed)
    /// <summary>The MIC over the three messages exactly as sent, the AUTHENTICATE with its MIC field zeroed.</summary>
    internal static byte[] ComputeMic(
        ReadOnlySpan<byte> exportedSessionKey,
        ReadOnlySpan<byte> negotiateMessage,
        ReadOnlySpan<byte> challengeMessage,
        ReadOnlySpan<byte> authenticateMessageWithMicZeroed)
    {
        RequireLength(exportedSessionKey, KeySize, nameof(exportedSessionKey));
        using var hmac = IncrementalHash.CreateHMAC(HashAlgorithmName.MD5, exportedSessionKey);
        hmac.AppendData(negotiateMessage);
        hmac.AppendData(challengeMessage);
        hmac.AppendData(authenticateMessageWithMicZeroed);
        return hmac.GetHashAndReset();
    }

    private static byte[] HashWithMagic(ReadOnlySpan<byte> key, ReadOnlySpan<byte> magic)
    {
        Span<byte> input = stackalloc byte[key.Length + magic.Length];
        try
        {
            key.CopyTo(input);
            magic.CopyTo(input[key.Length..]);
            return MD5.HashData(input);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(input);
        }
    }

    private static byte[] Concat(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second)
    {
        var result = new byte[first.Length + second.Length];
        first.CopyTo(result);
        second.CopyTo(result.AsSpan(first.Length));
        return result;
    }

    private static void RequireLength(ReadOnlySpan<byte> value, int length, string name)
    {
        if (value.Length != length)
        {
            throw new ArgumentException($"{name} must be {length} bytes long.", name);
        }
    }
}
