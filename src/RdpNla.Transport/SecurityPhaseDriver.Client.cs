namespace RdpNla.Transport;

/// <summary>Settings of <see cref="SecurityPhaseDriver.RunClientAsync"/>.</summary>
public sealed class ClientSecurityPhaseOptions
{
    /// <summary>The largest TPKT frame accepted as the X.224 Connection Confirm (it is 11 or 19 bytes, MS-RDPBCGR §2.2.1.2).</summary>
    public const int MaxConnectionConfirmSize = 1024;

    /// <summary>
    /// The TLS client settings: target host, versions, revocation. Its <see cref="SslClientAuthenticationOptions.RemoteCertificateValidationCallback"/>,
    /// when set, judges the certificate during the handshake.
    /// </summary>
    public required SslClientAuthenticationOptions Tls { get; init; }

    /// <summary>
    /// Judges the server's certificate after the TLS handshake and before anything is sent over TLS; false stops the
    /// run with <see cref="ClientSecurityPhaseResult.CertificateRejected"/>. When set (and <see cref="Tls"/> has no
    /// callback of its own), the handshake accepts any certificate and leaves the judgement to this delegate: RDP
    /// servers mostly present self-signed certificates, checked by pin or first use. When null, the handshake validates
    /// the chain as <see cref="SslStream"/> does by default.
    /// </summary>
    public Func<SslStream, X509Certificate2, CancellationToken, ValueTask<bool>>? ServerCertificateValidation { get; init; }

    /// <summary>
    /// Called once the connector accepted the server's selection (MS-RDPBCGR §2.2.1.2.1) and before the TLS handshake:
    /// a caller's own policy on the selection (a protocol pin). An exception thrown here stops the run and propagates.
    /// </summary>
    public Action<SecurityProtocols>? ProtocolSelected { get; init; }

    /// <summary>Whether disposing the TLS stream leaves the stream under it open (the caller owns that one); default true.</summary>
    public bool LeaveInnerStreamOpen { get; init; } = true;

    /// <summary>The largest TSRequest accepted from the server; default 64 KiB.</summary>
    public int MaxMessageSize { get; init; } = 64 * 1024;

    /// <summary>
    /// Called once when the credentials are delegated but the Early User Authorization Result has not arrived after
    /// <see cref="AuthorizationPendingAfter"/>: the server holds the connection (e.g. for a second factor).
    /// </summary>
    public Action? AuthorizationPending { get; init; }

    /// <summary>How long to wait for the Early User Authorization Result before <see cref="AuthorizationPending"/>; default 2 s.</summary>
    public TimeSpan AuthorizationPendingAfter { get; init; } = TimeSpan.FromSeconds(2);

    /// <summary>The clock of <see cref="AuthorizationPendingAfter"/>.</summary>
    public TimeProvider TimeProvider { get; init; } = TimeProvider.System;
}

/// <summary>How a client's security phase ended.</summary>
public sealed class ClientSecurityPhaseResult
{
    /// <summary>Creates a result.</summary>
    /// <param name="step">The connector's last step (<see cref="SecurityPhaseAction.Completed"/> or <see cref="SecurityPhaseAction.Failed"/>).</param>
    /// <param name="tls">The TLS stream, when the TLS handshake completed.</param>
    /// <param name="certificateRejected">Whether <see cref="ClientSecurityPhaseOptions.ServerCertificateValidation"/> refused the certificate.</param>
    public ClientSecurityPhaseResult(SecurityPhaseStep step, SslStream? tls, bool certificateRejected)
    {
        Step = step;
        Tls = tls;
        CertificateRejected = certificateRejected;
    }

    /// <summary>The last step: <see cref="SecurityPhaseAction.Completed"/> or <see cref="SecurityPhaseAction.Failed"/> with its reason and status.</summary>
    public SecurityPhaseStep Step { get; }

    /// <summary>True when the security phase completed (up to the connector's <c>StopAfter</c>).</summary>
    public bool Succeeded => Step.Action == SecurityPhaseAction.Completed;

    /// <summary>
    /// The TLS stream, whenever the TLS handshake completed: on success the connection goes on over it (MCS, the relay);
    /// after a failure the caller may still read how the server closes. Null when no TLS handshake completed. The caller
    /// disposes it (and nothing is written over it after a rejected certificate).
    /// </summary>
    public SslStream? Tls { get; }

    /// <summary>Whether the run stopped because <see cref="ClientSecurityPhaseOptions.ServerCertificateValidation"/> refused the certificate (nothing was sent over TLS).</summary>
    public bool CertificateRejected { get; }
}

