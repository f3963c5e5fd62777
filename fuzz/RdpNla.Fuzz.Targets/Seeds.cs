using System.Buffers.Binary;
using System.Security.Cryptography;
using RdpNla.Protocol;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Rdp;
using RdpNla.Protocol.Spnego;

namespace RdpNla.Fuzz;

/// <summary>
/// Writes the initial corpus of every target: the binary form of tests/TestVectors (hex files with '#' citation lines,
/// and the key=value MS-NLMP file), the tokens nested in them (negoTokens, NTLM messages inside SPNEGO, TargetInfo),
/// and a few messages produced by the codecs themselves, including whole client conversations for credssp-server.
/// </summary>
internal static class Seeds
{
    public static int Write(string vectorsDirectory, string outputDirectory)
    {
        IReadOnlyDictionary<string, List<byte[]>> corpus = Build(vectorsDirectory);
        int total = 0;
        foreach ((string target, List<byte[]> inputs) in corpus)
        {
            string directory = Path.Combine(outputDirectory, target);
            Directory.CreateDirectory(directory);
            foreach (byte[] input in inputs)
            {
                File.WriteAllBytes(Path.Combine(directory, Convert.ToHexStringLower(SHA256.HashData(input))[..16]), input);
                total++;
            }

            Console.WriteLine($"{target}: {inputs.Count} seeds");
        }

        return total;
    }

