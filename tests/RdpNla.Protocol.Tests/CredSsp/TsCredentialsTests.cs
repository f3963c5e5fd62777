using RdpNla.Protocol.CredSsp;
using static RdpNla.Protocol.Tests.CredSsp.HexVector;

namespace RdpNla.Protocol.Tests.CredSsp;

public class TsCredentialsTests
{
    [Fact]
    public void DecodeContent_PasswordVector_ReadsDomainUserPassword()
    {
        using TsCredentialsContent content = TsCredentials.DecodeContent(Load("credssp/tscredentials-password.hex"));

        var password = Assert.IsType<TsPasswordCreds>(content);
        Assert.Equal(TsCredentialType.Password, password.CredType);
        Assert.Equal("domain name", password.DomainName);
        Assert.Equal("username", password.UserName);
        Assert.Equal("password"u8.ToArray().SelectMany(b => new[] { b, (byte)0 }).ToArray(), password.PasswordUtf16.ToArray());
        Assert.Equal("password", password.GetPassword());
        Assert.False(password.IsEmpty);
    }

    [Fact]
    public void ForPassword_PyspnegoValues_ReproducesVector()
    {
        using TsCredentials credentials = TsCredentials.ForPassword("domain name", "username", "password");

        Assert.Equal(Load("credssp/tscredentials-password.hex"), credentials.Encode());
    }

    [Fact]
    public void Decode_PasswordVector_KeepsInnerEncoding()
    {
        using TsCredentials credentials = TsCredentials.Decode(Load("credssp/tscredentials-password.hex"));

        Assert.Equal(1, credentials.CredType);
        Assert.Equal(TsCredentialType.Password, credentials.KnownType);
        Assert.Equal(0x44, credentials.Credentials.Length);
        Assert.Equal(Load("credssp/tscredentials-password.hex"), credentials.Encode());
        Assert.IsType<TsPasswordCreds>(credentials.DecodeContent()).Dispose();
    }

    [Fact]
    public void DecodeContent_RestrictedAdminEmptyStrings_IsEmpty()
    {
        // TSCredentials{1, TSPasswordCreds{"", "", ""}}: what Restricted Admin clients send (asyauth; docs/interop.md#restricted-admin).
        byte[] encoded = Hex("30 17 a0 03 02 01 01 a1 10 04 0e 30 0c a0 02 04 00 a1 02 04 00 a2 02 04 00");

        using var password = Assert.IsType<TsPasswordCreds>(TsCredentials.DecodeContent(encoded));

        Assert.True(password.IsEmpty);
        Assert.Equal(0, password.PasswordLength);
        Assert.Equal(encoded, TsCredentials.ForPassword("", "", "").Encode());
    }

    [Fact]
    public void CopyPasswordTo_NonAsciiPassword_CopiesCharacters()
    {
        using var creds = new TsPasswordCreds("Ithaque", "Ulysse", "Pénélope");
        Span<char> buffer = stackalloc char[creds.PasswordLength];

        Assert.Equal(8, creds.CopyPasswordTo(buffer));
        Assert.Equal("Pénélope", buffer.ToString());
        Assert.Throws<ArgumentOutOfRangeException>(() => creds.CopyPasswordTo(new char[3]));
    }

    [Fact]
    public void Dispose_PasswordCreds_ZeroesPasswordAndRefusesAccess()
    {
        var creds = new TsPasswordCreds("d", "u", "secret");
        byte[] encoded = creds.Encode();

        creds.Dispose();

        Assert.Throws<ObjectDisposedException>(() => creds.PasswordUtf16.Length);
        Assert.Throws<ObjectDisposedException>(() => creds.Encode());
        using var decoded = TsPasswordCreds.Decode(encoded);
        Assert.Equal("secret", decoded.GetPassword());
    }

    [Fact]
    public void Dispose_TsCredentials_ZeroesCredentials()
    {
        var credentials = TsCredentials.ForPassword("d", "u", "secret");
        byte[] inner = credentials.Credentials;

        credentials.Dispose();

        Assert.All(inner, b => Assert.Equal(0, b));
    }

