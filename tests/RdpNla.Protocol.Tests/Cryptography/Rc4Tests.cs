using System.Globalization;
using RdpNla.Protocol.Cryptography;

namespace RdpNla.Protocol.Tests.Cryptography;

public class Rc4Tests
{
    private const string VectorPath = "crypto/rfc6229-rc4.txt";

    public static TheoryData<string, int, string> Rfc6229Vectors()
    {
        var data = new TheoryData<string, int, string>();
        foreach (string line in VectorFile.DataLines(VectorPath))
        {
            Dictionary<string, string> fields = line.Split(' ').Select(f => f.Split('=')).ToDictionary(f => f[0], f => f[1]);
            data.Add(fields["key"], int.Parse(fields["offset"], CultureInfo.InvariantCulture), fields["keystream"]);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Rfc6229Vectors))]
    public void Transform_Rfc6229Vector_MatchesKeystreamAtOffset(string keyHex, int offset, string expectedHex)
    {
        using var rc4 = new Rc4(Convert.FromHexString(keyHex));

        byte[] keystream = rc4.Transform(new byte[offset + 16]);

        Assert.Equal(expectedHex, Convert.ToHexStringLower(keystream.AsSpan(offset, 16)));
    }

    [Fact]
    public void Transform_RfcVectorsFile_CoversRequiredOffsets()
    {
        HashSet<int> offsets = VectorFile.DataLines(VectorPath)
            .Select(line => int.Parse(line.Split(' ')[1]["offset=".Length..], CultureInfo.InvariantCulture))
            .ToHashSet();

        Assert.StartsWith("RFC 6229", VectorFile.Citation(VectorPath), StringComparison.Ordinal);
        Assert.Superset(new HashSet<int> { 0, 16, 240, 256, 4096 }, offsets);
    }

    [Fact]
    public void Transform_InChunks_ContinuesKeystream()
    {
        byte[] key = Convert.FromHexString("0102030405");
        using var whole = new Rc4(key);
        using var chunked = new Rc4(key);

        byte[] expected = whole.Transform(new byte[300]);
        byte[] actual = [.. chunked.Transform(new byte[1]), .. chunked.Transform(new byte[255]), .. chunked.Transform(new byte[44])];

        Assert.Equal(expected, actual);
    }

    [Fact]
    public void Transform_Twice_Decrypts()
    {
        byte[] key = "Key"u8.ToArray();

        byte[] cipher = Rc4.Transform(key, "Plaintext"u8);

        Assert.Equal("bbf316e8d940af0ad3", Convert.ToHexStringLower(cipher));
        Assert.Equal("Plaintext"u8.ToArray(), Rc4.Transform(key, cipher));
    }

    [Fact]
    public void Constructor_EmptyKey_Throws()
    {
        Assert.Throws<ArgumentException>(() => new Rc4([]));
    }
}