    /// <summary>The initial corpus of every target, by target name; throws when a target gets no seed.</summary>
    public static IReadOnlyDictionary<string, List<byte[]>> Build(string vectorsDirectory)
    {
        var corpus = new Dictionary<string, List<byte[]>>(StringComparer.Ordinal);
        foreach (string target in Targets.All.Keys)
        {
            corpus[target] = [];
        }

        void Add(string target, byte[] bytes)
        {
            if (bytes.Length > 0 && !corpus[target].Any(existing => existing.AsSpan().SequenceEqual(bytes)))
            {
                corpus[target].Add(bytes);
            }
        }

        // 1. The test vectors.
        foreach (string path in Directory.EnumerateFiles(vectorsDirectory, "*.hex", SearchOption.AllDirectories).Order(StringComparer.Ordinal))
        {
            string relative = Path.GetRelativePath(vectorsDirectory, path).Replace('\\', '/');
            if (relative.StartsWith("fuzz/", StringComparison.Ordinal))
            {
                continue;
            }

            byte[] bytes = ReadHex(path);
            string name = Path.GetFileNameWithoutExtension(path);
            switch (relative.Split('/')[0])
            {
                case "rdp":
                    Add("tpkt-x224", bytes);
                    if (name.Contains("connection-request", StringComparison.Ordinal))
                    {
                        Add("frontdoor", bytes);
                    }

                    break;
                case "credssp" when name.StartsWith("tscredentials", StringComparison.Ordinal):
                    Add("tscredentials", bytes);
                    break;
                case "credssp":
                    Add("tsrequest", bytes);
                    AddNested(bytes, Add);
                    break;
                case "spnego":
                    Add("spnego", bytes);
                    AddSpnegoNested(bytes, Add);
                    break;
                default:
                    break;
            }
        }

        string nlmp = Path.Combine(vectorsDirectory, "ntlm", "ms-nlmp-4.2.4.txt");
        if (File.Exists(nlmp))
        {
            Dictionary<string, string> values = File.ReadLines(nlmp).Skip(1)
                .Where(line => line.Length > 0 && !line.StartsWith('#') && line.Contains('=', StringComparison.Ordinal))
                .Select(line => line.Split('=', 2))
                .ToDictionary(parts => parts[0], parts => parts[1], StringComparer.Ordinal);
            Add("ntlm-challenge", Convert.FromHexString(values["ChallengeMessage"]));
            Add("ntlm-authenticate", Convert.FromHexString(values["AuthenticateMessage"]));
            Add("avpairs", Convert.FromHexString(values["ServerAvPairs"]));
        }

        // 2. Messages produced by the codecs.
        Add("tpkt-x224", EarlyUserAuthorizationResult.AccessDenied.Encode());
        Add("tscredentials", TsCredentials.ForPassword("WORKGROUP", "alice", "S3cret!").Encode());
        using (var smartCard = new TsSmartCardCreds("1234", new TsCspDataDetail { KeySpec = 1, CardName = "card", ReaderName = "reader", ContainerName = "container", CspName = "csp" }, "alice", "WORKGROUP"))
        {
            Add("tscredentials", smartCard.ToTsCredentials().Encode());
            Add("tscredentials", smartCard.Encode());
        }

        using (var remoteGuard = new TsRemoteGuardCreds(new TsRemoteGuardPackageCred("Kerberos", [1, 2, 3, 4]), [new TsRemoteGuardPackageCred("NTLM", [5, 6])]))
        {
            Add("tscredentials", remoteGuard.ToTsCredentials().Encode());
            Add("tscredentials", remoteGuard.Encode());
        }

        Add("spnego", new NegTokenResp { State = NegState.AcceptIncomplete, SupportedMech = SpnegoOids.Ntlm, ResponseToken = [1, 2, 3], MechListMic = [4, 5] }.Encode());
        Add("spnego", new NegTokenResp { State = NegState.Reject }.Encode());

        foreach (bool spnego in (bool[])[false, true])
        {
            foreach (int version in (int[])[2, 3, 4, 5, 6])
            {
                RecordConversation(spnego, version, Add);
            }
        }

        // Kerberos at our boundary: a raw Kerberos initial token, then SPNEGO with Kerberos first and it as optimistic
        // token; pubKeyAuth and authInfo behind the 60-byte trailer of the scripted mechanism (KerberosServer).
        byte[] apReq = [0x60, 0x0B, 0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x12, 0x01, 0x02, 0x02];
        foreach (bool spnego in (bool[])[false, true])
        {
            byte[] nonce = new byte[CredSspBinding.ClientNonceSize];
            byte[] token = spnego ? new NegTokenInit([SpnegoOids.MsKerberos, SpnegoOids.Kerberos, SpnegoOids.Ntlm], mechToken: apReq).Encode() : apReq;
            using TsCredentials credentials = TsCredentials.ForPassword("LAB.TEST", "alice", "S3cret!");
            byte[][] conversation =
            [
                new TsRequest { Version = 6, NegoTokens = [token], ClientNonce = nonce }.Encode(),
                new TsRequest { Version = 6, PubKeyAuth = [.. new byte[60], .. CredSspBinding.ComputeClientServerHash(nonce, CredSspServer.ServerPublicKey)], ClientNonce = nonce }.Encode(),
                new TsRequest { Version = 6, AuthInfo = [.. new byte[60], .. credentials.Encode()] }.Encode(),
            ];
            var input = new List<byte> { 0x40 };
            foreach (byte[] request in conversation)
            {
                input.Add((byte)(request.Length >> 8));
                input.Add((byte)request.Length);
                input.AddRange(request);
            }

            Add("kerberos-server", [.. input]);
            Add("spnego", token);
        }

        foreach ((string target, List<byte[]> inputs) in corpus)
        {
            if (inputs.Count == 0)
            {
                throw new InvalidOperationException($"No seed for target {target}.");
            }
        }

        return corpus;
    }

    /// <summary>Reads a tests/TestVectors hex file: '#' lines are citations and comments, the rest hex with whitespace.</summary>
    public static byte[] ReadHex(string path) => Convert.FromHexString(string.Concat(
        File.ReadLines(path).Where(line => !line.StartsWith('#')).SelectMany(line => line.Where(c => !char.IsWhiteSpace(c)))));

    /// <summary>The negoTokens of a TSRequest and what they carry.</summary>
    private static void AddNested(byte[] tsRequest, Action<string, byte[]> add)
    {
        TsRequest request;
        try
        {
            request = TsRequest.Decode(tsRequest);
        }
        catch (NlaProtocolException)
        {
            return;
        }

        foreach (byte[] token in request.NegoTokens)
        {
            if (NegoTokenClassifier.Classify(token) == NegoTokenKind.RawNtlm)
            {
                AddNtlm(token, add);
            }
            else
            {
                add("spnego", token);
                AddSpnegoNested(token, add);
            }
        }
    }

