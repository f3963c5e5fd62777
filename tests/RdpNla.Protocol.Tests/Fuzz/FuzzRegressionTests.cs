using System.Buffers;
using System.Buffers.Binary;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Rdp;
using RdpNla.Protocol.Spnego;
using RdpNla.Protocol.Tests.Ntlm;

namespace RdpNla.Protocol.Tests.Fuzz;

/// <summary>
/// Replays the inputs kept under tests/TestVectors/fuzz/TARGET/ (every crash or hang the fuzzer found, see
/// docs/fuzzing.md) through the decoders of that fuzz target: each must give a value or an
/// <see cref="NlaProtocolException"/>, never another exception. The calls mirror fuzz/RdpNla.Fuzz/Targets.cs for the
/// protocol layer (the front door's stream framing in RdpNla.Transport is covered by the fuzz run itself).
/// </summary>
public class FuzzRegressionTests
{
    private static readonly Dictionary<string, Action<byte[]>> s_targets = new(StringComparer.Ordinal)
    {
        ["tpkt-x224"] = TpktX224,
        ["frontdoor"] = FrontDoor,
        ["tsrequest"] = data => Total(() => TsRequest.Decode(TsRequest.Decode(data).Encode())),
        ["tscredentials"] = TsCredentialsInput,
        ["spnego"] = data =>
        {
            _ = NegoTokenClassifier.Classify(data);
            Total(() => NegTokenInit.Decode(NegTokenInit.Decode(data).Encode()));
            Total(() => NegTokenResp.Decode(NegTokenResp.Decode(data).Encode()));
        },
        ["ntlm-negotiate"] = data => Total(() => NtlmNegotiateMessage.Decode(NtlmNegotiateMessage.Decode(data).Encode())),
        ["ntlm-challenge"] = data => Total(() => NtlmChallengeMessage.Decode(NtlmChallengeMessage.Decode(data).Encode())),
        ["ntlm-authenticate"] = data => Total(() =>
        {
            NtlmAuthenticateMessage message = NtlmAuthenticateMessage.Decode(data);
            _ = NtlmAuthenticateMessage.Decode(message.Encode());
            return message.Mic is null ? [] : NtlmAuthenticateMessage.CopyWithMicZeroed(data);
        }),
        ["avpairs"] = data => Total(() => AvPairList.Decode(AvPairList.Decode(data).Encode())),
        ["credssp-server"] = CredSspServerInput,
    };

    /// <summary>The kept inputs, as TARGET/NAME paths relative to tests/TestVectors/fuzz.</summary>
    private static IEnumerable<string> RegressionInputs()
    {
        string root = Path.Combine(AppContext.BaseDirectory, "TestVectors", "fuzz");
        return Directory.Exists(root)
            ? Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
                .Where(path => !path.EndsWith(".md", StringComparison.Ordinal))
                .Select(path => Path.GetRelativePath(root, path).Replace('\\', '/'))
                .Order(StringComparer.Ordinal)
            : [];
    }

