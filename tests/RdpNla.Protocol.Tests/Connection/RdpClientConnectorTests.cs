using RdpNla.Protocol.Connection;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Rdp;
using RdpNla.Protocol.Tests.Ntlm;

namespace RdpNla.Protocol.Tests.Connection;

/// <summary>
/// The client role of the security phase without I/O: each step against bytes our encoders and our CredSSP acceptor
/// produce, every refusal of a Connection Confirm, and undecodable input.
/// </summary>
public sealed class RdpClientConnectorTests
{
    private const string User = "alice";
    private const string Password = "S3cret!";
    private static readonly byte[] s_serverKey = Enumerable.Range(0, 270).Select(i => (byte)(i * 7)).ToArray();
    private static readonly SecurityProtocols s_mstsc = SecurityProtocols.Ssl | SecurityProtocols.Hybrid | SecurityProtocols.HybridEx;

    private static RdpClientConnector Connector(
        SecurityProtocols? requested = null,
        bool allowTls = false,
        ClientSecurityStage stopAfter = ClientSecurityStage.Authorization,
        string password = Password,
        X224ConnectionRequest? request = null) =>
        new(new RdpClientConnectorOptions
        {
            ConnectionRequest = request ?? new X224ConnectionRequest("alice", new RdpNegRequest(RdpNegRequestFlags.None, requested ?? s_mstsc)),
            AllowTlsWithoutNla = allowTls,
            StopAfter = stopAfter,
            CredSsp = key => new CredSspClientOptions
            {
                ServerPublicKey = key,
                Ntlm = new NtlmClientOptions
                {
                    UserName = User,
                    DomainName = "LAB",
                    Password = password,
                    TargetName = "TERMSRV/frontdoor.lab.test",
                    TimeProvider = new FixedTimeProvider(NtlmTestPeers.Now),
                    RandomSource = new SeededRandomSource(5),
                },
            },
            RandomSource = new SeededRandomSource(6),
        });

    private static CredSspServerContext Server(byte[]? key = null) => new(new CredSspServerOptions
    {
        ServerPublicKey = key ?? s_serverKey,
        Ntlm = new NtlmServerOptions
        {
            NbComputerName = "FRONTDOOR",
            NbDomainName = "LAB",
            TimeProvider = new FixedTimeProvider(NtlmTestPeers.Now),
            RandomSource = new SeededRandomSource(9),
        },
    });

    private static byte[] Confirm(SecurityProtocols selected) =>
        new X224ConnectionConfirm(new RdpNegResponse(RdpNegResponseFlags.ExtendedClientDataSupported, selected)).Encode();

    /// <summary>Runs the connector to TLS with <paramref name="selected"/>, then CredSSP against our acceptor until the connector stops reading TSRequests.</summary>
    private static SecurityPhaseStep RunCredSsp(RdpClientConnector connector, CredSspServerContext server, SecurityProtocols selected)
    {
        connector.Start();
        Assert.Equal(SecurityPhaseAction.StartTls, connector.Step(Confirm(selected)).Action);
        SecurityPhaseStep step = connector.TlsEstablished(s_serverKey);
        while (step.Action == SecurityPhaseAction.ReadTsRequest)
        {
            byte[]? reply = server.GetOutgoingBlob(step.Output.Span, out NlaStatus status);
            if (status == NlaStatus.CredentialLookupNeeded)
            {
                server.ProvideCredential(NtlmCredentialLookup.Found(NtlmCrypto.NtOwfV1(Password)));
                reply = server.GetOutgoingBlob([], out status);
            }

            if (reply is null)
            {
                return step; // the acceptor closes without errorCode
            }

            step = connector.Step(reply);
        }

        return step;
    }