    private static void AddSpnegoNested(byte[] token, Action<string, byte[]> add)
    {
        try
        {
            AddNtlm(NegTokenInit.Decode(token).MechToken, add);
        }
        catch (NlaProtocolException)
        {
        }

        try
        {
            AddNtlm(NegTokenResp.Decode(token).ResponseToken, add);
        }
        catch (NlaProtocolException)
        {
        }
    }

    private static void AddNtlm(byte[]? message, Action<string, byte[]> add)
    {
        if (message is null || message.Length < 12 || !message.AsSpan().StartsWith("NTLMSSP\0"u8))
        {
            return;
        }

        switch (BinaryPrimitives.ReadUInt32LittleEndian(message.AsSpan(8)))
        {
            case NtlmNegotiateMessage.MessageType:
                add("ntlm-negotiate", message);
                break;
            case NtlmChallengeMessage.MessageType:
                add("ntlm-challenge", message);
                try
                {
                    if (NtlmChallengeMessage.Decode(message).TargetInfo is { } info)
                    {
                        add("avpairs", info.Encode());
                    }
                }
                catch (NlaProtocolException)
                {
                }

                break;
            case NtlmAuthenticateMessage.MessageType:
                add("ntlm-authenticate", message);
                break;
            default:
                break;
        }
    }

    /// <summary>
    /// Runs our CredSSP client against the credssp-server target's server (same fixed clock and randomness) and
    /// records the client's side as a credssp-server input; the messages on both sides also seed the decoders.
    /// </summary>
    private static void RecordConversation(bool spnego, int version, Action<string, byte[]> add)
    {
        var clientOptions = new CredSspClientOptions
        {
            ServerPublicKey = CredSspServer.ServerPublicKey,
            MaxVersion = version,
            UseSpnego = spnego,
            Ntlm = new NtlmClientOptions
            {
                UserName = "alice",
                DomainName = "WORKGROUP",
                Password = CredSspServer.Password,
                Workstation = "CLIENT1",
                TargetName = "TERMSRV/server1",
                TimeProvider = new FixedTimeProvider(CredSspServer.Now),
                RandomSource = new SeededRandomSource(1),
            },
        };

        // Configuration byte: found, Mitigated, MaxVersion 6 (bits 4-6 = 4 → 2 + 4).
        const byte config = (4 << 4) | (1 << 2);
        var input = new List<byte> { config };
        using var client = new CredSspClientContext(clientOptions, new SeededRandomSource(3));
        using var server = new CredSspServerContext(new CredSspServerOptions
        {
            ServerPublicKey = CredSspServer.ServerPublicKey,
            Ntlm = CredSspServer.NtlmOptions(requireMic: true),
            MaxVersion = CredSspVersion.Latest,
            AllowEncryptionOracle = EncryptionOraclePolicy.Mitigated,
        });

        byte[]? toServer = client.GetOutgoingBlob([], out NlaStatus clientStatus);
        for (int round = 0; round < 8 && toServer is not null; round++)
        {
            add("tsrequest", toServer);
            AddNested(toServer, add);
            input.Add((byte)(toServer.Length >> 8));
            input.Add((byte)toServer.Length);
            input.AddRange(toServer);

            byte[]? toClient = server.GetOutgoingBlob(toServer, out NlaStatus serverStatus);
            if (serverStatus == NlaStatus.CredentialLookupNeeded)
            {
                server.ProvideCredential(NtlmCredentialLookup.Found(NtlmCrypto.NtOwfV1(CredSspServer.Password)));
                toClient = server.GetOutgoingBlob([], out serverStatus);
            }

            if (toClient is null || serverStatus is NlaStatus.Completed or NlaStatus.Failed || clientStatus is NlaStatus.Completed or NlaStatus.Failed)
            {
                break;
            }

            add("tsrequest", toClient);
            AddNested(toClient, add);
            toServer = client.GetOutgoingBlob(toClient, out clientStatus);
        }

        if (server.DelegatedCredentials is null)
        {
            throw new InvalidOperationException($"The recorded CredSSP conversation (SPNEGO {spnego}, version {version}) did not complete: {server.FailureMessage}");
        }

        add("credssp-server", [.. input]);
    }
}
