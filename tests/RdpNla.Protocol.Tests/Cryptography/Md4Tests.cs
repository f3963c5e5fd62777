using System.Text;
using RdpNla.Protocol.Cryptography;

namespace RdpNla.Protocol.Tests.Cryptography;

public class Md4Tests
{
    private const string VectorPath = "crypto/rfc1320-md4.txt";

    public static TheoryData<string, string> Rfc1320Vectors()
    {
        var data = new TheoryData<string, string>();
        foreach (string line in VectorFile.DataLines(VectorPath))
        {
            string[] parts = line.Split(" = ");
            data.Add(parts[0], parts[1]);
        }

        return data;
    }

    [Theory]
    [MemberData(nameof(Rfc1320Vectors))]
    public void HashData_Rfc1320AndPaddingVectors_Match(string input, string expectedHex)
    {
        byte[] message = Decode(input);

        Assert.Equal(expectedHex, Convert.ToHexStringLower(Md4.HashData(message)));
    }

    [Fact]
    public void HashData_VectorFile_HasCitationAndAllRfcVectors()
    {
        Assert.StartsWith("RFC 1320", VectorFile.Citation(VectorPath), StringComparison.Ordinal);
        Assert.Equal(7, VectorFile.DataLines(VectorPath).Count(line => line.StartsWith("ascii:", StringComparison.Ordinal)));
    }

    [Fact]
    public void HashData_Abc_MatchesRfc1320()
    {
        Assert.Equal("a448017aaf21d8525fc10ae87aa6729d", Convert.ToHexStringLower(Md4.HashData("abc"u8)));
    }

    [Fact]
    public void HashData_DestinationTooShort_Throws()
    {
        Assert.Throws<ArgumentException>(() => Md4.HashData("abc"u8, new byte[15]));
    }

    private static byte[] Decode(string input)
    {
        if (input.StartsWith("ascii:", StringComparison.Ordinal))
        {
            return Encoding.ASCII.GetBytes(input["ascii:".Length..]);
        }

        // repeat:N:CC
        string[] parts = input.Split(':');
        return Enumerable.Repeat(Convert.FromHexString(parts[2])[0], int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture)).ToArray();
    }
}
