using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using RdpNla.Client;
using RdpNla.Diagnosis;
using RdpNla.Diagnosis.Live;
using RdpNla.Diagnosis.Model;
using RdpNla.Gssapi;
using RdpNla.Protocol;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Rdp;

namespace RdpNla.Tests.Doctor;

public class LiveDiagnoserTests
{
    private const SecurityProtocols Mstsc = SecurityProtocols.Ssl | SecurityProtocols.Hybrid | SecurityProtocols.HybridEx;

    private static readonly DateTimeOffset Now = new(2026, 6, 1, 12, 0, 0, TimeSpan.Zero);

    private static TlsCertificateInfo Certificate(bool selfSigned = false, DateTimeOffset? notAfter = null) => new()
    {
        Subject = "CN=srv",
        Issuer = selfSigned ? "CN=srv" : "CN=Lab CA",
        NotBefore = Now.AddYears(-1),
        NotAfter = notAfter ?? Now.AddYears(1),
        SelfSigned = selfSigned,
        KeyType = "RSA",
        KeySize = 2048,
        SignatureAlgorithm = "sha256RSA",
        Sha256Fingerprint = "AB:12",
        PublicKey = new byte[] { 1, 2, 3 },
    };

    /// <summary>A run of the walk, connected to 192.0.2.1:3389 and ended in <paramref name="phase"/>.</summary>
    private static NlaClientResult Run(NlaClientPhase phase, NlaFailureKind kind, SecurityProtocols requested = Mstsc, Action<NlaClientResult>? more = null)
    {
        var run = new NlaClientResult("srv", 3389, requested)
        {
            Account = "alice",
            StopAfter = NlaClientStage.Authentication,
            Timeout = TimeSpan.FromSeconds(10),
            ResolvedAddresses = [IPAddress.Parse("192.0.2.1")],
            RemoteEndPoint = new IPEndPoint(IPAddress.Parse("192.0.2.1"), 3389),
            Phase = phase,
            FailureKind = kind,
            Outcome = kind == NlaFailureKind.None ? NlaOutcome.Success : NlaOutcome.Error,
        };
        more?.Invoke(run);
        return run;
    }

    private static NlaClientResult Negotiated(NlaFailureKind kind, NegotiationAnswer answer, SecurityProtocols requested = Mstsc, Action<NlaClientResult>? more = null) =>
        Run(NlaClientPhase.Negotiation, kind, requested, r =>
        {
            r.Negotiation = answer;
            more?.Invoke(r);
        });

    private static NlaClientResult Selected(SecurityProtocols selected, NlaClientPhase phase, NlaFailureKind kind, SecurityProtocols requested = Mstsc, Action<NlaClientResult>? more = null) =>
        Run(phase, kind, requested, r =>
        {
            r.Negotiation = new NegotiationAnswer { SelectedProtocol = selected };
            if (phase > NlaClientPhase.Tls)
            {
                r.Certificate = Certificate();
                r.Tls = new TlsSessionInfo(SslProtocols.Tls12, TlsCipherSuite.TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384, r.Certificate, new CertificateDecision(true, CertificateCheck.NotChecked));
            }

            more?.Invoke(r);
        });

    private static NlaClientResult CredSsp(NlaFailureKind kind, CredSspInfo info, SecurityProtocols selected = SecurityProtocols.HybridEx, Action<NlaClientResult>? more = null) =>
        Selected(selected, NlaClientPhase.CredSsp, kind, selected == SecurityProtocols.HybridEx ? Mstsc : SecurityProtocols.Ssl | SecurityProtocols.Hybrid, r =>
        {
            r.CredSsp = info;
            more?.Invoke(r);
        });

    private static CredSspInfo Info(int client, int server, CredSspStage stage, NtStatus? errorCode = null, bool credentialsSent = false) =>
        new() { ClientVersion = client, ServerVersion = server, Stage = stage, ErrorCode = errorCode, CredentialsSent = credentialsSent };