    [Fact]
    public void Start_EncodesTheConnectionRequestTheCallerBuilt()
    {
        var request = new X224ConnectionRequest(
            "alice",
            new RdpNegRequest(RdpNegRequestFlags.CorrelationInfoPresent | RdpNegRequestFlags.RestrictedAdminModeRequired, SecurityProtocols.Hybrid),
            new RdpNegCorrelationInfo(Guid.Parse("01234567-89ab-cdef-0123-456789abcdef").ToByteArray()));
        using RdpClientConnector connector = Connector(request: request);

        SecurityPhaseStep step = connector.Start();

        Assert.Equal(SecurityPhaseAction.ReadTpktFrame, step.Action);
        X224ConnectionRequest sent = X224ConnectionRequest.Decode(step.Output.Span);
        Assert.Equal("alice", sent.Cookie);
        Assert.Equal(request.NegotiationRequest, sent.NegotiationRequest);
        Assert.Equal(request.CorrelationInfo!.CorrelationId.ToArray(), sent.CorrelationInfo!.CorrelationId.ToArray());
        Assert.Equal(ClientConnectorState.AwaitingConnectionConfirm, connector.State);
        Assert.Throws<InvalidOperationException>(() => connector.Start());
    }

    [Fact]
    public void HybridEx_NtlmThenEarlyUserAuthorizationSuccess_Completes()
    {
        using RdpClientConnector connector = Connector();
        using CredSspServerContext server = Server();

        SecurityPhaseStep step = RunCredSsp(connector, server, SecurityProtocols.HybridEx);

        Assert.Equal(SecurityPhaseAction.ReadEarlyUserAuthorizationResult, step.Action);
        Assert.True(connector.CredentialsSent);
        Assert.Equal(3, connector.TsRequestsSent);
        Assert.True(connector.CredSsp!.ServerBindingVerified);
        server.GetOutgoingBlob(step.Output.Span, out NlaStatus serverStatus);
        Assert.Equal(NlaStatus.Completed, serverStatus);
        Assert.Equal(Password, ((TsPasswordCreds)server.DelegatedCredentials!).GetPassword());

        SecurityPhaseStep done = connector.Step(EarlyUserAuthorizationResult.Success.Encode());
        Assert.Equal(SecurityPhaseAction.Completed, done.Action);
        Assert.True(done.Output.IsEmpty);
        Assert.Equal(ClientConnectorState.Completed, connector.State);
        Assert.Equal(NlaFailureReason.None, connector.FailureReason);
        Assert.True(connector.EarlyUserAuthorization!.Value.IsSuccess);
    }

    [Theory]
    [InlineData(EarlyUserAuthorizationResult.AuthzAccessDenied)]
    [InlineData(EarlyUserAuthorizationResult.LegacyAuthzAccessDenied)]
    [InlineData(1u)]
    public void HybridEx_EarlyUserAuthorizationDenial_Fails(uint value)
    {
        using RdpClientConnector connector = Connector();
        using CredSspServerContext server = Server();
        RunCredSsp(connector, server, SecurityProtocols.HybridEx);

        SecurityPhaseStep step = connector.Step(new EarlyUserAuthorizationResult(value).Encode());

        Assert.Equal(SecurityPhaseAction.Failed, step.Action);
        Assert.Equal(NlaFailureReason.PeerReportedFailure, step.FailureReason);
        Assert.Equal(value, connector.EarlyUserAuthorization!.Value.AuthorizationResult);
        Assert.Equal(ClientConnectorState.Failed, connector.State);
    }

    [Fact]
    public void Hybrid_CompletesWithTheCredentialsToWrite_NoEarlyUserAuthorizationResult()
    {
        using RdpClientConnector connector = Connector();
        using CredSspServerContext server = Server();

        SecurityPhaseStep step = RunCredSsp(connector, server, SecurityProtocols.Hybrid);

        Assert.Equal(SecurityPhaseAction.Completed, step.Action);
        Assert.False(step.Output.IsEmpty);
        server.GetOutgoingBlob(step.Output.Span, out NlaStatus serverStatus);
        Assert.Equal(NlaStatus.Completed, serverStatus);
        Assert.Null(connector.EarlyUserAuthorization);
    }

