// NTLM sealing and KEY_EXCH (MS-NLMP §3.4.3, §3.1.5.1.2) need RC4 and the BCL does not offer it.
#pragma warning disable CA5351

namespace RdpNla.Protocol.Cryptography;

/// <summary>
/// RC4 stream cipher. An instance keeps its keystream position across calls, as NTLM sealing requires
/// (MS-NLMP §3.4.3: one handle per direction for the whole session). Dispose wipes the state.
/// </summary>
internal sealed class Rc4 : IDisposable
{
    private readonly byte[] _state = new byte[256];
    private byte _i;
    private byte _j;

    public Rc4(ReadOnlySpan<byte> key)
    {
        if (key.IsEmpty || key.Length > 256)
        {
            throw new ArgumentException("An RC4 key has 1 to 256 bytes.", nameof(key));
        }

        for (int i = 0; i < 256; i++)
        {
            _state[i] = (byte)i;
        }

        byte j = 0;
        for (int i = 0; i < 256; i++)
        {
            j = (byte)(j + _state[i] + key[i % key.Length]);
            (_state[i], _state[j]) = (_state[j], _state[i]);
        }
    }

    /// <summary>XORs the keystream into <paramref name="output"/>; input and output may be the same span.</summary>
    public void Transform(ReadOnlySpan<byte> input, Span<byte> output)
    {
        if (output.Length < input.Length)
        {
            throw new ArgumentException("The output is shorter than the input.", nameof(output));
        }

        byte i = _i, j = _j;
        byte[] s = _state;
        for (int n = 0; n < input.Length; n++)
        {
            i++;
            j = (byte)(j + s[i]);
            (s[i], s[j]) = (s[j], s[i]);
            output[n] = (byte)(input[n] ^ s[(byte)(s[i] + s[j])]);
        }

        _i = i;
        _j = j;
    }

    public byte[] Transform(ReadOnlySpan<byte> input)
    {
        var output = new byte[input.Length];

        // AsSpan matters: with a byte[] argument, C# 14's span conversions bind Transform(input, output) to the static
        // Transform(key, input) overload below, which calls back here: unbounded recursion.
        Transform(input, output.AsSpan());
        return output;
    }

    /// <summary>One-shot RC4 with a fresh key (KEY_EXCH: RC4K(KeyExchangeKey, ExportedSessionKey)).</summary>
    public static byte[] Transform(ReadOnlySpan<byte> key, ReadOnlySpan<byte> input)
    {
        using var rc4 = new Rc4(key);
        return rc4.Transform(input);
    }

    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_state);
        _i = 0;
        _j = 0;
    }
}
