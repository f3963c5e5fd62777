using RdpNla.Protocol.Connection;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Rdp;
using RdpNla.Protocol.Tests.Ntlm;

namespace RdpNla.Protocol.Tests.Connection;

/// <summary>
/// The server role of the security phase, byte for byte: Connection Requests from the X.224 encoder and TSRequests from
/// our own <see cref="CredSspClientContext"/> go in; each step's action, output and failure are checked.
/// </summary>
public class RdpServerAcceptorTests
{
    private const string User = "alice";
    private const string Domain = "WORKGROUP";
    private const string Password = "S3cret-acceptor!";

    private static readonly byte[] ServerKey = [.. Enumerable.Range(0, 270).Select(i => (byte)(i * 7 + 3))];

    private static readonly SecurityProtocols AllNla = SecurityProtocols.Ssl | SecurityProtocols.Hybrid | SecurityProtocols.HybridEx;

    private static RdpServerAcceptor Acceptor(bool recordLogon = false, SecurityLayer layer = SecurityLayer.Negotiate, bool nlaRequired = true) => new(new RdpServerAcceptorOptions
    {
        SecurityLayer = layer,
        NlaRequired = nlaRequired,
        CredSsp = new CredSspServerOptions
        {
            ServerPublicKey = ServerKey,
            RecordLogonBeforeProof = recordLogon,
            Ntlm = new NtlmServerOptions
            {
                NbComputerName = "SERVER1",
                NbDomainName = "SERVER1",
                TimeProvider = new FixedTimeProvider(NtlmTestPeers.Now),
                RandomSource = new SeededRandomSource(5),
            },
        },
    });

    private static CredSspClientContext Client(string password = Password, byte[]? serverKey = null, int version = CredSspVersion.Latest) => new(
        new CredSspClientOptions
        {
            ServerPublicKey = serverKey ?? ServerKey,
            MaxVersion = version,
            Ntlm = new NtlmClientOptions
            {
                UserName = User,
                DomainName = Domain,
                Password = password,
                Workstation = "CLIENT1",
                TargetName = "TERMSRV/server1",
                TimeProvider = new FixedTimeProvider(NtlmTestPeers.Now),
                RandomSource = new SeededRandomSource(6),
            },
        },
        new SeededRandomSource(7));

    private static byte[] ConnectionRequest(SecurityProtocols? requested) =>
        new X224ConnectionRequest(cookie: User, negotiationRequest: requested is { } protocols ? new RdpNegRequest(RdpNegRequestFlags.None, protocols) : null).Encode();

    /// <summary>Runs X.224 and TLS; returns the acceptor awaiting the first TSRequest.</summary>
    private static RdpServerAcceptor ToCredSsp(SecurityProtocols requested, bool recordLogon = false)
    {
        RdpServerAcceptor acceptor = Acceptor(recordLogon);
        Assert.Equal(SecurityPhaseAction.ReadTpktFrame, acceptor.Start().Action);
        SecurityPhaseStep confirm = acceptor.Step(ConnectionRequest(requested));
        Assert.Equal(SecurityPhaseAction.StartTls, confirm.Action);
        Assert.Equal(acceptor.SelectedProtocol, X224ConnectionConfirm.Decode(confirm.Output.Span).Response!.SelectedProtocol);
        SecurityPhaseStep first = acceptor.TlsEstablished();
        Assert.Equal(SecurityPhaseAction.ReadTsRequest, first.Action);
        Assert.True(first.Output.IsEmpty);
        return acceptor;
    }

    /// <summary>
    /// Drives CredSSP between <paramref name="client"/> and <paramref name="acceptor"/>, answering host steps with
    /// <paramref name="lookup"/> and <paramref name="record"/>; returns the first step that is not a TSRequest exchange.
    /// </summary>
    private static SecurityPhaseStep RunCredSsp(RdpServerAcceptor acceptor, CredSspClientContext client, Func<CredentialRequest, NtlmCredentialLookup> lookup, NtStatus record = NtStatus.Success)
    {
        byte[]? toServer = client.GetOutgoingBlob([], out NlaStatus clientStatus);
        for (int legs = 0; legs < 10; legs++)
        {
            Assert.NotNull(toServer);
            SecurityPhaseStep step = acceptor.Step(toServer);
            if (step.Action == SecurityPhaseAction.CredentialLookupNeeded)
            {
                step = acceptor.ProvideCredential(lookup(acceptor.PendingCredentialRequest!));
            }

            if (step.Action == SecurityPhaseAction.LogonRecordNeeded)
            {
                Assert.NotNull(acceptor.Identity);
                step = acceptor.CompleteLogonRecord(record);
            }

            if (step.Action != SecurityPhaseAction.ReadTsRequest)
            {
                return step;
            }

            Assert.Equal(NlaStatus.ContinueNeeded, clientStatus);
            toServer = client.GetOutgoingBlob(step.Output.Span, out clientStatus);
        }

        throw new InvalidOperationException("CredSSP did not end within 10 legs.");
    }

