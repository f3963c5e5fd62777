using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using RdpNla.Protocol;
using RdpNla.Protocol.Connection;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Rdp;
using RdpNla.Protocol.Spnego;
using RdpNla.Transport;

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
    public static async Task<NlaClientResult> RunAsync(NlaClientOptions options, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.StopAfter == NlaClientStage.Authentication && options.Credentials is null)
        {
            throw new ArgumentException("Authentication needs Credentials.", nameof(options));
        }

        var result = new NlaClientResult(options.Host, options.Port, options.RequestedProtocols);
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

        /// <summary>The NTLM AUTHENTICATE (or the Kerberos binding) went out: the server answered the first CredSSP message.</summary>
        private bool AuthenticateSent => _connector?.CredSsp is { ServerVersion: not 0 };

        private bool CredentialsSent => _connector?.CredentialsSent == true;

        private string Seconds => options.Timeout.TotalSeconds.ToString("0.###", CultureInfo.InvariantCulture);

        private string Endpoint => result.RemoteEndPoint?.ToString() ?? $"{options.Host}:{options.Port}";

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
            if (_connector?.CredSsp is { ServerVersion: not 0 })
            {
                RecordCredSsp();
            }

            switch (result.Phase)
            {
                case NlaClientPhase.Resolve:
                    Set(NlaOutcome.Error, NlaFailureKind.NameNotResolved, $"the name {options.Host} did not resolve within {Seconds} s");
                    break;
                case NlaClientPhase.Connect:
                    Set(NlaOutcome.Error, NlaFailureKind.NoAnswer, $"no answer from {options.Host}:{options.Port} to the TCP connection within {Seconds} s (filtered port or host down)");
                    break;
                case NlaClientPhase.Negotiation:
                    Set(NlaOutcome.Error, NlaFailureKind.NoAnswer, $"{Endpoint} accepted the TCP connection but did not answer the X.224 Connection Request within {Seconds} s (not an RDP server, or a stalled one)");
                    break;
                case NlaClientPhase.Tls:
                    Set(NlaOutcome.Error, NlaFailureKind.TlsFailure, $"{Endpoint} selected {result.Negotiation?.SelectedProtocol?.Name()} but did not complete the TLS handshake within {Seconds} s");
                    break;
                case NlaClientPhase.CredSsp when AuthenticateSent:
                    Set(NlaOutcome.Error, NlaFailureKind.NoAnswer, $"{Endpoint} did not answer the NTLM AUTHENTICATE within {Seconds} s");
                    break;
                case NlaClientPhase.CredSsp:
                    Set(NlaOutcome.Error, NlaFailureKind.NoAnswer, $"{Endpoint} did not answer the CredSSP NTLM NEGOTIATE within {Seconds} s");
                    break;
                default:
                    Set(NlaOutcome.Error, NlaFailureKind.NoAnswer, $"{Endpoint} did not send the Early User Authorization Result within {Seconds} s (password verified; a server that requires a second factor holds the connection until the user approves it, e.g. on the rdpnla portal's /approve page)");
                    break;
            }
        }

        private void OnConnectionLost(Exception ex)
        {
            SyncPhase();
            if (_connector?.CredSsp is not null)
            {
                RecordCredSsp();
            }

            string detail = ex is IOException { InnerException: SocketException socketError } ? socketError.SocketErrorCode.ToString() : ex.Message;
            switch (result.Phase)
            {
                case NlaClientPhase.Negotiation:
                    Set(NlaOutcome.Error, NlaFailureKind.ConnectionClosed, $"{Endpoint} closed the connection without answering the X.224 Connection Request ({detail})");
                    break;
                case NlaClientPhase.Tls:
                    Set(NlaOutcome.Error, NlaFailureKind.TlsFailure, $"{Endpoint} closed the connection during the TLS handshake ({detail})");
                    break;
                case NlaClientPhase.CredSsp when CredentialsSent:
                    Set(NlaOutcome.Failure, NlaFailureKind.AccessDenied, $"the server verified the password, then closed the connection after receiving the credentials: logon refused after authentication, no reason given ({detail})");
                    break;
                case NlaClientPhase.CredSsp when AuthenticateSent:
                    Set(NlaOutcome.Failure, NlaFailureKind.RejectedWithoutReason, $"rejected, no reason given: {Endpoint} closed the connection after the NTLM AUTHENTICATE without a CredSSP errorCode (wrong password, unknown user or another refusal; FreeRDP's server does this)");
                    break;
                case NlaClientPhase.CredSsp:
                    Set(NlaOutcome.Error, NlaFailureKind.ConnectionClosed, $"{Endpoint} closed the connection after the CredSSP NTLM NEGOTIATE, before sending a CHALLENGE ({detail})");
                    break;
                case NlaClientPhase.EarlyUserAuthorization:
                    Set(NlaOutcome.Failure, NlaFailureKind.AccessDenied, $"the server verified the password, then closed the connection without the Early User Authorization Result ({detail})");
                    break;
                default:
                    Set(NlaOutcome.Error, NlaFailureKind.NetworkError, $"connection to {Endpoint} lost: {detail}");
                    break;
            }
        }

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
                    return [.. addresses.OrderBy(a => a.AddressFamily == AddressFamily.InterNetwork ? 0 : 1)];
                }

                Set(NlaOutcome.Error, NlaFailureKind.NameNotResolved, $"the name {options.Host} has no address");
            }
            catch (SocketException ex)
            {
                Set(NlaOutcome.Error, NlaFailureKind.NameNotResolved, $"the name {options.Host} does not resolve ({ex.SocketErrorCode})");
            }
            catch (ArgumentException ex)
            {
                Set(NlaOutcome.Error, NlaFailureKind.NameNotResolved, $"'{options.Host}' is not a valid host name ({ex.Message})");
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

            if (last?.SocketErrorCode == SocketError.ConnectionRefused)
            {
                Set(NlaOutcome.Error, NlaFailureKind.ConnectionRefused, $"connection refused by {Endpoint}: nothing listens on port {options.Port}");
            }
            else if (last?.SocketErrorCode == SocketError.TimedOut)
            {
                Set(NlaOutcome.Error, NlaFailureKind.NoAnswer, $"no answer from {Endpoint} to the TCP connection (timed out)");
            }
            else
            {
                Set(NlaOutcome.Error, NlaFailureKind.NetworkError, $"cannot connect to {Endpoint}: {last?.SocketErrorCode} ({last?.Message})");
            }

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
                Set(NlaOutcome.Error, NlaFailureKind.TlsFailure, $"TLS handshake with {Endpoint} failed ({TlsNames(options.TlsProtocols)} offered): {ex.InnerException?.Message ?? ex.Message}");
                return;
            }
            catch (NlaProtocolException ex) when (connector.State == ClientConnectorState.CredSsp)
            {
                result.Phase = NlaClientPhase.CredSsp;
                RecordCredSsp();
                Set(NlaOutcome.Error, NlaFailureKind.CredSspProtocolError, $"{Endpoint} sent something that is not a TSRequest: {ex.Message}");
                return;
            }
            catch (EndOfStreamException) when (connector.State == ClientConnectorState.AwaitingEarlyUserAuthorizationResult)
            {
                result.Phase = NlaClientPhase.EarlyUserAuthorization;
                RecordCredSsp();
                Set(NlaOutcome.Failure, NlaFailureKind.AccessDenied, $"the server verified the password of {options.Credentials!.AccountName}, then closed the connection without the Early User Authorization Result");
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
                Set(NlaOutcome.Error, NlaFailureKind.CertificateRejected, $"certificate of {Endpoint} rejected, nothing was sent: {result.Tls!.CertificateDecision.Description}");
                return;
            }

            SslStream? tls = run.Tls;
            if (tls is null)
            {
                OnSecurityPhaseEnded(connector, null);
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
            AuthorizationPending = options.AuthorizationPending,
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
                    Set(NlaOutcome.Error, NlaFailureKind.ConnectionClosed, $"{Endpoint} closed the connection without answering the X.224 Connection Request");
                    break;
                case ConnectionConfirmAnswerKind.NotTpkt:
                    Set(NlaOutcome.Error, NlaFailureKind.NotRdp, $"{Endpoint} is not an RDP server: it answered {Describe(answer.Frame.Span)} instead of a TPKT X.224 Connection Confirm");
                    break;
                case ConnectionConfirmAnswerKind.ImplausibleLength:
                    Set(NlaOutcome.Error, NlaFailureKind.NotRdp, $"{Endpoint} is not an RDP server: its answer announces a {answer.AnnouncedLength}-byte TPKT frame, not an X.224 Connection Confirm");
                    break;
                case ConnectionConfirmAnswerKind.Truncated when ex is EndOfStreamException:
                    OnConnectionLost(ex);
                    break;
                case ConnectionConfirmAnswerKind.X224Data or ConnectionConfirmAnswerKind.McsDisconnectProviderUltimatum:
                    // xrdp 0.9 answers a request it cannot serve (e.g. PROTOCOL_RDSAAD alone) with an X.224 Data TPDU
                    // carrying MCS Disconnect Provider Ultimatum (03 00 00 09 02 F0 80 21 80) instead of RDP_NEG_FAILURE.
                    string what = answer.Kind == ConnectionConfirmAnswerKind.McsDisconnectProviderUltimatum ? "an MCS Disconnect Provider Ultimatum" : "an X.224 Data TPDU";
                    Set(NlaOutcome.Error, NlaFailureKind.NegotiationFailure, $"{Endpoint} refused the requested protocols {options.RequestedProtocols.Name()} without RDP_NEG_FAILURE: it answered {what} (0x{Convert.ToHexString(answer.Frame.Span)}) instead of a Connection Confirm");
                    break;
                default:
                    Set(NlaOutcome.Error, NlaFailureKind.NotRdp, $"{Endpoint} answered with a TPKT frame that is not a valid X.224 Connection Confirm: {ex.Message}");
                    break;
            }
        }

        /// <summary>The connector stopped without TLS: a refused Connection Confirm, or the confirm was all that was asked for.</summary>
        private void OnSecurityPhaseEnded(RdpClientConnector connector, SslStream? tls)
        {
            SecurityProtocols? selected = connector.SelectedProtocol;
            switch (connector.SelectionFailure)
            {
                case ProtocolSelectionFailure.NegotiationFailure:
                    result.Phase = NlaClientPhase.Negotiation;
                    NegotiationFailureCode code = connector.ConnectionConfirm!.Failure!.FailureCode;
                    Set(NlaOutcome.Error, NlaFailureKind.NegotiationFailure, $"{Endpoint} refused the requested protocols {options.RequestedProtocols.Name()}: RDP_NEG_FAILURE {code.Name()} ({code.Describe()})");
                    return;
                case ProtocolSelectionFailure.NotRequested:
                    result.Phase = NlaClientPhase.Negotiation;
                    Set(NlaOutcome.Error, NlaFailureKind.InvalidSelection, $"{Endpoint} selected {selected?.Name()}, which is not one of the requested {options.RequestedProtocols.Name()} (protocol violation or tampering)");
                    return;
                case ProtocolSelectionFailure.StandardRdpSecurity:
                    result.Phase = NlaClientPhase.Negotiation;
                    Set(NlaOutcome.Indeterminate, NlaFailureKind.NlaNotOffered, $"{Endpoint} selected Standard RDP Security ({result.Negotiation}): it does not require NLA, so a password cannot be proven here (it would be checked inside the RDP session)");
                    return;
                case not ProtocolSelectionFailure.None:
                    result.Phase = NlaClientPhase.Negotiation;
                    Set(NlaOutcome.Error, NlaFailureKind.InvalidSelection, $"{Endpoint} selected {selected?.Name()}, which this client does not implement");
                    return;
            }

            if (options.StopAfter == NlaClientStage.Negotiation)
            {
                Complete($"{Endpoint} answered {result.Negotiation}");
                return;
            }

            if (options.StopAfter == NlaClientStage.Tls)
            {
                Complete($"{Endpoint} completed a {TlsName(tls!.SslProtocol)} handshake after selecting {selected?.Name()}");
                return;
            }

            if (selected == SecurityProtocols.Ssl)
            {
                result.Phase = NlaClientPhase.Tls;
                Set(NlaOutcome.Indeterminate, NlaFailureKind.NlaNotOffered, $"{Endpoint} selected PROTOCOL_SSL (TLS without NLA): it does not require NLA, so a password cannot be proven here (it would be checked inside the RDP session, after the logon screen)");
                return;
            }

            throw new UnreachableException($"The connector stopped in state {connector.State} without a reason.");
        }

        /// <summary>The connector stopped after TLS: CredSSP and the Early User Authorization Result, or the stage asked for.</summary>
        private async Task OnSecurityPhaseEndedAsync(RdpClientConnector connector, SslStream tls)
        {
            if (connector.CredSsp is not { } context)
            {
                OnSecurityPhaseEnded(connector, tls);
                return;
            }

            result.Phase = NlaClientPhase.CredSsp;
            if (options.StopAfter == NlaClientStage.Challenge)
            {
                OnChallenge(connector.FirstServerTsRequest!);
                return;
            }

            if (context.FailureReason != NlaFailureReason.None)
            {
                if (_kerberosError is not null && options.Authentication == NlaAuthentication.Kerberos)
                {
                    Set(NlaOutcome.Error, NlaFailureKind.CredSspProtocolError, $"Kerberos: {_kerberosError}");
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
                    Set(NlaOutcome.Failure, NlaFailureKind.AccessDenied, $"password of {credentials.AccountName} verified, but the account may not log on remotely: Early User Authorization Result {authorization.Name}");
                    return;
                }

                Complete($"{Endpoint} verified the password of {credentials.AccountName} (CredSSP version {context.ServerVersion}) and allows a remote logon (Early User Authorization Result AUTHZ_SUCCESS)");
                return;
            }

            // PROTOCOL_HYBRID: no Early User Authorization Result. A server that refuses the user after authentication
            // closes now; one that accepts waits for MCS Connect Initial.
            if (await ServerClosesAsync(tls).ConfigureAwait(false))
            {
                Set(NlaOutcome.Failure, NlaFailureKind.AccessDenied, $"the server verified the password of {credentials.AccountName}, then closed the connection right after receiving the credentials: logon refused after authentication, no reason given (with PROTOCOL_HYBRID there is no Early User Authorization Result)");
                return;
            }

            Complete($"{Endpoint} verified the password of {credentials.AccountName} (CredSSP version {context.ServerVersion}, PROTOCOL_HYBRID: no Early User Authorization Result, so the right to log on remotely is not known)");
        }

        private Gssapi.KerberosContext? _kerberos;
        private Gssapi.KerberosCredential? _kerberosCredential;
        private string? _kerberosError;

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
                _kerberosError = ex.Message;
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
            if (request.ErrorCode is { } errorCode)
            {
                Set(NlaOutcome.Failure, NlaFailureKind.LogonRefused, $"{Endpoint} answered the NTLM NEGOTIATE with errorCode {NtStatusText.Name(errorCode)} ({NtStatusText.Describe(errorCode)})");
                return;
            }

            if (result.CredSsp.Ntlm is null)
            {
                Set(NlaOutcome.Error, NlaFailureKind.CredSspProtocolError, $"{Endpoint} answered the NTLM NEGOTIATE without an NTLM CHALLENGE");
                return;
            }

            Complete($"{Endpoint} speaks CredSSP version {request.Version} and sent an NTLM CHALLENGE");
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

        private void OnCredSspFailed(CredSspClientContext context)
        {
            if (context.ServerErrorCode is { } errorCode)
            {
                Set(NlaOutcome.Failure, NlaFailureKind.LogonRefused, $"{NtStatusText.Name(errorCode)}: {NtStatusText.Describe(errorCode)}");
                return;
            }

            string message = context.FailureMessage ?? context.FailureReason.ToString();
            switch (context.FailureReason)
            {
                case NlaFailureReason.VersionNotPermitted:
                    Set(NlaOutcome.Error, NlaFailureKind.CredSspVersionNotPermitted, $"{message} No credentials were sent. (mstsc: \"This could be due to CredSSP encryption oracle remediation\"; --allow-encryption-oracle 2 accepts such a server)");
                    break;
                case NlaFailureReason.PublicKeyMismatch:
                    Set(NlaOutcome.Error, NlaFailureKind.PublicKeyMismatch, message);
                    break;
                default:
                    Set(NlaOutcome.Error, NlaFailureKind.CredSspProtocolError, $"CredSSP failed: {message}");
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
                Package = context.PackageName,
                KerberosFallbackReason = context.KerberosFallbackReason ?? (options.Authentication == NlaAuthentication.Ntlm ? null : _kerberosError),
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

        private void Complete(string message)
        {
            result.Phase = NlaClientPhase.Completed;
            Set(NlaOutcome.Success, NlaFailureKind.None, message);
        }

        private void Set(NlaOutcome outcome, NlaFailureKind kind, string message)
        {
            result.Outcome = outcome;
            result.FailureKind = kind;
            result.Message = message;
        }

        private static string Describe(ReadOnlySpan<byte> bytes)
        {
            string hex = Convert.ToHexString(bytes);
            var text = new StringBuilder();
            foreach (byte b in bytes)
            {
                text.Append(b is >= 0x20 and < 0x7F ? (char)b : '.');
            }

            string guess = bytes.StartsWith("HTTP"u8) ? " (an HTTP server)" : bytes.StartsWith("SSH-"u8) ? " (an SSH server)" : bytes.Length > 0 && bytes[0] == 0x16 ? " (a TLS server)" : "";
            return $"0x{hex} \"{text}\"{guess}";
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

    // SslProtocols values are not single bits (Tls12 is 0xC00), so list the versions explicitly.
#pragma warning disable SYSLIB0039 // TLS 1.0 and 1.1 are named to report what was offered, not to enable them.
    private static readonly SslProtocols[] s_tlsVersions = [SslProtocols.Tls, SslProtocols.Tls11, SslProtocols.Tls12, SslProtocols.Tls13];
#pragma warning restore SYSLIB0039

    private static string TlsNames(SslProtocols protocols) =>
        protocols == SslProtocols.None ? "system default" : string.Join(", ", s_tlsVersions.Where(p => (protocols & p) == p).Select(TlsName));
}
