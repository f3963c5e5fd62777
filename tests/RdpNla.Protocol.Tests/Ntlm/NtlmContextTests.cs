using System.Buffers.Binary;
using CsCheck;
using RdpNla.Protocol.Ntlm;

namespace RdpNla.Protocol.Tests.Ntlm;

public class NtlmContextTests
{
    private const string Password = "S3cret!";

    private static NtlmCredentialLookup Found(string password = Password, NtStatus denial = NtStatus.Success) =>
        NtlmCredentialLookup.Found(NtlmCrypto.NtOwfV1(password), denial);

    private static NlaStatus Finish(NtlmServerContext server, byte[] authenticate, NtlmCredentialLookup lookup)
    {
        Assert.Null(server.GetOutgoingBlob(authenticate, out NlaStatus status));
        Assert.Equal(NlaStatus.CredentialLookupNeeded, status);
        server.ProvideCredential(lookup);
        Assert.Null(server.GetOutgoingBlob([], out status));
        return status;
    }

    [Fact]
    public void GetOutgoingBlob_RightPassword_BothSidesCompleteAndWrapBothWays()
    {
        using NtlmClientContext client = NtlmTestPeers.Client();
        using NtlmServerContext server = NtlmTestPeers.Server();

        byte[] authenticate = NtlmTestPeers.RunToAuthenticate(client, server);
        NlaStatus status = Finish(server, authenticate, Found());

        Assert.Equal(NlaStatus.Completed, status);
        Assert.True(client.IsAuthenticated);
        Assert.True(server.IsAuthenticated);
        Assert.True(server.PasswordVerified);
        Assert.True(client.MicSent);
        Assert.True(server.MicVerified);
        Assert.Equal(("alice", "WORKGROUP", "CLIENT1"), (server.UserName, server.DomainName, server.Workstation));
        Assert.Equal("TERMSRV/server1", server.ClientTargetInfo!.TargetName);
        Assert.Equal(MsvAvFlags.MicPresent, server.ClientTargetInfo.Flags);
        Assert.Equal(new byte[16], server.ClientTargetInfo.Find(AvId.ChannelBindings)!.Value.ToArray());
        Assert.Equal("pubKeyAuth"u8.ToArray(), server.SessionSecurity!.Unwrap(client.SessionSecurity!.Wrap("pubKeyAuth"u8)));
        Assert.Equal("reply"u8.ToArray(), client.SessionSecurity.Unwrap(server.SessionSecurity.Wrap("reply"u8)));
        Assert.Equal("authInfo"u8.ToArray(), server.SessionSecurity.Unwrap(client.SessionSecurity.Wrap("authInfo"u8)));
        Assert.Equal((2u, 1u), (client.SessionSecurity.SendSequenceNumber, client.SessionSecurity.ReceiveSequenceNumber));
    }

    [Fact]
    public void GetOutgoingBlob_ClientWithNtHash_Completes()
    {
        using var client = new NtlmClientContext(new NtlmClientOptions
        {
            UserName = "Alice",
            DomainName = "",
            NtOwfV1 = NtlmCrypto.NtOwfV1(Password),
            TimeProvider = new FixedTimeProvider(NtlmTestPeers.Now),
            RandomSource = new SeededRandomSource(7),
        });
        using NtlmServerContext server = NtlmTestPeers.Server();

        Assert.Equal(NlaStatus.Completed, Finish(server, NtlmTestPeers.RunToAuthenticate(client, server), Found()));
    }

    [Fact]
    public void GetOutgoingBlob_WrongPassword_FailsWithLogonFailureAndNotVerified()
    {
        using NtlmClientContext client = NtlmTestPeers.Client(password: "wrong");
        using NtlmServerContext server = NtlmTestPeers.Server();

        NlaStatus status = Finish(server, NtlmTestPeers.RunToAuthenticate(client, server), Found());

        Assert.Equal(NlaStatus.Failed, status);
        Assert.False(server.PasswordVerified);
        Assert.Equal(NtStatus.LogonFailure, server.FailureStatus);
        Assert.Equal(NlaFailureReason.AuthenticationFailed, server.FailureReason);
        Assert.Equal("NTProofStr mismatch", server.FailureMessage);
        Assert.Null(server.SessionSecurity);
    }

