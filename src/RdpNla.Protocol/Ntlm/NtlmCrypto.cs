using System.Security.Cryptography;
using RdpNla.Protocol.Cryptography;

namespace RdpNla.Protocol.Ntlm;

/// <summary>The NTLM key and response computations of MS-NLMP §3.3 and §3.4, named after the spec's pseudocode.</summary>
public static partial class NtlmCrypto
{
    public const int NtOwfSize = 16;

    // MS-NLMP §3.3.1: Define NTOWFv1(Passwd, User, UserDom) as MD4(UNICODE(Passwd))
    /// <summary>The NT hash of a password: MD4 over its UTF-16LE encoding.</summary>
    public static byte[] NtOwfV1(ReadOnlySpan<char> password)
    {
        byte[] passwordBytes = new byte[System.Text.Encoding.Unicode.GetByteCount(password)];
        try
        {
            System.Text.Encoding.Unicode.GetBytes(password, passwordBytes);
            return Md4.HashData(passwordBytes);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(passwordBytes);
        }
    }
}