    [Fact]
    public void WrongPassword_ServerErrorCode_FailsWithItsStatus_NoCredentialsSent()
    {
        using RdpClientConnector connector = Connector(password: "wrong");
        using CredSspServerContext server = Server();
        connector.Start();
        connector.Step(Confirm(SecurityProtocols.HybridEx));
        SecurityPhaseStep step = connector.TlsEstablished(s_serverKey);
        byte[]? challenge = server.GetOutgoingBlob(step.Output.Span, out _);
        step = connector.Step(challenge);
        server.GetOutgoingBlob(step.Output.Span, out NlaStatus status);
        Assert.Equal(NlaStatus.CredentialLookupNeeded, status);
        server.ProvideCredential(NtlmCredentialLookup.Found(NtlmCrypto.NtOwfV1(Password)));
        byte[]? errorReply = server.GetOutgoingBlob([], out status);
        Assert.Equal(NlaStatus.Failed, status);

        SecurityPhaseStep failed = connector.Step(errorReply);

        Assert.Equal(SecurityPhaseAction.Failed, failed.Action);
        Assert.Equal(NlaFailureReason.PeerReportedFailure, failed.FailureReason);
        Assert.Equal(NtStatus.LogonFailure, failed.Status);
        Assert.False(connector.CredentialsSent);
        Assert.Equal(2, connector.TsRequestsSent);
        Assert.True(failed.Output.IsEmpty);
    }

    [Fact]
    public void ErrorCodeOnTheFirstTsRequest_CountsOneTsRequestSent()
    {
        // A server that cannot use the first token (a Kerberos ticket it cannot decrypt) answers it with errorCode: the
        // client sent one TSRequest, and reports say the refusal came after it, not after an AUTHENTICATE.
        using RdpClientConnector connector = Connector();
        connector.Start();
        connector.Step(Confirm(SecurityProtocols.HybridEx));
        connector.TlsEstablished(s_serverKey);
        Assert.Equal(1, connector.TsRequestsSent);

        SecurityPhaseStep failed = connector.Step(new TsRequest { Version = 6, ErrorCode = NtStatus.LogonFailure }.Encode());

        Assert.Equal(SecurityPhaseAction.Failed, failed.Action);
        Assert.Equal(NtStatus.LogonFailure, failed.Status);
        Assert.Equal(1, connector.TsRequestsSent);
        Assert.False(connector.CredentialsSent);
    }

    [Fact]
    public void TlsKeyOfAnotherServer_BindingRefused_NoCredentialsSent()
    {
        // A man in the middle terminates TLS with his own key: the real server refuses the client's binding and closes
        // (MS-CSSP §3.1.5: no errorCode for a binding failure), while the connector still holds the credentials back.
        using RdpClientConnector connector = Connector();
        using CredSspServerContext server = Server(key: [.. s_serverKey.Reverse()]);

        SecurityPhaseStep step = RunCredSsp(connector, server, SecurityProtocols.HybridEx);

        Assert.Equal(NlaFailureReason.PublicKeyMismatch, server.FailureReason);
        Assert.Equal(SecurityPhaseAction.ReadTsRequest, step.Action);
        Assert.Equal(ClientConnectorState.CredSsp, connector.State);
        Assert.False(connector.CredentialsSent);
        Assert.False(connector.CredSsp!.ServerBindingVerified);
    }

    [Theory]
    [InlineData(NegotiationFailureCode.HybridRequiredByServer)]
    [InlineData(NegotiationFailureCode.SslNotAllowedByServer)]
    [InlineData((NegotiationFailureCode)0x99)]
    public void NegotiationFailure_FailsWithItsCode(NegotiationFailureCode code)
    {
        using RdpClientConnector connector = Connector();
        connector.Start();

        SecurityPhaseStep step = connector.Step(new X224ConnectionConfirm(new RdpNegFailure(code)).Encode());

        Assert.Equal(SecurityPhaseAction.Failed, step.Action);
        Assert.Equal(NlaFailureReason.PeerReportedFailure, step.FailureReason);
        Assert.Equal(ProtocolSelectionFailure.NegotiationFailure, connector.SelectionFailure);
        Assert.Equal(code, connector.ConnectionConfirm!.Failure!.FailureCode);
        Assert.Null(connector.SelectedProtocol);
    }

