using RdpNla.Protocol.Ntlm;

namespace RdpNla.Protocol.Tests.Ntlm;

internal sealed class FixedTimeProvider(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}

/// <summary>Hands out the given chunks in order, one per Fill; each must match the requested length.</summary>
internal sealed class SequenceRandomSource(params byte[][] chunks) : IRandomSource
{
    private readonly Queue<byte[]> _chunks = new(chunks);

    public void Fill(Span<byte> destination)
    {
        byte[] chunk = _chunks.Dequeue();
        Assert.Equal(chunk.Length, destination.Length);
        chunk.CopyTo(destination);
    }
}

/// <summary>Deterministic pseudo-random bytes for tests (not secure).</summary>
internal sealed class SeededRandomSource(int seed) : IRandomSource
{
    private readonly Random _random = new(seed);

    public void Fill(Span<byte> destination) => _random.NextBytes(destination);
}

internal static class NtlmTestPeers
{
    public static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    public static NtlmClientContext Client(string user = "alice", string password = "S3cret!", string domain = "WORKGROUP", int seed = 1, bool sendMic = true) =>
        new(new NtlmClientOptions
        {
            UserName = user,
            DomainName = domain,
            Password = password,
            Workstation = "CLIENT1",
            TargetName = "TERMSRV/server1",
            TimeProvider = new FixedTimeProvider(Now),
            RandomSource = new SeededRandomSource(seed),
            SendMic = sendMic,
        });

    public static NtlmServerContext Server(int seed = 2, bool requireMic = false) =>
        new(new NtlmServerOptions
        {
            NbComputerName = "SERVER1",
            NbDomainName = "SERVER1",
            DnsComputerName = "server1.example.test",
            DnsDomainName = "example.test",
            TimeProvider = new FixedTimeProvider(Now),
            RandomSource = new SeededRandomSource(seed),
            RequireMic = requireMic,
        });

    /// <summary>Runs NEGOTIATE → CHALLENGE → AUTHENTICATE and returns the AUTHENTICATE (server is then awaiting a credential).</summary>
    public static byte[] RunToAuthenticate(NtlmClientContext client, NtlmServerContext server, Func<byte[], byte[]>? tamper = null)
    {
        byte[] negotiate = client.GetOutgoingBlob([], out NlaStatus status)!;
        Assert.Equal(NlaStatus.ContinueNeeded, status);
        byte[] challenge = server.GetOutgoingBlob(negotiate, out status)!;
        Assert.Equal(NlaStatus.ContinueNeeded, status);
        byte[] authenticate = client.GetOutgoingBlob(challenge, out status)!;
        Assert.Equal(NlaStatus.Completed, status);
        return tamper is null ? authenticate : tamper(authenticate);
    }

    /// <summary>
    /// Builds an NTLMv2 AUTHENTICATE without MsvAvFlags and without a MIC, as the libraries that send none do (MS-NLMP
    /// §3.1.5.1.2 with the MIC left out), with the given flags and EncryptedRandomSessionKey; returns it with the client's
    /// session over <paramref name="exportedSessionKey"/> (null: KeyExchangeKey, as without key exchange).
    /// </summary>
    public static (byte[] Authenticate, NtlmSessionSecurity Session) AuthenticateWithoutMic(
        byte[] challengeBytes, NegotiateFlags flags, string password, Func<byte[], byte[]> encryptedRandomSessionKey, byte[]? exportedSessionKey = null)
    {
        NtlmChallengeMessage challenge = NtlmChallengeMessage.Decode(challengeBytes);
        var pairs = new AvPairList(challenge.TargetInfo!);
        pairs.Set(AvPair.FromString(AvId.TargetName, "TERMSRV/server1"));
        byte[] clientChallenge = [1, 2, 3, 4, 5, 6, 7, 8];
        byte[] responseKeyNt = NtlmCrypto.NtOwfV2(password, "alice", "WORKGROUP");
        byte[] temp = NtlmCrypto.ComputeNtlmV2Temp(pairs.Timestamp!.Value, clientChallenge, pairs.Encode());
        byte[] ntProofStr = NtlmCrypto.ComputeNtProofStr(responseKeyNt, challenge.ServerChallenge.Span, temp);
        byte[] keyExchangeKey = NtlmCrypto.KxKey(NtlmCrypto.ComputeSessionBaseKey(responseKeyNt, ntProofStr));
        byte[] authenticate = new NtlmAuthenticateMessage
        {
            Flags = flags,
            LmChallengeResponse = NtlmCrypto.ComputeLmV2Response(responseKeyNt, challenge.ServerChallenge.Span, clientChallenge),
            NtChallengeResponse = NtlmCrypto.ComputeNtChallengeResponse(ntProofStr, temp),
            DomainName = "WORKGROUP",
            UserName = "alice",
            Workstation = "CLIENT1",
            EncryptedRandomSessionKey = encryptedRandomSessionKey(keyExchangeKey),
            Version = NtlmVersion.Default,
        }.Encode();
        return (authenticate, new NtlmSessionSecurity(exportedSessionKey ?? keyExchangeKey, NtlmRole.Client));
    }
}
