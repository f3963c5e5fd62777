using System.Buffers.Binary;
using System.Text;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Tests.Cryptography;

namespace RdpNla.Protocol.Tests.Ntlm;

/// <summary>MS-NLMP §4.2.4 (NTLMv2) reproduced byte for byte from tests/TestVectors/ntlm/ms-nlmp-4.2.4.txt.</summary>
public class MsNlmpVectorTests
{
    private const string VectorPath = "ntlm/ms-nlmp-4.2.4.txt";
    private static readonly IReadOnlyDictionary<string, string> s_v = VectorFile.KeyValues(VectorPath);

    private static byte[] Hex(string key) => Convert.FromHexString(s_v[key]);

    private static byte[] ResponseKeyNt => NtlmCrypto.NtOwfV2(s_v["Password"], s_v["User"], s_v["UserDom"]);

    private static AvPairList ServerAvPairs => new([AvPair.FromString(AvId.NbDomainName, s_v["UserDom"]), AvPair.FromString(AvId.NbComputerName, s_v["ServerName"])]);

    private static byte[] Temp => NtlmCrypto.ComputeNtlmV2Temp(
        BinaryPrimitives.ReadInt64LittleEndian(Hex("Time")), Hex("ClientChallenge"), ServerAvPairs.Encode());

    [Fact]
    public void VectorFile_FirstLine_IsCitation()
    {
        Assert.StartsWith("MS-NLMP §4.2.4 NTLMv2", VectorFile.Citation(VectorPath), StringComparison.Ordinal);
    }

    [Fact]
    public void NtOwfV1_SpecPassword_MatchesSpec() =>
        Assert.Equal(Hex("NTOWFv1"), NtlmCrypto.NtOwfV1(s_v["Password"]));

    [Fact]
    public void NtOwfV2_SpecUserAndDomain_MatchesSpec() =>
        Assert.Equal(Hex("NTOWFv2"), ResponseKeyNt);

    [Fact]
    public void NtOwfV2_FromHash_EqualsFromPassword() =>
        Assert.Equal(Hex("NTOWFv2"), NtlmCrypto.NtOwfV2(Hex("NTOWFv1"), "user", "Domain"));

    [Fact]
    public void NtOwfV2_DomainCase_IsNotNormalised() =>
        Assert.NotEqual(Hex("NTOWFv2"), NtlmCrypto.NtOwfV2(Hex("NTOWFv1"), "User", "DOMAIN"));

    [Fact]
    public void AvPairList_SpecServerPairs_EncodeToSpecBytes() =>
        Assert.Equal(Hex("ServerAvPairs"), ServerAvPairs.Encode());

    [Fact]
    public void ComputeNtlmV2Temp_SpecInputs_MatchesSpec() =>
        Assert.Equal(Hex("Temp"), Temp);

    [Fact]
    public void ComputeNtProofStr_SpecInputs_MatchesSpec() =>
        Assert.Equal(Hex("NTProofStr"), NtlmCrypto.ComputeNtProofStr(ResponseKeyNt, Hex("ServerChallenge"), Temp));

    [Fact]
    public void ComputeLmV2Response_SpecInputs_MatchesSpec() =>
        Assert.Equal(Hex("LMv2Response"), NtlmCrypto.ComputeLmV2Response(ResponseKeyNt, Hex("ServerChallenge"), Hex("ClientChallenge")));

    [Fact]
    public void ComputeSessionBaseKey_SpecInputs_MatchesSpec() =>
        Assert.Equal(Hex("SessionBaseKey"), NtlmCrypto.ComputeSessionBaseKey(ResponseKeyNt, Hex("NTProofStr")));

    [Fact]
    public void Rc4K_RandomSessionKey_MatchesSpecEncryptedRandomSessionKey()
    {
        byte[] keyExchangeKey = NtlmCrypto.KxKey(Hex("SessionBaseKey"));

        Assert.Equal(Hex("EncryptedRandomSessionKey"), NtlmCrypto.Rc4K(keyExchangeKey, Hex("RandomSessionKey")));
        Assert.Equal(Hex("RandomSessionKey"), NtlmCrypto.Rc4K(keyExchangeKey, Hex("EncryptedRandomSessionKey")));
    }

    [Theory]
    [InlineData(nameof(NtlmRole.Client), "ClientSigningKey", "ClientSealingKey")]
    [InlineData(nameof(NtlmRole.Server), "ServerSigningKey", "ServerSealingKey")]
    public void SignKeyAndSealKey_SpecSessionKey_MatchSpec(string roleName, string signKey, string sealKey)
    {
        // NtlmRole is internal, so a public theory takes its name.
        NtlmRole role = Enum.Parse<NtlmRole>(roleName);
        Assert.Equal(Hex(signKey), NtlmCrypto.SignKey(Hex("RandomSessionKey"), role));
        Assert.Equal(Hex(sealKey), NtlmCrypto.SealKey(Hex("RandomSessionKey"), role));
    }

    [Fact]
    public void Wrap_SpecPlaintextAsClient_MatchesSpecSignatureAndSealedData()
    {
        using var client = new NtlmSessionSecurity(Hex("RandomSessionKey"), NtlmRole.Client);

        byte[] token = client.Wrap(Encoding.Unicode.GetBytes(s_v["Plaintext"]));

        Assert.Equal([.. Hex("Signature"), .. Hex("SealedPlaintext")], token);
        Assert.Equal(1u, client.SendSequenceNumber);
    }

    [Fact]
    public void Unwrap_SpecTokenAsServer_ReturnsPlaintext()
    {
        using var server = new NtlmSessionSecurity(Hex("RandomSessionKey"), NtlmRole.Server);

        byte[] plaintext = server.Unwrap([.. Hex("Signature"), .. Hex("SealedPlaintext")]);

        Assert.Equal(s_v["Plaintext"], Encoding.Unicode.GetString(plaintext));
        Assert.Equal(1u, server.ReceiveSequenceNumber);
    }

