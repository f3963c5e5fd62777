using RdpNla.Protocol;
using RdpNla.Protocol.Connection;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Rdp;

namespace RdpNla.Fuzz;

/// <summary>
/// The client role against a hostile server: <c>RdpClientConnector</c>, and through it <c>CredSspClientContext</c>,
/// <c>NegotiateClientContext</c> and <c>NtlmClientContext</c>, as <c>rdpnla login</c>, <c>probe</c>, <c>doctor</c> and
/// the gateway's backend leg run them. Its contract: server bytes make <c>Step</c> return a step or raise
/// <see cref="NlaProtocolException"/>, a failure names its reason, and the password (authInfo, MS-CSSP §3.1.5 step 5)
/// goes out only after the server proved it holds the TLS key the client saw (its pubKeyAuth verified).
/// </summary>
/// <remarks>
/// Input: one configuration byte, then what the server sends, each as a big-endian 16-bit length and the bytes: the
/// X.224 Connection Confirm frame, the TSRequests, and for PROTOCOL_HYBRID_EX the Early User Authorization Result. The
/// client's clock and randomness are fixed, so a recorded server conversation (the seeds) replays exactly and
/// mutations reach the server's pubKeyAuth. Configuration byte: bit 0 SPNEGO, bits 1–3 the client's maximum CredSSP
/// version (2–6), bits 4–5 the requested protocols (HYBRID; HYBRID|HYBRID_EX; SSL|HYBRID|HYBRID_EX with TLS without
/// NLA allowed; HYBRID_EX), bit 6 no delegation, bit 7 stop at the server's first TSRequest (as probe does).
/// </remarks>
internal static class CredSspClient
{
    /// <summary>The requested protocols of configuration bits 4–5.</summary>
    private static readonly SecurityProtocols[] s_requested =
    [
        SecurityProtocols.Hybrid,
        SecurityProtocols.Hybrid | SecurityProtocols.HybridEx,
        SecurityProtocols.Ssl | SecurityProtocols.Hybrid | SecurityProtocols.HybridEx,
        SecurityProtocols.HybridEx,
    ];

    /// <summary>The configuration byte of an unmodified client: SPNEGO or not, a maximum version, protocols by index.</summary>
    public static byte Config(bool spnego, int maxVersion, int requestedIndex) =>
        (byte)((spnego ? 1 : 0) | ((maxVersion - CredSspVersion.Minimum) << 1) | (requestedIndex << 4));

    /// <summary>The client's CredSSP settings: the credssp-server target's password, fixed clock and randomness.</summary>
    public static CredSspClientOptions Options(bool spnego, int maxVersion, ReadOnlyMemory<byte> serverPublicKey, bool delegate_ = true) => new()
    {
        ServerPublicKey = serverPublicKey,
        MaxVersion = maxVersion,
        UseSpnego = spnego,
        DelegateCredentials = delegate_,
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

    /// <summary>The randomness of the client's CredSSP nonce.</summary>
    public static IRandomSource NonceSource() => new SeededRandomSource(3);

    public static void Run(byte[] data)
    {
        if (data.Length == 0)
        {
            return;
        }

        byte config = data[0];
        bool spnego = (config & 0x01) != 0;
        int maxVersion = CredSspVersion.Minimum + (((config >> 1) & 0x7) % (CredSspVersion.Latest - CredSspVersion.Minimum + 1));
        int requestedIndex = (config >> 4) & 0x3;
        bool delegate_ = (config & 0x40) == 0;
        bool probe = (config & 0x80) != 0;

        using var connector = new RdpClientConnector(new RdpClientConnectorOptions
        {
            ConnectionRequest = new X224ConnectionRequest("alice", new RdpNegRequest(RdpNegRequestFlags.None, s_requested[requestedIndex])),
            AllowTlsWithoutNla = requestedIndex == 2,
            StopAfter = probe ? ClientSecurityStage.FirstServerTsRequest : ClientSecurityStage.Authorization,
            CredSsp = key => Options(spnego, maxVersion, key, delegate_),
            RandomSource = NonceSource(),
        });

        try
        {
            Converse(connector, data.AsSpan(1), probe, delegate_);
        }
        finally
        {
            if (CredSspServer.Verbose)
            {
                Console.WriteLine($"credssp-client: {connector.State} {connector.FailureReason}, credentials sent: {connector.CredentialsSent}");
            }
        }
    }

    private static void Converse(RdpClientConnector connector, ReadOnlySpan<byte> rest, bool probe, bool delegate_)
    {
        SecurityPhaseStep step = connector.Start();
        bool serverSentPubKeyAuth = false;
        while (step.Action is not (SecurityPhaseAction.Completed or SecurityPhaseAction.Failed))
        {
            if (step.Action == SecurityPhaseAction.StartTls)
            {
                step = connector.TlsEstablished(CredSspServer.ServerPublicKey.AsSpan());
                continue;
            }

            if (step.Action == SecurityPhaseAction.ReadTsRequest && step.Output.Length > 0)
            {
                // What the client writes is its own encoder's output: it must decode.
                _ = TsRequest.Decode(step.Output.Span);
            }

            if (!Targets.TryTakeMessage(ref rest, out ReadOnlySpan<byte> message))
            {
                return; // the server closed the connection.
            }

            if (step.Action == SecurityPhaseAction.ReadTsRequest)
            {
                serverSentPubKeyAuth |= CarriesPubKeyAuth(message);
            }

            try
            {
                step = connector.Step(message);
            }
            catch (NlaProtocolException)
            {
                return; // the driver reports it and closes.
            }

            CheckCredentialsWentToAProvenServer(connector, serverSentPubKeyAuth, delegate_);
        }

        if (step.Action == SecurityPhaseAction.Failed && (step.FailureReason == NlaFailureReason.None || connector.FailureReason == NlaFailureReason.None))
        {
            throw new OracleException($"The connector failed in state {connector.State} without a reason.");
        }

        if (step.Action == SecurityPhaseAction.Completed && !probe && delegate_
            && connector.SelectedProtocol is SecurityProtocols.Hybrid or SecurityProtocols.HybridEx && !connector.CredentialsSent)
        {
            throw new OracleException($"The connector completed {connector.SelectedProtocol} without delegating the credentials.");
        }

        if (step.Action == SecurityPhaseAction.Completed && connector.SelectedProtocol == SecurityProtocols.HybridEx && !probe && delegate_
            && connector.EarlyUserAuthorization is not { IsSuccess: true })
        {
            throw new OracleException("The connector completed PROTOCOL_HYBRID_EX without AUTHZ_SUCCESS.");
        }
    }

    private static void CheckCredentialsWentToAProvenServer(RdpClientConnector connector, bool serverSentPubKeyAuth, bool delegate_)
    {
        if (!connector.CredentialsSent)
        {
            return;
        }

        if (!delegate_)
        {
            throw new OracleException("The connector sent authInfo although delegation was off.");
        }

        if (connector.CredSsp is not { ServerBindingVerified: true } || !serverSentPubKeyAuth)
        {
            throw new OracleException("The connector sent authInfo before the server's pubKeyAuth verified.");
        }

        if (connector.SelectedProtocol is not (SecurityProtocols.Hybrid or SecurityProtocols.HybridEx))
        {
            throw new OracleException($"The connector sent authInfo under {connector.SelectedProtocol}.");
        }
    }

    private static bool CarriesPubKeyAuth(ReadOnlySpan<byte> message)
    {
        try
        {
            return TsRequest.Decode(message).PubKeyAuth is { Length: > 0 };
        }
        catch (NlaProtocolException)
        {
            return false;
        }
    }
}
