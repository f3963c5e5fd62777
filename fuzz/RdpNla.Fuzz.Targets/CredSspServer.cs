using RdpNla.Protocol;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Ntlm;

namespace RdpNla.Fuzz;

/// <summary>
/// The stateful acceptor: <c>CredSspServerContext</c>, and through it <c>NegotiateServerContext</c> (raw NTLM or
/// SPNEGO) and <c>NtlmServerContext</c>. Its contract is that peer bytes never make <c>GetOutgoingBlob</c> throw.
/// </summary>
/// <remarks>
/// Input: one configuration byte, then the client's TSRequests, each as a big-endian 16-bit length and the bytes.
/// The server's clock and randomness are fixed, so a recorded client conversation (the seeds) replays exactly: the
/// CHALLENGE is the same on every run, the NTLMv2 proof and MIC verify, and mutations reach pubKeyAuth and authInfo.
/// Configuration byte: bits 0–1 the credential lookup (found / not found / denied / found but denied after
/// verification), bits 2–3 the encryption-oracle policy, bits 4–6 the server's maximum CredSSP version (2–6),
/// bit 7 RequireMic off.
/// </remarks>
internal static class CredSspServer
{
    public const string Password = "S3cret!";
    public static readonly DateTimeOffset Now = new(2025, 6, 1, 12, 0, 0, TimeSpan.Zero);

    /// <summary>A stand-in for the TLS certificate's SubjectPublicKey (the server only compares and hashes it).</summary>
    public static readonly byte[] ServerPublicKey = MakePublicKey();

    public static NtlmServerOptions NtlmOptions(bool requireMic) => new()
    {
        NbComputerName = "SERVER1",
        NbDomainName = "WORKGROUP",
        DnsComputerName = "server1.example.test",
        DnsDomainName = "example.test",
        TimeProvider = new FixedTimeProvider(Now),
        RandomSource = new SeededRandomSource(2),
        RequireMic = requireMic,
    };

    /// <summary>Set by <c>replay</c> with RDPNLA_FUZZ_VERBOSE=1: print where each conversation ended (credssp-server and credssp-client).</summary>
    public static bool Verbose { get; set; }

    public static void Run(byte[] data)
    {
        if (data.Length == 0)
        {
            return;
        }

        byte config = data[0];
        var options = new CredSspServerOptions
        {
            ServerPublicKey = ServerPublicKey,
            Ntlm = NtlmOptions(requireMic: (config & 0x80) == 0),
            MaxVersion = CredSspVersion.Minimum + (((config >> 4) & 0x7) % (CredSspVersion.Latest - CredSspVersion.Minimum + 1)),
            AllowEncryptionOracle = (EncryptionOraclePolicy)(((config >> 2) & 0x3) % 3),
        };

        using var server = new CredSspServerContext(options);
        ReadOnlySpan<byte> rest = data.AsSpan(1);
        while (Targets.TryTakeMessage(ref rest, out ReadOnlySpan<byte> message))
        {
            _ = server.GetOutgoingBlob(message, out NlaStatus status);
            if (status == NlaStatus.CredentialLookupNeeded)
            {
                _ = server.UserName;
                _ = server.DomainName;
                _ = server.Workstation;
                server.ProvideCredential(Lookup(config));
                _ = server.GetOutgoingBlob([], out status);
            }

            if (Verbose && status is NlaStatus.Failed or NlaStatus.Completed)
            {
                Console.WriteLine($"credssp-server: {status} {server.FailureReason} {server.FailureMessage}");
            }

            if (status == NlaStatus.Failed)
            {
                if (server.FailureMessage is null)
                {
                    throw new OracleException($"CredSSP failed ({server.FailureReason}) without a failure message.");
                }

                return;
            }

            if (status == NlaStatus.Completed)
            {
                if (server.DelegatedCredentials is null || !server.PasswordVerified)
                {
                    throw new OracleException("CredSSP completed without a verified password and delegated credentials.");
                }

                return;
            }
        }
    }

    private static NtlmCredentialLookup Lookup(byte config) => (config & 0x3) switch
    {
        0 => NtlmCredentialLookup.Found(NtlmCrypto.NtOwfV1(Password)),
        1 => NtlmCredentialLookup.NotFound(),
        2 => NtlmCredentialLookup.Denied(NtStatus.AccountDisabled),
        _ => NtlmCredentialLookup.Found(NtlmCrypto.NtOwfV1(Password), NtStatus.AccountLockedOut),
    };

    private static byte[] MakePublicKey()
    {
        // Shaped like an RSAPublicKey (SEQUENCE { INTEGER n, INTEGER e }); the content does not matter here.
        byte[] key = new byte[270];
        new Random(7).NextBytes(key);
        key[0] = 0x30;
        key[1] = 0x82;
        key[2] = 0x01;
        key[3] = 0x0A;
        return key;
    }
}

internal sealed class FixedTimeProvider(DateTimeOffset now) : TimeProvider
{
    public override DateTimeOffset GetUtcNow() => now;
}

/// <summary>Deterministic bytes (not secure): the same on every run, so recorded conversations replay.</summary>
internal sealed class SeededRandomSource(int seed) : IRandomSource
{
#pragma warning disable CA5394 // Deterministic on purpose: the fuzz harness must replay.
    private readonly Random _random = new(seed);

    public void Fill(Span<byte> destination) => _random.NextBytes(destination);
#pragma warning restore CA5394
}
