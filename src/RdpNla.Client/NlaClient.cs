namespace RdpNla.Client;

/// <summary>
/// An RDP NLA client that stops after CredSSP: X.224 negotiation, TLS, CredSSP (NTLM), and with HYBRID_EX the Early
/// User Authorization Result (docs/interop.md#client-checklist, steps 1–10). It never opens a session. Every observation is kept
/// in the <see cref="NlaClientResult"/>; expected outcomes (refusals, timeouts, network errors) are results, not
/// exceptions.
/// </summary>
public static class NlaClient
{
    /// <summary>Runs one connection as <paramref name="options"/> says.</summary>
    /// <exception cref="ArgumentException">Authentication was asked without credentials.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (not the timeout: that is a result).</exception>
    /// <exception cref="KnownHostsFileException">
    /// The known-hosts file of <see cref="NlaClientOptions.CertificatePolicy"/> could not be read or written: a local
    /// problem, not a result about the server. Nothing was sent over TLS.
    /// </exception>
    public static async Task<NlaClientResult> RunAsync(NlaClientOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.StopAfter == NlaClientStage.Authentication && options.Credentials is null)
        {
            throw new ArgumentException("Authentication needs Credentials.", nameof(options));
        }

        var result = new NlaClientResult(options.Host, options.Port, options.RequestedProtocols)
        {
            StopAfter = options.StopAfter,
            Account = options.StopAfter == NlaClientStage.Authentication ? options.Credentials?.AccountName : null,
            Timeout = options.Timeout,
            OfferedTlsProtocols = options.TlsProtocols,
        };
        long started = options.TimeProvider.GetTimestamp();
        using var deadline = new CancellationTokenSource(options.Timeout, options.TimeProvider);
        using var linked = CancellationTokenSource.CreateLinkedTokenSource(deadline.Token, cancellationToken);
        var run = new Run(options, result, deadline, linked.Token);
        try
        {
            await run.ExecuteAsync().ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested && !cancellationToken.IsCancellationRequested)
        {
            run.OnTimeout();
        }
        finally
        {
            result.Elapsed = options.TimeProvider.GetElapsedTime(started);
        }