    [Fact]
    public void DecodeContent_SmartCard_ReturnsSmartCardCredsWithAllFields()
    {
        // Field values from the MS-CSSP §4 smart-card example (docs/interop.md#tscredentials).
        var cspData = new TsCspDataDetail
        {
            KeySpec = 1,
            CardName = "Identity Device (Microsoft Generic Profile)",
            ReaderName = "OMNIKEY CardMan 3x21 0",
            ContainerName = "le-MSSmartcardUser-8bda019f-1266--53268",
            CspName = "Microsoft Base Smart Card Crypto Provider",
        };
        using TsCredentials credentials = new TsSmartCardCreds("1234", cspData, "user@example.com", "EXAMPLE").ToTsCredentials();

        using TsCredentialsContent content = TsCredentials.DecodeContent(credentials.Encode());

        var smartCard = Assert.IsType<TsSmartCardCreds>(content);
        Assert.Equal(TsCredentialType.SmartCard, credentials.KnownType);
        Assert.Equal("1234"u8.ToArray().SelectMany(b => new[] { b, (byte)0 }).ToArray(), smartCard.PinUtf16.ToArray());
        Assert.Equal(1, smartCard.CspData.KeySpec);
        Assert.Equal(cspData.CardName, smartCard.CspData.CardName);
        Assert.Equal(cspData.ReaderName, smartCard.CspData.ReaderName);
        Assert.Equal(cspData.ContainerName, smartCard.CspData.ContainerName);
        Assert.Equal(cspData.CspName, smartCard.CspData.CspName);
        Assert.Equal("user@example.com", smartCard.UserHint);
        Assert.Equal("EXAMPLE", smartCard.DomainHint);
        Assert.Equal(credentials.Credentials, smartCard.Encode());
    }

    [Fact]
    public void DecodeContent_SmartCardMinimal_OptionalFieldsNull()
    {
        // TSSmartCardCreds{pin "", cspData{keySpec 2}}
        byte[] inner = Hex("30 0d a0 02 04 00 a1 07 30 05 a0 03 02 01 02");
        using var smartCard = TsSmartCardCreds.Decode(inner);

        Assert.Equal(2, smartCard.CspData.KeySpec);
        Assert.Null(smartCard.CspData.CardName);
        Assert.Null(smartCard.UserHint);
        Assert.Null(smartCard.DomainHint);
        Assert.Equal(inner, smartCard.Encode());
    }

    [Fact]
    public void DecodeContent_RemoteGuard_ReturnsRemoteGuardCreds()
    {
        var logon = new TsRemoteGuardPackageCred("Kerberos", [10, 0, 0, 0, 1, 2, 3]);
        var supplemental = new TsRemoteGuardPackageCred("NTLM", [0x02, 0x00, 0xFF, 0xFF]);
        using TsCredentials credentials = new TsRemoteGuardCreds(logon, [supplemental]).ToTsCredentials();

        using TsCredentialsContent content = TsCredentials.DecodeContent(credentials.Encode());

        var remoteGuard = Assert.IsType<TsRemoteGuardCreds>(content);
        Assert.Equal(6, credentials.CredType);
        Assert.Equal("Kerberos", remoteGuard.LogonCred.PackageName);
        Assert.Equal(logon.CredBuffer, remoteGuard.LogonCred.CredBuffer);
        var decodedSupplemental = Assert.Single(remoteGuard.SupplementalCreds!);
        Assert.Equal("NTLM", decodedSupplemental.PackageName);
        Assert.Equal(supplemental.CredBuffer, decodedSupplemental.CredBuffer);
    }