/// <summary>
/// The I/O driver of the security phase (MS-RDPBCGR §1.3.1.1): it runs an <see cref="RdpClientConnector"/> or an
/// acceptor over a stream, carrying the bytes each step names with <see cref="MessageFraming"/> and upgrading the
/// stream to TLS with <see cref="SslStream"/> when the step says so.
/// </summary>
public static partial class SecurityPhaseDriver
{
    /// <summary>
    /// Runs the client role: X.224 Connection Request and Confirm over <paramref name="stream"/>, the TLS handshake,
    /// CredSSP and the Early User Authorization Result over TLS, as <paramref name="connector"/> says. Refusals by the
    /// connector are results; the connector's state tells how far the run got when this method throws.
    /// </summary>
    /// <param name="stream">The connected transport (a <c>NetworkStream</c>); the caller keeps owning it.</param>
    /// <param name="connector">A connector that has not started.</param>
    /// <param name="options">TLS settings and certificate validation.</param>
    /// <param name="cancellationToken">Cancels the run (the caller's timeout).</param>
    /// <exception cref="NlaProtocolException">The server sent bytes that do not frame or decode as the awaited message.</exception>
    /// <exception cref="System.Security.Authentication.AuthenticationException">The TLS handshake failed.</exception>
    /// <exception cref="EndOfStreamException">The server closed the connection (<see cref="PeerClosedException"/> between two messages).</exception>
    /// <exception cref="IOException">The connection failed.</exception>
    public static async Task<ClientSecurityPhaseResult> RunClientAsync(Stream stream, RdpClientConnector connector, ClientSecurityPhaseOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        ArgumentNullException.ThrowIfNull(connector);
        ArgumentNullException.ThrowIfNull(options);
        SslStream? tls = null;
        try
        {
            SecurityPhaseStep step = connector.Start();
            while (true)
            {
                if (!step.Output.IsEmpty)
                {
                    await MessageFraming.WriteMessageAsync(tls ?? stream, AsArray(step.Output), cancellationToken).ConfigureAwait(false);
                }

                switch (step.Action)
                {
                    case SecurityPhaseAction.ReadTpktFrame:
                        step = connector.Step(await MessageFraming.ReadTpktFrameAsync(tls ?? stream, ClientSecurityPhaseOptions.MaxConnectionConfirmSize, cancellationToken).ConfigureAwait(false));
                        break;
                    case SecurityPhaseAction.StartTls:
                        options.ProtocolSelected?.Invoke(connector.SelectedProtocol!.Value);
                        tls = await StartTlsAsync(stream, options, cancellationToken).ConfigureAwait(false);
                        using (X509Certificate2 certificate = new(tls.RemoteCertificate!))
                        {
                            if (options.ServerCertificateValidation is { } validate && !await validate(tls, certificate, cancellationToken).ConfigureAwait(false))
                            {
                                return new ClientSecurityPhaseResult(new SecurityPhaseStep(SecurityPhaseAction.Failed, FailureReason: NlaFailureReason.AuthenticationFailed), tls, certificateRejected: true);
                            }

                            step = connector.TlsEstablished(certificate.GetPublicKey());
                        }

                        break;
                    case SecurityPhaseAction.ReadTsRequest:
                        step = connector.Step(await MessageFraming.ReadTsRequestAsync(tls!, options.MaxMessageSize, cancellationToken).ConfigureAwait(false));
                        break;
                    case SecurityPhaseAction.ReadEarlyUserAuthorizationResult:
                        step = connector.Step(await ReadEarlyUserAuthorizationResultAsync(tls!, options, cancellationToken).ConfigureAwait(false));
                        break;
                    case SecurityPhaseAction.Completed or SecurityPhaseAction.Failed:
                        return new ClientSecurityPhaseResult(step, tls, certificateRejected: false);
                    default:
                        throw new InvalidOperationException($"{step.Action} is not a step of the client role.");
                }
            }
        }
        catch
        {
            if (tls is not null)
            {
                await tls.DisposeAsync().ConfigureAwait(false);
            }

            throw;
        }
    }

    /// <summary>The connector's outputs are whole arrays; they are written as they are, in one write.</summary>
    private static byte[] AsArray(ReadOnlyMemory<byte> output) =>
        MemoryMarshal.TryGetArray(output, out ArraySegment<byte> segment) && segment.Offset == 0 && segment.Count == segment.Array!.Length
            ? segment.Array
            : output.ToArray();

    private static async Task<SslStream> StartTlsAsync(Stream stream, ClientSecurityPhaseOptions options, CancellationToken cancellationToken)
    {
        // The judgement is deferred to ServerCertificateValidation, after the handshake, unless the TLS options judge it.
        RemoteCertificateValidationCallback? acceptForLater = options.ServerCertificateValidation is not null && options.Tls.RemoteCertificateValidationCallback is null
            ? (_, _, _, _) => true
            : null;
        var tls = new SslStream(stream, options.LeaveInnerStreamOpen, acceptForLater);
        try
        {
            await tls.AuthenticateAsClientAsync(options.Tls, cancellationToken).ConfigureAwait(false);
            if (tls.RemoteCertificate is null)
            {
                throw new System.Security.Authentication.AuthenticationException("The server presented no certificate.");
            }

            return tls;
        }
        catch
        {
            await tls.DisposeAsync().ConfigureAwait(false);
            throw;
        }
    }

    private static async Task<byte[]> ReadEarlyUserAuthorizationResultAsync(SslStream tls, ClientSecurityPhaseOptions options, CancellationToken cancellationToken)
    {
        // MS-RDPBCGR §2.2.10.2: four raw bytes over TLS, no TPKT, no DER.
        var pdu = new byte[EarlyUserAuthorizationResult.Length];
        Task reading = tls.ReadExactlyAsync(pdu, cancellationToken).AsTask();
        if (options.AuthorizationPending is { } pending)
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            Task delay = Task.Delay(options.AuthorizationPendingAfter, options.TimeProvider, wait.Token);
            if (await Task.WhenAny(reading, delay).ConfigureAwait(false) != reading)
            {
                // A server that requires a second factor holds the connection here until the user approves it.
                pending();
            }

            await wait.CancelAsync().ConfigureAwait(false);
        }

        await reading.ConfigureAwait(false);
        return pdu;
    }
}