        return result;
    }

    private sealed class Run(NlaClientOptions options, NlaClientResult result, CancellationTokenSource deadline, CancellationToken token)
    {
        private RdpClientConnector? _connector;
        private byte[]? _ntHash;

        /// <summary>The NTLM AUTHENTICATE (or the Kerberos binding) went out: the client answered the server's first TSRequest.</summary>
        private bool AuthenticateSent => _connector?.TsRequestsSent >= 2;

        private bool CredentialsSent => _connector?.CredentialsSent == true;

        private CredSspStage Stage => CredentialsSent ? CredSspStage.Credentials : AuthenticateSent ? CredSspStage.Authenticate : CredSspStage.FirstRequest;

        public async Task ExecuteAsync()
        {
            result.Phase = NlaClientPhase.Resolve;
            IPAddress[]? addresses = await ResolveAsync().ConfigureAwait(false);
            if (addresses is null)
            {
                return;
            }

            result.Phase = NlaClientPhase.Connect;
            using Socket? socket = await ConnectAsync(addresses).ConfigureAwait(false);
            if (socket is null)
            {
                return;
            }

            var network = new NetworkStream(socket, ownsSocket: false);
            await using (network.ConfigureAwait(false))
            {
                try
                {
                    await AfterConnectAsync(network).ConfigureAwait(false);
                }
                catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException && !deadline.IsCancellationRequested)
                {
                    OnConnectionLost(ex);
                }
            }
        }

        public void OnTimeout()
        {
            SyncPhase();
            result.TimedOut = true;
            NlaFailureKind kind = result.Phase switch
            {
                NlaClientPhase.Resolve => NlaFailureKind.NameNotResolved,
                NlaClientPhase.Tls => NlaFailureKind.TlsFailure,
                _ => NlaFailureKind.NoAnswer,
            };
            if (_connector?.CredSsp is { ServerVersion: not 0 })
            {
                RecordCredSsp();
            }
            else if (result.Phase == NlaClientPhase.CredSsp)
            {
                RecordStage();
            }

            Set(NlaOutcome.Error, kind);
        }

        private void OnConnectionLost(Exception ex)
        {
            SyncPhase();
            result.ConnectionLost = true;
            if (ex is IOException { InnerException: SocketException socketError })
            {
                result.SocketError = socketError.SocketErrorCode;
            }
            else
            {
                result.ErrorDetail = ex.Message;
            }

            if (_connector?.CredSsp is not null)
            {
                RecordCredSsp();
            }
            else if (result.Phase == NlaClientPhase.CredSsp)
            {
                RecordStage();
            }

            (NlaOutcome outcome, NlaFailureKind kind) = result.Phase switch
            {
                NlaClientPhase.Negotiation => (NlaOutcome.Error, NlaFailureKind.ConnectionClosed),
                NlaClientPhase.Tls => (NlaOutcome.Error, NlaFailureKind.TlsFailure),
                NlaClientPhase.CredSsp when CredentialsSent => (NlaOutcome.Failure, NlaFailureKind.AccessDenied),
                NlaClientPhase.CredSsp when AuthenticateSent => (NlaOutcome.Failure, NlaFailureKind.RejectedWithoutReason),
                NlaClientPhase.CredSsp => (NlaOutcome.Error, NlaFailureKind.ConnectionClosed),
                NlaClientPhase.EarlyUserAuthorization => (NlaOutcome.Failure, NlaFailureKind.AccessDenied),
                _ => (NlaOutcome.Error, NlaFailureKind.NetworkError),
            };
            Set(outcome, kind);
        }

        private void RecordStage() => result.CredSsp = (result.CredSsp ?? new CredSspInfo { ClientVersion = options.MaxCredSspVersion }) with { Stage = Stage };

        private async Task<IPAddress[]?> ResolveAsync()
        {
            if (IPAddress.TryParse(options.Host, out IPAddress? literal))
            {
                return [literal];
            }

            try
            {
                IPAddress[] addresses = await Dns.GetHostAddressesAsync(options.Host, token).ConfigureAwait(false);
                if (addresses.Length > 0)
                {
                    // IPv4 first: RDP servers are mostly reached over IPv4, and a dead IPv6 route would eat the timeout.
                    IPAddress[] ordered = [.. addresses.OrderBy(a => a.AddressFamily == AddressFamily.InterNetwork ? 0 : 1)];
                    result.ResolvedAddresses = ordered;
                    return ordered;
                }

                Set(NlaOutcome.Error, NlaFailureKind.NameNotResolved);
            }
            catch (SocketException ex)
            {
                result.SocketError = ex.SocketErrorCode;
                Set(NlaOutcome.Error, NlaFailureKind.NameNotResolved);
            }
            catch (ArgumentException ex)
            {
                result.ErrorDetail = ex.Message;
                Set(NlaOutcome.Error, NlaFailureKind.NameNotResolved);
            }

            return null;
        }

        private async Task<Socket?> ConnectAsync(IPAddress[] addresses)
        {
            SocketException? last = null;
            foreach (IPAddress address in addresses)
            {
                if (options.LocalAddress is { } local && local.AddressFamily != address.AddressFamily)
                {
                    continue;
                }

                var socket = new Socket(address.AddressFamily, SocketType.Stream, ProtocolType.Tcp) { NoDelay = true };
                var endpoint = new IPEndPoint(address, options.Port);
                result.RemoteEndPoint = endpoint;
                try
                {
                    if (options.LocalAddress is { } bind)
                    {
                        socket.Bind(new IPEndPoint(bind, 0));
                    }

                    await socket.ConnectAsync(endpoint, token).ConfigureAwait(false);
                    return socket;
                }
                catch (SocketException ex)
                {
                    socket.Dispose();
                    last = ex;
                }
                catch
                {
                    socket.Dispose();
                    throw;
                }
            }

            result.SocketError = last?.SocketErrorCode;
            result.ErrorDetail = last?.Message;
            Set(NlaOutcome.Error, last?.SocketErrorCode switch
            {
                SocketError.ConnectionRefused => NlaFailureKind.ConnectionRefused,
                SocketError.TimedOut => NlaFailureKind.NoAnswer,
                _ => NlaFailureKind.NetworkError,
            });

            return null;
        }

        private void RecordNegotiation()
        {
            result.Negotiation = _connector?.ConnectionConfirm?.NegotiationData switch
            {
                null when _connector?.ConnectionConfirm is null => result.Negotiation,

                // MS-RDPBCGR §3.3.5.3.2: no rdpNegData: the server only knows Standard RDP Security (Windows XP/2003).
                null => new NegotiationAnswer { Legacy = true, SelectedProtocol = SecurityProtocols.Rdp },
                RdpNegFailure failure => new NegotiationAnswer { FailureCode = failure.FailureCode },
                RdpNegResponse response => new NegotiationAnswer { SelectedProtocol = response.SelectedProtocol, ResponseFlags = response.Flags },
                _ => throw new UnreachableException(),
            };
        }

        /// <summary>The phase of the result follows the connector while the security phase runs.</summary>
        private void SyncPhase()
        {
            RecordNegotiation();
            switch (_connector?.State)
            {
                case ClientConnectorState.Initial or ClientConnectorState.AwaitingConnectionConfirm:
                    result.Phase = NlaClientPhase.Negotiation;
                    break;
                case ClientConnectorState.AwaitingTls:
                    result.Phase = NlaClientPhase.Tls;
                    break;
                case ClientConnectorState.CredSsp:
                    result.Phase = NlaClientPhase.CredSsp;
                    break;
                case ClientConnectorState.AwaitingEarlyUserAuthorizationResult:
                    result.Phase = NlaClientPhase.EarlyUserAuthorization;
                    break;
            }
        }

        private async Task AfterConnectAsync(NetworkStream network)
        {
            result.Phase = NlaClientPhase.Negotiation;
            var answer = new AnswerRecordingStream(network, ClientSecurityPhaseOptions.MaxConnectionConfirmSize);
            using RdpClientConnector connector = _connector = new RdpClientConnector(new RdpClientConnectorOptions
            {
                ConnectionRequest = new X224ConnectionRequest(options.Cookie is { Length: > 0 } c ? c : null, new RdpNegRequest(RdpNegRequestFlags.None, options.RequestedProtocols)),
                AllowTlsWithoutNla = true, // PROTOCOL_SSL is reported (NLA not required), not refused
                StopAfter = options.StopAfter switch
                {
                    NlaClientStage.Negotiation => ClientSecurityStage.ConnectionConfirm,
                    NlaClientStage.Tls => ClientSecurityStage.Tls,
                    NlaClientStage.Challenge => ClientSecurityStage.FirstServerTsRequest,
                    _ => ClientSecurityStage.Authorization,
                },
                CredSsp = CreateCredSspOptions,
                RandomSource = options.RandomSource,
            });
            ClientSecurityPhaseResult run;
            try
            {
                run = await SecurityPhaseDriver.RunClientAsync(answer, connector, DriverOptions(), token).ConfigureAwait(false);
            }
            catch (Exception ex) when (ex is NlaProtocolException or EndOfStreamException && connector.State == ClientConnectorState.AwaitingConnectionConfirm)
            {
                OnNoConnectionConfirm(answer.Received.ToArray(), ex);
                return;
            }
            catch (AuthenticationException ex) when (connector.State == ClientConnectorState.AwaitingTls)
            {
                result.Phase = NlaClientPhase.Tls;
                result.ErrorDetail = ex.InnerException?.Message ?? ex.Message;
                Set(NlaOutcome.Error, NlaFailureKind.TlsFailure);
                return;
            }
            catch (NlaProtocolException ex) when (connector.State == ClientConnectorState.CredSsp)
            {
                result.Phase = NlaClientPhase.CredSsp;
                RecordCredSsp();
                result.ErrorDetail = ex.Message;
                result.CredSspProblem = CredSspProblem.NotATsRequest;
                Set(NlaOutcome.Error, NlaFailureKind.CredSspProtocolError);
                return;
            }
            catch (EndOfStreamException) when (connector.State == ClientConnectorState.AwaitingEarlyUserAuthorizationResult)
            {
                result.Phase = NlaClientPhase.EarlyUserAuthorization;
                RecordCredSsp();
                Set(NlaOutcome.Failure, NlaFailureKind.AccessDenied);
                return;
            }
            finally
            {
                CryptographicOperations.ZeroMemory(_ntHash);
                DisposeKerberos();
                RecordNegotiation();
            }

            if (run.CertificateRejected)
            {
                result.Phase = NlaClientPhase.Tls;
                await run.Tls!.DisposeAsync().ConfigureAwait(false);
                Set(NlaOutcome.Error, NlaFailureKind.CertificateRejected);
                return;
            }

            SslStream? tls = run.Tls;
            if (tls is null)
            {
                OnSecurityPhaseEnded(connector);
                return;
            }

            await using (tls.ConfigureAwait(false))
            {
                await OnSecurityPhaseEndedAsync(connector, tls).ConfigureAwait(false);
            }
        }

        private ClientSecurityPhaseOptions DriverOptions() => new()
        {
            Tls = new SslClientAuthenticationOptions
            {
                TargetHost = IPAddress.TryParse(options.Host, out _) ? string.Empty : options.Host,
                EnabledSslProtocols = options.TlsProtocols,
                CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                AllowRenegotiation = false,
            },

            // Judged after the handshake by the certificate policy, so that the certificate is reported even when it is
            // rejected; RDP servers mostly present self-signed certificates.
            ServerCertificateValidation = (tls, seen, _) =>
            {
                TlsCertificateInfo certificate = TlsCertificateInfo.From(seen);
                result.Certificate = certificate;
                CertificateDecision decision = options.CertificatePolicy.Evaluate(options.Host, options.Port, certificate);
                result.Tls = new TlsSessionInfo(tls.SslProtocol, tls.NegotiatedCipherSuite, certificate, decision);
                return ValueTask.FromResult(decision.Accepted);
            },
            MaxMessageSize = options.MaxMessageSize,
            AuthorizationPending = options.AuthorizationPending is { } pending
                ? () =>
                {
                    // A server that requires a second factor holds the connection here until the user approves it.
                    result.AuthorizationHeld = true;
                    pending();
                }
                : null,
            AuthorizationPendingAfter = options.AuthorizationPendingAfter,
            TimeProvider = options.TimeProvider,
        };

        /// <summary>No Connection Confirm could be read: nothing, something that is not TPKT, or a TPKT frame that is no confirm.</summary>
        private void OnNoConnectionConfirm(ReadOnlyMemory<byte> seen, Exception ex)
        {
            result.Phase = NlaClientPhase.Negotiation;
            ConnectionConfirmAnswer answer = ConnectionConfirmAnswer.Classify(seen, ClientSecurityPhaseOptions.MaxConnectionConfirmSize);
            switch (answer.Kind)
            {
                case ConnectionConfirmAnswerKind.Nothing:
                    Set(NlaOutcome.Error, NlaFailureKind.ConnectionClosed);
                    break;
                case ConnectionConfirmAnswerKind.NotTpkt:
                    result.UnexpectedAnswer = answer.Frame;
                    Set(NlaOutcome.Error, NlaFailureKind.NotRdp);
                    break;
                case ConnectionConfirmAnswerKind.ImplausibleLength:
                    result.UnexpectedAnswer = answer.Frame;
                    result.AnnouncedFrameLength = answer.AnnouncedLength;
                    Set(NlaOutcome.Error, NlaFailureKind.NotRdp);
                    break;
                case ConnectionConfirmAnswerKind.Truncated when ex is EndOfStreamException:
                    OnConnectionLost(ex);
                    break;
                case ConnectionConfirmAnswerKind.X224Data or ConnectionConfirmAnswerKind.McsDisconnectProviderUltimatum:
                    // xrdp 0.9 answers a request it cannot serve (e.g. PROTOCOL_RDSAAD alone) with an X.224 Data TPDU
                    // carrying MCS Disconnect Provider Ultimatum (03 00 00 09 02 F0 80 21 80) instead of RDP_NEG_FAILURE.
                    result.UnexpectedAnswer = answer.Frame;
                    Set(NlaOutcome.Error, NlaFailureKind.NegotiationFailure);
                    break;
                default:
                    result.UnexpectedAnswer = answer.Frame;
                    result.ErrorDetail = ex.Message;
                    Set(NlaOutcome.Error, NlaFailureKind.NotRdp);
                    break;
            }
        }

        /// <summary>The connector stopped without CredSSP: a refused Connection Confirm, or the stage asked for, or PROTOCOL_SSL.</summary>
        private void OnSecurityPhaseEnded(RdpClientConnector connector)
        {
            if (connector.SelectionFailure != ProtocolSelectionFailure.None)
            {
                result.Phase = NlaClientPhase.Negotiation;
                (NlaOutcome outcome, NlaFailureKind kind) = connector.SelectionFailure switch
                {
                    ProtocolSelectionFailure.NegotiationFailure => (NlaOutcome.Error, NlaFailureKind.NegotiationFailure),
                    ProtocolSelectionFailure.StandardRdpSecurity => (NlaOutcome.Indeterminate, NlaFailureKind.NlaNotOffered),

                    // Not one of the requested protocols, or one this client does not implement.
                    _ => (NlaOutcome.Error, NlaFailureKind.InvalidSelection),
                };
                Set(outcome, kind);
                return;
            }

            if (options.StopAfter is NlaClientStage.Negotiation or NlaClientStage.Tls)
            {
                Complete();
                return;
            }

            if (connector.SelectedProtocol == SecurityProtocols.Ssl)
            {
                result.Phase = NlaClientPhase.Tls;
                Set(NlaOutcome.Indeterminate, NlaFailureKind.NlaNotOffered);
                return;
            }

            throw new UnreachableException($"The connector stopped in state {connector.State} without a reason.");
        }

        /// <summary>The connector stopped after TLS: CredSSP and the Early User Authorization Result, or the stage asked for.</summary>
        private async Task OnSecurityPhaseEndedAsync(RdpClientConnector connector, SslStream tls)
        {
            if (connector.CredSsp is not { } context)
            {
                OnSecurityPhaseEnded(connector);
                return;
            }

            result.Phase = NlaClientPhase.CredSsp;
            if (options.StopAfter == NlaClientStage.Challenge)
            {
                if (connector.FirstServerTsRequest is { } first)
                {
                    OnChallenge(first);
                    return;
                }

                // The context failed before its first message: nothing went out.
                result.ErrorDetail = context.FailureMessage;
                result.CredSspProblem = CredSspProblem.CouldNotStart;
                Set(NlaOutcome.Error, NlaFailureKind.CredSspProtocolError);
                return;
            }

            if (context.FailureReason != NlaFailureReason.None)
            {
                if (_kerberosError is not null && options.Authentication == NlaAuthentication.Kerberos)
                {
                    result.CredSsp = new CredSspInfo { ClientVersion = options.MaxCredSspVersion, Package = "Kerberos", Kerberos = _kerberosError };
                    result.CredSspProblem = CredSspProblem.KerberosUnavailable;
                    Set(NlaOutcome.Error, NlaFailureKind.CredSspProtocolError);
                    return;
                }

                RecordCredSsp();
                OnCredSspFailed(context);
                return;
            }

            // Completed: the server proved the certificate key, which it can only do after it verified the
            // NTLM AUTHENTICATE: the password is right. The credentials (authInfo) are delegated.
            RecordCredSsp();
            NlaCredentials credentials = options.Credentials!;
            if (connector.SelectedProtocol == SecurityProtocols.HybridEx)
            {
                result.Phase = NlaClientPhase.EarlyUserAuthorization;
                EarlyUserAuthorizationResult authorization = connector.EarlyUserAuthorization!.Value;
                result.EarlyAuthorization = authorization;
                if (!authorization.IsSuccess)
                {
                    Set(NlaOutcome.Failure, NlaFailureKind.AccessDenied);
                    return;
                }

                Complete();
                return;
            }

            // PROTOCOL_HYBRID: no Early User Authorization Result. A server that refuses the user after authentication
            // closes now; one that accepts waits for MCS Connect Initial.
            if (await ServerClosesAsync(tls).ConfigureAwait(false))
            {
                Set(NlaOutcome.Failure, NlaFailureKind.AccessDenied);
                return;
            }

            Complete();
        }

        private Gssapi.KerberosContext? _kerberos;
        private Gssapi.KerberosCredential? _kerberosCredential;
        private KerberosFailure? _kerberosError;

        /// <summary>
        /// MS-CSSP §3.1.5 note &lt;3&gt;: Kerberos first when possible. A target given by IP address has no SPN, so it means
        /// NTLM unless the SPN is given (as Windows does).
        /// </summary>
        private Gssapi.KerberosContext? CreateKerberos(NlaCredentials? credentials)
        {
            if (credentials is null || options.Authentication == NlaAuthentication.Ntlm
                || (options.ServicePrincipal is null && options.Authentication == NlaAuthentication.Negotiate && System.Net.IPAddress.TryParse(options.Host, out _)))
            {
                return null;
            }

            string spn = options.ServicePrincipal ?? $"TERMSRV/{options.Host}";
            try
            {
                if (options.Authentication == NlaAuthentication.Kerberos && credentials.Password.Length > 0)
                {
                    string principal = credentials.UserName.Contains('@', StringComparison.Ordinal) || credentials.DomainName.Length == 0
                        ? credentials.UserName
                        : $"{credentials.UserName}@{credentials.DomainName.ToUpperInvariant()}";
                    _kerberosCredential = Gssapi.KerberosCredential.ForInitiatorWithPassword(principal, credentials.Password.Span);
                }

                return _kerberos = Gssapi.KerberosContext.CreateInitiator(spn, _kerberosCredential);
            }
            catch (Gssapi.GssException ex)
            {
                _kerberosError = new KerberosFailure(ex.MinorStatus, ex.Message, spn);
                return null;
            }
        }

        private void DisposeKerberos()
        {
            _kerberos?.Dispose();
            _kerberosCredential?.Dispose();
        }

        private CredSspClientOptions CreateCredSspOptions(ReadOnlyMemory<byte> serverPublicKey)
        {
            NlaCredentials? credentials = options.StopAfter == NlaClientStage.Authentication ? options.Credentials : null;
            Gssapi.KerberosContext? kerberos = CreateKerberos(credentials);
            _ntHash = credentials is null ? new byte[16] : NtlmCrypto.NtOwfV1(credentials.Password.Span);
            string targetHost = options.Host.Contains(':', StringComparison.Ordinal) ? $"[{options.Host}]" : options.Host;
            return new CredSspClientOptions
            {
                ServerPublicKey = serverPublicKey,
                Ntlm = new NtlmClientOptions
                {
                    UserName = credentials?.UserName ?? string.Empty,
                    DomainName = credentials?.DomainName ?? string.Empty,
                    NtOwfV1 = _ntHash,
                    TargetName = $"TERMSRV/{targetHost}",
                    TimeProvider = options.TimeProvider,
                    RandomSource = options.RandomSource,
                },
                MaxVersion = options.MaxCredSspVersion,
                AllowEncryptionOracle = credentials is null ? EncryptionOraclePolicy.Vulnerable : options.AllowEncryptionOracle,
                UseSpnego = options.UseSpnego,
                DelegatedPassword = credentials?.Password,
                Kerberos = kerberos,

                // The challenge stage sends no credentials: it reads what the server announces, over NTLM.
                KerberosOnly = credentials is not null && options.Authentication == NlaAuthentication.Kerberos,
            };
        }

        /// <summary>The server's first TSRequest, for <see cref="NlaClientStage.Challenge"/>.</summary>
        private void OnChallenge(TsRequest request)
        {
            result.CredSsp = new CredSspInfo
            {
                ClientVersion = options.MaxCredSspVersion,
                ServerVersion = request.Version,
                ErrorCode = request.ErrorCode,
                Ntlm = ReadTargetInfo(request),
            };
            if (request.ErrorCode is { } status)
            {
                Set(VerdictOf(status), NlaFailureKind.LogonRefused);
                return;
            }

            if (result.CredSsp.Ntlm is null)
            {
                result.CredSspProblem = CredSspProblem.NoChallenge;
                Set(NlaOutcome.Error, NlaFailureKind.CredSspProtocolError);
                return;
            }

            Complete();
        }

        private async Task<bool> ServerClosesAsync(SslStream tls)
        {
            using var wait = CancellationTokenSource.CreateLinkedTokenSource(token);
            wait.CancelAfter(options.PostAuthenticationWait);
            var probe = new byte[1];
            try
            {
                return await tls.ReadAsync(probe, wait.Token).ConfigureAwait(false) == 0;
            }
            catch (OperationCanceledException) when (!token.IsCancellationRequested)
            {
                return false;
            }
            catch (IOException)
            {
                return true;
            }
        }

        /// <summary>A refusal, unless the status says the server could not check the credentials at all: then no verdict.</summary>
        private static NlaOutcome VerdictOf(NtStatus status) => NtStatusText.IsServerFault(status) ? NlaOutcome.Error : NlaOutcome.Failure;

        private void OnCredSspFailed(CredSspClientContext context)
        {
            if (context.ServerErrorCode is { } status)
            {
                Set(VerdictOf(status), NlaFailureKind.LogonRefused);
                return;
            }

            result.ErrorDetail = context.FailureMessage;
            result.CredSsp = (result.CredSsp ?? new CredSspInfo { ClientVersion = options.MaxCredSspVersion }) with
            {
                FailureReason = context.FailureReason,
                Stage = Stage,
                Package = context.PackageName,
                Kerberos = KerberosOutcome(context),
            };
            switch (context.FailureReason)
            {
                case NlaFailureReason.VersionNotPermitted:
                    Set(NlaOutcome.Error, NlaFailureKind.CredSspVersionNotPermitted);
                    break;
                case NlaFailureReason.PublicKeyMismatch:
                    Set(NlaOutcome.Error, NlaFailureKind.PublicKeyMismatch);
                    break;
                default:
                    result.CredSspProblem = CredSspProblem.ContextFailed;
                    Set(NlaOutcome.Error, NlaFailureKind.CredSspProtocolError);
                    break;
            }
        }

        private void RecordCredSsp()
        {
            RdpClientConnector connector = _connector!;
            CredSspClientContext context = connector.CredSsp!;
            NtlmTargetInfo? targetInfo = connector.FirstServerTsRequest is { } first ? ReadTargetInfo(first) : null;
            result.CredSsp = new CredSspInfo
            {
                ClientVersion = options.MaxCredSspVersion,
                ServerVersion = context.ServerVersion,
                ErrorCode = context.ServerErrorCode,
                Ntlm = targetInfo ?? FromChallenge(context.ServerChallenge),
                ServerBindingVerified = context.ServerBindingVerified,
                CredentialsSent = CredentialsSent,
                Stage = Stage,
                Package = context.PackageName,
                Kerberos = KerberosOutcome(context),
            };
        }

        private static NtlmTargetInfo? ReadTargetInfo(TsRequest request)
        {
            if (request.NegoTokens.Count == 0)
            {
                return null;
            }

            byte[] token = request.NegoTokens[0];
            try
            {
                if (NegoTokenClassifier.Classify(token) == NegoTokenKind.SpnegoResp)
                {
                    token = NegTokenResp.Decode(token).ResponseToken ?? [];
                }

                return NegoTokenClassifier.Classify(token) == NegoTokenKind.RawNtlm ? FromChallenge(NtlmChallengeMessage.Decode(token)) : null;
            }
            catch (NlaProtocolException)
            {
                return null;
            }
        }

        private static NtlmTargetInfo? FromChallenge(NtlmChallengeMessage? challenge)
        {
            if (challenge is null)
            {
                return null;
            }

            AvPairList? info = challenge.TargetInfo;
            DateTimeOffset? serverTime = null;
            try
            {
                if (info?.Timestamp is long fileTime && fileTime > 0)
                {
                    serverTime = DateTimeOffset.FromFileTime(fileTime).ToUniversalTime();
                }
            }
            catch (Exception ex) when (ex is NlaProtocolException or ArgumentOutOfRangeException)
            {
                serverTime = null;
            }

            return new NtlmTargetInfo
            {
                TargetName = challenge.TargetName,
                NbComputerName = SafeString(() => info?.NbComputerName),
                NbDomainName = SafeString(() => info?.NbDomainName),
                DnsComputerName = SafeString(() => info?.DnsComputerName),
                DnsDomainName = SafeString(() => info?.DnsDomainName),
                DnsTreeName = SafeString(() => info?.DnsTreeName),
                OsVersion = challenge.Version is { } v ? string.Create(CultureInfo.InvariantCulture, $"{v.ProductMajorVersion}.{v.ProductMinorVersion}.{v.ProductBuild}") : null,
                ServerTime = serverTime,
            };
        }

        private static string? SafeString(Func<string?> read)
        {
            try
            {
                return read();
            }
            catch (NlaProtocolException)
            {
                return null;
            }
        }

        private KerberosFailure? KerberosOutcome(CredSspClientContext context)
        {
            if (context.KerberosFallbackReason is { } reason)
            {
                return new KerberosFailure(_kerberos?.FailureCode ?? 0, reason, options.ServicePrincipal ?? $"TERMSRV/{options.Host}");
            }

            if (_kerberos is { FailureMessage: { } failure })
            {
                return new KerberosFailure(_kerberos.FailureCode, failure, options.ServicePrincipal ?? $"TERMSRV/{options.Host}");
            }

            return options.Authentication == NlaAuthentication.Ntlm ? null : _kerberosError;
        }

        private void Complete()
        {
            result.Phase = NlaClientPhase.Completed;
            Set(NlaOutcome.Success, NlaFailureKind.None);
        }

        private void Set(NlaOutcome outcome, NlaFailureKind kind)
        {
            result.Outcome = outcome;
            result.FailureKind = kind;
        }
    }

    /// <summary>"TLS 1.2" for <see cref="SslProtocols.Tls12"/>.</summary>
    public static string TlsName(SslProtocols protocol) => protocol switch
    {
#pragma warning disable SYSLIB0039, CA5397 // Names of the old versions, for reports.
        SslProtocols.Tls => "TLS 1.0",
        SslProtocols.Tls11 => "TLS 1.1",
#pragma warning restore SYSLIB0039, CA5397
        SslProtocols.Tls12 => "TLS 1.2",
        SslProtocols.Tls13 => "TLS 1.3",
        _ => protocol.ToString(),
    };
}
