using System.Security.Cryptography;
using System.Text;
using RdpNla.Server.Mfa;

namespace RdpNla.Tests.Portal;

/// <summary>TOTP against the test vectors of RFC 6238 Appendix B and base32 against RFC 4648 §10.</summary>
public class TotpTests
{
    // RFC 6238 Appendix B: the seeds are "12345678901234567890" repeated to 20 (SHA-1), 32 (SHA-256) and 64 (SHA-512)
    // bytes; X = 30 s, T0 = 0, 8 digits.
    [Theory]
    [InlineData(59L, "SHA1", "94287082")]
    [InlineData(59L, "SHA256", "46119246")]
    [InlineData(59L, "SHA512", "90693936")]
    [InlineData(1111111109L, "SHA1", "07081804")]
    [InlineData(1111111109L, "SHA256", "68084774")]
    [InlineData(1111111109L, "SHA512", "25091201")]
    [InlineData(1111111111L, "SHA1", "14050471")]
    [InlineData(1111111111L, "SHA256", "67062674")]
    [InlineData(1111111111L, "SHA512", "99943326")]
    [InlineData(1234567890L, "SHA1", "89005924")]
    [InlineData(1234567890L, "SHA256", "91819424")]
    [InlineData(1234567890L, "SHA512", "93441116")]
    [InlineData(2000000000L, "SHA1", "69279037")]
    [InlineData(2000000000L, "SHA256", "90698825")]
    [InlineData(2000000000L, "SHA512", "38618901")]
    [InlineData(20000000000L, "SHA1", "65353130")]
    [InlineData(20000000000L, "SHA256", "77737706")]
    [InlineData(20000000000L, "SHA512", "47863826")]
    public void Code_MatchesRfc6238AppendixB(long unixTime, string algorithm, string expected)
    {
        int seedLength = algorithm switch { "SHA1" => 20, "SHA256" => 32, _ => 64 };
        byte[] seed = Encoding.ASCII.GetBytes(string.Concat(Enumerable.Repeat("1234567890", 7)))[..seedLength];
        long step = Totp.TimeStep(DateTimeOffset.FromUnixTimeSeconds(unixTime), TimeSpan.FromSeconds(30));

        Assert.Equal(expected, Totp.Code(seed, step, 8, new HashAlgorithmName(algorithm)));
    }

    [Fact]
    public void Match_AcceptsTheCurrentAndAdjacentStepsOnly()
    {
        byte[] key = Encoding.ASCII.GetBytes("12345678901234567890");
        DateTimeOffset now = DateTimeOffset.FromUnixTimeSeconds(1234567890);
        long step = Totp.TimeStep(now, Totp.DefaultStep);

        Assert.Equal(step, Totp.Match(key, Totp.Code(key, step), now, Totp.DefaultStep));
        Assert.Equal(step - 1, Totp.Match(key, Totp.Code(key, step - 1), now, Totp.DefaultStep));
        Assert.Equal(step + 1, Totp.Match(key, Totp.Code(key, step + 1), now, Totp.DefaultStep));
        Assert.Null(Totp.Match(key, Totp.Code(key, step - 2), now, Totp.DefaultStep));
        Assert.Null(Totp.Match(key, "12345", now, Totp.DefaultStep));
        Assert.Null(Totp.Match(key, "12345a", now, Totp.DefaultStep));
    }

    // RFC 4648 §10 test vectors, without the padding the otpauth URI omits.
    [Theory]
    [InlineData("", "")]
    [InlineData("f", "MY")]
    [InlineData("fo", "MZXQ")]
    [InlineData("foo", "MZXW6")]
    [InlineData("foob", "MZXW6YQ")]
    [InlineData("fooba", "MZXW6YTB")]
    [InlineData("foobar", "MZXW6YTBOI")]
    public void Base32_MatchesRfc4648(string data, string expected) =>
        Assert.Equal(expected, Totp.Base32(Encoding.ASCII.GetBytes(data)));
}
