namespace RdpNla.Server.FrontDoor;

/// <summary>The front door's answers to the security phase's host steps: deadlines, spans, accounts, authorization.</summary>
internal sealed partial class FrontDoorConnection
{
    private IReadOnlyList<string>? _domainSids;
    private string? _unmappedPrincipal;

    /// <summary>
    /// Answers the authentication package's request through the verifiers (docs/architecture.md#authentication-seam):
    /// NTLM is refused first when the policy denies it, users of the domain go to the domain controller, every other name
    /// to the local accounts.
    /// </summary>
    private async ValueTask<NtlmCredentialLookup> LookupAsync(CredentialRequest request, AccountAuthenticator accounts, CancellationToken cancellationToken)
    {
        var verifiers = new List<ICredentialVerifier>(3);
        if (_settings.Options.Ntlm.Incoming == NtlmIncomingPolicy.Deny)
        {
            verifiers.Add(new NtlmPolicyVerifier());
        }

        if (_context.Domain is { } domain)
        {
            verifiers.Add(new DomainControllerVerifier(domain, Logger));
        }

        verifiers.Add(new LocalAccountVerifier(accounts, _context.Kerberos));
        foreach (ICredentialVerifier verifier in verifiers)
        {
            if (await verifier.VerifyAsync(request, cancellationToken).ConfigureAwait(false) is { } verdict)
            {
                _domainUser = verdict.DomainUser;
                _domainSids = verdict.DomainUser?.Sids;
                _unmappedPrincipal = verdict.Problem;
                return verdict.Lookup;
            }
        }

        return NtlmCredentialLookup.NotFound();
    }

    /// <summary>Why the host refused an authenticated user before the second factor.</summary>
    private sealed record AuthorizationRefusal(string? MissingGroup);

    /// <summary>The front door as the host of <see cref="SecurityPhaseDriver.RunServerAsync"/>.</summary>
    private sealed class SecurityPhaseHost(FrontDoorConnection connection, AccountAuthenticator accounts) : ServerSecurityPhaseHost
    {
        private RdpServerAcceptor? _acceptor;

        /// <summary>True once CredSSP completed and the host was asked to authorize.</summary>
        public bool AuthorizationAsked { get; private set; }

        /// <summary>The refusal of an authenticated user for its groups or remote-logon right, if any.</summary>
        public AuthorizationRefusal? Refusal { get; private set; }

        /// <summary>The authorized user's name as the store spells it.</summary>
        public string UserName { get; private set; } = string.Empty;

        public override int MaxMessageSize => connection.Limits.MaxMessageSize;

        public override ServerPhaseScope EnterPhase(ServerSecurityPhase phase, CancellationToken connectionToken)
        {
            switch (phase)
            {
                case ServerSecurityPhase.ConnectionRequest:
                {
                    Activity? span = FrontDoorTracing.Source.StartActivity(FrontDoorTracing.X224);
                    PhaseDeadline deadline = connection.EnterPhase("X.224", connection.Limits.NegotiationTimeout, connectionToken, out CancellationToken token);
                    return new ServerPhaseScope(token, new PhaseEnd(deadline, span));
                }

                case ServerSecurityPhase.Tls:
                {
                    Activity? span = FrontDoorTracing.Source.StartActivity(FrontDoorTracing.Tls);
                    PhaseDeadline deadline = connection.EnterPhase("TLS", connection.Limits.TlsHandshakeTimeout, connectionToken, out CancellationToken token);
                    return new ServerPhaseScope(token, new PhaseEnd(deadline, span));
                }

                case ServerSecurityPhase.CredSsp:
                    // CredSSP runs under the handshake's deadline alone.
                    connection._phase = "CredSSP";
                    return new ServerPhaseScope(connectionToken, FrontDoorTracing.Source.StartActivity(FrontDoorTracing.CredSsp));
                default:
                    return new ServerPhaseScope(connectionToken, null);
            }
        }

