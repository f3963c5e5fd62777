using RdpNla.Diagnosis;
using RdpNla.Diagnosis.Live;
using RdpNla.Diagnosis.Model;
using RdpNla.Protocol;
using RdpNla.Protocol.Rdp;

namespace RdpNla.Integration.Tests.Doctor;

public class LiveDiagnoserTests
{
    private const SecurityProtocols Mstsc = SecurityProtocols.Ssl | SecurityProtocols.Hybrid | SecurityProtocols.HybridEx;

    private static readonly ConnectionObservation Connected = new()
    {
        Host = "srv",
        User = "alice",
        NameResolution = new(true, ["192.0.2.1"]),
        Tcp = new(TcpOutcome.Connected, "192.0.2.1:3389"),
    };

    private static readonly ConnectionObservation UpToCredSsp = Connected with
    {
        Negotiation = new(Mstsc, NegotiationAnswer.Response, SecurityProtocols.HybridEx),
        Tls = new(true, "Tls12", "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384"),
    };

    private static DoctorReport Diagnose(ConnectionObservation observation, ClientSettings? client = null) =>
        LiveDiagnoser.Diagnose(observation, client ?? ClientSettings.WindowsDefault);

    public static TheoryData<string, ConnectionObservation> Cases => new()
    {
        { "name-not-resolved", new ConnectionObservation { Host = "nosuch.invalid", NameResolution = new(false, [], "HostNotFound") } },
        { "connection-refused", Connected with { Tcp = new(TcpOutcome.Refused, "127.0.0.1:1", "Connection refused") } },
        { "no-answer", Connected with { Tcp = new(TcpOutcome.TimedOut, "192.0.2.1:3389") } },
        { "no-answer", Connected with { Tcp = new(TcpOutcome.Unreachable, "192.0.2.1:3389") } },
        { "not-rdp-server", Connected with { Negotiation = new(Mstsc, NegotiationAnswer.NotX224, RawAnswer: "HTTP/1.1 400") } },
        { "not-rdp-server", Connected with { Negotiation = new(Mstsc, NegotiationAnswer.ClosedWithoutAnswer) } },
        { "not-rdp-server", Connected with { Negotiation = new(Mstsc, NegotiationAnswer.TimedOut) } },
        { "nla-required-client-unsupported", Connected with { Negotiation = new(SecurityProtocols.Ssl, NegotiationAnswer.Failure, FailureCode: NegotiationFailureCode.HybridRequiredByServer) } },
        { "tls-required-client-unsupported", Connected with { Negotiation = new(SecurityProtocols.Rdp, NegotiationAnswer.Failure, FailureCode: NegotiationFailureCode.SslRequiredByServer) } },
        { "server-refuses-nla", Connected with { Negotiation = new(SecurityProtocols.Hybrid, NegotiationAnswer.Failure, FailureCode: NegotiationFailureCode.SslRequiredByServer) } },
        { "server-refuses-nla", Connected with { Negotiation = new(Mstsc, NegotiationAnswer.Failure, FailureCode: NegotiationFailureCode.SslNotAllowedByServer) } },
        { "tls-certificate-problem", Connected with { Negotiation = new(Mstsc, NegotiationAnswer.Failure, FailureCode: NegotiationFailureCode.SslCertNotOnServer) } },
        { "unexpected-failure", Connected with { Negotiation = new(Mstsc, NegotiationAnswer.Failure, FailureCode: NegotiationFailureCode.InconsistentFlags) } },
        { "server-refuses-nla", Connected with { Negotiation = new(Mstsc, NegotiationAnswer.Response, SecurityProtocols.Rdp) } },
        { "server-refuses-nla", Connected with { Negotiation = new(Mstsc, NegotiationAnswer.LegacyConfirm) } },
        { "unexpected-failure", Connected with { Negotiation = new(SecurityProtocols.Ssl, NegotiationAnswer.Response, SecurityProtocols.Hybrid) } },
        { "no-nla-tls-only", Connected with { Negotiation = new(SecurityProtocols.Ssl, NegotiationAnswer.Response, SecurityProtocols.Ssl), Tls = new(true, "Tls12") } },
        { "server-refuses-nla", Connected with { Negotiation = new(Mstsc, NegotiationAnswer.Response, SecurityProtocols.Ssl), Tls = new(true, "Tls12") } },
        { "tls-handshake-failed", Connected with { Negotiation = new(Mstsc, NegotiationAnswer.Response, SecurityProtocols.HybridEx), Tls = new(false, Error: "protocol version", ServerOffersOnlyLegacyTls: true) } },
        { "encryption-oracle-server-unpatched", UpToCredSsp with { CredSsp = new(6, 4, CredSspEnd.ClientRefusedServerVersion, CredSspStage.FirstRequest) } },
        { "encryption-oracle-client-unpatched", UpToCredSsp with { CredSsp = new(4, null, CredSspEnd.ServerErrorCode, CredSspStage.FirstRequest, NtStatus.NotSupported) } },
        { "encryption-oracle-client-unpatched", UpToCredSsp with { CredSsp = new(2, null, CredSspEnd.ClosedWithoutStatus, CredSspStage.FirstRequest) } },
        { "wrong-credentials", UpToCredSsp with { CredSsp = new(6, 6, CredSspEnd.ServerErrorCode, CredSspStage.Authenticate, NtStatus.LogonFailure) } },
        { "account-locked", UpToCredSsp with { CredSsp = new(6, 6, CredSspEnd.ServerErrorCode, CredSspStage.Authenticate, NtStatus.AccountLockedOut) } },
        { "account-disabled", UpToCredSsp with { CredSsp = new(6, 6, CredSspEnd.ServerErrorCode, CredSspStage.Authenticate, NtStatus.AccountDisabled) } },
        { "password-expired", UpToCredSsp with { CredSsp = new(6, 6, CredSspEnd.ServerErrorCode, CredSspStage.Authenticate, NtStatus.PasswordExpired) } },
        { "password-must-change", UpToCredSsp with { CredSsp = new(6, 6, CredSspEnd.ServerErrorCode, CredSspStage.Authenticate, NtStatus.PasswordMustChange) } },
        { "remote-logon-denied", UpToCredSsp with { CredSsp = new(6, 6, CredSspEnd.ServerErrorCode, CredSspStage.Authenticate, NtStatus.LogonTypeNotGranted) } },
        { "authentication-failed", UpToCredSsp with { CredSsp = new(6, 6, CredSspEnd.ServerErrorCode, CredSspStage.Authenticate, NtStatus.AccountExpired) } },
        { "authentication-failed", UpToCredSsp with { CredSsp = new(6, 5, CredSspEnd.ClosedWithoutStatus, CredSspStage.Authenticate) } },
        { "tls-certificate-problem", UpToCredSsp with { CredSsp = new(6, 6, CredSspEnd.PublicKeyMismatch, CredSspStage.Authenticate) } },
        { "unexpected-failure", UpToCredSsp with { CredSsp = new(6, 6, CredSspEnd.ProtocolError, CredSspStage.Authenticate) } },
        { "remote-logon-denied", UpToCredSsp with { CredSsp = new(6, 6, CredSspEnd.Completed, CredSspStage.Credentials), Authorization = new(EarlyUserAuthorizationResult.AuthzAccessDenied) } },
        { "remote-logon-denied", UpToCredSsp with { CredSsp = new(6, 6, CredSspEnd.Completed, CredSspStage.Credentials), Authorization = new(EarlyUserAuthorizationResult.LegacyAuthzAccessDenied) } },
        { "remote-logon-denied", UpToCredSsp with { Negotiation = new(SecurityProtocols.Ssl | SecurityProtocols.Hybrid, NegotiationAnswer.Response, SecurityProtocols.Hybrid), CredSsp = new(6, 6, CredSspEnd.Completed, CredSspStage.Credentials), Authorization = new(null, ServerClosedImmediately: true) } },
        { "success", UpToCredSsp with { CredSsp = new(6, 6, CredSspEnd.Completed, CredSspStage.Credentials), Authorization = new(EarlyUserAuthorizationResult.AuthzSuccess) } },
        { "success", UpToCredSsp with { Negotiation = new(SecurityProtocols.Ssl | SecurityProtocols.Hybrid, NegotiationAnswer.Response, SecurityProtocols.Hybrid), CredSsp = new(6, 6, CredSspEnd.Completed, CredSspStage.Credentials) } },
        { "unexpected-failure", Connected with { Negotiation = null } },
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Diagnose_MapsObservationToCause(string expected, ConnectionObservation observation)
    {
        DoctorReport report = Diagnose(observation);

        Assert.Equal(expected, report.Label);
        Assert.DoesNotContain(report.Evidence, e => e.Contains('{', StringComparison.Ordinal)); // every placeholder filled
    }

    [Fact]
    public void Diagnose_UntrustedCertificateOnSuccess_IsAWarningNotAFailure()
    {
        DoctorReport report = Diagnose(UpToCredSsp with
        {
            Tls = new(true, "Tls12", Certificate: new("CN=srv", "AB12", DateTimeOffset.UnixEpoch, Expired: true, Trusted: false, NameMatches: true)),
            CredSsp = new(6, 6, CredSspEnd.Completed, CredSspStage.Credentials),
            Authorization = new(0),
        });

        Assert.True(report.IsSuccess);
        Assert.Equal([Cause.TlsCertificateProblem], report.Warnings);
        Assert.Contains(report.Evidence, e => e.Contains("not issued by a trusted authority", StringComparison.Ordinal));
    }

    [Fact]
    public void Diagnose_OracleRefusal_EvidenceNamesVersionAndPolicy()
    {
        DoctorReport report = Diagnose(UpToCredSsp with { CredSsp = new(6, 4, CredSspEnd.ClientRefusedServerVersion, CredSspStage.FirstRequest) });

        Assert.Equal("The server announced CredSSP version 4 (below 5: no CVE-2018-0886 fix) and the client's AllowEncryptionOracle is 1 (Mitigated), which does not allow falling back.", report.Evidence[0]);
        Assert.Equal(14, report.ExitCode);
    }

    [Fact]
    public void Diagnose_AgreesWithTheModel_ForEveryAccountStateOnDefaults()
    {
        // The live mapping and the model must name the same cause for what the model predicts the wire shows.
        foreach (AccountState account in Enum.GetValues<AccountState>())
        {
            PredictedOutcome predicted = OutcomeModel.Predict(ServerSettings.WindowsDefault, ClientSettings.WindowsDefault, account);
            ConnectionObservation observed = UpToCredSsp with
            {
                CredSsp = predicted.ErrorCode is { } status
                    ? new(6, 6, CredSspEnd.ServerErrorCode, CredSspStage.Authenticate, status)
                    : new(6, 6, CredSspEnd.Completed, CredSspStage.Credentials),
                Authorization = predicted.EarlyUserAuthorizationResult is { } euar ? new(euar) : null,
            };
            Assert.Equal(predicted.Label, Diagnose(observed).Label);
        }
    }
}
