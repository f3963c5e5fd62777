using RdpNla.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Protocol.CredSsp;
using RdpNla.Transport;

namespace RdpNla.Tests.CredSsp;

/// <summary>
/// Our CredSSP client against our CredSSP server over real SslStream on loopback, in every combination of version
/// (2..6 each side) and AllowEncryptionOracle (0/1/2 each side).
/// </summary>
public class CredSspLoopbackTests
{
    public static TheoryData<int, int, int, int> VersionPolicyMatrix()
    {
        var data = new TheoryData<int, int, int, int>();
        for (int clientVersion = 2; clientVersion <= 6; clientVersion++)
        {
            for (int clientPolicy = 0; clientPolicy <= 2; clientPolicy++)
            {
                for (int serverVersion = 2; serverVersion <= 6; serverVersion++)
                {
                    for (int serverPolicy = 0; serverPolicy <= 2; serverPolicy++)
                    {
                        data.Add(clientVersion, clientPolicy, serverVersion, serverPolicy);
                    }
                }
            }
        }

        return data;
    }

    /// <summary>
    /// The KB4093492 compatibility table (docs/interop.md#encryption-oracle), written out independently of the product code:
    /// a patched server (version ≥ 5) set to Force Updated Clients refuses an unpatched client (version ≤ 4); a patched
    /// client set to Force Updated Clients or Mitigated refuses an unpatched server; everything else connects.
    /// </summary>
    private static string ExpectedOutcome(int clientVersion, int clientPolicy, int serverVersion, int serverPolicy)
    {
        bool clientPatched = clientVersion >= 5;
        bool serverPatched = serverVersion >= 5;
        if (serverPatched && serverPolicy == 0 && !clientPatched)
        {
            return "server refuses";
        }

        if (clientPatched && clientPolicy is 0 or 1 && !serverPatched)
        {
            return "client refuses";
        }

        return "success";
    }

    [Theory]
    [MemberData(nameof(VersionPolicyMatrix))]
    public async Task Authenticate_VersionAndPolicyMatrix_MatchesEncryptionOracleTable(int clientVersion, int clientPolicy, int serverVersion, int serverPolicy)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using TlsPair tls = await TlsPair.ConnectAsync(TestCertificates.Server, ct);
        byte[] key = tls.CertificateSeenByClient.GetPublicKey();
        var clientOptions = new CredSspClientOptions
        {
            ServerPublicKey = key,
            Ntlm = CredSspRun.ClientNtlmOptions(CredSspRun.Password, clientVersion),
            MaxVersion = clientVersion,
            AllowEncryptionOracle = (EncryptionOraclePolicy)clientPolicy,
        };
        var serverOptions = new CredSspServerOptions
        {
            ServerPublicKey = TestCertificates.Server.GetPublicKey(),
            Ntlm = CredSspRun.ServerNtlmOptions(serverVersion),
            MaxVersion = serverVersion,
            AllowEncryptionOracle = (EncryptionOraclePolicy)serverPolicy,
        };

        CredSspRun run = await CredSspRun.RunAsync(tls.Client, tls.Server, key, key, clientOptions, serverOptions, cancellationToken: ct);

