namespace RdpNla.Server.Mfa;

/// <summary>
/// TOTP (RFC 6238) over HOTP (RFC 4226): <c>TOTP = HOTP(K, T)</c> with <c>T = floor((now - T0) / X)</c>, T0 = the Unix
/// epoch, X = the time step. Pure functions of the key and the time; the caller supplies both.
/// </summary>
internal static class Totp
{
    /// <summary>The usual time step (RFC 6238 §4.1 recommends 30 seconds).</summary>
    public static readonly TimeSpan DefaultStep = TimeSpan.FromSeconds(30);

    /// <summary>The digits of the codes authenticator apps show.</summary>
    public const int DefaultDigits = 6;

    /// <summary>The time-step counter T of <paramref name="time"/> (RFC 6238 §4.2).</summary>
    public static long TimeStep(DateTimeOffset time, TimeSpan step) =>
        (long)Math.Floor((time - DateTimeOffset.UnixEpoch).TotalSeconds / step.TotalSeconds);

    /// <summary>The HOTP value of <paramref name="counter"/> (RFC 4226 §5.3: HMAC, dynamic truncation, modulo 10^digits).</summary>
    public static string Code(ReadOnlySpan<byte> key, long counter, int digits = DefaultDigits, HashAlgorithmName? algorithm = null)
    {
        if (digits is < 6 or > 8)
        {
            throw new ArgumentOutOfRangeException(nameof(digits), digits, "HOTP codes have 6 to 8 digits (RFC 4226 §5.3).");
        }

        Span<byte> message = stackalloc byte[8];
        BinaryPrimitives.WriteInt64BigEndian(message, counter);
        Span<byte> mac = stackalloc byte[64];
        HashAlgorithmName name = algorithm ?? HashAlgorithmName.SHA1;
        int length = name == HashAlgorithmName.SHA1 ? HMACSHA1.HashData(key, message, mac)
            : name == HashAlgorithmName.SHA256 ? HMACSHA256.HashData(key, message, mac)
            : name == HashAlgorithmName.SHA512 ? HMACSHA512.HashData(key, message, mac)
            : throw new ArgumentException($"TOTP uses HMAC-SHA-1, -256 or -512 (RFC 6238 §1.2), not {name}.", nameof(algorithm));

        // RFC 4226 §5.4: the offset is the low 4 bits of the last byte; 31 bits from there.
        int offset = mac[length - 1] & 0x0F;
        int binary = (int)(BinaryPrimitives.ReadUInt32BigEndian(mac.Slice(offset, 4)) & 0x7FFF_FFFF);
        CryptographicOperations.ZeroMemory(mac);
        int modulo = digits switch { 6 => 1_000_000, 7 => 10_000_000, _ => 100_000_000 };
        return (binary % modulo).ToString(System.Globalization.CultureInfo.InvariantCulture).PadLeft(digits, '0');
    }

    /// <summary>
    /// The time step whose code equals <paramref name="code"/> among <paramref name="now"/>'s step and
    /// <paramref name="window"/> steps either side (RFC 6238 §5.2 allows one step of delay), or null. Compared in
    /// constant time; every candidate is computed.
    /// </summary>
    public static long? Match(ReadOnlySpan<byte> key, string code, DateTimeOffset now, TimeSpan step, int window = 1)
    {
        ArgumentNullException.ThrowIfNull(code);
        if (code.Length != DefaultDigits || !code.All(char.IsAsciiDigit))
        {
            return null;
        }

        long current = TimeStep(now, step);
        long? found = null;
        for (long counter = current - window; counter <= current + window; counter++)
        {
            string candidate = Code(key, counter);
            if (CryptographicOperations.FixedTimeEquals(Encoding.ASCII.GetBytes(candidate), Encoding.ASCII.GetBytes(code)))
            {
                found ??= counter;
            }
        }

        return found;
    }

    /// <summary>RFC 4648 §6 base32 without padding, as the otpauth URI's <c>secret</c> parameter carries it.</summary>
    public static string Base32(ReadOnlySpan<byte> data)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var text = new System.Text.StringBuilder((data.Length * 8 + 4) / 5);
        int buffer = 0;
        int bits = 0;
        foreach (byte b in data)
        {
            buffer = (buffer << 8) | b;
            bits += 8;
            while (bits >= 5)
            {
                text.Append(Alphabet[(buffer >> (bits - 5)) & 31]);
                bits -= 5;
            }
        }

        if (bits > 0)
        {
            text.Append(Alphabet[(buffer << (5 - bits)) & 31]);
        }

        return text.ToString();
    }

    /// <summary>
    /// The key URI authenticator apps import (the "Key Uri Format" of Google Authenticator's wiki):
    /// <c>otpauth://totp/ISSUER:USER?secret=BASE32&amp;issuer=ISSUER&amp;algorithm=SHA1&amp;digits=6&amp;period=30</c>.
    /// </summary>
    public static string OtpAuthUri(string issuer, string account, ReadOnlySpan<byte> key, TimeSpan step)
    {
        string label = Uri.EscapeDataString(issuer) + ":" + Uri.EscapeDataString(account);
        return $"otpauth://totp/{label}?secret={Base32(key)}&issuer={Uri.EscapeDataString(issuer)}&algorithm=SHA1&digits={DefaultDigits}&period={(int)step.TotalSeconds}";
    }
}