    [Theory]
    [InlineData(SecurityProtocols.Hybrid, SecurityProtocols.HybridEx)]
    [InlineData(SecurityProtocols.Hybrid | SecurityProtocols.HybridEx, SecurityProtocols.Ssl)]
    [InlineData(SecurityProtocols.Hybrid | SecurityProtocols.HybridEx, SecurityProtocols.Hybrid | SecurityProtocols.HybridEx)]
    [InlineData(SecurityProtocols.Hybrid, (SecurityProtocols)0x40)]
    public void SelectionNotRequested_FailsEvenWhenOnlyTheConfirmIsWanted(SecurityProtocols requested, SecurityProtocols selected)
    {
        foreach (ClientSecurityStage stopAfter in new[] { ClientSecurityStage.Authorization, ClientSecurityStage.ConnectionConfirm })
        {
            using RdpClientConnector connector = Connector(requested, allowTls: true, stopAfter: stopAfter);
            connector.Start();

            SecurityPhaseStep step = connector.Step(Confirm(selected));

            Assert.Equal(SecurityPhaseAction.Failed, step.Action);
            Assert.Equal(NlaFailureReason.UnexpectedMessage, step.FailureReason);
            Assert.Equal(ProtocolSelectionFailure.NotRequested, connector.SelectionFailure);
            Assert.Equal(selected, connector.SelectedProtocol);
        }
    }

    [Fact]
    public void Ssl_Requested_RefusedUnlessTlsWithoutNlaIsAllowed()
    {
        using RdpClientConnector refusing = Connector();
        refusing.Start();
        SecurityPhaseStep refused = refusing.Step(Confirm(SecurityProtocols.Ssl));
        Assert.Equal(SecurityPhaseAction.Failed, refused.Action);
        Assert.Equal(ProtocolSelectionFailure.TlsWithoutNlaNotAllowed, refusing.SelectionFailure);

        using RdpClientConnector allowing = Connector(allowTls: true);
        allowing.Start();
        Assert.Equal(SecurityPhaseAction.StartTls, allowing.Step(Confirm(SecurityProtocols.Ssl)).Action);
        SecurityPhaseStep done = allowing.TlsEstablished(s_serverKey);
        Assert.Equal(SecurityPhaseAction.Completed, done.Action);
        Assert.Null(allowing.CredSsp);
        Assert.Equal(s_serverKey, allowing.ServerPublicKey.ToArray());
    }

    [Fact]
    public void StandardRdpSecurity_ExplicitOrLegacyConfirm_Refused()
    {
        foreach (byte[] confirm in new[] { Confirm(SecurityProtocols.Rdp), new X224ConnectionConfirm(null).Encode() })
        {
            using RdpClientConnector connector = Connector(allowTls: true);
            connector.Start();

            SecurityPhaseStep step = connector.Step(confirm);

            Assert.Equal(SecurityPhaseAction.Failed, step.Action);
            Assert.Equal(ProtocolSelectionFailure.StandardRdpSecurity, connector.SelectionFailure);
            Assert.Equal(SecurityProtocols.Rdp, connector.SelectedProtocol);
        }
    }

    [Fact]
    public void RequestedButNotImplemented_Refused()
    {
        using RdpClientConnector connector = Connector(SecurityProtocols.RdsTls | SecurityProtocols.Hybrid);
        connector.Start();

        SecurityPhaseStep step = connector.Step(Confirm(SecurityProtocols.RdsTls));

        Assert.Equal(SecurityPhaseAction.Failed, step.Action);
        Assert.Equal(ProtocolSelectionFailure.NotImplemented, connector.SelectionFailure);
    }

