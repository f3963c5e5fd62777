namespace RdpNla.Transport;

/// <summary>Runs the sans-IO security phase (<see cref="RdpServerAcceptor"/>, the client connector) over a stream and an <see cref="SslStream"/>.</summary>
public static partial class SecurityPhaseDriver
{
    /// <summary>
    /// Runs <paramref name="acceptor"/> from the Connection Request to the end of the security phase: reads from
    /// <paramref name="network"/> until TLS, then from <paramref name="tls"/> (created over the same connection, not yet
    /// authenticated); answers the host steps through <paramref name="host"/>. Returns the final step,
    /// <see cref="SecurityPhaseAction.Completed"/> or <see cref="SecurityPhaseAction.Failed"/>, WITHOUT writing its output:
    /// a failure's answer (RDP_NEG_FAILURE, errorCode TSRequest, AUTHZ_ACCESS_DENIED) is written by the host after it
    /// recorded the failure, and a relaying host may hold back AUTHZ_SUCCESS until its backend is connected.
    /// Write it with <see cref="WriteServerStepAsync"/> (on <paramref name="network"/> when the acceptor has no TLS yet).
    /// </summary>
    /// <exception cref="NlaProtocolException">A frame is malformed or too large.</exception>
    /// <exception cref="EndOfStreamException">The client closed the connection (<see cref="PeerClosedException"/> between messages).</exception>
    /// <exception cref="System.Security.Authentication.AuthenticationException">The TLS handshake failed.</exception>
    /// <exception cref="OperationCanceledException">A phase's token or <paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<SecurityPhaseStep> RunServerAsync(
        Stream network,
        SslStream tls,
        SslServerAuthenticationOptions tlsOptions,
        RdpServerAcceptor acceptor,
        ServerSecurityPhaseHost host,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(network);
        ArgumentNullException.ThrowIfNull(tls);
        ArgumentNullException.ThrowIfNull(tlsOptions);
        ArgumentNullException.ThrowIfNull(acceptor);
        ArgumentNullException.ThrowIfNull(host);

        SecurityPhaseStep step;
        using (ServerPhaseScope phase = host.EnterPhase(ServerSecurityPhase.ConnectionRequest, cancellationToken))
        {
            acceptor.Start();
            byte[] request = await MessageFraming.ReadTpktFrameAsync(network, RdpServerAcceptor.MaxConnectionRequestSize, phase.Token).ConfigureAwait(false);
            step = acceptor.Step(request);
            host.PhaseEnded(ServerSecurityPhase.ConnectionRequest, acceptor, step, tls);
        }

        if (step.Action != SecurityPhaseAction.StartTls)
        {
            return step;
        }

        await WriteServerStepAsync(network, step, cancellationToken).ConfigureAwait(false);
        using (ServerPhaseScope phase = host.EnterPhase(ServerSecurityPhase.Tls, cancellationToken))
        {
            await tls.AuthenticateAsServerAsync(tlsOptions, phase.Token).ConfigureAwait(false);
            step = acceptor.TlsEstablished();
            host.PhaseEnded(ServerSecurityPhase.Tls, acceptor, step, tls);
        }

        return await ContinueServerAsync(tls, acceptor, step, host, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs <paramref name="acceptor"/> over an authenticated <paramref name="tls"/> from <paramref name="step"/> (what
    /// <see cref="RdpServerAcceptor.TlsEstablished"/> returned) to the end; see <see cref="RunServerAsync"/>.
    /// </summary>
    /// <exception cref="NlaProtocolException">A TSRequest is malformed or too large.</exception>
    /// <exception cref="EndOfStreamException">The client closed the connection.</exception>
    /// <exception cref="OperationCanceledException">A phase's token or <paramref name="cancellationToken"/> was cancelled.</exception>
    public static async Task<SecurityPhaseStep> ContinueServerAsync(
        SslStream tls,
        RdpServerAcceptor acceptor,
        SecurityPhaseStep step,
        ServerSecurityPhaseHost host,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tls);
        ArgumentNullException.ThrowIfNull(acceptor);
        ArgumentNullException.ThrowIfNull(host);
        if (step.Action != SecurityPhaseAction.ReadTsRequest)
        {
            return step;
        }

        using (ServerPhaseScope phase = host.EnterPhase(ServerSecurityPhase.CredSsp, cancellationToken))
        {
            while (step.Action is not (SecurityPhaseAction.AuthorizationNeeded or SecurityPhaseAction.Completed or SecurityPhaseAction.Failed))
            {
                step = step.Action switch
                {
                    SecurityPhaseAction.ReadTsRequest => await ServerExchangeAsync(tls, acceptor, step, host.MaxMessageSize, phase.Token).ConfigureAwait(false),
                    SecurityPhaseAction.CredentialLookupNeeded => acceptor.ProvideCredential(
                        await host.LookupCredentialAsync(acceptor.PendingCredentialRequest!, phase.Token).ConfigureAwait(false)),
                    SecurityPhaseAction.LogonRecordNeeded => acceptor.CompleteLogonRecord(
                        await host.RecordLogonAsync(acceptor.Identity!, phase.Token).ConfigureAwait(false)),
                    _ => throw new InvalidOperationException($"The acceptor asked for {step.Action} during CredSSP."),
                };
            }

            host.PhaseEnded(ServerSecurityPhase.CredSsp, acceptor, step, tls);
        }

        if (step.Action != SecurityPhaseAction.AuthorizationNeeded)
        {
            return step;
        }

        using (ServerPhaseScope phase = host.EnterPhase(ServerSecurityPhase.Authorization, cancellationToken))
        {
            // MS-CSSP §3.1.5: after the client's authInfo the server sends nothing more; anything owed comes from Authorize.
            NtStatus verdict = await host.AuthorizeAsync(acceptor.Identity!, phase.Token).ConfigureAwait(false);
            step = acceptor.Authorize(verdict);
            host.PhaseEnded(ServerSecurityPhase.Authorization, acceptor, step, tls);
            return step;
        }
    }

    /// <summary>Writes a step's output (if any) in one write, flushed.</summary>
    public static async ValueTask WriteServerStepAsync(Stream stream, SecurityPhaseStep step, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        if (!step.Output.IsEmpty)
        {
            await stream.WriteAsync(step.Output, cancellationToken).ConfigureAwait(false);
            await stream.FlushAsync(cancellationToken).ConfigureAwait(false);
        }
    }

    private static async Task<SecurityPhaseStep> ServerExchangeAsync(SslStream tls, RdpServerAcceptor acceptor, SecurityPhaseStep step, int maxMessageSize, CancellationToken cancellationToken)
    {
        await WriteServerStepAsync(tls, step, cancellationToken).ConfigureAwait(false);
        byte[] request = await MessageFraming.ReadTsRequestAsync(tls, maxMessageSize, cancellationToken).ConfigureAwait(false);
        return acceptor.Step(request);
    }
}
