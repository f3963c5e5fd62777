using System.Globalization;
using RdpNla.Diagnosis.Catalogue;
using RdpNla.Diagnosis.Model;
using RdpNla.Protocol;
using RdpNla.Protocol.Rdp;

namespace RdpNla.Diagnosis.Live;

/// <summary>
/// Maps what the live walk measured (<see cref="ConnectionObservation"/>) to a catalogue cause: the first failing
/// phase decides. Pure, so it is unit-tested from observation records; the network walker only fills the record.
/// </summary>
public static class LiveDiagnoser
{
    /// <summary>Diagnoses one walk of <paramref name="client"/> (the client doctor emulated).</summary>
    public static DoctorReport Diagnose(ConnectionObservation observation, ClientSettings client)
    {
        ArgumentNullException.ThrowIfNull(observation);
        ArgumentNullException.ThrowIfNull(client);
        var values = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["host"] = observation.Host,
            ["endpoint"] = $"{observation.Host}:{observation.Port.ToString(CultureInfo.InvariantCulture)}",
            ["user"] = observation.User ?? "the user",
            ["serverSetting"] = string.Empty,
            ["clientDetail"] = string.Empty,
        };
        var evidence = new List<string>();
        var warnings = new List<Cause>();

        DoctorReport Report(Cause? cause, ConnectionPhase phase)
        {
            var lines = new List<string>();
            if (cause is { } c)
            {
                lines.Add(Evidence.Fill(CauseCatalogue.Get(c).EvidenceTemplate, values));
            }

            lines.AddRange(evidence);
            return new DoctorReport
            {
                Cause = cause, Phase = phase, Evidence = lines, Warnings = warnings, Mode = "live",
                User = observation.User, Host = observation.Host,
            };
        }

        DoctorReport Unexpected(ConnectionPhase phase, string detail)
        {
            values["detail"] = detail;
            return Report(Cause.UnexpectedFailure, phase);
        }

        // Name resolution.
        if (observation.NameResolution is { } dns)
        {
            if (!dns.Resolved)
            {
                values["error"] = dns.Error ?? "no address";
                return Report(Cause.NameNotResolved, ConnectionPhase.NameResolution);
            }

            evidence.Add($"{observation.Host} resolves to {string.Join(", ", dns.Addresses)}.");
        }

        // TCP.
        if (observation.Tcp is not { } tcp)
        {
            return Unexpected(ConnectionPhase.Tcp, "the walk stopped before the TCP connection");
        }

        values["endpoint"] = tcp.Endpoint;
        values["error"] = tcp.Error ?? tcp.Outcome.ToString();
        switch (tcp.Outcome)
        {
            case TcpOutcome.Refused:
                return Report(Cause.ConnectionRefused, ConnectionPhase.Tcp);
            case TcpOutcome.TimedOut:
                values["error"] = tcp.Error ?? "no answer (timed out)";
                return Report(Cause.NoAnswer, ConnectionPhase.Tcp);
            case TcpOutcome.Unreachable:
                values["error"] = tcp.Error ?? "host unreachable";
                return Report(Cause.NoAnswer, ConnectionPhase.Tcp);
        }

        evidence.Add($"TCP connected to {tcp.Endpoint}.");

        // X.224 negotiation.
        if (observation.Negotiation is not { } negotiation)
        {
            return Unexpected(ConnectionPhase.Negotiation, "the walk stopped before the X.224 negotiation");
        }