    [Fact]
    public void ChallengeMessage_BuiltFromSpecValues_EncodesToSpecBytes()
    {
        var challenge = new NtlmChallengeMessage
        {
            Flags = (NegotiateFlags)Convert.ToUInt32(s_v["NegotiateFlags"], 16),
            TargetName = s_v["ServerName"],
            ServerChallenge = Hex("ServerChallenge"),
            TargetInfo = ServerAvPairs,
            Version = NtlmVersion.Decode(Hex("ChallengeVersion")),
        };

        Assert.Equal(Hex("ChallengeMessage"), challenge.Encode());
    }

    [Fact]
    public void ChallengeMessage_DecodeSpecBytes_ReadsFieldsAndRoundTrips()
    {
        NtlmChallengeMessage challenge = NtlmChallengeMessage.Decode(Hex("ChallengeMessage"));

        Assert.Equal("Server", challenge.TargetName);
        Assert.Equal(Hex("ServerChallenge"), challenge.ServerChallenge.ToArray());
        Assert.Equal(new NtlmVersion(6, 0, 6000, 15), challenge.Version);
        Assert.Equal("Domain", challenge.TargetInfo!.NbDomainName);
        Assert.Equal("Server", challenge.TargetInfo.NbComputerName);
        Assert.Null(challenge.TargetInfo.Timestamp);
        Assert.Equal(Hex("ChallengeMessage"), challenge.Encode());
    }

    [Fact]
    public void AuthenticateMessage_BuiltWithNtlmCrypto_EncodesToSpecBytes()
    {
        byte[] ntProofStr = NtlmCrypto.ComputeNtProofStr(ResponseKeyNt, Hex("ServerChallenge"), Temp);
        byte[] sessionBaseKey = NtlmCrypto.ComputeSessionBaseKey(ResponseKeyNt, ntProofStr);
        var authenticate = new NtlmAuthenticateMessage
        {
            Flags = (NegotiateFlags)Convert.ToUInt32(s_v["AuthenticateNegotiateFlags"], 16),
            LmChallengeResponse = NtlmCrypto.ComputeLmV2Response(ResponseKeyNt, Hex("ServerChallenge"), Hex("ClientChallenge")),
            NtChallengeResponse = NtlmCrypto.ComputeNtChallengeResponse(ntProofStr, Temp),
            DomainName = s_v["UserDom"],
            UserName = s_v["User"],
            Workstation = s_v["Workstation"],
            EncryptedRandomSessionKey = NtlmCrypto.Rc4K(NtlmCrypto.KxKey(sessionBaseKey), Hex("RandomSessionKey")),
            Version = NtlmVersion.Decode(Hex("AuthenticateVersion")),
        };

        Assert.Equal(Hex("AuthenticateMessage"), authenticate.Encode());
    }

    [Fact]
    public void AuthenticateMessage_DecodeSpecBytes_ReadsFieldsWithoutMicAndRoundTrips()
    {
        NtlmAuthenticateMessage authenticate = NtlmAuthenticateMessage.Decode(Hex("AuthenticateMessage"));

        Assert.Equal("User", authenticate.UserName);
        Assert.Equal("Domain", authenticate.DomainName);
        Assert.Equal("COMPUTER", authenticate.Workstation);
        Assert.Equal(Hex("LMv2Response"), authenticate.LmChallengeResponse.ToArray());
        Assert.Equal([.. Hex("NTProofStr"), .. Temp], authenticate.NtChallengeResponse.ToArray());
        Assert.Equal(Hex("EncryptedRandomSessionKey"), authenticate.EncryptedRandomSessionKey.ToArray());
        Assert.Equal(new NtlmVersion(5, 1, 2600, 15), authenticate.Version);
        Assert.Null(authenticate.Mic); // the payload starts at 72: no room for a MIC
        Assert.Null(authenticate.MicOffset);
        Assert.Equal(Hex("AuthenticateMessage"), authenticate.Encode());
    }

    [Fact]
    public void ServerContext_SpecAuthenticate_VerifiesAndDerivesSpecSessionKey()
    {
        // The NEGOTIATE dotnet/runtime's fake NTLM server test pairs with these messages (flags 0xE28A8233, 6.1.7600).
        byte[] negotiate = Convert.FromHexString("4e544c4d535350000100000033828ae2000000000000000000000000000000000601b01d0000000f");
        using var server = new NtlmServerContext(new NtlmServerOptions
        {
            NbComputerName = "Server",
            NbDomainName = "Domain",
            TimeProvider = new FixedTimeProvider(DateTimeOffset.FromFileTime(0)),
            RandomSource = new SequenceRandomSource(Hex("ServerChallenge")),
        });

        server.GetOutgoingBlob(negotiate, out NlaStatus status);
        Assert.Equal(NlaStatus.ContinueNeeded, status);
        server.GetOutgoingBlob(Hex("AuthenticateMessage"), out status);
        Assert.Equal(NlaStatus.CredentialLookupNeeded, status);
        Assert.Equal("User", server.UserName);
        server.ProvideCredential(NtlmCredentialLookup.Found(NtlmCrypto.NtOwfV1(s_v["Password"])));
        server.GetOutgoingBlob([], out status);

        Assert.Equal(NlaStatus.Completed, status);
        Assert.True(server.PasswordVerified);
        Assert.Equal(s_v["Plaintext"], Encoding.Unicode.GetString(server.SessionSecurity!.Unwrap([.. Hex("Signature"), .. Hex("SealedPlaintext")])));
    }
}