    [Fact]
    public void DecodeContent_RemoteGuardWithoutSupplemental_NullVersusEmptyPreserved()
    {
        var logon = new TsRemoteGuardPackageCred("Kerberos", [1]);
        using var absent = new TsRemoteGuardCreds(logon);
        using var empty = new TsRemoteGuardCreds(logon, []);

        Assert.Null(TsRemoteGuardCreds.Decode(absent.Encode()).SupplementalCreds);
        Assert.Empty(TsRemoteGuardCreds.Decode(empty.Encode()).SupplementalCreds!);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(-1)]
    public void DecodeContent_UndefinedCredType_ThrowsUnsupportedCredentials(int credType)
    {
        using var credentials = new TsCredentials(credType, Hex("30 00"));

        var e = Assert.Throws<NlaProtocolException>(() => TsCredentials.DecodeContent(credentials.Encode()));
        Assert.Equal(NlaFailureReason.UnsupportedCredentials, e.Reason);
        Assert.Null(credentials.KnownType);
    }

    [Theory]
    [InlineData("30 0d a0 03 04 01 61 a1 02 04 00 a2 02 04 00", "domainName has an odd length")]
    [InlineData("30 0d a0 02 04 00 a1 02 04 00 a2 03 04 01 61", "password has an odd length")]
    [InlineData("30 0e a0 02 04 00 a1 04 04 02 00 d8 a2 02 04 00", "userName is not valid UTF-16LE")]
    [InlineData("30 08 a0 02 04 00 a1 02 04 00", "element is missing")] // password
    [InlineData("30 0c a1 02 04 00 a0 02 04 00 a2 02 04 00", "[1] (constructed) where [0] (constructed)")] // out of order
    [InlineData("30 10 a0 02 04 00 a1 02 04 00 a2 02 04 00 a3 02 04 00", "trailing")] // unknown field [3]
    public void DecodePasswordCreds_Invalid_ThrowsMalformedForTheRightReason(string hex, string expectedMessage)
    {
        var e = Assert.Throws<NlaProtocolException>(() => TsPasswordCreds.Decode(Hex(hex)));
        Assert.Equal(NlaFailureReason.Malformed, e.Reason);
        Assert.Contains(expectedMessage, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void DecodeContent_TrailingBytesAfterTsCredentials_ThrowsMalformed()
    {
        byte[] encoded = [.. Load("credssp/tscredentials-password.hex"), 0x00];

        Assert.Equal(NlaFailureReason.Malformed, Assert.Throws<NlaProtocolException>(() => TsCredentials.DecodeContent(encoded)).Reason);
    }

    [Fact]
    public void Decoders_RandomAndMutatedInput_ReturnOrThrowNlaProtocolExceptionOnly()
    {
        byte[] password = Load("credssp/tscredentials-password.hex");
        using TsCredentials smartCard = new TsSmartCardCreds("1", new TsCspDataDetail { KeySpec = 1, CspName = "c" }, "u", "d").ToTsCredentials();
        using TsCredentials remoteGuard = new TsRemoteGuardCreds(new TsRemoteGuardPackageCred("K", [1]), [new TsRemoteGuardPackageCred("N", [2])]).ToTsCredentials();
        byte[][] samples = [password, smartCard.Encode(), remoteGuard.Encode()];
        byte[][] innerSamples = [.. samples.Select(s => TsCredentials.Decode(s).Credentials)];

        DecoderTotality.RandomBytes(b => TsCredentials.DecodeContent(b).Dispose());
        DecoderTotality.Mutations(b => TsCredentials.DecodeContent(b).Dispose(), samples);
        DecoderTotality.Mutations(b => TsCredentials.Decode(b).Dispose(), samples, iterations: 1000);
        DecoderTotality.Mutations(b => TsPasswordCreds.Decode(b).Dispose(), innerSamples, iterations: 2000);
        DecoderTotality.Mutations(b => TsSmartCardCreds.Decode(b).Dispose(), innerSamples, iterations: 2000);
        DecoderTotality.Mutations(b => TsRemoteGuardCreds.Decode(b).Dispose(), innerSamples, iterations: 2000);
    }
}