        switch (ExpectedOutcome(clientVersion, clientPolicy, serverVersion, serverPolicy))
        {
            case "success":
                Assert.True(run.ClientStatus == NlaStatus.Completed && run.ServerStatus == NlaStatus.Completed, run.ToString());
                Assert.True(run.Client.ServerBindingVerified);
                Assert.Equal(Math.Min(clientVersion, serverVersion), run.Server.NegotiatedVersion);
                Assert.Equal((CredSspRun.Domain, CredSspRun.User, CredSspRun.Password), run.Delegated);
                break;
            case "server refuses":
                Assert.Equal(NlaStatus.Failed, run.ServerStatus);
                Assert.Equal(NlaFailureReason.VersionNotPermitted, run.Server.FailureReason);
                Assert.Equal(NlaStatus.Failed, run.ClientStatus);
                Assert.Null(run.Delegated);
                if (clientVersion is 3 or 4 && serverVersion == 6)
                {
                    // MS-CSSP §3.1.5 step 4: STATUS_NOT_SUPPORTED to a client that understands errorCode.
                    Assert.Equal(NtStatus.NotSupported, run.Client.ServerErrorCode);
                }
                else
                {
                    // A version 2 client, or a version 5 server, has no errorCode: the server just closes.
                    Assert.Null(run.Client.ServerErrorCode);
                    Assert.IsAssignableFrom<EndOfStreamException>(run.ClientException);
                }

                break;
            case "client refuses":
                Assert.Equal(NlaStatus.Failed, run.ClientStatus);
                Assert.Equal(NlaFailureReason.VersionNotPermitted, run.Client.FailureReason);
                Assert.Equal(serverVersion, run.Client.ServerVersion);
                Assert.NotEqual(NlaStatus.Completed, run.ServerStatus);
                Assert.Null(run.Delegated);
                break;
        }
    }

    [Theory]
    [InlineData(2, 6)]
    [InlineData(3, 6)]
    [InlineData(4, 6)]
    [InlineData(5, 6)]
    [InlineData(6, 6)]
    [InlineData(6, 5)]
    [InlineData(6, 3)]
    public async Task Authenticate_WrongPassword_ErrorCodeOnlyWhereBothVersionsHaveIt(int clientVersion, int serverVersion)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using TlsPair tls = await TlsPair.ConnectAsync(TestCertificates.Server, ct);
        byte[] key = tls.CertificateSeenByClient.GetPublicKey();
        var clientOptions = new CredSspClientOptions
        {
            ServerPublicKey = key,
            Ntlm = CredSspRun.ClientNtlmOptions("not the password", clientVersion),
            MaxVersion = clientVersion,
            AllowEncryptionOracle = EncryptionOraclePolicy.Vulnerable,
        };
        var serverOptions = new CredSspServerOptions
        {
            ServerPublicKey = key,
            Ntlm = CredSspRun.ServerNtlmOptions(1),
            MaxVersion = serverVersion,
            AllowEncryptionOracle = EncryptionOraclePolicy.Vulnerable,
        };

        CredSspRun run = await CredSspRun.RunAsync(tls.Client, tls.Server, key, key, clientOptions, serverOptions, cancellationToken: ct);

        Assert.Equal(NlaStatus.Failed, run.ServerStatus);
        Assert.Equal(NtStatus.LogonFailure, run.Server.FailureStatus);
        Assert.False(run.Server.PasswordVerified);
        Assert.Equal(NlaStatus.Failed, run.ClientStatus);
        bool bothHaveErrorCode = clientVersion is 3 or 4 or 6 && serverVersion is 3 or 4 or 6;
        Assert.Equal(bothHaveErrorCode ? NtStatus.LogonFailure : null, run.Client.ServerErrorCode);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task Authenticate_RecordLogonBeforeProof_TheHostRecordsOnceAndCanStillRefuse(bool useSpnego, bool refuse)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using TlsPair tls = await TlsPair.ConnectAsync(TestCertificates.Server, ct);
        byte[] key = tls.CertificateSeenByClient.GetPublicKey();
        var clientOptions = new CredSspClientOptions { ServerPublicKey = key, Ntlm = CredSspRun.ClientNtlmOptions(CredSspRun.Password, 5), UseSpnego = useSpnego };
        var serverOptions = new CredSspServerOptions { ServerPublicKey = key, Ntlm = CredSspRun.ServerNtlmOptions(11), RecordLogonBeforeProof = true };
        int records = 0;

        CredSspRun run = await CredSspRun.RunAsync(tls.Client, tls.Server, key, key, clientOptions, serverOptions, recordLogon: _ =>
        {
            records++;
            return ValueTask.FromResult(refuse ? NtStatus.AccountLockedOut : NtStatus.Success);
        }, cancellationToken: ct);

        Assert.Equal(1, records);
        Assert.True(run.Server.PasswordVerified);
        if (refuse)
        {
            Assert.Equal(NlaStatus.Failed, run.ServerStatus);
            Assert.Equal(NtStatus.AccountLockedOut, run.Client.ServerErrorCode);
            Assert.Null(run.Delegated);
        }
        else
        {
            Assert.Equal(NlaStatus.Completed, run.ServerStatus);
            Assert.Equal(NlaStatus.Completed, run.ClientStatus);
            Assert.Equal((CredSspRun.Domain, CredSspRun.User, CredSspRun.Password), run.Delegated);
        }
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Authenticate_SpnegoOrRawNtlm_Succeeds(bool useSpnego)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using TlsPair tls = await TlsPair.ConnectAsync(TestCertificates.Server, ct);
        byte[] key = tls.CertificateSeenByClient.GetPublicKey();
        var clientOptions = new CredSspClientOptions { ServerPublicKey = key, Ntlm = CredSspRun.ClientNtlmOptions(CredSspRun.Password, 5), UseSpnego = useSpnego };

        CredSspRun run = await CredSspRun.RunAsync(tls.Client, tls.Server, key, key, clientOptions, cancellationToken: ct);

        Assert.Equal(NlaStatus.Completed, run.ServerStatus);
        Assert.Equal(NlaStatus.Completed, run.ClientStatus);
        Assert.Equal(useSpnego, run.Server.IsSpnego);
        Assert.Equal((CredSspRun.Domain, CredSspRun.User, CredSspRun.Password), run.Delegated);
    }

    [Theory]
    [InlineData(false, false)]
    [InlineData(true, false)]
    [InlineData(false, true)]
    [InlineData(true, true)]
    public async Task Authenticate_ClientSendsNoNtlmMic_AcceptedUnlessServerRequiresIt(bool useSpnego, bool requireMic)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using TlsPair tls = await TlsPair.ConnectAsync(TestCertificates.Server, ct);
        byte[] key = tls.CertificateSeenByClient.GetPublicKey();
        var clientOptions = new CredSspClientOptions
        {
            ServerPublicKey = key,
            Ntlm = CredSspRun.ClientNtlmOptions(CredSspRun.Password, 5, sendMic: false),
            UseSpnego = useSpnego,
        };
        var serverOptions = new CredSspServerOptions { ServerPublicKey = key, Ntlm = CredSspRun.ServerNtlmOptions(11, requireMic) };

        CredSspRun run = await CredSspRun.RunAsync(tls.Client, tls.Server, key, key, clientOptions, serverOptions, cancellationToken: ct);

        if (requireMic)
        {
            Assert.Equal(NlaStatus.Failed, run.ServerStatus);
            Assert.Equal(NlaFailureReason.IntegrityCheckFailed, run.Server.FailureReason);
            Assert.False(run.Server.PasswordVerified);
            Assert.Equal(NlaStatus.Failed, run.ClientStatus);
            Assert.Null(run.Delegated);
        }
        else
        {
            Assert.True(run.ServerStatus == NlaStatus.Completed, run.ToString());
            Assert.Equal(NlaStatus.Completed, run.ClientStatus);
            Assert.Equal(useSpnego, run.Server.IsSpnego);
            Assert.Equal((CredSspRun.Domain, CredSspRun.User, CredSspRun.Password), run.Delegated);
        }
    }

    [Fact]
    public async Task Authenticate_ClientSendsNoNtlmMicAndServerHoldsAnotherKey_PubKeyAuthStillRefuses()
    {
        // Without the NTLM MIC, CredSSP's pubKeyAuth is what binds the exchange to the TLS key (docs/protocol.md).
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using TlsPair tls = await TlsPair.ConnectAsync(TestCertificates.Impostor, ct);
        byte[] seenByClient = tls.CertificateSeenByClient.GetPublicKey();
        var clientOptions = new CredSspClientOptions { ServerPublicKey = seenByClient, Ntlm = CredSspRun.ClientNtlmOptions(CredSspRun.Password, 7, sendMic: false) };

        CredSspRun run = await CredSspRun.RunAsync(tls.Client, tls.Server, seenByClient, TestCertificates.Server.GetPublicKey(), clientOptions, cancellationToken: ct);

        Assert.Equal(NlaStatus.Failed, run.ServerStatus);
        Assert.Equal(NlaFailureReason.PublicKeyMismatch, run.Server.FailureReason);
        Assert.Null(run.Delegated);
    }

    [Fact]
    public async Task Authenticate_ServerHoldsAnotherKey_BothSidesRefuseAndNoCredentialsAreSent()
    {
        // The client binds the key of the certificate it saw in TLS; a server whose own key differs (a man in the middle
        // that terminates TLS with its own certificate and relays CredSSP) must not match it.
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using TlsPair tls = await TlsPair.ConnectAsync(TestCertificates.Impostor, ct);
        byte[] seenByClient = tls.CertificateSeenByClient.GetPublicKey();

        CredSspRun run = await CredSspRun.RunAsync(tls.Client, tls.Server, seenByClient, TestCertificates.Server.GetPublicKey(), cancellationToken: ct);

        Assert.Equal(NlaStatus.Failed, run.ServerStatus);
        Assert.Equal(NlaFailureReason.PublicKeyMismatch, run.Server.FailureReason);
        Assert.Equal(NlaStatus.Failed, run.ClientStatus);
        Assert.False(run.Client.ServerBindingVerified);
        Assert.Null(run.Delegated);
    }
}

