// NTLM needs MD4 (NTOWFv1, MS-NLMP §3.3.1) and the BCL does not offer it.
#pragma warning disable CA5351

namespace RdpNla.Protocol.Cryptography;

/// <summary>MD4 message digest (RFC 1320). Used only to derive NT hashes; never for anything new.</summary>
internal static class Md4
{
    public const int HashSizeInBytes = 16;

    public static byte[] HashData(ReadOnlySpan<byte> source)
    {
        var hash = new byte[HashSizeInBytes];
        HashData(source, hash);
        return hash;
    }

    public static void HashData(ReadOnlySpan<byte> source, Span<byte> destination)
    {
        if (destination.Length < HashSizeInBytes)
        {
            throw new ArgumentException("The destination is shorter than 16 bytes.", nameof(destination));
        }

        // RFC 1320 §3.3: initial buffer.
        Span<uint> state = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476];
        Span<uint> x = stackalloc uint[16];

        int fullBlocks = source.Length / 64;
        for (int i = 0; i < fullBlocks; i++)
        {
            ProcessBlock(state, x, source.Slice(i * 64, 64));
        }

        // RFC 1320 §3.1–3.2: pad with 0x80, zeros to 56 mod 64, then the bit length as 64-bit little-endian.
        Span<byte> tail = stackalloc byte[128];
        tail.Clear();
        ReadOnlySpan<byte> rest = source[(fullBlocks * 64)..];
        rest.CopyTo(tail);
        tail[rest.Length] = 0x80;
        int tailLength = rest.Length < 56 ? 64 : 128;
        BinaryPrimitives.WriteUInt64LittleEndian(tail[(tailLength - 8)..], (ulong)source.Length * 8);
        for (int offset = 0; offset < tailLength; offset += 64)
        {
            ProcessBlock(state, x, tail.Slice(offset, 64));
        }

        for (int i = 0; i < 4; i++)
        {
            BinaryPrimitives.WriteUInt32LittleEndian(destination[(i * 4)..], state[i]);
        }

        x.Clear();
        tail.Clear();
    }

    // RFC 1320 §3.4 round 3 visits the words in the order 0, 2, 1, 3 (then +8, +4, +12).
    private static ReadOnlySpan<byte> Round3Order => [0, 2, 1, 3];

    private static void ProcessBlock(Span<uint> state, Span<uint> x, ReadOnlySpan<byte> block)
    {
        for (int i = 0; i < 16; i++)
        {
            x[i] = BinaryPrimitives.ReadUInt32LittleEndian(block[(i * 4)..]);
        }

        uint a = state[0], b = state[1], c = state[2], d = state[3];

        // Round 1: F(X,Y,Z) = XY v not(X) Z
        for (int k = 0; k < 16; k += 4)
        {
            a = BitOperations.RotateLeft(a + ((b & c) | (~b & d)) + x[k], 3);
            d = BitOperations.RotateLeft(d + ((a & b) | (~a & c)) + x[k + 1], 7);
            c = BitOperations.RotateLeft(c + ((d & a) | (~d & b)) + x[k + 2], 11);
            b = BitOperations.RotateLeft(b + ((c & d) | (~c & a)) + x[k + 3], 19);
        }

        // Round 2: G(X,Y,Z) = XY v XZ v YZ, constant 0x5A827999
        for (int k = 0; k < 4; k++)
        {
            a = BitOperations.RotateLeft(a + ((b & c) | (b & d) | (c & d)) + x[k] + 0x5A827999, 3);
            d = BitOperations.RotateLeft(d + ((a & b) | (a & c) | (b & c)) + x[k + 4] + 0x5A827999, 5);
            c = BitOperations.RotateLeft(c + ((d & a) | (d & b) | (a & b)) + x[k + 8] + 0x5A827999, 9);
            b = BitOperations.RotateLeft(b + ((c & d) | (c & a) | (d & a)) + x[k + 12] + 0x5A827999, 13);
        }

        // Round 3: H(X,Y,Z) = X xor Y xor Z, constant 0x6ED9EBA1
        foreach (int k in Round3Order)
        {
            a = BitOperations.RotateLeft(a + (b ^ c ^ d) + x[k] + 0x6ED9EBA1, 3);
            d = BitOperations.RotateLeft(d + (a ^ b ^ c) + x[k + 8] + 0x6ED9EBA1, 9);
            c = BitOperations.RotateLeft(c + (d ^ a ^ b) + x[k + 4] + 0x6ED9EBA1, 11);
            b = BitOperations.RotateLeft(b + (c ^ d ^ a) + x[k + 12] + 0x6ED9EBA1, 15);
        }

        state[0] += a;
        state[1] += b;
        state[2] += c;
        state[3] += d;
    }
}