    private static NtlmCredentialLookup Stored(CredentialRequest request) => string.Equals(request.UserName, User, StringComparison.OrdinalIgnoreCase)
        ? NtlmCredentialLookup.Found(NtlmCrypto.NtOwfV1(Password))
        : NtlmCredentialLookup.NotFound();

    [Fact]
    public void HybridEx_success_produces_the_confirm_then_AUTHZ_SUCCESS_and_the_identity()
    {
        using RdpServerAcceptor acceptor = ToCredSsp(AllNla);
        Assert.Equal(SecurityProtocols.HybridEx, acceptor.SelectedProtocol);
        Assert.Equal(AllNla, acceptor.RequestedProtocols);
        Assert.Equal(User, acceptor.ConnectionRequest!.Cookie);
        using CredSspClientContext client = Client();
        CredentialRequest? seen = null;
        SecurityPhaseStep step = RunCredSsp(acceptor, client, request =>
        {
            seen = request;
            return Stored(request);
        });

        Assert.Equal(SecurityPhaseAction.AuthorizationNeeded, step.Action);
        Assert.NotNull(seen);
        Assert.Equal((User, Domain, "NTLM", false), (seen.UserName, seen.DomainName, seen.PackageName, seen.IdentityProven));
        Assert.Equal("CLIENT1", seen.Workstation);
        Assert.NotNull(seen.NtlmExchange);
        Assert.Equal(new AuthenticatedIdentity(User, Domain, null, "NTLM", false, IdentityVerification.StoredHash), acceptor.Identity);
        Assert.Equal($"{Domain}\\{User}", acceptor.Identity!.Account);
        Assert.Equal(Password, acceptor.CredSsp!.DelegatedCredentials!.GetPassword());
        Assert.True(acceptor.EarlyUserAuthorizationResultDue);

        SecurityPhaseStep done = acceptor.Authorize(NtStatus.Success);
        Assert.Equal(SecurityPhaseAction.Completed, done.Action);
        Assert.Equal(NlaFailureReason.None, done.FailureReason);
        Assert.True(EarlyUserAuthorizationResult.Decode(done.Output.Span).IsSuccess);
        Assert.Throws<InvalidOperationException>(() => acceptor.Step([0x30, 0x00]));
    }

    [Fact]
    public void HybridEx_refused_by_the_host_owes_AUTHZ_ACCESS_DENIED()
    {
        using RdpServerAcceptor acceptor = ToCredSsp(AllNla);
        using CredSspClientContext client = Client();
        Assert.Equal(SecurityPhaseAction.AuthorizationNeeded, RunCredSsp(acceptor, client, Stored).Action);

        SecurityPhaseStep refused = acceptor.Authorize(NtStatus.LogonTypeNotGranted);
        Assert.Equal(SecurityPhaseAction.Failed, refused.Action);
        Assert.Equal(NlaFailureReason.AuthenticationFailed, refused.FailureReason);
        Assert.Equal(NtStatus.LogonTypeNotGranted, refused.Status);
        Assert.Equal(EarlyUserAuthorizationResult.AuthzAccessDenied, EarlyUserAuthorizationResult.Decode(refused.Output.Span).AuthorizationResult);
    }

    [Theory]
    [InlineData(NtStatus.Success, SecurityPhaseAction.Completed)]
    [InlineData(NtStatus.AccessDenied, SecurityPhaseAction.Failed)]
    public void Hybrid_has_no_Early_User_Authorization_Result_to_write(NtStatus verdict, SecurityPhaseAction expected)
    {
        using RdpServerAcceptor acceptor = ToCredSsp(SecurityProtocols.Ssl | SecurityProtocols.Hybrid);
        Assert.Equal(SecurityProtocols.Hybrid, acceptor.SelectedProtocol);
        Assert.False(acceptor.EarlyUserAuthorizationResultDue);
        using CredSspClientContext client = Client();
        Assert.Equal(SecurityPhaseAction.AuthorizationNeeded, RunCredSsp(acceptor, client, Stored).Action);

        SecurityPhaseStep step = acceptor.Authorize(verdict);
        Assert.Equal(expected, step.Action);
        Assert.True(step.Output.IsEmpty);
        Assert.Equal(verdict == NtStatus.Success ? null : verdict, step.Status);
    }

