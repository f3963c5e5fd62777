namespace RdpNla.Cli.Commands;

/// <summary>
/// The sentences of the client commands (<c>login</c>, <c>probe</c>, <c>bench</c>): what a <see cref="NlaClientResult"/>
/// or a <see cref="ProbeResult"/> measured, in plain words, with the command-line hints that fix it.
/// </summary>
internal static class ClientResultText
{
    /// <summary>What happened in one client run, in one sentence; never contains secrets.</summary>
    public static string Describe(NlaClientResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        string endpoint = result.Endpoint;
        string seconds = result.Timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);
        string account = result.Account ?? "the user";
        string? detail = result.SocketError?.ToString() ?? result.ErrorDetail;
        CredSspStage stage = result.CredSsp?.Stage ?? CredSspStage.FirstRequest;
        if (result.TimedOut)
        {
            return result.Phase switch
            {
                NlaClientPhase.Resolve => $"the name {result.Host} did not resolve within {seconds} s",
                NlaClientPhase.Connect => $"no answer from {result.Host}:{result.Port} to the TCP connection within {seconds} s (filtered port or host down)",
                NlaClientPhase.Negotiation => $"{endpoint} accepted the TCP connection but did not answer the X.224 Connection Request within {seconds} s (not an RDP server, or a stalled one)",
                NlaClientPhase.Tls => $"{endpoint} selected {result.Negotiation?.SelectedProtocol?.Name()} but did not complete the TLS handshake within {seconds} s",
                NlaClientPhase.CredSsp when stage != CredSspStage.FirstRequest => $"{endpoint} did not answer the NTLM AUTHENTICATE within {seconds} s",
                NlaClientPhase.CredSsp => $"{endpoint} did not answer the CredSSP NTLM NEGOTIATE within {seconds} s",
                _ => $"{endpoint} did not send the Early User Authorization Result within {seconds} s (password verified; a server that requires a second factor holds the connection until the user approves it, e.g. on the rdpnla portal's /approve page)",
            };
        }

        if (result.ConnectionLost)
        {
            return result.Phase switch
            {
                NlaClientPhase.Negotiation => $"{endpoint} closed the connection without answering the X.224 Connection Request ({detail})",
                NlaClientPhase.Tls => $"{endpoint} closed the connection during the TLS handshake ({detail})",
                NlaClientPhase.CredSsp when stage == CredSspStage.Credentials => $"the server verified the password, then closed the connection after receiving the credentials: logon refused after authentication, no reason given ({detail})",
                NlaClientPhase.CredSsp when stage == CredSspStage.Authenticate => $"rejected, no reason given: {endpoint} closed the connection after the NTLM AUTHENTICATE without a CredSSP errorCode (wrong password, unknown user or another refusal; FreeRDP's server does this)",
                NlaClientPhase.CredSsp => $"{endpoint} closed the connection after the CredSSP NTLM NEGOTIATE, before sending a CHALLENGE ({detail})",
                NlaClientPhase.EarlyUserAuthorization => $"the server verified the password, then closed the connection without the Early User Authorization Result ({detail})",
                _ => $"connection to {endpoint} lost: {detail}",
            };
        }