        SecurityProtocols requested = negotiation.Requested;
        values["requested"] = requested.Name();
        bool offeredHybrid = (requested & SecurityProtocols.Hybrid) != 0;
        bool offeredSsl = (requested & SecurityProtocols.Ssl) != 0;
        switch (negotiation.Answer)
        {
            case NegotiationAnswer.NotX224:
                values["answer"] = $"bytes that are not an X.224 Connection Confirm ({negotiation.RawAnswer ?? "?"})";
                return Report(Cause.NotRdpServer, ConnectionPhase.Negotiation);
            case NegotiationAnswer.ClosedWithoutAnswer:
                values["answer"] = "nothing: it closed the connection";
                return Report(Cause.NotRdpServer, ConnectionPhase.Negotiation);
            case NegotiationAnswer.TimedOut:
                values["answer"] = "nothing within the timeout";
                return Report(Cause.NotRdpServer, ConnectionPhase.Negotiation);
            case NegotiationAnswer.LegacyConfirm:
                values["selected"] = "Standard RDP Security (a Connection Confirm without negotiation data: the server ignores TLS/NLA, like Windows XP/2003)";
                return Report(Cause.ServerRefusesNla, ConnectionPhase.Negotiation);
            case NegotiationAnswer.Failure:
                NegotiationFailureCode code = negotiation.FailureCode ?? 0;
                evidence.Add($"RDP_NEG_FAILURE {code.Name()}: {code.Describe()}.");
                switch (code)
                {
                    case NegotiationFailureCode.HybridRequiredByServer:
                        values["serverSetting"] = "UserAuthentication=1";
                        return Report(Cause.NlaRequiredClientUnsupported, ConnectionPhase.Negotiation);
                    case NegotiationFailureCode.SslRequiredByServer when !offeredSsl && !offeredHybrid:
                        return Report(Cause.TlsRequiredClientUnsupported, ConnectionPhase.Negotiation);
                    case NegotiationFailureCode.SslRequiredByServer:
                    case NegotiationFailureCode.SslNotAllowedByServer:
                        // MS-RDPBCGR §2.2.1.2.2: SSL_REQUIRED to a CredSSP-only request means the server supports TLS only.
                        values["selected"] = $"no NLA (RDP_NEG_FAILURE {code.Name()})";
                        return Report(Cause.ServerRefusesNla, ConnectionPhase.Negotiation);
                    case NegotiationFailureCode.SslCertNotOnServer:
                        values["certificateProblem"] = "The server answered RDP_NEG_FAILURE SSL_CERT_NOT_ON_SERVER: it has no usable certificate and cannot start TLS or NLA.";
                        return Report(Cause.TlsCertificateProblem, ConnectionPhase.Negotiation);
                    default:
                        return Unexpected(ConnectionPhase.Negotiation, $"the server answered RDP_NEG_FAILURE {code.Name()}");
                }
        }

        SecurityProtocols selected = negotiation.Selected ?? SecurityProtocols.Rdp;
        values["selected"] = selected.Name();
        if (selected != SecurityProtocols.Rdp && (selected & requested) != selected)
        {
            return Unexpected(ConnectionPhase.Negotiation, $"the server selected {selected.Name()}, which the client did not offer ({requested.Name()})");
        }

        evidence.Add($"The server selected {selected.Name()} for a request of {requested.Name()}.");
        if (selected == SecurityProtocols.Rdp)
        {
            return Report(Cause.ServerRefusesNla, ConnectionPhase.Negotiation);
        }

        // TLS.
        if (observation.Tls is not { } tls)
        {
            return Unexpected(ConnectionPhase.Tls, "the walk stopped before the TLS handshake");
        }

        if (!tls.Succeeded)
        {
            values["error"] = (tls.Error ?? "handshake failed") + (tls.ServerOffersOnlyLegacyTls ? "; the server accepts TLS 1.0/1.1 only" : string.Empty);
            return Report(Cause.TlsHandshakeFailed, ConnectionPhase.Tls);
        }

        evidence.Add($"TLS {tls.Protocol ?? "?"} {tls.CipherSuite ?? string.Empty}".TrimEnd() + ".");
        if (tls.Certificate is { } certificate && CertificateProblem(certificate) is { } problem)
        {
            values["certificateProblem"] = problem;
            warnings.Add(Cause.TlsCertificateProblem);
            evidence.Add(problem);
        }

        if (selected == SecurityProtocols.Ssl)
        {
            // The client did not get NLA: either it did not offer it, or the server does not do it.
            return offeredHybrid ? Report(Cause.ServerRefusesNla, ConnectionPhase.Tls) : Report(Cause.NoNlaTlsOnly, ConnectionPhase.Tls);
        }

        // CredSSP.
        if (observation.CredSsp is not { } credSsp)
        {
            return Unexpected(ConnectionPhase.CredSsp, "the walk stopped before CredSSP");
        }

        values["clientVersion"] = credSsp.ClientVersion.ToString(CultureInfo.InvariantCulture);
        values["serverVersion"] = credSsp.ServerVersion?.ToString(CultureInfo.InvariantCulture) ?? "unknown (no CredSSP answer)";
        values["clientPolicy"] = string.Create(CultureInfo.InvariantCulture, $"{(int)client.AllowEncryptionOracle} ({client.AllowEncryptionOracle})");
        values["stage"] = credSsp.Stage switch
        {
            CredSspStage.FirstRequest => "after the client's first TSRequest",
            CredSspStage.Authenticate => "after the NTLM AUTHENTICATE",
            _ => "after the delegated credentials",
        };
        if (credSsp.ServerVersion is { } serverVersion)
        {
            evidence.Add(string.Create(CultureInfo.InvariantCulture, $"CredSSP: client version {credSsp.ClientVersion}, server version {serverVersion}."));
        }

