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
    private const int MaxConnectionConfirmSize = 1024;

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
        private bool _authenticateSent;
        private bool _credentialsSent;

        private CredSspStage Stage => _credentialsSent ? CredSspStage.Credentials : _authenticateSent ? CredSspStage.Authenticate : CredSspStage.FirstRequest;

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
            result.TimedOut = true;
            NlaFailureKind kind = result.Phase switch
            {
                NlaClientPhase.Resolve => NlaFailureKind.NameNotResolved,
                NlaClientPhase.Tls => NlaFailureKind.TlsFailure,
                _ => NlaFailureKind.NoAnswer,
            };
            if (result.Phase == NlaClientPhase.CredSsp)
            {
                RecordStage();
            }

            Set(NlaOutcome.Error, kind);
        }

        private void OnConnectionLost(Exception ex)
        {
            result.ConnectionLost = true;
            if (ex is IOException { InnerException: SocketException socketError })
            {
                result.SocketError = socketError.SocketErrorCode;
            }
            else
            {
                result.ErrorDetail = ex.Message;
            }

            if (result.Phase == NlaClientPhase.CredSsp)
            {
                RecordStage();
            }

            (NlaOutcome outcome, NlaFailureKind kind) = result.Phase switch
            {
                NlaClientPhase.Negotiation => (NlaOutcome.Error, NlaFailureKind.ConnectionClosed),
                NlaClientPhase.Tls => (NlaOutcome.Error, NlaFailureKind.TlsFailure),
                NlaClientPhase.CredSsp when _credentialsSent => (NlaOutcome.Failure, NlaFailureKind.AccessDenied),
                NlaClientPhase.CredSsp when _authenticateSent => (NlaOutcome.Failure, NlaFailureKind.RejectedWithoutReason),
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

        private async Task AfterConnectAsync(NetworkStream network)
        {
            result.Phase = NlaClientPhase.Negotiation;
            SecurityProtocols? selected = await NegotiateAsync(network).ConfigureAwait(false);
            if (selected is not SecurityProtocols protocol)
            {
                return;
            }

            if (options.StopAfter == NlaClientStage.Negotiation)
            {
                Complete();
                return;
            }

            if (protocol == SecurityProtocols.Rdp)
            {
                Set(NlaOutcome.Indeterminate, NlaFailureKind.NlaNotOffered);
                return;
            }

            if (protocol is not (SecurityProtocols.Ssl or SecurityProtocols.Hybrid or SecurityProtocols.HybridEx))
            {
                Set(NlaOutcome.Error, NlaFailureKind.InvalidSelection);
                return;
            }

            result.Phase = NlaClientPhase.Tls;
            SslStream? tls = await StartTlsAsync(network).ConfigureAwait(false);
            if (tls is null)
            {
                return;
            }

            await using (tls.ConfigureAwait(false))
            {
                if (options.StopAfter == NlaClientStage.Tls)
                {
                    Complete();
                    return;
                }

                if (protocol == SecurityProtocols.Ssl)
                {
                    Set(NlaOutcome.Indeterminate, NlaFailureKind.NlaNotOffered);
                    return;
                }

                result.Phase = NlaClientPhase.CredSsp;
                if (options.StopAfter == NlaClientStage.Challenge)
                {
                    await GetChallengeAsync(tls).ConfigureAwait(false);
                }
                else
                {
                    await AuthenticateAsync(tls, protocol).ConfigureAwait(false);
                }
            }
        }

        private async Task<SecurityProtocols?> NegotiateAsync(NetworkStream network)
        {
            string? cookie = options.Cookie is { Length: > 0 } c ? c : null;
            var request = new X224ConnectionRequest(cookie, new RdpNegRequest(RdpNegRequestFlags.None, options.RequestedProtocols));
            await network.WriteAsync(request.Encode(), token).ConfigureAwait(false);

            var header = new byte[Tpkt.HeaderLength];
            int read = await network.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, token).ConfigureAwait(false);
            if (read == 0)
            {
                Set(NlaOutcome.Error, NlaFailureKind.ConnectionClosed);
                return null;
            }

            if (read < header.Length || header[0] != Tpkt.Version)
            {
                result.UnexpectedAnswer = header.AsMemory(0, read);
                Set(NlaOutcome.Error, NlaFailureKind.NotRdp);
                return null;
            }

            int length = (header[2] << 8) | header[3];
            if (length < Tpkt.MinimumFrameLength || length > MaxConnectionConfirmSize)
            {
                result.UnexpectedAnswer = header;
                result.AnnouncedFrameLength = length;
                Set(NlaOutcome.Error, NlaFailureKind.NotRdp);
                return null;
            }

            var frame = new byte[length];
            header.CopyTo(frame, 0);
            await network.ReadExactlyAsync(frame.AsMemory(Tpkt.HeaderLength), token).ConfigureAwait(false);
            X224ConnectionConfirm confirm;
            try
            {
                confirm = X224ConnectionConfirm.Decode(frame);
            }
            catch (NlaProtocolException ex)
            {
                if (frame.Length >= 7 && frame[5] == 0xF0)
                {
                    // xrdp 0.9 answers a request it cannot serve (e.g. PROTOCOL_RDSAAD alone) with an X.224 Data TPDU
                    // carrying MCS Disconnect Provider Ultimatum (03 00 00 09 02 F0 80 21 80) instead of RDP_NEG_FAILURE.
                    result.UnexpectedAnswer = frame;
                    Set(NlaOutcome.Error, NlaFailureKind.NegotiationFailure);
                    return null;
                }

                result.UnexpectedAnswer = frame;
                result.ErrorDetail = ex.Message;
                Set(NlaOutcome.Error, NlaFailureKind.NotRdp);
                return null;
            }

            switch (confirm.NegotiationData)
            {
                case null:
                    // MS-RDPBCGR §3.3.5.3.2: no rdpNegData: the server only knows Standard RDP Security (Windows XP/2003).
                    result.Negotiation = new NegotiationAnswer { Legacy = true, SelectedProtocol = SecurityProtocols.Rdp };
                    return SecurityProtocols.Rdp;
                case RdpNegFailure failure:
                    result.Negotiation = new NegotiationAnswer { FailureCode = failure.FailureCode };
                    Set(NlaOutcome.Error, NlaFailureKind.NegotiationFailure);
                    return null;
                case RdpNegResponse response:
                    result.Negotiation = new NegotiationAnswer { SelectedProtocol = response.SelectedProtocol, ResponseFlags = response.Flags };
                    SecurityProtocols selected = response.SelectedProtocol;
                    // MS-RDPBCGR §2.2.1.2.1: exactly one protocol, and one that was requested (PROTOCOL_RDP is always possible).
                    if (selected != SecurityProtocols.Rdp
                        && ((selected & (selected - 1)) != 0 || (selected & ~options.RequestedProtocols) != 0))
                    {
                        Set(NlaOutcome.Error, NlaFailureKind.InvalidSelection);
                        return null;
                    }

                    return selected;
                default:
                    throw new UnreachableException();
            }
        }

        private async Task<SslStream?> StartTlsAsync(NetworkStream network)
        {
            X509Certificate2? seen = null;
            var tls = new SslStream(network, leaveInnerStreamOpen: true, (_, certificate, _, _) =>
            {
                // Recorded here and judged after the handshake by the certificate policy, so that the certificate is
                // reported even when it is rejected; RDP servers mostly present self-signed certificates.
                if (certificate is not null)
                {
                    seen = new X509Certificate2(certificate);
                }

                return true;
            });
            try
            {
                await tls.AuthenticateAsClientAsync(
                    new SslClientAuthenticationOptions
                    {
                        TargetHost = IPAddress.TryParse(options.Host, out _) ? string.Empty : options.Host,
                        EnabledSslProtocols = options.TlsProtocols,
                        CertificateRevocationCheckMode = X509RevocationMode.NoCheck,
                        AllowRenegotiation = false,
                    },
                    token).ConfigureAwait(false);
            }
            catch (AuthenticationException ex)
            {
                await tls.DisposeAsync().ConfigureAwait(false);
                seen?.Dispose();
                result.ErrorDetail = ex.InnerException?.Message ?? ex.Message;
                Set(NlaOutcome.Error, NlaFailureKind.TlsFailure);
                return null;
            }
            catch
            {
                await tls.DisposeAsync().ConfigureAwait(false);
                seen?.Dispose();
                throw;
            }

            using (seen)
            {
                if (seen is null)
                {
                    await tls.DisposeAsync().ConfigureAwait(false);
                    Set(NlaOutcome.Error, NlaFailureKind.TlsFailure);
                    return null;
                }

                TlsCertificateInfo certificate = TlsCertificateInfo.From(seen);
                result.Certificate = certificate;
                CertificateDecision decision = options.CertificatePolicy.Evaluate(options.Host, options.Port, certificate);
                result.Tls = new TlsSessionInfo(tls.SslProtocol, tls.NegotiatedCipherSuite, certificate, decision);
                if (!decision.Accepted)
                {
                    await tls.DisposeAsync().ConfigureAwait(false);
                    Set(NlaOutcome.Error, NlaFailureKind.CertificateRejected);
                    return null;
                }
            }

            return tls;
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

        private CredSspClientContext CreateContext(out byte[]? ntHash)
        {
            NlaCredentials? credentials = options.StopAfter == NlaClientStage.Authentication ? options.Credentials : null;
            Gssapi.KerberosContext? kerberos = CreateKerberos(credentials);
            ntHash = credentials is null ? new byte[16] : NtlmCrypto.NtOwfV1(credentials.Password.Span);
            string targetHost = options.Host.Contains(':', StringComparison.Ordinal) ? $"[{options.Host}]" : options.Host;
            return new CredSspClientContext(
                new CredSspClientOptions
                {
                    ServerPublicKey = result.Certificate!.PublicKey,
                    Ntlm = new NtlmClientOptions
                    {
                        UserName = credentials?.UserName ?? string.Empty,
                        DomainName = credentials?.DomainName ?? string.Empty,
                        NtOwfV1 = ntHash,
                        TargetName = $"TERMSRV/{targetHost}",
                        TimeProvider = options.TimeProvider,
                        RandomSource = options.RandomSource,
                    },
                    MaxVersion = options.MaxCredSspVersion,
                    AllowEncryptionOracle = credentials is null ? EncryptionOraclePolicy.Vulnerable : options.AllowEncryptionOracle,
                    UseSpnego = options.UseSpnego,
                    DelegatedPassword = credentials?.Password,
                    Kerberos = kerberos,
                    KerberosOnly = options.Authentication == NlaAuthentication.Kerberos,
                },
                options.RandomSource);
        }

        private async Task GetChallengeAsync(SslStream tls)
        {
            using CredSspClientContext context = CreateContext(out byte[]? ntHash);
            CryptographicOperations.ZeroMemory(ntHash);
            byte[]? negotiate = context.GetOutgoingBlob([], out NlaStatus status);
            if (status != NlaStatus.ContinueNeeded || negotiate is null)
            {
                result.ErrorDetail = context.FailureMessage;
                result.CredSspProblem = CredSspProblem.CouldNotStart;
                Set(NlaOutcome.Error, NlaFailureKind.CredSspProtocolError);
                return;
            }

            await MessageFraming.WriteMessageAsync(tls, negotiate, token).ConfigureAwait(false);
            byte[]? response = await ReadTsRequestAsync(tls).ConfigureAwait(false);
            if (response is null)
            {
                return;
            }

            TsRequest request;
            try
            {
                request = TsRequest.Decode(response);
            }
            catch (NlaProtocolException ex)
            {
                result.ErrorDetail = ex.Message;
                result.CredSspProblem = CredSspProblem.UndecodableFirstAnswer;
                Set(NlaOutcome.Error, NlaFailureKind.CredSspProtocolError);
                return;
            }

            result.CredSsp = new CredSspInfo
            {
                ClientVersion = options.MaxCredSspVersion,
                ServerVersion = request.Version,
                ErrorCode = request.ErrorCode,
                Ntlm = ReadTargetInfo(request),
            };
            if (request.ErrorCode is not null)
            {
                Set(NlaOutcome.Failure, NlaFailureKind.LogonRefused);
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

        private async Task AuthenticateAsync(SslStream tls, SecurityProtocols protocol)
        {
            NlaCredentials credentials = options.Credentials!;
            using CredSspClientContext context = CreateContext(out byte[]? ntHash);
            try
            {
                if (_kerberosError is not null && options.Authentication == NlaAuthentication.Kerberos)
                {
                    result.CredSsp = new CredSspInfo { ClientVersion = options.MaxCredSspVersion, Package = "Kerberos", Kerberos = _kerberosError };
                    result.CredSspProblem = CredSspProblem.KerberosUnavailable;
                    Set(NlaOutcome.Error, NlaFailureKind.CredSspProtocolError);
                    return;
                }

                byte[]? output = context.GetOutgoingBlob([], out NlaStatus status);
                while (status == NlaStatus.ContinueNeeded && output is not null)
                {
                    await MessageFraming.WriteMessageAsync(tls, output, token).ConfigureAwait(false);
                    _authenticateSent = context.ServerVersion != 0;
                    byte[]? response = await ReadTsRequestAsync(tls).ConfigureAwait(false);
                    if (response is null)
                    {
                        RecordCredSsp(context, null);
                        return;
                    }

                    NtlmTargetInfo? targetInfo = null;
                    if (context.ServerVersion == 0)
                    {
                        targetInfo = TryReadTargetInfo(response);
                    }

                    output = context.GetOutgoingBlob(response, out status);
                    RecordCredSsp(context, targetInfo);
                }

                if (status == NlaStatus.Failed)
                {
                    OnCredSspFailed(context);
                    return;
                }

                // Completed: the server proved the certificate key, which it can only do after it verified the
                // NTLM AUTHENTICATE: the password is right. Now delegate the credentials (authInfo).
                if (output is not null)
                {
                    await MessageFraming.WriteMessageAsync(tls, output, token).ConfigureAwait(false);
                    _credentialsSent = true;
                    RecordCredSsp(context, null);
                }
            }
            finally
            {
                CryptographicOperations.ZeroMemory(ntHash);
                DisposeKerberos();
            }

            if (protocol == SecurityProtocols.HybridEx)
            {
                result.Phase = NlaClientPhase.EarlyUserAuthorization;
                var euar = new byte[EarlyUserAuthorizationResult.Length];
                Task<int> reading = tls.ReadAtLeastAsync(euar, euar.Length, throwOnEndOfStream: false, token).AsTask();
                if (options.AuthorizationPending is { } pending
                    && await Task.WhenAny(reading, Task.Delay(options.AuthorizationPendingAfter, options.TimeProvider, token)).ConfigureAwait(false) != reading)
                {
                    // A server that requires a second factor holds the connection here until the user approves it.
                    result.AuthorizationHeld = true;
                    pending();
                }

                int read = await reading.ConfigureAwait(false);
                if (read < euar.Length)
                {
                    Set(NlaOutcome.Failure, NlaFailureKind.AccessDenied);
                    return;
                }

                EarlyUserAuthorizationResult authorization = EarlyUserAuthorizationResult.Decode(euar);
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
            if (context.ServerErrorCode is not null)
            {
                Set(NlaOutcome.Failure, NlaFailureKind.LogonRefused);
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

        private void RecordCredSsp(CredSspClientContext context, NtlmTargetInfo? targetInfo)
        {
            result.CredSsp = new CredSspInfo
            {
                ClientVersion = options.MaxCredSspVersion,
                ServerVersion = context.ServerVersion,
                ErrorCode = context.ServerErrorCode,
                Ntlm = targetInfo ?? result.CredSsp?.Ntlm ?? FromChallenge(context.ServerChallenge),
                ServerBindingVerified = context.ServerBindingVerified,
                CredentialsSent = _credentialsSent,
                Stage = Stage,
                Package = context.PackageName,
                Kerberos = KerberosOutcome(context),
            };
        }

        private async Task<byte[]?> ReadTsRequestAsync(SslStream tls)
        {
            try
            {
                return await MessageFraming.ReadTsRequestAsync(tls, options.MaxMessageSize, token).ConfigureAwait(false);
            }
            catch (NlaProtocolException ex)
            {
                result.ErrorDetail = ex.Message;
                result.CredSspProblem = CredSspProblem.NotATsRequest;
                Set(NlaOutcome.Error, NlaFailureKind.CredSspProtocolError);
                return null;
            }
            catch (EndOfStreamException ex)
            {
                OnConnectionLost(ex);
                return null;
            }
        }

        private static NtlmTargetInfo? TryReadTargetInfo(byte[] response)
        {
            try
            {
                return ReadTargetInfo(TsRequest.Decode(response));
            }
            catch (NlaProtocolException)
            {
                return null;
            }
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