        SecurityProtocols? selected = result.Negotiation?.SelectedProtocol;
        NtStatus? status = result.CredSsp?.ErrorCode;
        return result.FailureKind switch
        {
            NlaFailureKind.None => Success(result, endpoint, account),
            NlaFailureKind.NameNotResolved when result.SocketError is { } error => $"the name {result.Host} does not resolve ({error})",
            NlaFailureKind.NameNotResolved when result.ErrorDetail is { } text => $"'{result.Host}' is not a valid host name ({text})",
            NlaFailureKind.NameNotResolved => $"the name {result.Host} has no address",
            NlaFailureKind.ConnectionRefused => $"connection refused by {endpoint}: nothing listens on port {result.Port}",
            NlaFailureKind.NoAnswer => $"no answer from {endpoint} to the TCP connection (timed out)",
            NlaFailureKind.NetworkError => $"cannot connect to {endpoint}: {result.SocketError} ({result.ErrorDetail})",
            NlaFailureKind.ConnectionClosed => $"{endpoint} closed the connection without answering the X.224 Connection Request",
            NlaFailureKind.NotRdp when result.AnnouncedFrameLength is { } length => $"{endpoint} is not an RDP server: its answer announces a {length}-byte TPKT frame, not an X.224 Connection Confirm",
            NlaFailureKind.NotRdp when result.ErrorDetail is { } text => $"{endpoint} answered with a TPKT frame that is not a valid X.224 Connection Confirm: {text}",
            NlaFailureKind.NotRdp => $"{endpoint} is not an RDP server: it answered {ObservedBytes.Describe(result.UnexpectedAnswer.Span)} instead of a TPKT X.224 Connection Confirm",
            NlaFailureKind.NegotiationFailure when result.Negotiation?.FailureCode is { } code => $"{endpoint} refused the requested protocols {result.RequestedProtocols.Name()}: RDP_NEG_FAILURE {code.Name()} ({code.Describe()})",
            NlaFailureKind.NegotiationFailure => $"{endpoint} refused the requested protocols {result.RequestedProtocols.Name()} without RDP_NEG_FAILURE: it answered {DataTpduName(result.UnexpectedAnswer.Span)} (0x{Convert.ToHexString(result.UnexpectedAnswer.Span)}) instead of a Connection Confirm",
            NlaFailureKind.InvalidSelection when selected is { } protocol && IsRequested(protocol, result.RequestedProtocols) => $"{endpoint} selected {protocol.Name()}, which this client does not implement",
            NlaFailureKind.InvalidSelection => $"{endpoint} selected {selected?.Name()}, which is not one of the requested {result.RequestedProtocols.Name()} (protocol violation or tampering)",
            NlaFailureKind.NlaNotOffered when selected == SecurityProtocols.Ssl => $"{endpoint} selected PROTOCOL_SSL (TLS without NLA): it does not require NLA, so a password cannot be proven here (it would be checked inside the RDP session, after the logon screen)",
            NlaFailureKind.NlaNotOffered => $"{endpoint} selected Standard RDP Security ({result.Negotiation}): it does not require NLA, so a password cannot be proven here (it would be checked inside the RDP session)",
            NlaFailureKind.TlsFailure when result.ErrorDetail is null => $"{endpoint} presented no certificate",
            NlaFailureKind.TlsFailure => $"TLS handshake with {endpoint} failed ({TlsNames(result.OfferedTlsProtocols)} offered): {result.ErrorDetail}",
            NlaFailureKind.CertificateRejected => $"certificate of {endpoint} rejected, nothing was sent: {(result.Tls is { } tls ? Decision(result, tls.CertificateDecision) : "no certificate")}",
            NlaFailureKind.LogonRefused when status is { } s && result.StopAfter == NlaClientStage.Challenge => $"{endpoint} answered the NTLM NEGOTIATE with errorCode {NtStatusText.Name(s)} ({NtStatusText.Describe(s)})",
            NlaFailureKind.LogonRefused when status is { } s => $"{NtStatusText.Name(s)}: {NtStatusText.Describe(s)}",
            NlaFailureKind.RejectedWithoutReason => $"rejected, no reason given: {endpoint} closed the connection after the NTLM AUTHENTICATE without a CredSSP errorCode (wrong password, unknown user or another refusal; FreeRDP's server does this)",
            NlaFailureKind.AccessDenied when result.EarlyAuthorization is { } euar => $"password of {account} verified, but the account may not log on remotely: Early User Authorization Result {euar.Name}",
            NlaFailureKind.AccessDenied when result.Phase == NlaClientPhase.EarlyUserAuthorization => $"the server verified the password of {account}, then closed the connection without the Early User Authorization Result",
            NlaFailureKind.AccessDenied => $"the server verified the password of {account}, then closed the connection right after receiving the credentials: logon refused after authentication, no reason given (with PROTOCOL_HYBRID there is no Early User Authorization Result)",
            NlaFailureKind.CredSspVersionNotPermitted => $"{result.ErrorDetail} No credentials were sent. (mstsc: \"This could be due to CredSSP encryption oracle remediation\"; --allow-encryption-oracle 2 accepts such a server)",
            NlaFailureKind.PublicKeyMismatch => result.ErrorDetail ?? nameof(NlaFailureReason.PublicKeyMismatch),
            NlaFailureKind.CredSspProtocolError => CredSspProblemText(result, endpoint),
            _ => $"{result.FailureKind} in {result.Phase}",
        };
    }

    private static string Success(NlaClientResult result, string endpoint, string account) => result.StopAfter switch
    {
        NlaClientStage.Negotiation => $"{endpoint} answered {result.Negotiation}",
        NlaClientStage.Tls => $"{endpoint} completed a {NlaClient.TlsName(result.Tls?.Protocol ?? SslProtocols.None)} handshake after selecting {result.Negotiation?.SelectedProtocol?.Name()}",
        NlaClientStage.Challenge => $"{endpoint} speaks CredSSP version {result.CredSsp?.ServerVersion} and sent an NTLM CHALLENGE",
        _ when result.EarlyAuthorization is not null => $"{endpoint} verified the password of {account} (CredSSP version {result.CredSsp?.ServerVersion}) and allows a remote logon (Early User Authorization Result AUTHZ_SUCCESS)",
        _ => $"{endpoint} verified the password of {account} (CredSSP version {result.CredSsp?.ServerVersion}, PROTOCOL_HYBRID: no Early User Authorization Result, so the right to log on remotely is not known)",
    };

    private static string CredSspProblemText(NlaClientResult result, string endpoint) => result.CredSspProblem switch
    {
        CredSspProblem.CouldNotStart => result.ErrorDetail ?? "CredSSP could not start",
        CredSspProblem.UndecodableFirstAnswer => $"the server's first TSRequest does not decode: {result.ErrorDetail}",
        CredSspProblem.NoChallenge => $"{endpoint} answered the NTLM NEGOTIATE without an NTLM CHALLENGE",
        CredSspProblem.KerberosUnavailable => $"Kerberos: {result.CredSsp?.Kerberos?.Text}",
        CredSspProblem.NotATsRequest => $"{endpoint} sent something that is not a TSRequest: {result.ErrorDetail}",
        _ => $"CredSSP failed: {result.ErrorDetail ?? result.CredSsp?.FailureReason.ToString()}",
    };

    private static bool IsRequested(SecurityProtocols selected, SecurityProtocols requested) =>
        (selected & (selected - 1)) == 0 && (selected & ~requested) == 0;

    /// <summary>xrdp 0.9 answers a request it cannot serve with an X.224 Data TPDU carrying MCS Disconnect Provider Ultimatum.</summary>
    private static string DataTpduName(ReadOnlySpan<byte> frame) =>
        frame.Length >= 8 && (frame[7] & 0xFC) == 0x20 ? "an MCS Disconnect Provider Ultimatum" : "an X.224 Data TPDU";

    /// <summary>What the certificate policy checked and how it went.</summary>
    public static string Decision(NlaClientResult result, CertificateDecision decision)
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentNullException.ThrowIfNull(decision);
        string now = result.Certificate?.Sha256Fingerprint ?? "?";
        return decision.Check switch
        {
            CertificateCheck.NotChecked => "not checked (--cert-ignore: insecure)",
            CertificateCheck.PinMatches => "pinned SHA-256 fingerprint matches",
            CertificateCheck.PinMismatch => $"the certificate's SHA-256 fingerprint {now} is not the pinned {decision.ExpectedFingerprint}",
            CertificateCheck.KnownHostMatches => $"matches the certificate recorded in {decision.KnownHostsFile}",
            CertificateCheck.KnownHostChanged => $"the certificate CHANGED since it was recorded in {decision.KnownHostsFile}: recorded {decision.ExpectedFingerprint}, now {now}. "
                + "This is expected after the server's certificate was renewed, and also what a man in the middle looks like; "
                + string.Create(CultureInfo.InvariantCulture, $"remove the line for {result.Host.ToLowerInvariant()} {result.Port} from the file once you have checked the new fingerprint"),
            _ => $"trusted on first use and recorded in {decision.KnownHostsFile}",
        };
    }

    /// <summary>A step of a probe that could not be completed.</summary>
    public static string Note(ProbeNote note)
    {
        ArgumentNullException.ThrowIfNull(note);
        string version = note.TlsVersion is { } v ? NlaClient.TlsName(v) : "?";
        if (note.Run is not { } run)
        {
            return note.Step switch
            {
                ProbeStep.Negotiation => $"time ran out before the {note.Requested?.Name()} request",
                ProbeStep.CredSsp => "time ran out before the CredSSP exchange",
                ProbeStep.Tls => "time ran out before the TLS handshake",
                ProbeStep.TlsVersion => $"time ran out before the {version} test",
                ProbeStep.Kerberos => "time ran out before the Kerberos logon",
                _ => "time ran out before the unpatched-client check",
            };
        }

        return note.Step switch
        {
            ProbeStep.CredSsp => $"the server selected {note.Selected?.Name()} but the CredSSP exchange did not reach a CHALLENGE: {Describe(run)}",
            ProbeStep.Tls => $"the server selected PROTOCOL_SSL but TLS did not complete: {Describe(run)}",
            ProbeStep.TlsVersion => $"{version} test failed before TLS: {Describe(run)}",
            ProbeStep.UnpatchedClientCheck => $"unpatched-client check inconclusive: {Describe(run)}",
            ProbeStep.Kerberos => $"the Kerberos logon did not succeed: {Describe(run)}",
            _ => $"the {note.Requested?.Name()} request failed: {Describe(run)}",
        };
    }

    /// <summary>What the server requires, in words.</summary>
    public static string Required(RequiredSecurity required) => required switch
    {
        RequiredSecurity.Nothing => "nothing: Standard RDP Security accepted",
        RequiredSecurity.Tls => "PROTOCOL_SSL (TLS; NLA not required)",
        RequiredSecurity.Nla => "PROTOCOL_HYBRID (NLA)",
        _ => "no usable protocol",
    };

    // SslProtocols values are not single bits (Tls12 is 0xC00), so list the versions explicitly.
#pragma warning disable SYSLIB0039 // TLS 1.0 and 1.1 are named to report what was offered, not to enable them.
    private static readonly SslProtocols[] s_tlsVersions = [SslProtocols.Tls, SslProtocols.Tls11, SslProtocols.Tls12, SslProtocols.Tls13];
#pragma warning restore SYSLIB0039

    /// <summary>"TLS 1.2, TLS 1.3", or "system default".</summary>
    public static string TlsNames(SslProtocols protocols) =>
        protocols == SslProtocols.None ? "system default" : string.Join(", ", s_tlsVersions.Where(p => (protocols & p) == p).Select(NlaClient.TlsName));
}
