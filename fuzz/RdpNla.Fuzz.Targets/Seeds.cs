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

        // What the gateway reads after authentication: a Connect Initial with client core (serverSelectedProtocol at
        // offset 212), security and network data; a Connect Response with server core, network and security data; the
        // Erect Domain, Attach User and Channel Join requests; a Client Info PDU with credentials and extra info.
        Add("gateway-pdus", McsConnectPdu.EncodeConnectInitial([ClientCoreBlock(SecurityProtocols.Hybrid), GccBlock(GccBlockType.ClientSecurity, 12), GccBlock(GccBlockType.ClientNetwork, 20)]));
        Add("gateway-pdus", McsConnectPdu.EncodeConnectResponse([ServerCoreBlock(SecurityProtocols.Ssl | SecurityProtocols.Hybrid), GccBlock(GccBlockType.ServerNetwork, 8), GccBlock(GccBlockType.ServerSecurity, 12)]));
        Add("gateway-pdus", Tpkt.Wrap([0x02, 0xF0, 0x80, 0x04, 0x01, 0x00, 0x01, 0x00]));
        Add("gateway-pdus", Tpkt.Wrap([0x02, 0xF0, 0x80, 0x28]));
        Add("gateway-pdus", Tpkt.Wrap([0x02, 0xF0, 0x80, 0x38, 0x00, 0x06, 0x03, 0xEB]));
        using (var info = new ClientInfoPdu(1007, 1003, 0, 0x409, InfoFlags.Mouse | InfoFlags.Unicode | InfoFlags.LogonNotify,
            "LAB", "alice", System.Text.Encoding.Unicode.GetBytes("client-password"), "", "C:\\Users", [0x02, 0x00, 0x1C, 0x00, 0x31, 0x00, 0x32, 0x00]))
        {
            Add("gateway-pdus", info.Encode());
        }

        // PROXY protocol headers: v1 TCP4, TCP6 and UNKNOWN; v2 TCP4, TCP6 and LOCAL.
        Add("proxy-header", "PROXY TCP4 192.0.2.10 198.51.100.1 51234 3389\r\n"u8.ToArray());
        Add("proxy-header", "PROXY TCP6 2001:db8::10 2001:db8::1 51234 3389\r\n"u8.ToArray());
        Add("proxy-header", "PROXY UNKNOWN\r\n"u8.ToArray());
        byte[] signature = [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];
        Add("proxy-header", [.. signature, 0x21, 0x11, 0x00, 0x0C, 192, 0, 2, 10, 198, 51, 100, 1, 0xC8, 0x22, 0x0D, 0x3D]);
        Add("proxy-header", [.. signature, 0x21, 0x21, 0x00, 0x24, .. System.Net.IPAddress.Parse("2001:db8::10").GetAddressBytes(), .. System.Net.IPAddress.Parse("2001:db8::1").GetAddressBytes(), 0xC8, 0x22, 0x0D, 0x3D]);
        Add("proxy-header", [.. signature, 0x20, 0x00, 0x00, 0x00]);

        // The client role's other endings: RDP_NEG_FAILURE; PROTOCOL_SSL, allowed; a server that answers the NEGOTIATE with
        // errorCode (STATUS_NOT_SUPPORTED, as the encryption oracle policy sends it); the probe's stop at that answer.
        byte[] hybrid = new X224ConnectionConfirm(new RdpNegResponse(RdpNegResponseFlags.None, SecurityProtocols.Hybrid)).Encode();
        byte[] refusal = new TsRequest { Version = 6, ErrorCode = NtStatus.NotSupported }.Encode();
        Add("credssp-client", Chunks(CredSspClient.Config(false, 6, 0), [new X224ConnectionConfirm(new RdpNegFailure(NegotiationFailureCode.HybridRequiredByServer)).Encode()]));
        Add("credssp-client", Chunks(CredSspClient.Config(false, 6, 2), [new X224ConnectionConfirm(new RdpNegResponse(RdpNegResponseFlags.None, SecurityProtocols.Ssl)).Encode()]));
        Add("credssp-client", Chunks(CredSspClient.Config(false, 6, 0), [hybrid, refusal]));
        Add("credssp-client", Chunks((byte)(CredSspClient.Config(true, 6, 0) | 0x80), [hybrid, refusal]));

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
            Add("kerberos-server", Chunks(0x40, conversation));
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

    /// <summary>A TS_UD_CS_CORE of 216 bytes (RDP 10.x version, 1024×768, <paramref name="selected"/> in serverSelectedProtocol), MS-RDPBCGR §2.2.1.3.2.</summary>
    internal static byte[] ClientCoreBlock(SecurityProtocols selected)
    {
        byte[] block = GccBlock(GccBlockType.ClientCore, 216);
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(4), 0x00080004);
        BinaryPrimitives.WriteUInt16LittleEndian(block.AsSpan(8), 1024);
        BinaryPrimitives.WriteUInt16LittleEndian(block.AsSpan(10), 768);
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(McsConnectPdu.ServerSelectedProtocolOffset), (uint)selected);
        return block;
    }

    /// <summary>A TS_UD_SC_CORE of 16 bytes: version, <paramref name="requested"/> in clientRequestedProtocols, earlyCapabilityFlags 1 (MS-RDPBCGR §2.2.1.4.2).</summary>
    internal static byte[] ServerCoreBlock(SecurityProtocols requested)
    {
        byte[] block = GccBlock(GccBlockType.ServerCore, 16);
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(4), 0x00080004);
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(8), (uint)requested);
        BinaryPrimitives.WriteUInt32LittleEndian(block.AsSpan(12), 1);
        return block;
    }

    /// <summary>A user data block of <paramref name="length"/> bytes with its TS_UD_HEADER and zeros after it.</summary>
    internal static byte[] GccBlock(ushort type, int length)
    {
        byte[] block = new byte[length];
        BinaryPrimitives.WriteUInt16LittleEndian(block, type);
        BinaryPrimitives.WriteUInt16LittleEndian(block.AsSpan(2), (ushort)length);
        return block;
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
        CredSspClientOptions clientOptions = CredSspClient.Options(spnego, version, CredSspServer.ServerPublicKey);

        // Configuration byte: found, Mitigated, MaxVersion 6 (bits 4-6 = 4 → 2 + 4).
        const byte config = (4 << 4) | (1 << 2);
        var clientSide = new List<byte[]>();
        var serverSide = new List<byte[]>();
        using var client = new CredSspClientContext(clientOptions, CredSspClient.NonceSource());
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
            clientSide.Add(toServer);

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
            serverSide.Add(toClient);
            toServer = client.GetOutgoingBlob(toClient, out clientStatus);
        }

        if (server.DelegatedCredentials is null)
        {
            throw new InvalidOperationException($"The recorded CredSSP conversation (SPNEGO {spnego}, version {version}) did not complete: {server.FailureMessage}");
        }

        add("credssp-server", Chunks(config, clientSide));

        // The same conversation from the server's side, for the client role: the Connection Confirm selecting
        // PROTOCOL_HYBRID, or PROTOCOL_HYBRID_EX followed by AUTHZ_SUCCESS after the TSRequests.
        foreach ((int requestedIndex, SecurityProtocols selected) in ((int, SecurityProtocols)[])[(0, SecurityProtocols.Hybrid), (1, SecurityProtocols.HybridEx)])
        {
            byte[] confirm = new X224ConnectionConfirm(new RdpNegResponse(RdpNegResponseFlags.ExtendedClientDataSupported, selected)).Encode();
            IEnumerable<byte[]> messages = selected == SecurityProtocols.HybridEx ? [confirm, .. serverSide, EarlyUserAuthorizationResult.Success.Encode()] : [confirm, .. serverSide];
            add("credssp-client", Chunks(CredSspClient.Config(spnego, version, requestedIndex), messages));
        }
    }

    /// <summary>A configuration byte, then each message as a big-endian 16-bit length and the bytes.</summary>
    internal static byte[] Chunks(byte config, IEnumerable<byte[]> messages)
    {
        var input = new List<byte> { config };
        foreach (byte[] message in messages)
        {
            input.Add((byte)(message.Length >> 8));
            input.Add((byte)message.Length);
            input.AddRange(message);
        }

        return [.. input];
    }
}
