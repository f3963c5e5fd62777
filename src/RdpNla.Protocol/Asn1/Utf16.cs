namespace RdpNla.Protocol.Asn1;

/// <summary>UTF-16LE text as MS-CSSP carries it in OCTET STRINGs (UNICODE_STRING semantics: no terminating NUL).</summary>
internal static class Utf16
{
    private static readonly UnicodeEncoding s_strict = new(bigEndian: false, byteOrderMark: false, throwOnInvalidBytes: true);

    /// <summary>Decodes strictly: odd lengths and unpaired surrogates are refused.</summary>
    public static string Decode(ReadOnlySpan<byte> bytes, string structure, string field)
    {
        if ((bytes.Length & 1) != 0)
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, $"{structure}.{field} has an odd length and is not UTF-16LE.");
        }

        try
        {
            return s_strict.GetString(bytes);
        }
        catch (DecoderFallbackException)
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, $"{structure}.{field} is not valid UTF-16LE.");
        }
    }

    public static string? DecodeOptional(byte[]? bytes, string structure, string field) =>
        bytes is null ? null : Decode(bytes, structure, field);

    /// <summary>Encodes into a new array without any intermediate copy (the text may be a password).</summary>
    public static byte[] Encode(ReadOnlySpan<char> text)
    {
        byte[] bytes = new byte[Encoding.Unicode.GetByteCount(text)];
        Encoding.Unicode.GetBytes(text, bytes);
        return bytes;
    }

    public static byte[]? EncodeOptional(string? text) => text is null ? null : Encoding.Unicode.GetBytes(text);
}