        public override void PhaseEnded(ServerSecurityPhase phase, RdpServerAcceptor acceptor, SecurityPhaseStep step, System.Net.Security.SslStream tls)
        {
            _acceptor = acceptor;
            Activity? span = Activity.Current;
            switch (phase)
            {
                case ServerSecurityPhase.ConnectionRequest:
                    NegotiationDecision decision = acceptor.Decision!;
                    SecurityProtocols requested = acceptor.RequestedProtocols!.Value;
                    FrontDoorLog.Negotiated(connection.Logger, acceptor.ConnectionRequest!.NegotiationRequest is null ? "(no RDP_NEG_REQ)" : requested.Name(), acceptor.ConnectionRequest.Cookie, decision.Reason);
                    connection._audit.RequestedProtocols = requested;
                    connection._audit.SelectedProtocol = decision.SelectedProtocol;
                    span?.SetTag("rdpnla.requested_protocols", requested.Name());
                    span?.SetTag("rdpnla.selected_protocol", decision.SelectedProtocol?.Name() ?? "none");
                    break;
                case ServerSecurityPhase.Tls:
                    span?.SetTag("tls.protocol.version", tls.SslProtocol.ToString());
                    span?.SetTag("tls.cipher", tls.NegotiatedCipherSuite.ToString());
                    FrontDoorLog.TlsEstablished(connection.Logger, tls.SslProtocol.ToString(), tls.NegotiatedCipherSuite.ToString());
                    break;
                case ServerSecurityPhase.CredSsp:
                    CredSspServerContext credSsp = acceptor.CredSsp!;
                    span?.SetTag("rdpnla.credssp.version", credSsp.PeerVersion);
                    span?.SetTag("rdpnla.credssp.package", credSsp.PackageName);
                    span?.SetTag("rdpnla.credssp.result", (step.Action == SecurityPhaseAction.Failed ? NlaStatus.Failed : NlaStatus.Completed).ToString());
                    break;
            }
        }

        public override ValueTask<NtlmCredentialLookup> LookupCredentialAsync(CredentialRequest request, CancellationToken cancellationToken) =>
            connection.LookupAsync(request, accounts, cancellationToken);

        public override ValueTask<NtStatus> RecordLogonAsync(AuthenticatedIdentity identity, CancellationToken cancellationToken) =>
            connection.RecordVerifiedLogonAsync(CredSsp, identity, accounts, cancellationToken);

        public override async ValueTask<NtStatus> AuthorizeAsync(AuthenticatedIdentity identity, CancellationToken cancellationToken)
        {
            AuthorizationAsked = true;
            CredSspServerContext credSsp = CredSsp;
            await connection.RecordOutcomeAsync(credSsp, accounts, cancellationToken).ConfigureAwait(false);
            if (accounts.StoreFault is not null)
            {
                return NtStatus.InternalDbError;
            }

            string? missingGroup = connection.MissingGroup();
            if (accounts.RemoteLogonDenied || missingGroup is not null)
            {
                Refusal = new AuthorizationRefusal(missingGroup);
                return NtStatus.LogonTypeNotGranted;
            }

            FrontDoorLog.Authenticated(connection.Logger, identity.Account, credSsp.PeerVersion, identity.IsSpnego ? "SPNEGO/" + identity.PackageName : identity.PackageName);
            UserName = accounts.AuthenticatedUserName ?? credSsp.UserName ?? string.Empty;
            return await connection.PassSecondFactorAsync(_acceptor!.SelectedProtocol!.Value, UserName, identity.Account, cancellationToken).ConfigureAwait(false)
                ? NtStatus.Success
                : NtStatus.AccessDenied;
        }

        private CredSspServerContext CredSsp => _acceptor?.CredSsp ?? throw new InvalidOperationException("CredSSP has not started.");
    }

    /// <summary>Ends a phase: its deadline, then its span.</summary>
    private sealed class PhaseEnd(PhaseDeadline deadline, Activity? span) : IDisposable
    {
        public void Dispose()
        {
            deadline.Dispose();
            span?.Dispose();
        }
    }
}
