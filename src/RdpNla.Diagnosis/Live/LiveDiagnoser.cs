namespace RdpNla.Diagnosis.Live;

/// <summary>
/// Maps what the live walk measured (<see cref="LiveObservation"/>) to a catalogue cause: the first failing
/// phase decides. Pure, so it is unit-tested from observation records; the network walker only fills the record.
/// </summary>
public static class LiveDiagnoser
{
    /// <summary>Diagnoses one walk of <paramref name="client"/> (the client doctor emulated).</summary>
    public static DoctorReport Diagnose(LiveObservation observation, ClientSettings client)
    {
        ArgumentNullException.ThrowIfNull(observation);
        ArgumentNullException.ThrowIfNull(client);
        NlaClientResult run = observation.Run;
        var values = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            ["host"] = run.Host,
            ["endpoint"] = $"{run.Host}:{run.Port.ToString(CultureInfo.InvariantCulture)}",
            ["user"] = run.Account ?? "the user",
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
                User = run.Account, Host = run.Host,
            };
        }

        DoctorReport Unexpected(ConnectionPhase phase, string detail)
        {
            values["detail"] = detail;
            return Report(Cause.UnexpectedFailure, phase);
        }

        string seconds = run.Timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);

        // Name resolution.
        if (run.FailureKind == NlaFailureKind.NameNotResolved)
        {
            values["error"] = run.SocketError?.ToString() ?? run.ErrorDetail ?? (run.TimedOut ? $"no answer within {seconds} s" : "no address");
            return Report(Cause.NameNotResolved, ConnectionPhase.NameResolution);
        }

        if (run.ResolvedAddresses.Count > 0)
        {
            evidence.Add($"{run.Host} resolves to {string.Join(", ", run.ResolvedAddresses)}.");
        }

        // TCP.
        values["endpoint"] = run.Endpoint;
        if (run.Phase == NlaClientPhase.Connect)
        {
            switch (run.FailureKind)
            {
                case NlaFailureKind.ConnectionRefused:
                    values["error"] = run.SocketError?.ToString() ?? "refused";
                    return Report(Cause.ConnectionRefused, ConnectionPhase.Tcp);
                case NlaFailureKind.NoAnswer:
                    values["error"] = run.TimedOut ? $"no answer within {seconds} s (filtered port or host down)" : "no answer (timed out)";
                    return Report(Cause.NoAnswer, ConnectionPhase.Tcp);
                case NlaFailureKind.NetworkError:
                    values["error"] = $"{run.SocketError?.ToString() ?? "host unreachable"} ({run.ErrorDetail})";
                    return Report(Cause.NoAnswer, ConnectionPhase.Tcp);
                default:
                    return Unexpected(ConnectionPhase.Tcp, "the walk stopped before the TCP connection");
            }
        }

        evidence.Add($"TCP connected to {run.Endpoint}.");

        // X.224 negotiation.
        SecurityProtocols requested = run.RequestedProtocols;
        values["requested"] = requested.Name();
        bool offeredHybrid = (requested & SecurityProtocols.Hybrid) != 0;
        bool offeredSsl = (requested & SecurityProtocols.Ssl) != 0;
        if (run.Negotiation is not { } negotiation)
        {
            values["answer"] = run.FailureKind switch
            {
                NlaFailureKind.NoAnswer => "nothing within the timeout",
                NlaFailureKind.ConnectionClosed or NlaFailureKind.NetworkError => "nothing: it closed the connection",
                NlaFailureKind.NotRdp when run.AnnouncedFrameLength is { } length => $"bytes that are not an X.224 Connection Confirm (a TPKT header announcing a {length}-byte frame: {ObservedBytes.Describe(run.UnexpectedAnswer.Span)})",
                NlaFailureKind.NotRdp when run.ErrorDetail is { } detail => $"bytes that are not an X.224 Connection Confirm (a TPKT frame that does not decode: {detail})",
                _ => $"bytes that are not an X.224 Connection Confirm ({ObservedBytes.Describe(run.UnexpectedAnswer.Span)})",
            };
            return Report(Cause.NotRdpServer, ConnectionPhase.Negotiation);
        }

        if (negotiation.FailureCode is { } code)
        {
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

        if (negotiation.Legacy)
        {
            values["selected"] = "Standard RDP Security (a Connection Confirm without negotiation data: the server ignores TLS/NLA, like Windows XP/2003)";
            return Report(Cause.ServerRefusesNla, ConnectionPhase.Negotiation);
        }

        SecurityProtocols selected = negotiation.SelectedProtocol ?? SecurityProtocols.Rdp;
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

        if (run.FailureKind == NlaFailureKind.InvalidSelection)
        {
            return Unexpected(ConnectionPhase.Negotiation, $"the server selected {selected.Name()}, which a Windows client does not implement");
        }

        // TLS.
        if (run.Tls is not { } tls)
        {
            if (run.FailureKind != NlaFailureKind.TlsFailure)
            {
                return Unexpected(ConnectionPhase.Tls, "the walk stopped before the TLS handshake");
            }

            values["error"] = TlsFailureText(run, observation.LegacyTls, seconds);
            return Report(Cause.TlsHandshakeFailed, ConnectionPhase.Tls);
        }

        evidence.Add($"TLS {NlaClient.TlsName(tls.Protocol)} {tls.CipherSuite}".TrimEnd() + ".");
        if (CertificateProblem(tls.Certificate, observation.Time) is { } problem)
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
        CredSspInfo credSsp = run.CredSsp ?? new CredSspInfo { ClientVersion = client.CredSspVersionSpoken };
        int? serverVersion = credSsp.ServerVersion > 0 ? credSsp.ServerVersion : null;
        bool credentialsGiven = run.StopAfter == NlaClientStage.Authentication;
        CredSspEnd end = run.FailureKind switch
        {
            NlaFailureKind.CredSspVersionNotPermitted => CredSspEnd.ClientRefusedServerVersion,
            NlaFailureKind.LogonRefused when credSsp.ErrorCode is not null => CredSspEnd.ServerErrorCode,
            NlaFailureKind.RejectedWithoutReason or NlaFailureKind.ConnectionClosed or NlaFailureKind.NetworkError => CredSspEnd.ClosedWithoutStatus,
            NlaFailureKind.NoAnswer when !credSsp.CredentialsSent => CredSspEnd.ClosedWithoutStatus,
            NlaFailureKind.PublicKeyMismatch => CredSspEnd.PublicKeyMismatch,
            NlaFailureKind.CredSspProtocolError => CredSspEnd.ProtocolError,

            // Stopped at the CHALLENGE (NlaClient does not apply the oracle policy without credentials): a patched
            // client with AllowEncryptionOracle 0 or 1 would refuse a server below version 5 here, before sending anything.
            _ when !credentialsGiven && client.CredSsp == ClientCredSsp.Patched
                && client.AllowEncryptionOracle != EncryptionOraclePolicy.Vulnerable
                && serverVersion is < CredSspVersion.FirstPatched => CredSspEnd.ClientRefusedServerVersion,
            _ => CredSspEnd.Completed,
        };

        values["clientVersion"] = credSsp.ClientVersion.ToString(CultureInfo.InvariantCulture);
        values["serverVersion"] = serverVersion?.ToString(CultureInfo.InvariantCulture) ?? "unknown (no CredSSP answer)";
        values["clientPolicy"] = string.Create(CultureInfo.InvariantCulture, $"{(int)client.AllowEncryptionOracle} ({client.AllowEncryptionOracle})");
        values["stage"] = credSsp.Stage switch
        {
            CredSspStage.FirstRequest => "after the client's first TSRequest",
            CredSspStage.Authenticate => "after the NTLM AUTHENTICATE",
            _ => "after the delegated credentials",
        };
        if (serverVersion is { } announced)
        {
            evidence.Add(string.Create(CultureInfo.InvariantCulture, $"CredSSP: client version {credSsp.ClientVersion}, server version {announced}."));
        }

        if (KerberosCause(run, credSsp, values, evidence) is { } kerberos)
        {
            return Report(kerberos, ConnectionPhase.CredSsp);
        }

        switch (end)
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
                    NtStatus.NtlmBlocked => Cause.NtlmBlocked,
                    NtStatus.AccountExpired or NtStatus.InvalidLogonHours or NtStatus.InvalidWorkstation or NtStatus.AccountRestriction or NtStatus.SmartcardLogonRequired => Cause.AccountRestricted,
                    NtStatus.InternalDbError => Cause.AccountDatabaseFailed,
                    _ when NtStatusText.IsServerFault(status) => Cause.LogonServersUnavailable,
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
                else if (byStatus == Cause.NtlmBlocked)
                {
                    values["detail"] = $"The client authenticated {values["user"]} with {credSsp.Package} and the server answered CredSSP errorCode STATUS_NTLM_BLOCKED: it accepts Kerberos only.";
                }

                return Report(byStatus ?? Cause.LogonRefused, ConnectionPhase.CredSsp);
            case CredSspEnd.ClosedWithoutStatus:
                if (credSsp.Stage == CredSspStage.FirstRequest && serverVersion is null && credSsp.ClientVersion < 5)
                {
                    // docs/interop.md#encryption-oracle: a Force Updated Clients server refuses a version < 5 on the first TSRequest and,
                    // for a client that cannot read errorCode (version 2), just closes.
                    values["serverAnswer"] = "the connection closed right after the client's first TSRequest, as a Force Updated Clients server does";
                    return Report(Cause.EncryptionOracleClientUnpatched, ConnectionPhase.CredSsp);
                }

                evidence.Add(ClosedText(run, seconds));

                return Report(Cause.AuthenticationFailed, ConnectionPhase.CredSsp);
            case CredSspEnd.PublicKeyMismatch:
                values["certificateProblem"] = "The server's CredSSP proof of its public key does not match the TLS certificate: something between the client and the server terminates TLS (an intercepting proxy, or an attack). The client refuses to send credentials.";
                return Report(Cause.TlsCertificateProblem, ConnectionPhase.CredSsp);
            case CredSspEnd.ProtocolError:
                return Unexpected(ConnectionPhase.CredSsp, "the server's CredSSP answer is not valid: " + (run.ErrorDetail ?? run.CredSspProblem.ToString()));
        }

        evidence.Add($"CredSSP completed for {values["user"]}.");

        // Authorization: the Early User Authorization Result (HYBRID_EX), or a close right after the credentials (HYBRID).
        if (credentialsGiven && run.AuthorizationHeld && run.FailureKind is NlaFailureKind.AccessDenied or NlaFailureKind.NoAnswer)
        {
            // docs/portal.md: a server that requires a second factor holds the connection until the user approves it,
            // and refuses it when Mfa:ApprovalTimeout passes.
            string elapsed = run.Elapsed.TotalSeconds.ToString("0", CultureInfo.InvariantCulture);
            values["authorization"] = run.TimedOut
                ? $"The server verified the password of {values["user"]}, then held the connection without an Early User Authorization Result for the {seconds} s doctor waited: it waits for a second-factor approval that did not come."
                : $"The server verified the password of {values["user"]}, held the connection, then refused it after {elapsed} s ({(run.EarlyAuthorization is { } refused ? "Early User Authorization Result " + refused.Name : "closed without an Early User Authorization Result")}): a second-factor approval did not come within the server's Mfa:ApprovalTimeout.";
            return Report(Cause.SecondFactorNotApproved, ConnectionPhase.Authorization);
        }

        if (credentialsGiven)
        {
            if (run.EarlyAuthorization is { } euar && !euar.IsSuccess)
            {
                values["authorization"] = string.Create(CultureInfo.InvariantCulture, $"the Early User Authorization Result was 0x{euar.AuthorizationResult:X8} ({euar.Name})");
                return Report(Cause.RemoteLogonDenied, ConnectionPhase.Authorization);
            }

            if (run.FailureKind != NlaFailureKind.None && run.EarlyAuthorization is null)
            {
                // PROTOCOL_HYBRID has no Early User Authorization Result: a server that closes right after CredSSP is
                // refusing the session (docs/interop.md#early-user-authorization), most likely for the remote logon right.
                values["authorization"] = "the server closed the connection right after CredSSP (PROTOCOL_HYBRID has no Early User Authorization Result, so this is the only sign)";
                return Report(Cause.RemoteLogonDenied, ConnectionPhase.Authorization);
            }

            if (run.EarlyAuthorization is { IsSuccess: true })
            {
                evidence.Add("Early User Authorization Result AUTHZ_SUCCESS.");
            }
        }

        return Report(null, ConnectionPhase.Session);
    }

    /// <summary>
    /// The Kerberos causes (docs/kerberos.md, failure table): a ticket the client could not get (the krb5 error of the
    /// GSS minor status, RFC 4120 §7.5.9), or one the server refused.
    /// </summary>
    private static Cause? KerberosCause(NlaClientResult run, CredSspInfo credSsp, Dictionary<string, string> values, List<string> evidence)
    {
        KerberosFailure? kerberos = credSsp.Kerberos;
        string spn = kerberos?.ServicePrincipal ?? "TERMSRV/" + run.Host;
        if (kerberos is not null && run.FailureKind == NlaFailureKind.CredSspProtocolError
            && (run.CredSspProblem == CredSspProblem.KerberosUnavailable || credSsp.ServerVersion == 0))
        {
            // The Kerberos context failed before the server saw a ticket (the package may still read NTLM then).
            (Cause cause, string code) = kerberos.MinorStatus switch
            {
                KerberosErrors.ServerPrincipalUnknown => (Cause.KerberosSpnUnknown, "KDC_ERR_S_PRINCIPAL_UNKNOWN: "),
                KerberosErrors.KdcUnreachable => (Cause.KerberosKdcUnreachable, "KRB5_KDC_UNREACH: "),
                KerberosErrors.Skew or KerberosErrors.TicketNotYetValid => (Cause.KerberosClockSkew, "KRB_AP_ERR_SKEW: "),
                KerberosErrors.RealmUnknown => (Cause.KerberosRealmUnknown, "KRB5_REALM_UNKNOWN: "),
                _ => (Cause.UnexpectedFailure, string.Empty),
            };
            values["detail"] = $"The client could not get a Kerberos ticket for {spn}: {code}{kerberos.Text}.";
            int at = spn.LastIndexOf('@');
            if (cause == Cause.KerberosSpnUnknown && at > 0)
            {
                // RFC 4120 §3.3.1: a ticket for another realm comes through a cross-realm TGT from the client's own KDC,
                // which answers KDC_ERR_S_PRINCIPAL_UNKNOWN when it has no trust to that realm (measured: docs/kerberos.md).
                values["detail"] += $" The SPN names realm {spn[(at + 1)..]}: if that is not the client's realm, its KDC has no trust path there either.";
            }

            return cause;
        }

        if (credSsp.Package != "Kerberos")
        {
            if (kerberos is not null)
            {
                evidence.Add($"Kerberos was not used for {spn} ({kerberos.Text}); the client used NTLM.");
            }

            return null;
        }

        switch (credSsp.ErrorCode)
        {
            case NtStatus.TimeDifferenceAtDc:
                values["detail"] = $"The server answered the Kerberos ticket for {spn} with CredSSP errorCode STATUS_TIME_DIFFERENCE_AT_DC: the clocks of the client, the server or the KDC differ by more than the allowed skew (KRB_AP_ERR_SKEW).";
                return Cause.KerberosClockSkew;
            case NtStatus.LogonFailure when credSsp.Stage == CredSspStage.FirstRequest:
                values["detail"] = $"The KDC issued a ticket for {spn} to {values["user"]}, and the server answered it with CredSSP errorCode STATUS_LOGON_FAILURE before any password was checked: it cannot decrypt the ticket with its keytab (KRB_AP_ERR_MODIFIED or BADKEYVER), or it does not map the ticket's realm.";
                return Cause.KerberosKeyMismatch;
            default:
                return null;
        }
    }

    /// <summary>The TLS failure, with what the server did with TLS 1.0/1.1 when the walk tried them.</summary>
    private static string TlsFailureText(NlaClientResult run, LegacyTlsObservation? legacy, string seconds)
    {
        string first = run.TimedOut ? $"no TLS answer within {seconds} s"
            : run.ConnectionLost ? $"the server closed the connection during the handshake ({run.SocketError?.ToString() ?? run.ErrorDetail})"
            : run.ErrorDetail?.TrimEnd('.') ?? "no certificate";
        var error = new List<string> { $"offering TLS 1.2 and 1.3: {first}" };
        if (legacy is null)
        {
            return error[0];
        }

        if (legacy.Handshake is { Outcome: NlaOutcome.Success, Tls: { } legacyTls })
        {
            error.Add($"a second handshake offering only TLS 1.0/1.1 completed with {NlaClient.TlsName(legacyTls.Protocol)} ({legacyTls.CipherSuite}): the server is limited to an old TLS version");
        }
        else
        {
            string second = legacy.Handshake.ErrorDetail?.TrimEnd('.') ?? legacy.Handshake.FailureKind.ToString();
            error.Add($"offering only TLS 1.0 and 1.1: {second} (this machine's TLS library may refuse TLS 1.0/1.1 itself: OpenSSL 3 does at its default security level)");
            if (legacy.RawProbe is { } raw)
            {
                error.Add(raw);
            }
        }

        return string.Join("; ", error) + (legacy.ServerOffersOnlyLegacyTls ? "; the server accepts TLS 1.0/1.1 only" : string.Empty);
    }

    /// <summary>How the server ended CredSSP without a status.</summary>
    private static string ClosedText(NlaClientResult run, string seconds) => run.TimedOut
        ? $"The server did not answer within {seconds} s."
        : $"The server closed the connection ({run.SocketError?.ToString() ?? run.ErrorDetail ?? "end of stream"}) without a CredSSP errorCode.";

    private static string? CertificateProblem(TlsCertificateInfo certificate, DateTimeOffset now)
    {
        var problems = new List<string>();
        if (certificate.IsExpired(now) || certificate.IsNotYetValid(now))
        {
            problems.Add(string.Create(CultureInfo.InvariantCulture, $"expired or not yet valid (not after {certificate.NotAfter:yyyy-MM-dd})"));
        }

        if (certificate.SelfSigned)
        {
            problems.Add("not issued by a trusted authority (self-signed?)");
        }

        return problems.Count == 0
            ? null
            : $"The server's certificate \"{certificate.Subject}\" (SHA-256 {certificate.Sha256Fingerprint}) is {string.Join(", ", problems)}.";
    }
}

/// <summary>How CredSSP ended, as the diagnosis reads the client run.</summary>
internal enum CredSspEnd
{
    Completed,
    ServerErrorCode,
    ClientRefusedServerVersion,
    ClosedWithoutStatus,
    PublicKeyMismatch,
    ProtocolError,
}