    [Fact]
    public void A_wrong_password_fails_with_the_errorCode_TSRequest_owed_to_the_client()
    {
        using RdpServerAcceptor acceptor = ToCredSsp(AllNla);
        using CredSspClientContext client = Client(password: "not-the-password");
        SecurityPhaseStep step = RunCredSsp(acceptor, client, Stored);

        Assert.Equal(SecurityPhaseAction.Failed, step.Action);
        Assert.Equal(NlaFailureReason.AuthenticationFailed, step.FailureReason);
        Assert.Equal(NtStatus.LogonFailure, step.Status);
        Assert.Equal(NtStatus.LogonFailure, TsRequest.Decode(step.Output.Span).ErrorCode);
        Assert.Null(acceptor.Identity);

        // The host could not record the failure: the client is told STATUS_INTERNAL_DB_ERROR instead.
        SecurityPhaseStep replaced = acceptor.ReplaceFailure(NtStatus.InternalDbError, "store down");
        Assert.Equal(SecurityPhaseAction.Failed, replaced.Action);
        Assert.Equal(NtStatus.InternalDbError, replaced.Status);
        Assert.Equal(NtStatus.InternalDbError, TsRequest.Decode(replaced.Output.Span).ErrorCode);
    }

    [Theory]
    [InlineData(false, NtStatus.LogonFailure)]
    [InlineData(true, NtStatus.NoLogonServers)]
    public void An_unknown_user_or_a_domain_refusal_reaches_the_client_as_its_errorCode(bool domain, NtStatus expected)
    {
        using RdpServerAcceptor acceptor = ToCredSsp(AllNla);
        using CredSspClientContext client = Client();
        SecurityPhaseStep step = RunCredSsp(acceptor, client, _ => domain ? NtlmCredentialLookup.RefusedByDomain(expected) : NtlmCredentialLookup.NotFound());

        Assert.Equal(SecurityPhaseAction.Failed, step.Action);
        Assert.Equal(expected, step.Status);
        Assert.Equal(expected, TsRequest.Decode(step.Output.Span).ErrorCode);
    }

    [Fact]
    public void A_domain_verdict_is_reported_as_verified_by_the_domain_controller()
    {
        using RdpServerAcceptor acceptor = ToCredSsp(AllNla);
        using CredSspClientContext client = Client();

        // The verifier sees the NTLM exchange and answers as a DC would (MS-NLMP §3.3.2 SessionBaseKey).
        SecurityPhaseStep step = RunCredSsp(acceptor, client, request =>
        {
            Assert.NotNull(request.NtlmExchange);
            return NtlmCredentialLookup.VerifiedByDomain(NtlmPassThroughTests.DomainSessionBaseKey(request.NtlmExchange!, Password));
        });

        Assert.Equal(SecurityPhaseAction.AuthorizationNeeded, step.Action);
        Assert.Equal(IdentityVerification.DomainController, acceptor.Identity!.VerifiedBy);
    }

    [Fact]
    public void The_logon_record_comes_before_the_server_proves_itself_and_can_refuse_the_logon()
    {
        using RdpServerAcceptor acceptor = ToCredSsp(AllNla, recordLogon: true);
        using CredSspClientContext client = Client();
        SecurityPhaseStep step = RunCredSsp(acceptor, client, Stored, record: NtStatus.AccountLockedOut);

        Assert.Equal(SecurityPhaseAction.Failed, step.Action);
        Assert.Equal(NtStatus.AccountLockedOut, step.Status);
        Assert.Equal(NtStatus.AccountLockedOut, TsRequest.Decode(step.Output.Span).ErrorCode);
        Assert.Equal(User, acceptor.Identity!.UserName);
    }

    [Fact]
    public void The_logon_record_that_accepts_lets_CredSSP_complete()
    {
        using RdpServerAcceptor acceptor = ToCredSsp(AllNla, recordLogon: true);
        using CredSspClientContext client = Client();
        Assert.Equal(SecurityPhaseAction.AuthorizationNeeded, RunCredSsp(acceptor, client, Stored).Action);
    }

    [Fact]
    public void A_client_that_bound_another_public_key_fails_without_an_errorCode()
    {
        using RdpServerAcceptor acceptor = ToCredSsp(AllNla);
        byte[] otherKey = [.. ServerKey];
        otherKey[^1] ^= 0xFF;
        using CredSspClientContext client = Client(serverKey: otherKey);
        SecurityPhaseStep step = RunCredSsp(acceptor, client, Stored);

        Assert.Equal(SecurityPhaseAction.Failed, step.Action);
        Assert.Equal(NlaFailureReason.PublicKeyMismatch, step.FailureReason);
        Assert.True(step.Output.IsEmpty);
    }

