using RdpNla.Protocol.Cryptography;

namespace RdpNla.Protocol.Tests;

public class Md4Tests
{
    [Fact]
    public void HashData_Abc_MatchesRfc1320()
    {
        Assert.Equal("a448017aaf21d8525fc10ae87aa6729d", Convert.ToHexStringLower(Md4.HashData("abc"u8)));
    }
}