/// <summary>The client's side of the binding check, against a server that answers with a binding over another key.</summary>
public class CredSspClientBindingTests
{
    [Theory]
    [InlineData(6)]
    [InlineData(4)]
    public async Task Authenticate_ServerBindsAnotherKey_ClientRefusesAndSendsNoCredentials(int version)
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using TlsPair tls = await TlsPair.ConnectAsync(TestCertificates.Server, ct);
        byte[] seenByClient = tls.CertificateSeenByClient.GetPublicKey();
        byte[] otherKey = TestCertificates.Impostor.GetPublicKey();
        using var client = new CredSspClientContext(
            new CredSspClientOptions { ServerPublicKey = seenByClient, Ntlm = CredSspRun.ClientNtlmOptions(CredSspRun.Password, 1), MaxVersion = version, AllowEncryptionOracle = EncryptionOraclePolicy.Vulnerable },
            new DeterministicRandom(2));

        // A lying server: real NTLM, but its pubKeyAuth answer covers a key other than the certificate's.
        Task<int> lyingServer = Task.Run(async () =>
        {
            using var negotiate = new Protocol.Negotiate.NegotiateServerContext(CredSspRun.ServerNtlmOptions(3));
            TsRequest first = TsRequest.Decode(await MessageFraming.ReadTsRequestAsync(tls.Server, 65536, ct));
            byte[] challenge = negotiate.GetOutgoingBlob(first.NegoTokens[0], out _)!;
            await MessageFraming.WriteMessageAsync(tls.Server, new TsRequest { Version = version, NegoTokens = [challenge] }.Encode(), ct);
            TsRequest second = TsRequest.Decode(await MessageFraming.ReadTsRequestAsync(tls.Server, 65536, ct));
            negotiate.GetOutgoingBlob(second.NegoTokens[0], out _);
            negotiate.ProvideCredential(Protocol.Ntlm.NtlmCredentialLookup.Found(Protocol.Ntlm.NtlmCrypto.NtOwfV1(CredSspRun.Password)));
            negotiate.GetOutgoingBlob([], out NlaStatus status);
            Assert.Equal(NlaStatus.Completed, status);
            negotiate.SessionSecurity!.Unwrap(second.PubKeyAuth);
            byte[] lie = version >= 5 ? CredSspBinding.ComputeServerClientHash(second.ClientNonce, otherKey) : CredSspBinding.IncrementFirstByte(otherKey);
            await MessageFraming.WriteMessageAsync(tls.Server, new TsRequest { Version = version, PubKeyAuth = negotiate.SessionSecurity.Wrap(lie) }.Encode(), ct);

            // Count what the client sends afterwards: it must be nothing (no authInfo).
            var rest = new MemoryStream();
            await tls.Server.CopyToAsync(rest, ct);
            return (int)rest.Length;
        }, ct);

        NlaStatus clientStatus = await CredSspRun.RunClientAsync(tls.Client, client, ct);
        tls.Client.Close();

        Assert.Equal(NlaStatus.Failed, clientStatus);
        Assert.Equal(NlaFailureReason.PublicKeyMismatch, client.FailureReason);
        Assert.False(client.ServerBindingVerified);
        Assert.Equal(0, await lyingServer);
    }
}