    [Fact]
    public void A_request_the_policy_refuses_owes_RDP_NEG_FAILURE()
    {
        using RdpServerAcceptor acceptor = Acceptor();
        acceptor.Start();
        SecurityPhaseStep step = acceptor.Step(ConnectionRequest(SecurityProtocols.Rdp));

        Assert.Equal(SecurityPhaseAction.Failed, step.Action);
        Assert.Equal(NlaFailureReason.UnsupportedMechanism, step.FailureReason);
        Assert.Null(step.Status);
        Assert.Equal(NegotiationFailureCode.HybridRequiredByServer, X224ConnectionConfirm.Decode(step.Output.Span).Failure!.FailureCode);
        Assert.Null(acceptor.SelectedProtocol);
        Assert.Throws<InvalidOperationException>(() => acceptor.TlsEstablished());
        Assert.Throws<InvalidOperationException>(() => acceptor.ReplaceFailure(NtStatus.InternalDbError, "no CredSSP"));
    }

    [Fact]
    public void Standard_RDP_Security_completes_with_the_confirm_and_no_TLS()
    {
        using RdpServerAcceptor acceptor = Acceptor(layer: SecurityLayer.Rdp, nlaRequired: false);
        acceptor.Start();
        SecurityPhaseStep step = acceptor.Step(ConnectionRequest(null));

        Assert.Equal(SecurityPhaseAction.Completed, step.Action);
        Assert.Equal(SecurityProtocols.Rdp, acceptor.SelectedProtocol);
        Assert.Null(X224ConnectionConfirm.Decode(step.Output.Span).NegotiationData);
        Assert.Null(acceptor.CredSsp);
    }

    [Fact]
    public void TLS_without_NLA_completes_after_the_TLS_handshake()
    {
        using RdpServerAcceptor acceptor = Acceptor(layer: SecurityLayer.Tls, nlaRequired: false);
        acceptor.Start();
        SecurityPhaseStep tls = acceptor.Step(ConnectionRequest(SecurityProtocols.Ssl));
        Assert.Equal(SecurityPhaseAction.StartTls, tls.Action);
        Assert.Equal(SecurityProtocols.Ssl, acceptor.SelectedProtocol);

        SecurityPhaseStep done = acceptor.TlsEstablished();
        Assert.Equal(SecurityPhaseAction.Completed, done.Action);
        Assert.True(done.Output.IsEmpty);
        Assert.Null(acceptor.CredSsp);
    }

    public static TheoryData<byte[]> BadConnectionRequests()
    {
        byte[] valid = ConnectionRequest(AllNla);
        return new TheoryData<byte[]>
        {
            Array.Empty<byte>(),
            valid[..6],
            valid[..^3],
            new byte[] { 0x03, 0x00, 0x00, 0x0B, 0x06, 0xF0, 0x00, 0x00, 0x00, 0x00, 0x00 },
            Enumerable.Range(0, 40).Select(i => (byte)(i * 37)).ToArray(),
        };
    }

    [Theory]
    [MemberData(nameof(BadConnectionRequests))]
    public void A_truncated_or_garbage_Connection_Request_raises_NlaProtocolException(byte[] frame)
    {
        using RdpServerAcceptor acceptor = Acceptor();
        acceptor.Start();
        Assert.Throws<NlaProtocolException>(() => acceptor.Step(frame));
    }

    [Theory]
    [InlineData(new byte[] { 0x30, 0x03, 0xA0, 0x01 })]
    [InlineData(new byte[] { 0x04, 0x02, 0x00, 0x00 })]
    [InlineData(new byte[] { 0x30, 0x03, 0xA0, 0x01, 0x06 })]
    public void A_truncated_or_garbage_TSRequest_fails_as_malformed(byte[] tsRequest)
    {
        using RdpServerAcceptor acceptor = ToCredSsp(AllNla);
        SecurityPhaseStep step = acceptor.Step(tsRequest);

        Assert.Equal(SecurityPhaseAction.Failed, step.Action);
        Assert.Equal(NlaFailureReason.Malformed, step.FailureReason);

        // No version was learnt: no errorCode is owed.
        Assert.True(step.Output.IsEmpty);
    }

    [Fact]
    public void Calls_out_of_order_are_refused()
    {
        using RdpServerAcceptor acceptor = Acceptor();
        Assert.Throws<InvalidOperationException>(() => acceptor.TlsEstablished());
        Assert.Throws<InvalidOperationException>(() => acceptor.ProvideCredential(NtlmCredentialLookup.NotFound()));
        Assert.Throws<InvalidOperationException>(() => acceptor.CompleteLogonRecord(NtStatus.Success));
        Assert.Throws<InvalidOperationException>(() => acceptor.Authorize(NtStatus.Success));
        acceptor.Start();
        acceptor.Step(ConnectionRequest(AllNla));
        Assert.Throws<InvalidOperationException>(() => acceptor.Start());
        Assert.Throws<InvalidOperationException>(() => acceptor.Step(ConnectionRequest(AllNla)));
    }
}