    [Fact]
    public void StopAfterConnectionConfirm_CompletesOnAnyRequestedSelection()
    {
        using RdpClientConnector connector = new(new RdpClientConnectorOptions
        {
            ConnectionRequest = new X224ConnectionRequest(null, new RdpNegRequest(RdpNegRequestFlags.None, SecurityProtocols.Hybrid)),
            StopAfter = ClientSecurityStage.ConnectionConfirm,
        });
        connector.Start();

        SecurityPhaseStep step = connector.Step(new X224ConnectionConfirm(null).Encode());

        Assert.Equal(SecurityPhaseAction.Completed, step.Action);
        Assert.Equal(SecurityProtocols.Rdp, connector.SelectedProtocol);
    }

    [Fact]
    public void StopAfterTls_CompletesWithoutCredSsp()
    {
        using RdpClientConnector connector = new(new RdpClientConnectorOptions
        {
            ConnectionRequest = new X224ConnectionRequest(null, new RdpNegRequest(RdpNegRequestFlags.None, SecurityProtocols.HybridEx)),
            StopAfter = ClientSecurityStage.Tls,
        });
        connector.Start();
        Assert.Equal(SecurityPhaseAction.StartTls, connector.Step(Confirm(SecurityProtocols.HybridEx)).Action);

        SecurityPhaseStep step = connector.TlsEstablished(s_serverKey);

        Assert.Equal(SecurityPhaseAction.Completed, step.Action);
        Assert.Null(connector.CredSsp);
    }

    [Fact]
    public void StopAfterFirstServerTsRequest_KeepsTheChallenge_SendsNothingMore()
    {
        using RdpClientConnector connector = Connector(stopAfter: ClientSecurityStage.FirstServerTsRequest);
        using CredSspServerContext server = Server();
        connector.Start();
        connector.Step(Confirm(SecurityProtocols.HybridEx));
        SecurityPhaseStep negotiate = connector.TlsEstablished(s_serverKey);
        Assert.Equal(SecurityPhaseAction.ReadTsRequest, negotiate.Action);
        byte[]? challenge = server.GetOutgoingBlob(negotiate.Output.Span, out _);

        SecurityPhaseStep step = connector.Step(challenge);

        Assert.Equal(SecurityPhaseAction.Completed, step.Action);
        Assert.True(step.Output.IsEmpty);
        Assert.Equal(CredSspVersion.Latest, connector.FirstServerTsRequest!.Version);
        Assert.Single(connector.FirstServerTsRequest.NegoTokens);
    }

    [Fact]
    public void CallsOutOfOrder_Throw()
    {
        using RdpClientConnector connector = Connector();
        Assert.Throws<InvalidOperationException>(() => connector.Step(Confirm(SecurityProtocols.HybridEx)));
        Assert.Throws<InvalidOperationException>(() => connector.TlsEstablished(s_serverKey));
        connector.Start();
        Assert.Throws<InvalidOperationException>(() => connector.TlsEstablished(s_serverKey));
        connector.Step(Confirm(SecurityProtocols.HybridEx));
        Assert.Throws<InvalidOperationException>(() => connector.Step(Confirm(SecurityProtocols.HybridEx)));
    }

    [Fact]
    public void CredSspWithoutSettings_Refused()
    {
        Assert.Throws<ArgumentException>(() => new RdpClientConnector(new RdpClientConnectorOptions
        {
            ConnectionRequest = new X224ConnectionRequest(),
        }));
    }

    public static TheoryData<byte[]> BadConfirms => new()
    {
        Array.Empty<byte>(),
        new byte[] { 0x03, 0x00 },
        new byte[] { 0x03, 0x00, 0x00, 0x13, 0x0E, 0xD0 }, // announces 19 bytes, has 6
        "HTTP/1.1 400 Bad Request\r\n\r\n"u8.ToArray(),
        new byte[] { 0x03, 0x00, 0x00, 0x09, 0x02, 0xF0, 0x80, 0x21, 0x80 }, // an X.224 Data TPDU (MCS Disconnect Provider Ultimatum)
        new byte[] { 0x03, 0x00, 0x00, 0x13, 0x0E, 0xD0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x07, 0x00, 0x08, 0x00, 0x02, 0x00, 0x00, 0x00 }, // rdpNegData type 7
        new byte[] { 0x03, 0x00, 0x00, 0x0F, 0x0A, 0xD0, 0x00, 0x00, 0x12, 0x34, 0x00, 0x02, 0x00, 0x08, 0x00 }, // rdpNegData cut short
    };