    [Fact]
    public void GetOutgoingBlob_UnknownUser_FailsLikeWrongPassword()
    {
        using NtlmClientContext client = NtlmTestPeers.Client();
        using NtlmServerContext server = NtlmTestPeers.Server();

        NlaStatus status = Finish(server, NtlmTestPeers.RunToAuthenticate(client, server), NtlmCredentialLookup.NotFound());

        Assert.Equal(NlaStatus.Failed, status);
        Assert.False(server.PasswordVerified);
        Assert.Equal(NtStatus.LogonFailure, server.FailureStatus);
        Assert.Equal(NlaFailureReason.AuthenticationFailed, server.FailureReason);
        Assert.Equal("unknown user", server.FailureMessage);
    }

    [Fact]
    public void GetOutgoingBlob_DeniedLookup_FailsWithThatStatusWithoutVerifying()
    {
        using NtlmClientContext client = NtlmTestPeers.Client();
        using NtlmServerContext server = NtlmTestPeers.Server();

        NlaStatus status = Finish(server, NtlmTestPeers.RunToAuthenticate(client, server), NtlmCredentialLookup.Denied(NtStatus.AccountLockedOut));

        Assert.Equal(NlaStatus.Failed, status);
        Assert.False(server.PasswordVerified);
        Assert.Equal(NtStatus.AccountLockedOut, server.FailureStatus);
        Assert.Contains("STATUS_ACCOUNT_LOCKED_OUT", server.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void GetOutgoingBlob_DisabledAfterVerification_FailsWithStatusButPasswordVerified()
    {
        using NtlmClientContext client = NtlmTestPeers.Client();
        using NtlmServerContext server = NtlmTestPeers.Server();

        NlaStatus status = Finish(server, NtlmTestPeers.RunToAuthenticate(client, server), Found(denial: NtStatus.AccountDisabled));

        Assert.Equal(NlaStatus.Failed, status);
        Assert.True(server.PasswordVerified);
        Assert.Equal(NtStatus.AccountDisabled, server.FailureStatus);
        Assert.Equal("account denied after verification: STATUS_ACCOUNT_DISABLED", server.FailureMessage);
        Assert.Null(server.SessionSecurity);
    }

    [Fact]
    public void GetOutgoingBlob_FlagsStrippedInAuthenticate_MicDetectsIt()
    {
        using NtlmClientContext client = NtlmTestPeers.Client();
        using NtlmServerContext server = NtlmTestPeers.Server();

        // A relay clears ALWAYS_SIGN and 56: the NTProofStr still verifies, only the MIC covers the flags.
        byte[] authenticate = NtlmTestPeers.RunToAuthenticate(client, server, bytes =>
        {
            uint flags = BinaryPrimitives.ReadUInt32LittleEndian(bytes.AsSpan(60));
            BinaryPrimitives.WriteUInt32LittleEndian(bytes.AsSpan(60), flags & ~(uint)(NegotiateFlags.AlwaysSign | NegotiateFlags.Negotiate56));
            return bytes;
        });

        Assert.Equal(NlaStatus.Failed, Finish(server, authenticate, Found()));
        Assert.Equal("MIC mismatch", server.FailureMessage);
    }

    [Fact]
    public void GetOutgoingBlob_NtlmV1ShapedAuthenticate_RefusedByNameBeforeLookup()
    {
        using NtlmServerContext server = NtlmTestPeers.Server();
        server.GetOutgoingBlob(new NtlmNegotiateMessage { Flags = NtlmClientContext.NegotiateMessageFlags }.Encode(), out _);
        byte[] authenticate = new NtlmAuthenticateMessage
        {
            Flags = NtlmClientContext.NegotiateMessageFlags,
            LmChallengeResponse = new byte[24],
            NtChallengeResponse = Enumerable.Repeat((byte)0x42, 24).ToArray(),
            UserName = "alice",
            EncryptedRandomSessionKey = new byte[16],
            Version = NtlmVersion.Default,
        }.Encode();

        Assert.Null(server.GetOutgoingBlob(authenticate, out NlaStatus status));

        Assert.Equal(NlaStatus.Failed, status);
        Assert.Equal("NTLMv1 response refused", server.FailureMessage);
        Assert.Equal(NlaFailureReason.UnsupportedMechanism, server.FailureReason);
        Assert.Equal(NtStatus.LogonFailure, server.FailureStatus);
    }

    [Theory]
    [InlineData("", 0, 1, "anonymous logon refused")]
    [InlineData("alice", 24, 0, "LM-only response refused")]
    [InlineData("alice", 24, 30, "NTLMv2 response is malformed (MS-NLMP §2.2.2.8)")]
    public void GetOutgoingBlob_RefusedResponseShapes_FailBeforeLookup(string user, int lmLength, int ntLength, string expectedMessage)
    {
        using NtlmServerContext server = NtlmTestPeers.Server();
        server.GetOutgoingBlob(new NtlmNegotiateMessage { Flags = NtlmClientContext.NegotiateMessageFlags }.Encode(), out _);
        byte[] authenticate = new NtlmAuthenticateMessage
        {
            Flags = NtlmClientContext.NegotiateMessageFlags,
            LmChallengeResponse = new byte[lmLength],
            NtChallengeResponse = new byte[ntLength],
            UserName = user,
            Version = NtlmVersion.Default,
        }.Encode();

        server.GetOutgoingBlob(authenticate, out NlaStatus status);

        Assert.Equal(NlaStatus.Failed, status);
        Assert.Equal(expectedMessage, server.FailureMessage);
    }

    [Fact]
    public void GetOutgoingBlob_ServerNegotiateWithoutSeal_FailsUnsupportedFlags()
    {
        using NtlmServerContext server = NtlmTestPeers.Server();
        byte[] negotiate = new NtlmNegotiateMessage { Flags = NtlmClientContext.NegotiateMessageFlags & ~NegotiateFlags.Seal }.Encode();

        Assert.Null(server.GetOutgoingBlob(negotiate, out NlaStatus status));

        Assert.Equal(NlaStatus.Failed, status);
        Assert.Equal(NlaFailureReason.UnsupportedFlags, server.FailureReason);
    }

    [Fact]
    public void GetOutgoingBlob_ServerGarbage_FailsWithoutThrowing()
    {
        using NtlmServerContext server = NtlmTestPeers.Server();

        Assert.Null(server.GetOutgoingBlob("not ntlm at all"u8, out NlaStatus status));

        Assert.Equal(NlaStatus.Failed, status);
        Assert.Equal(NlaFailureReason.Malformed, server.FailureReason);
    }

    [Fact]
    public void GetOutgoingBlob_ServerChallenge_CarriesRequiredFlagsAndTargetInfoInWindowsOrder()
    {
        using NtlmClientContext client = NtlmTestPeers.Client();
        using NtlmServerContext server = NtlmTestPeers.Server();
        byte[] negotiate = client.GetOutgoingBlob([], out _)!;

        NtlmChallengeMessage challenge = NtlmChallengeMessage.Decode(server.GetOutgoingBlob(negotiate, out _));

        Assert.Equal((NegotiateFlags)0xE28A8235, challenge.Flags); // what a workgroup Windows server sends
        Assert.Equal("SERVER1", challenge.TargetName);
        Assert.Equal(
            [AvId.NbDomainName, AvId.NbComputerName, AvId.DnsDomainName, AvId.DnsComputerName, AvId.Timestamp],
            challenge.TargetInfo!.Select(p => p.Id));
        Assert.Equal(NtlmTestPeers.Now.ToFileTime(), challenge.TargetInfo!.Timestamp);
    }

    [Fact]
    public void GetOutgoingBlob_AuthenticateWithoutMic_VerifiesByDefaultAndWrapsBothWays()
    {
        // A client that sends no MsvAvFlags and no MIC although the CHALLENGE carries MsvAvTimestamp, as some libraries do.
        using NtlmClientContext client = NtlmTestPeers.Client(sendMic: false);
        using NtlmServerContext server = NtlmTestPeers.Server();

        byte[] authenticate = NtlmTestPeers.RunToAuthenticate(client, server);
        NlaStatus status = Finish(server, authenticate, Found());

        Assert.Null(NtlmAuthenticateMessage.Decode(authenticate).Mic);
        Assert.Null(server.ClientTargetInfo!.Flags);
        Assert.Equal(NlaStatus.Completed, status);
        Assert.True(server.PasswordVerified);
        Assert.False(server.MicVerified);
        Assert.Equal("pubKeyAuth"u8.ToArray(), server.SessionSecurity!.Unwrap(client.SessionSecurity!.Wrap("pubKeyAuth"u8)));
        Assert.Equal("reply"u8.ToArray(), client.SessionSecurity.Unwrap(server.SessionSecurity.Wrap("reply"u8)));
    }

    [Fact]
    public void GetOutgoingBlob_AuthenticateWithoutMicWrongPassword_StillFailsOnNtProofStr()
    {
        using NtlmClientContext client = NtlmTestPeers.Client(password: "wrong", sendMic: false);
        using NtlmServerContext server = NtlmTestPeers.Server();

        NlaStatus status = Finish(server, NtlmTestPeers.RunToAuthenticate(client, server), Found());

        Assert.Equal(NlaStatus.Failed, status);
        Assert.Equal("NTProofStr mismatch", server.FailureMessage);
        Assert.False(server.PasswordVerified);
    }

    [Fact]
    public void GetOutgoingBlob_ServerRequiresMic_RefusesAuthenticateWithoutMicBeforeLookup()
    {
        using NtlmClientContext client = NtlmTestPeers.Client(sendMic: false);
        using NtlmServerContext server = NtlmTestPeers.Server(requireMic: true);
        byte[] authenticate = NtlmTestPeers.RunToAuthenticate(client, server);

        Assert.Null(server.GetOutgoingBlob(authenticate, out NlaStatus status));

        Assert.Equal(NlaStatus.Failed, status);
        Assert.Equal(NlaFailureReason.IntegrityCheckFailed, server.FailureReason);
        Assert.Equal("AUTHENTICATE carries no MIC and one is required (RequireNtlmMic)", server.FailureMessage);
        Assert.Equal(NtStatus.LogonFailure, server.FailureStatus);
        Assert.False(server.PasswordVerified);
    }

    [Fact]
    public void GetOutgoingBlob_ServerRequiresMic_AcceptsAuthenticateWithMic()
    {
        using NtlmClientContext client = NtlmTestPeers.Client();
        using NtlmServerContext server = NtlmTestPeers.Server(requireMic: true);

        Assert.Equal(NlaStatus.Completed, Finish(server, NtlmTestPeers.RunToAuthenticate(client, server), Found()));
        Assert.True(server.MicVerified);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(false, true)]
    [InlineData(true, false)]
    [InlineData(true, true)]
    public void GetOutgoingBlob_MicAnnouncedButTamperedOrZeroed_RefusedWhateverRequireMic(bool zeroed, bool requireMic)
    {
        // MsvAvFlags 0x2 sits inside the NTLMv2 blob, which the NTProofStr covers: a relay cannot remove the announcement,
        // and an announced MIC must verify even when the server does not require one.
        using NtlmClientContext client = NtlmTestPeers.Client();
        using NtlmServerContext server = NtlmTestPeers.Server(requireMic: requireMic);

        byte[] authenticate = NtlmTestPeers.RunToAuthenticate(client, server, bytes =>
        {
            if (zeroed)
            {
                bytes.AsSpan(NtlmAuthenticateMessage.MicFieldOffset, NtlmAuthenticateMessage.MicSize).Clear();
            }
            else
            {
                bytes[NtlmAuthenticateMessage.MicFieldOffset + 3] ^= 0x01;
            }

            return bytes;
        });
        NlaStatus status = Finish(server, authenticate, Found());

        Assert.Equal(NlaStatus.Failed, status);
        Assert.Equal(NlaFailureReason.IntegrityCheckFailed, server.FailureReason);
        Assert.Equal("MIC mismatch", server.FailureMessage);
        Assert.Equal(NtStatus.LogonFailure, server.FailureStatus);
        Assert.False(server.PasswordVerified);
        Assert.Null(server.SessionSecurity);
    }

    [Fact]
    public void GetOutgoingBlob_MsvAvFlagsClearedByRelay_NtProofStrDetectsIt()
    {
        // Removing the MIC announcement to fall back to the MIC-less path breaks the NTProofStr, which covers the AV pairs.
        using NtlmClientContext client = NtlmTestPeers.Client();
        using NtlmServerContext server = NtlmTestPeers.Server();

        byte[] authenticate = NtlmTestPeers.RunToAuthenticate(client, server, bytes =>
        {
            NtlmAuthenticateMessage message = NtlmAuthenticateMessage.Decode(bytes);
            byte[] nt = message.NtChallengeResponse.ToArray();
            int offset = NtlmCrypto.KeySize + NtlmCrypto.NtlmV2TempHeaderSize;
            AvPairList pairs = AvPairList.Decode(nt.AsSpan(offset));
            pairs.Remove(AvId.Flags);
            return new NtlmAuthenticateMessage
            {
                Flags = message.Flags,
                LmChallengeResponse = message.LmChallengeResponse,
                NtChallengeResponse = (byte[])[.. nt.AsSpan(0, offset), .. pairs.Encode()],
                DomainName = message.DomainName,
                UserName = message.UserName,
                Workstation = message.Workstation,
                EncryptedRandomSessionKey = message.EncryptedRandomSessionKey,
                Version = message.Version,
            }.Encode();
        });
        NlaStatus status = Finish(server, authenticate, Found());

        Assert.Equal(NlaStatus.Failed, status);
        Assert.Equal("NTProofStr mismatch", server.FailureMessage);
    }

    [Fact]
    public void GetOutgoingBlob_AuthenticateBuiltWithoutMic_VerifiesWithKeyExchange()
    {
        using NtlmServerContext server = NtlmTestPeers.Server();
        byte[] challenge = server.GetOutgoingBlob(new NtlmNegotiateMessage { Flags = NtlmClientContext.NegotiateMessageFlags }.Encode(), out _)!;
        NegotiateFlags granted = NtlmChallengeMessage.Decode(challenge).Flags;
        byte[] randomSessionKey = Enumerable.Repeat((byte)0x5A, 16).ToArray();
        (byte[] authenticate, NtlmSessionSecurity client) = NtlmTestPeers.AuthenticateWithoutMic(
            challenge, granted, Password, kxKey => NtlmCrypto.Rc4K(kxKey, randomSessionKey), randomSessionKey);
        using NtlmSessionSecurity clientSession = client;

        NlaStatus status = Finish(server, authenticate, Found());

        Assert.Equal(NlaStatus.Completed, status);
        Assert.False(server.MicVerified);
        Assert.Equal("pubKeyAuth"u8.ToArray(), server.SessionSecurity!.Unwrap(clientSession.Wrap("pubKeyAuth"u8)));
    }

    [Fact]
    public void GetOutgoingBlob_KeyExchInAuthenticateNotGrantedInChallenge_IgnoredAndKeyExchangeKeyUsed()
    {
        // MS-NLMP §3.2.5.1.2: ExportedSessionKey follows NegFlg, the flags of the CHALLENGE. The NEGOTIATE asks for no key
        // exchange, so the CHALLENGE grants none; the AUTHENTICATE still claims KEY_EXCH with an EncryptedRandomSessionKey
        // that the server must not decrypt: both sides key the session with KeyExchangeKey.
        using NtlmServerContext server = NtlmTestPeers.Server();
        byte[] negotiate = new NtlmNegotiateMessage { Flags = NtlmClientContext.NegotiateMessageFlags & ~NegotiateFlags.KeyExchange }.Encode();
        byte[] challenge = server.GetOutgoingBlob(negotiate, out _)!;
        NegotiateFlags granted = NtlmChallengeMessage.Decode(challenge).Flags;
        Assert.Equal(NegotiateFlags.None, granted & NegotiateFlags.KeyExchange);
        (byte[] authenticate, NtlmSessionSecurity client) = NtlmTestPeers.AuthenticateWithoutMic(
            challenge, granted | NegotiateFlags.KeyExchange, Password, kxKey => NtlmCrypto.Rc4K(kxKey, Enumerable.Repeat((byte)0x5A, 16).ToArray()));
        using NtlmSessionSecurity clientSession = client;

        NlaStatus status = Finish(server, authenticate, Found());

        Assert.Equal(NlaStatus.Completed, status);
        Assert.Equal("pubKeyAuth"u8.ToArray(), server.SessionSecurity!.Unwrap(clientSession.Wrap("pubKeyAuth"u8)));
        Assert.Equal("reply"u8.ToArray(), clientSession.Unwrap(server.SessionSecurity.Wrap("reply"u8)));
    }

    [Fact]
    public void GetOutgoingBlob_KeyExchGrantedButNotRepeatedInAuthenticate_KeyExchangeKeyUsed()
    {
        // The CHALLENGE grants KEY_EXCH; the AUTHENTICATE leaves it out and carries no EncryptedRandomSessionKey (MS-NLMP
        // §2.2.1.3: the AUTHENTICATE states the flags the client settled on): no key was exchanged, KeyExchangeKey is used.
        using NtlmServerContext server = NtlmTestPeers.Server();
        byte[] challenge = server.GetOutgoingBlob(new NtlmNegotiateMessage { Flags = NtlmClientContext.NegotiateMessageFlags }.Encode(), out _)!;
        NegotiateFlags granted = NtlmChallengeMessage.Decode(challenge).Flags;
        Assert.Equal(NegotiateFlags.KeyExchange, granted & NegotiateFlags.KeyExchange);
        (byte[] authenticate, NtlmSessionSecurity client) = NtlmTestPeers.AuthenticateWithoutMic(
            challenge, granted & ~NegotiateFlags.KeyExchange, Password, _ => []);
        using NtlmSessionSecurity clientSession = client;

        NlaStatus status = Finish(server, authenticate, Found());

        Assert.Equal(NlaStatus.Completed, status);
        Assert.Equal("pubKeyAuth"u8.ToArray(), server.SessionSecurity!.Unwrap(clientSession.Wrap("pubKeyAuth"u8)));
    }

    [Fact]
    public void GetOutgoingBlob_KeyExchGrantedAndRepeatedWithoutKey_RefusedAsMalformed()
    {
        using NtlmServerContext server = NtlmTestPeers.Server();
        byte[] challenge = server.GetOutgoingBlob(new NtlmNegotiateMessage { Flags = NtlmClientContext.NegotiateMessageFlags }.Encode(), out _)!;
        (byte[] authenticate, NtlmSessionSecurity client) = NtlmTestPeers.AuthenticateWithoutMic(
            challenge, NtlmChallengeMessage.Decode(challenge).Flags, Password, _ => []);
        client.Dispose();

        Assert.Null(server.GetOutgoingBlob(authenticate, out NlaStatus status));

        Assert.Equal(NlaStatus.Failed, status);
        Assert.Equal(NlaFailureReason.Malformed, server.FailureReason);
        Assert.Equal("EncryptedRandomSessionKey is not 16 bytes long", server.FailureMessage);
    }

    [Fact]
    public void GetOutgoingBlob_ClientOnChallengeWithoutTimestamp_UsesClockSendsLmV2AndNoMic()
    {
        using NtlmClientContext client = NtlmTestPeers.Client();
        client.GetOutgoingBlob([], out _);
        byte[] specChallenge = Convert.FromHexString(
            "4e544c4d53535000020000000c000c003800000033828ae20123456789abcdef00000000000000002400240044000000060070170000000f" +
            "53006500720076006500720002000c0044006f006d00610069006e0001000c0053006500720076006500720000000000");

        NtlmAuthenticateMessage authenticate = NtlmAuthenticateMessage.Decode(client.GetOutgoingBlob(specChallenge, out NlaStatus status));

        Assert.Equal(NlaStatus.Completed, status);
        Assert.False(client.MicSent);
        Assert.Null(authenticate.Mic);
        Assert.NotEqual(new byte[24], authenticate.LmChallengeResponse.ToArray());
        Assert.Equal(NtlmTestPeers.Now.ToFileTime(), BinaryPrimitives.ReadInt64LittleEndian(authenticate.NtChallengeResponse.Span[24..]));
        AvPairList pairs = AvPairList.Decode(authenticate.NtChallengeResponse.Span[44..]);
        Assert.Null(pairs.Flags);
        Assert.Equal("TERMSRV/server1", pairs.TargetName);
        Assert.Equal("Server", client.ChallengeMessage!.TargetInfo!.NbComputerName);
    }

    [Fact]
    public void GetOutgoingBlob_ClientOnChallengeWithoutNbNames_Fails()
    {
        using NtlmClientContext client = NtlmTestPeers.Client();
        client.GetOutgoingBlob([], out _);
        var challenge = new NtlmChallengeMessage
        {
            Flags = (NegotiateFlags)0xE28A8235,
            ServerChallenge = new byte[8],
            TargetInfo = new AvPairList([AvPair.FromString(AvId.NbDomainName, "D")]),
        };

        Assert.Null(client.GetOutgoingBlob(challenge.Encode(), out NlaStatus status));

        Assert.Equal(NlaStatus.Failed, status);
        Assert.Contains("MsvAvNbComputerName", client.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void GetOutgoingBlob_ClientOnChallengeWithoutSeal_FailsUnsupportedFlags()
    {
        using NtlmClientContext client = NtlmTestPeers.Client();
        client.GetOutgoingBlob([], out _);
        var challenge = new NtlmChallengeMessage
        {
            Flags = (NegotiateFlags)0xE28A8235 & ~NegotiateFlags.Seal,
            ServerChallenge = new byte[8],
            TargetInfo = new AvPairList([AvPair.FromString(AvId.NbDomainName, "D"), AvPair.FromString(AvId.NbComputerName, "C")]),
        };

        client.GetOutgoingBlob(challenge.Encode(), out NlaStatus status);

        Assert.Equal(NlaStatus.Failed, status);
        Assert.Equal(NlaFailureReason.UnsupportedFlags, client.FailureReason);
    }

    [Theory]
    [InlineData(60_000, true)]
    // The largest that fits: NTProofStr 16 + temp's fixed part 28 + the pairs (NbDomainName 6, NbComputerName 6, the
    // padding pair 4 + 65,413, MsvAvEOL 4, and what the client adds: channel bindings 20, TargetName "TERMSRV/server1" 34)
    // + Z(4) = 65,535.
    [InlineData(65_413, true)]
    [InlineData(65_414, false)]
    public void GetOutgoingBlob_ClientOnHugeTargetInfo_AnswersIfTheNtResponseFitsSixteenBits_ElseFailsWithoutThrowing(int padding, bool fits)
    {
        // MS-NLMP §2.2.1.3: NtChallengeResponseLen is 16 bits, and the NTLMv2 response carries the whole TargetInfo
        // (§3.3.2). A hostile server's CHALLENGE near 64 KiB used to make the encoder throw InvalidOperationException out
        // of GetOutgoingBlob (found by the credssp-client fuzz target's first test inputs).
        using NtlmClientContext client = NtlmTestPeers.Client();
        client.GetOutgoingBlob([], out _);
        var challenge = new NtlmChallengeMessage
        {
            Flags = (NegotiateFlags)0xE28A8235,
            ServerChallenge = new byte[8],
            TargetInfo = new AvPairList([AvPair.FromString(AvId.NbDomainName, "D"), AvPair.FromString(AvId.NbComputerName, "C"), new AvPair((AvId)0x0F00, new byte[padding])]),
        };

        byte[]? authenticate = client.GetOutgoingBlob(challenge.Encode(), out NlaStatus status);

        if (fits)
        {
            Assert.Equal(NlaStatus.Completed, status);
            Assert.True(NtlmAuthenticateMessage.Decode(authenticate).NtChallengeResponse.Length > padding);
        }
        else
        {
            Assert.Null(authenticate);
            Assert.Equal(NlaStatus.Failed, status);
            Assert.Equal(NlaFailureReason.MessageTooLarge, client.FailureReason);
            Assert.Contains("16-bit length field", client.FailureMessage, StringComparison.Ordinal);
        }
    }

    [Fact]
    public void GetOutgoingBlob_ClientGarbageChallenge_FailsWithoutThrowing()
    {
        using NtlmClientContext client = NtlmTestPeers.Client();
        client.GetOutgoingBlob([], out _);

        Assert.Null(client.GetOutgoingBlob("NTLMSSP\0\u0002"u8, out NlaStatus status));

        Assert.Equal(NlaStatus.Failed, status);
        Assert.Equal(NlaFailureReason.Malformed, client.FailureReason);
        Assert.DoesNotContain(Password, client.FailureMessage, StringComparison.Ordinal);
    }

    [Fact]
    public void GetOutgoingBlob_ClientNegotiate_HasCredSspFlagsAndVersion()
    {
        using NtlmClientContext client = NtlmTestPeers.Client();

        NtlmNegotiateMessage negotiate = NtlmNegotiateMessage.Decode(client.GetOutgoingBlob([], out NlaStatus status));

        Assert.Equal(NlaStatus.ContinueNeeded, status);
        Assert.Equal((NegotiateFlags)0xE2088235, negotiate.Flags);
        Assert.Equal(NtlmVersion.Default, negotiate.Version);
    }

    [Fact]
    public void GetOutgoingBlob_AfterCompletion_ThrowsInvalidOperation()
    {
        using NtlmClientContext client = NtlmTestPeers.Client();
        using NtlmServerContext server = NtlmTestPeers.Server();
        NtlmTestPeers.RunToAuthenticate(client, server);

        Assert.Throws<InvalidOperationException>(() => client.GetOutgoingBlob([], out _));
    }

    [Fact]
    public void GetOutgoingBlob_ServerWithoutProvideCredential_ThrowsInvalidOperation()
    {
        using NtlmClientContext client = NtlmTestPeers.Client();
        using NtlmServerContext server = NtlmTestPeers.Server();
        server.GetOutgoingBlob(NtlmTestPeers.RunToAuthenticate(client, server), out _);

        Assert.Throws<InvalidOperationException>(() => server.GetOutgoingBlob([], out _));
    }

    [Fact]
    public void Authenticate_RandomCredentials_SucceedIffPasswordsMatch()
    {
        for (int seed = 0; seed < 40; seed++)
        {
            var random = new Random(seed);
            string user = new(Enumerable.Range(0, random.Next(1, 12)).Select(_ => (char)random.Next('a', 'z' + 1)).ToArray());
            string domain = random.Next(3) == 0 ? "" : "Dom" + random.Next(100);
            string password = Convert.ToBase64String(Guid.NewGuid().ToByteArray())[..random.Next(0, 20)];
            bool same = random.Next(2) == 0;
            using NtlmClientContext client = NtlmTestPeers.Client(user, password, domain, seed);
            using NtlmServerContext server = NtlmTestPeers.Server(seed + 1000);

            NlaStatus status = Finish(server, NtlmTestPeers.RunToAuthenticate(client, server), Found(same ? password : password + "x"));

            Assert.Equal(same ? NlaStatus.Completed : NlaStatus.Failed, status);
        }
    }

    [Fact]
    public void GetOutgoingBlob_MutatedPeerMessages_NeverThrow()
    {
        using NtlmClientContext seedClient = NtlmTestPeers.Client();
        using NtlmServerContext seedServer = NtlmTestPeers.Server();
        byte[] negotiate = seedClient.GetOutgoingBlob([], out _)!;
        byte[] challenge = seedServer.GetOutgoingBlob(negotiate, out _)!;
        byte[] authenticate = seedClient.GetOutgoingBlob(challenge, out _)!;

        Gen<(int Target, byte[] Bytes)> gen =
            from target in Gen.Int[0, 1]
            from edits in Gen.Select(Gen.Int[0, 1000], Gen.Byte).Array[1, 4]
            from length in Gen.Int[1, 600]
            select (target, Mutate(target == 0 ? challenge : authenticate, edits, length));

        gen.Sample(
            (target, bytes) =>
            {
                if (target == 0)
                {
                    using NtlmClientContext client = NtlmTestPeers.Client();
                    client.GetOutgoingBlob([], out _);
                    client.GetOutgoingBlob(bytes, out NlaStatus status);
                    Assert.True(status is NlaStatus.Completed or NlaStatus.Failed);
                }
                else
                {
                    // Same seeds as above, so the server's ServerChallenge matches the one the AUTHENTICATE answers.
                    using NtlmServerContext server = NtlmTestPeers.Server();
                    server.GetOutgoingBlob(negotiate, out _);
                    server.GetOutgoingBlob(bytes, out NlaStatus status);
                    if (status == NlaStatus.CredentialLookupNeeded)
                    {
                        server.ProvideCredential(Found());
                        server.GetOutgoingBlob([], out status);
                    }

                    Assert.True(status is NlaStatus.Completed or NlaStatus.Failed);
                }
            },
            iter: 3_000);
    }

    private static byte[] Mutate(byte[] seed, (int Position, byte Value)[] edits, int length)
    {
        byte[] bytes = seed.ToArray();
        foreach ((int position, byte value) in edits)
        {
            bytes[position % bytes.Length] = value;
        }

        return length < bytes.Length ? bytes[..length] : bytes;
    }
}