    private static NlaClientResult Authorized(EarlyUserAuthorizationResult? euar, NlaFailureKind kind = NlaFailureKind.None, SecurityProtocols selected = SecurityProtocols.HybridEx) =>
        CredSsp(kind, Info(6, 6, CredSspStage.Credentials, credentialsSent: true), selected, r =>
        {
            r.Phase = euar is null && selected == SecurityProtocols.Hybrid ? NlaClientPhase.CredSsp : NlaClientPhase.EarlyUserAuthorization;
            r.EarlyAuthorization = euar;
            r.Outcome = kind == NlaFailureKind.None ? NlaOutcome.Success : NlaOutcome.Failure;
        });

    private static DoctorReport Diagnose(NlaClientResult run, ClientSettings? client = null, LegacyTlsObservation? legacy = null) =>
        LiveDiagnoser.Diagnose(new LiveObservation(run, Now) { LegacyTls = legacy }, client ?? ClientSettings.WindowsDefault);

    public static TheoryData<string, NlaClientResult> Cases => new()
    {
        { "name-not-resolved", new NlaClientResult("nosuch.invalid", 3389, Mstsc) { Phase = NlaClientPhase.Resolve, FailureKind = NlaFailureKind.NameNotResolved, SocketError = SocketError.HostNotFound } },
        { "connection-refused", Run(NlaClientPhase.Connect, NlaFailureKind.ConnectionRefused, more: r => r.SocketError = SocketError.ConnectionRefused) },
        { "no-answer", Run(NlaClientPhase.Connect, NlaFailureKind.NoAnswer, more: r => r.TimedOut = true) },
        { "no-answer", Run(NlaClientPhase.Connect, NlaFailureKind.NetworkError, more: r => r.SocketError = SocketError.HostUnreachable) },
        { "not-rdp-server", Run(NlaClientPhase.Negotiation, NlaFailureKind.NotRdp, more: r => r.UnexpectedAnswer = "HTTP"u8.ToArray()) },
        { "not-rdp-server", Run(NlaClientPhase.Negotiation, NlaFailureKind.ConnectionClosed) },
        { "not-rdp-server", Run(NlaClientPhase.Negotiation, NlaFailureKind.NoAnswer, more: r => r.TimedOut = true) },
        { "nla-required-client-unsupported", Negotiated(NlaFailureKind.NegotiationFailure, new() { FailureCode = NegotiationFailureCode.HybridRequiredByServer }, SecurityProtocols.Ssl) },
        { "tls-required-client-unsupported", Negotiated(NlaFailureKind.NegotiationFailure, new() { FailureCode = NegotiationFailureCode.SslRequiredByServer }, SecurityProtocols.Rdp) },
        { "server-refuses-nla", Negotiated(NlaFailureKind.NegotiationFailure, new() { FailureCode = NegotiationFailureCode.SslRequiredByServer }, SecurityProtocols.Hybrid) },
        { "server-refuses-nla", Negotiated(NlaFailureKind.NegotiationFailure, new() { FailureCode = NegotiationFailureCode.SslNotAllowedByServer }) },
        { "tls-certificate-problem", Negotiated(NlaFailureKind.NegotiationFailure, new() { FailureCode = NegotiationFailureCode.SslCertNotOnServer }) },
        { "unexpected-failure", Negotiated(NlaFailureKind.NegotiationFailure, new() { FailureCode = NegotiationFailureCode.InconsistentFlags }) },
        { "server-refuses-nla", Negotiated(NlaFailureKind.NlaNotOffered, new() { SelectedProtocol = SecurityProtocols.Rdp }) },
        { "server-refuses-nla", Negotiated(NlaFailureKind.NlaNotOffered, new() { Legacy = true, SelectedProtocol = SecurityProtocols.Rdp }) },
        { "unexpected-failure", Negotiated(NlaFailureKind.InvalidSelection, new() { SelectedProtocol = SecurityProtocols.Hybrid }, SecurityProtocols.Ssl) },
        { "unexpected-failure", Negotiated(NlaFailureKind.InvalidSelection, new() { SelectedProtocol = SecurityProtocols.RdsTls }, Mstsc | SecurityProtocols.RdsTls) },
        { "no-nla-tls-only", Selected(SecurityProtocols.Ssl, NlaClientPhase.Completed, NlaFailureKind.NlaNotOffered, SecurityProtocols.Ssl) },
        { "server-refuses-nla", Selected(SecurityProtocols.Ssl, NlaClientPhase.Completed, NlaFailureKind.NlaNotOffered) },
        { "tls-handshake-failed", Selected(SecurityProtocols.HybridEx, NlaClientPhase.Tls, NlaFailureKind.TlsFailure, more: r => r.ErrorDetail = "protocol version") },
        { "encryption-oracle-server-unpatched", CredSsp(NlaFailureKind.CredSspVersionNotPermitted, Info(6, 4, CredSspStage.FirstRequest)) },
        { "encryption-oracle-client-unpatched", CredSsp(NlaFailureKind.LogonRefused, Info(4, 0, CredSspStage.FirstRequest, NtStatus.NotSupported)) },
        { "encryption-oracle-client-unpatched", CredSsp(NlaFailureKind.ConnectionClosed, Info(2, 0, CredSspStage.FirstRequest), more: r => r.ConnectionLost = true) },
        { "wrong-credentials", CredSsp(NlaFailureKind.LogonRefused, Info(6, 6, CredSspStage.Authenticate, NtStatus.LogonFailure)) },
        { "account-locked", CredSsp(NlaFailureKind.LogonRefused, Info(6, 6, CredSspStage.Authenticate, NtStatus.AccountLockedOut)) },
        { "account-disabled", CredSsp(NlaFailureKind.LogonRefused, Info(6, 6, CredSspStage.Authenticate, NtStatus.AccountDisabled)) },
        { "password-expired", CredSsp(NlaFailureKind.LogonRefused, Info(6, 6, CredSspStage.Authenticate, NtStatus.PasswordExpired)) },
        { "password-must-change", CredSsp(NlaFailureKind.LogonRefused, Info(6, 6, CredSspStage.Authenticate, NtStatus.PasswordMustChange)) },
        { "remote-logon-denied", CredSsp(NlaFailureKind.LogonRefused, Info(6, 6, CredSspStage.Authenticate, NtStatus.LogonTypeNotGranted)) },
        { "account-restricted", CredSsp(NlaFailureKind.LogonRefused, Info(6, 6, CredSspStage.Authenticate, NtStatus.AccountExpired)) },
        { "account-restricted", CredSsp(NlaFailureKind.LogonRefused, Info(6, 6, CredSspStage.Authenticate, NtStatus.InvalidLogonHours)) },
        { "account-restricted", CredSsp(NlaFailureKind.LogonRefused, Info(6, 6, CredSspStage.Authenticate, NtStatus.InvalidWorkstation)) },
        { "account-restricted", CredSsp(NlaFailureKind.LogonRefused, Info(6, 6, CredSspStage.Authenticate, NtStatus.AccountRestriction)) },
        { "account-restricted", CredSsp(NlaFailureKind.LogonRefused, Info(6, 6, CredSspStage.Authenticate, NtStatus.SmartcardLogonRequired)) },
        { "logon-servers-unavailable", CredSsp(NlaFailureKind.LogonRefused, Info(6, 6, CredSspStage.Authenticate, NtStatus.NoLogonServers)) },
        { "logon-servers-unavailable", CredSsp(NlaFailureKind.LogonRefused, Info(6, 6, CredSspStage.Authenticate, NtStatus.TrustedRelationshipFailure)) },
        { "logon-servers-unavailable", CredSsp(NlaFailureKind.LogonRefused, Info(6, 6, CredSspStage.Authenticate, NtStatus.NetlogonNotStarted)) },
        { "account-database-failed", CredSsp(NlaFailureKind.LogonRefused, Info(6, 6, CredSspStage.Authenticate, NtStatus.InternalDbError)) },
        { "logon-refused", CredSsp(NlaFailureKind.LogonRefused, Info(6, 6, CredSspStage.Authenticate, NtStatus.CtxLogonDisabled)) },
        { "logon-refused", CredSsp(NlaFailureKind.LogonRefused, Info(6, 6, CredSspStage.Authenticate, (NtStatus)0xC0000413)) },
        { "authentication-failed", CredSsp(NlaFailureKind.RejectedWithoutReason, Info(6, 5, CredSspStage.Authenticate), more: r => r.ConnectionLost = true) },
        { "tls-certificate-problem", CredSsp(NlaFailureKind.PublicKeyMismatch, Info(6, 6, CredSspStage.Authenticate)) },
        { "unexpected-failure", CredSsp(NlaFailureKind.CredSspProtocolError, Info(6, 6, CredSspStage.Authenticate), more: r => r.CredSspProblem = CredSspProblem.NotATsRequest) },
        { "remote-logon-denied", Authorized(EarlyUserAuthorizationResult.AccessDenied, NlaFailureKind.AccessDenied) },
        { "remote-logon-denied", Authorized(new EarlyUserAuthorizationResult(EarlyUserAuthorizationResult.LegacyAuthzAccessDenied), NlaFailureKind.AccessDenied) },
        { "remote-logon-denied", Authorized(null, NlaFailureKind.AccessDenied, SecurityProtocols.Hybrid) },
        { "kerberos-clock-skew", CredSsp(NlaFailureKind.LogonRefused, Info(6, 6, CredSspStage.FirstRequest, NtStatus.TimeDifferenceAtDc) with { Package = "Kerberos" }) },
        { "kerberos-realm-unknown", CredSsp(NlaFailureKind.CredSspProtocolError, Info(6, 0, CredSspStage.FirstRequest) with { Package = "Kerberos", Kerberos = new KerberosFailure(KerberosErrors.RealmUnknown, "Cannot find KDC for realm \"OTHER.TEST\"", "TERMSRV/srv.other.test") }) },
        { "kerberos-clock-skew", CredSsp(NlaFailureKind.CredSspProtocolError, Info(6, 0, CredSspStage.FirstRequest) with { Package = "Kerberos", Kerberos = new KerberosFailure(KerberosErrors.Skew, "Clock skew too great", "TERMSRV/srv") }) },
        { "success", Authorized(EarlyUserAuthorizationResult.Success) },
        { "success", Authorized(null, selected: SecurityProtocols.Hybrid) },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Diagnose_MapsObservationToCause(string expected, NlaClientResult run)
    {
        DoctorReport report = Diagnose(run);

        Assert.Equal(expected, report.Label);
        Assert.DoesNotContain(report.Evidence, e => e.Contains('{', StringComparison.Ordinal)); // every placeholder filled
    }

    [Theory]
    [InlineData(NtStatus.InternalDbError, "account-database-failed", 19)]
    [InlineData(NtStatus.NoLogonServers, "logon-servers-unavailable", 19)]
    [InlineData(NtStatus.AccountExpired, "account-restricted", 16)]
    [InlineData((NtStatus)0xC0000413, "logon-refused", 15)]
    public void Diagnose_ErrorCode_NamesTheStatus_NeverClaimsTheServerSaidNothing(NtStatus status, string expected, int exitCode)
    {
        DoctorReport report = Diagnose(CredSsp(NlaFailureKind.LogonRefused, Info(6, 6, CredSspStage.Authenticate, status)));

        Assert.Equal((expected, exitCode), (report.Label, report.ExitCode));
        Assert.Contains(report.Evidence, line => line.StartsWith($"The server answered CredSSP errorCode {NtStatusText.Name(status)} for ", StringComparison.Ordinal));
        Assert.DoesNotContain(report.Evidence, line => line.Contains("without an errorCode", StringComparison.Ordinal));
    }

    [Fact]
    public void Diagnose_TlsOnlyLegacy_EvidenceNamesTheVersionTheServerPicked()
    {
        NlaClientResult legacy = Selected(SecurityProtocols.HybridEx, NlaClientPhase.Tls, NlaFailureKind.TlsFailure, more: r => r.ErrorDetail = "unsupported protocol");
        DoctorReport report = Diagnose(
            Selected(SecurityProtocols.HybridEx, NlaClientPhase.Tls, NlaFailureKind.TlsFailure, more: r => r.ErrorDetail = "protocol version"),
            legacy: new LegacyTlsObservation(legacy, 0x0301, "a raw TLS ClientHello offering up to TLS 1.2 was answered with a ServerHello for TLS 1.0"));

        Assert.Equal("tls-handshake-failed", report.Label);
        Assert.StartsWith("TLS handshake with 192.0.2.1:3389 failed: offering TLS 1.2 and 1.3: protocol version; offering only TLS 1.0 and 1.1: unsupported protocol", report.Evidence[0], StringComparison.Ordinal);
        Assert.EndsWith("ServerHello for TLS 1.0; the server accepts TLS 1.0/1.1 only.", report.Evidence[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Diagnose_UntrustedCertificateOnSuccess_IsAWarningNotAFailure()
    {
        NlaClientResult run = Authorized(EarlyUserAuthorizationResult.Success);
        run.Certificate = Certificate(selfSigned: true, notAfter: Now.AddDays(-1));
        run.Tls = run.Tls! with { Certificate = run.Certificate };

        DoctorReport report = Diagnose(run);

        Assert.True(report.IsSuccess);
        Assert.Equal([Cause.TlsCertificateProblem], report.Warnings);
        Assert.Contains(report.Evidence, e => e.Contains("expired or not yet valid", StringComparison.Ordinal) && e.Contains("not issued by a trusted authority", StringComparison.Ordinal));
    }

    [Fact]
    public void Diagnose_OracleRefusal_EvidenceNamesVersionAndPolicy()
    {
        DoctorReport report = Diagnose(CredSsp(NlaFailureKind.CredSspVersionNotPermitted, Info(6, 4, CredSspStage.FirstRequest)));

        Assert.Equal("The server announced CredSSP version 4 (below 5: no CVE-2018-0886 fix) and the client's AllowEncryptionOracle is 1 (Mitigated), which does not allow falling back.", report.Evidence[0]);
        Assert.Equal(14, report.ExitCode);
    }

    [Fact]
    public void Diagnose_NoCredentialsAndAnUnpatchedServer_PatchedClientWouldRefuseIt()
    {
        NlaClientResult run = CredSsp(NlaFailureKind.None, Info(6, 4, CredSspStage.FirstRequest), more: r =>
        {
            r.StopAfter = NlaClientStage.Challenge;
            r.Outcome = NlaOutcome.Success;
            r.Phase = NlaClientPhase.Completed;
        });

        Assert.Equal("encryption-oracle-server-unpatched", Diagnose(run).Label);
        Assert.Equal("success", Diagnose(run, new ClientSettings(ClientCredSsp.Patched, EncryptionOraclePolicy.Vulnerable)).Label);
    }

    [Fact]
    public void Diagnose_AgreesWithTheModel_ForEveryAccountStateOnDefaults()
    {
        // The live mapping and the model must name the same cause for what the model predicts the wire shows.
        foreach (AccountState account in Enum.GetValues<AccountState>())
        {
            PredictedOutcome predicted = OutcomeModel.Predict(ServerSettings.WindowsDefault, ClientSettings.WindowsDefault, account);
            NlaClientResult observed = predicted.ErrorCode is { } status
                ? CredSsp(NlaFailureKind.LogonRefused, Info(6, 6, CredSspStage.Authenticate, status))
                : predicted.EarlyUserAuthorizationResult is { } euar
                    ? Authorized(new EarlyUserAuthorizationResult(euar), euar == 0 ? NlaFailureKind.None : NlaFailureKind.AccessDenied)
                    : Authorized(null, selected: SecurityProtocols.Hybrid);
            Assert.Equal(predicted.Label, Diagnose(observed).Label);
        }
    }
}