    [Theory]
    [MemberData(nameof(BadConfirms))]
    public void UndecodableConfirm_RaisesNlaProtocolException(byte[] frame)
    {
        using RdpClientConnector connector = Connector();
        connector.Start();

        Assert.Throws<NlaProtocolException>(() => connector.Step(frame));
    }

    [Fact]
    public void RandomConfirms_DecodeOrRaiseNlaProtocolException()
    {
        var random = new Random(17);
        byte[] valid = Confirm(SecurityProtocols.HybridEx);
        for (int i = 0; i < 2000; i++)
        {
            byte[] frame = (byte[])valid.Clone();
            frame[random.Next(frame.Length)] = (byte)random.Next(256);
            frame = frame[..random.Next(frame.Length + 1)];
            using RdpClientConnector connector = Connector();
            connector.Start();
            try
            {
                connector.Step(frame);
            }
            catch (NlaProtocolException)
            {
            }
        }
    }

    [Theory]
    [InlineData(new byte[] { })]
    [InlineData(new byte[] { 0x30 })]
    [InlineData(new byte[] { 0x30, 0x03, 0xA0, 0x01 })]
    [InlineData(new byte[] { 0x04, 0x02, 0x00, 0x00 })]
    public void UndecodableTsRequest_RaisesNlaProtocolException_AtEveryStep(byte[] garbage)
    {
        using RdpClientConnector first = Connector();
        first.Start();
        first.Step(Confirm(SecurityProtocols.HybridEx));
        first.TlsEstablished(s_serverKey);
        Assert.Throws<NlaProtocolException>(() => first.Step(garbage));

        using RdpClientConnector later = Connector();
        using CredSspServerContext server = Server();
        later.Start();
        later.Step(Confirm(SecurityProtocols.HybridEx));
        SecurityPhaseStep negotiate = later.TlsEstablished(s_serverKey);
        later.Step(server.GetOutgoingBlob(negotiate.Output.Span, out _));
        Assert.Throws<NlaProtocolException>(() => later.Step(garbage));
    }

    [Theory]
    [InlineData(0)]
    [InlineData(3)]
    [InlineData(5)]
    public void TruncatedOrLongEarlyUserAuthorizationResult_RaisesNlaProtocolException(int length)
    {
        using RdpClientConnector connector = Connector();
        using CredSspServerContext server = Server();
        RunCredSsp(connector, server, SecurityProtocols.HybridEx);

        Assert.Throws<NlaProtocolException>(() => connector.Step(new byte[length]));
    }

    [Fact]
    public void KerberosOnlyWithoutAKerberosContext_FailsBeforeSendingAnything()
    {
        using RdpClientConnector connector = new(new RdpClientConnectorOptions
        {
            ConnectionRequest = new X224ConnectionRequest(null, new RdpNegRequest(RdpNegRequestFlags.None, SecurityProtocols.HybridEx)),
            CredSsp = key => new CredSspClientOptions
            {
                ServerPublicKey = key,
                KerberosOnly = true,
                Ntlm = new NtlmClientOptions { UserName = User, Password = Password, TimeProvider = TimeProvider.System, RandomSource = new SeededRandomSource(1) },
            },
            RandomSource = new SeededRandomSource(2),
        });
        connector.Start();
        connector.Step(Confirm(SecurityProtocols.HybridEx));

        SecurityPhaseStep step = connector.TlsEstablished(s_serverKey);

        Assert.Equal(SecurityPhaseAction.Failed, step.Action);
        Assert.Equal(NlaFailureReason.AuthenticationFailed, step.FailureReason);
        Assert.True(step.Output.IsEmpty);
    }
}