    [Fact]
    public void RegressionInputs_EachDecodesToValueOrNlaProtocolException()
    {
        foreach (string input in RegressionInputs())
        {
            string target = input.Split('/')[0];
            Assert.True(s_targets.ContainsKey(target), $"{input}: no fuzz target named '{target}'.");
            byte[] bytes = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "TestVectors", "fuzz", input));
            Exception? unexpected = Record.Exception(() => s_targets[target](bytes));
            Assert.True(unexpected is null, $"{input}: {unexpected}");
        }
    }

    [Fact]
    public void AuthenticateWithEmptyFields_DecodesWithoutMic_AndTheAcceptorRejectsIt()
    {
        byte[] input = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "TestVectors", "fuzz", "ntlm-authenticate", "authenticate-empty-fields-no-mic"));

        NtlmAuthenticateMessage message = NtlmAuthenticateMessage.Decode(input);

        Assert.Null(message.Mic);
        Assert.Null(message.MicOffset);
        Assert.Equal(80, input.Length);
        Assert.Equal(0, message.LmChallengeResponse.Length + message.NtChallengeResponse.Length + message.EncryptedRandomSessionKey.Length);
        Assert.Equal("", message.DomainName + message.UserName + message.Workstation);
        Assert.Throws<ArgumentException>(() => NtlmAuthenticateMessage.CopyWithMicZeroed(input));
        using NtlmServerContext server = NtlmTestPeers.Server();
        using NtlmClientContext client = NtlmTestPeers.Client();
        _ = server.GetOutgoingBlob(client.GetOutgoingBlob([], out _), out NlaStatus status);
        Assert.Equal(NlaStatus.ContinueNeeded, status);
        Assert.Null(server.GetOutgoingBlob(input, out status));
        Assert.Equal(NlaStatus.Failed, status);
        // Refused as anonymous, before the MIC is considered: accepting MIC-less NTLMv2 does not accept this.
        Assert.Equal("anonymous logon refused", server.FailureMessage);
    }

    private static void TpktX224(byte[] data)
    {
        _ = Tpkt.TryReadFrame(data, out _);
        _ = Tpkt.TryReadFrame(new ReadOnlySequence<byte>(data), out _);
        Total(() => Tpkt.GetPayload(data).Length);
        Total(() => X224ConnectionRequest.Decode(X224ConnectionRequest.Decode(data).Encode()));
        Total(() => X224ConnectionConfirm.Decode(X224ConnectionConfirm.Decode(data).Encode()));
        Total(() => RdpNegRequest.Decode(data));
        Total(() => RdpNegData.Decode(data));
        Total(() => RdpNegCorrelationInfo.Decode(data));
        Total(() => EarlyUserAuthorizationResult.Decode(data));
    }

    private static void FrontDoor(byte[] data)
    {
        if (Tpkt.TryReadFrame(data, out int length) != OperationStatus.Done || length > 4096)
        {
            return;
        }

        X224ConnectionRequest request;
        try
        {
            request = X224ConnectionRequest.Decode(data.AsSpan(0, length));
        }
        catch (NlaProtocolException)
        {
            return;
        }

        foreach (SecurityLayer layer in (SecurityLayer[])[SecurityLayer.Rdp, SecurityLayer.Negotiate, SecurityLayer.Tls])
        {
            foreach (bool userAuthentication in (bool[])[false, true])
            {
                foreach (bool certificate in (bool[])[true, false])
                {
                    NegotiationDecision decision = SecurityNegotiator.Select(layer, userAuthentication, request, certificate);
                    _ = X224ConnectionConfirm.Decode(decision.Confirm.Encode());
                }
            }
        }
    }

    private static void TsCredentialsInput(byte[] data)
    {
        Total(() =>
        {
            using TsCredentials credentials = TsCredentials.Decode(data);
            TsCredentials.Decode(credentials.Encode()).Dispose();
            Total(() =>
            {
                using TsCredentialsContent content = credentials.DecodeContent();
                TsCredentials.DecodeContent(content.ToTsCredentials().Encode()).Dispose();
                return 0;
            });
            return 0;
        });
        Total(() =>
        {
            using TsPasswordCreds password = TsPasswordCreds.Decode(data);
            TsPasswordCreds.Decode(password.Encode()).Dispose();
            return password.GetPassword();
        });
        Total(() =>
        {
            using TsSmartCardCreds smartCard = TsSmartCardCreds.Decode(data);
            TsSmartCardCreds.Decode(smartCard.Encode()).Dispose();
            return 0;
        });
        Total(() =>
        {
            using TsRemoteGuardCreds remoteGuard = TsRemoteGuardCreds.Decode(data);
            TsRemoteGuardCreds.Decode(remoteGuard.Encode()).Dispose();
            return 0;
        });
    }

    /// <summary>As the credssp-server fuzz target: a configuration byte, then length-prefixed client TSRequests.</summary>
    private static void CredSspServerInput(byte[] data)
    {
        if (data.Length == 0)
        {
            return;
        }

        byte config = data[0];
        using var server = new CredSspServerContext(new CredSspServerOptions
        {
            ServerPublicKey = new byte[270],
            Ntlm = new NtlmServerOptions
            {
                NbComputerName = "SERVER1",
                NbDomainName = "WORKGROUP",
                TimeProvider = new FixedTimeProvider(NtlmTestPeers.Now),
                RandomSource = new SeededRandomSource(2),
                RequireMic = (config & 0x80) == 0,
            },
            MaxVersion = CredSspVersion.Minimum + (((config >> 4) & 0x7) % (CredSspVersion.Latest - CredSspVersion.Minimum + 1)),
            AllowEncryptionOracle = (EncryptionOraclePolicy)(((config >> 2) & 0x3) % 3),
        });
        ReadOnlySpan<byte> rest = data.AsSpan(1);
        while (rest.Length >= 2)
        {
            int length = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(rest), rest.Length - 2);
            _ = server.GetOutgoingBlob(rest.Slice(2, length), out NlaStatus status);
            rest = rest[(2 + length)..];
            if (status == NlaStatus.CredentialLookupNeeded)
            {
                server.ProvideCredential(NtlmCredentialLookup.Found(NtlmCrypto.NtOwfV1("S3cret!")));
                _ = server.GetOutgoingBlob([], out status);
            }

            if (status is NlaStatus.Failed or NlaStatus.Completed)
            {
                return;
            }
        }
    }

    private static void Total<T>(Func<T> decode)
    {
        try
        {
            _ = decode();
        }
        catch (NlaProtocolException)
        {
        }
    }
}