        switch (credSsp.End)
        {
            case CredSspEnd.ClientRefusedServerVersion:
                return Report(Cause.EncryptionOracleServerUnpatched, ConnectionPhase.CredSsp);
            case CredSspEnd.ServerErrorCode:
                NtStatus status = credSsp.ErrorCode ?? NtStatus.LogonFailure;
                values["status"] = NtStatusText.Name(status);
                evidence.Add($"errorCode {NtStatusText.Name(status)}: {NtStatusText.Describe(status)}.");
                Cause? byStatus = status switch
                {
                    NtStatus.NotSupported when credSsp.ClientVersion < 5 => Cause.EncryptionOracleClientUnpatched,
                    NtStatus.LogonFailure or NtStatus.WrongPassword or NtStatus.NoSuchUser => Cause.WrongCredentials,
                    NtStatus.AccountLockedOut => Cause.AccountLocked,
                    NtStatus.AccountDisabled => Cause.AccountDisabled,
                    NtStatus.PasswordExpired => Cause.PasswordExpired,
                    NtStatus.PasswordMustChange => Cause.PasswordMustChange,
                    NtStatus.LogonTypeNotGranted or NtStatus.LogonNotGranted => Cause.RemoteLogonDenied,
                    _ => null,
                };
                if (byStatus == Cause.EncryptionOracleClientUnpatched)
                {
                    values["serverAnswer"] = "errorCode STATUS_NOT_SUPPORTED (AllowEncryptionOracle=0, Force Updated Clients)";
                }
                else if (byStatus == Cause.RemoteLogonDenied)
                {
                    values["authorization"] = $"the server refused the logon type ({NtStatusText.Name(status)})";
                }

                if (byStatus is null)
                {
                    values["stage"] += $" (errorCode {NtStatusText.Name(status)})";
                }

                return Report(byStatus ?? Cause.AuthenticationFailed, ConnectionPhase.CredSsp);
            case CredSspEnd.ClosedWithoutStatus:
                if (credSsp.Stage == CredSspStage.FirstRequest && credSsp.ServerVersion is null && credSsp.ClientVersion < 5)
                {
                    // docs/interop.md#encryption-oracle: a Force Updated Clients server refuses a version < 5 on the first TSRequest and,
                    // for a client that cannot read errorCode (version 2), just closes.
                    values["serverAnswer"] = "the connection closed right after the client's first TSRequest, as a Force Updated Clients server does";
                    return Report(Cause.EncryptionOracleClientUnpatched, ConnectionPhase.CredSsp);
                }

                if (credSsp.Detail is { } detail)
                {
                    evidence.Add(detail);
                }

                return Report(Cause.AuthenticationFailed, ConnectionPhase.CredSsp);
            case CredSspEnd.PublicKeyMismatch:
                values["certificateProblem"] = "The server's CredSSP proof of its public key does not match the TLS certificate: something between the client and the server terminates TLS (an intercepting proxy, or an attack). The client refuses to send credentials.";
                return Report(Cause.TlsCertificateProblem, ConnectionPhase.CredSsp);
            case CredSspEnd.ProtocolError:
                return Unexpected(ConnectionPhase.CredSsp, "the server's CredSSP answer is not valid: " + (credSsp.Detail ?? "malformed TSRequest"));
        }

        evidence.Add($"CredSSP completed for {values["user"]}.");

        // Authorization.
        if (observation.Authorization is { } authorization)
        {
            if (authorization.EarlyUserAuthorizationResult is { } euar and not 0)
            {
                values["authorization"] = string.Create(CultureInfo.InvariantCulture, $"the Early User Authorization Result was 0x{euar:X8} ({new EarlyUserAuthorizationResult(euar).Name})");
                return Report(Cause.RemoteLogonDenied, ConnectionPhase.Authorization);
            }

            if (authorization.EarlyUserAuthorizationResult is null && authorization.ServerClosedImmediately)
            {
                // PROTOCOL_HYBRID has no Early User Authorization Result: a server that closes right after CredSSP is
                // refusing the session (docs/interop.md#early-user-authorization), most likely for the remote logon right.
                values["authorization"] = "the server closed the connection right after CredSSP (PROTOCOL_HYBRID has no Early User Authorization Result, so this is the only sign)";
                return Report(Cause.RemoteLogonDenied, ConnectionPhase.Authorization);
            }

            if (authorization.EarlyUserAuthorizationResult is 0)
            {
                evidence.Add("Early User Authorization Result AUTHZ_SUCCESS.");
            }
        }

        return Report(null, ConnectionPhase.Session);
    }

    private static string? CertificateProblem(CertificateObservation certificate)
    {
        var problems = new List<string>();
        if (certificate.Expired)
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"expired or not yet valid (not after {certificate.NotAfter:yyyy-MM-dd})"));
        }

        if (certificate.Trusted == false)
        {
            problems.Add("not issued by a trusted authority (self-signed?)");
        }

        if (certificate.NameMatches == false)
        {
            problems.Add("issued to another name");
        }

        return problems.Count == 0
            ? null
            : $"The server's certificate \"{certificate.Subject}\" (SHA-256 {certificate.Sha256Fingerprint}) is {string.Join(", ", problems)}.";
    }
}
