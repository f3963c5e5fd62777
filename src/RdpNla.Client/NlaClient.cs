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
        private bool _authenticateSent;
        private bool _credentialsSent;

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
                case NlaClientPhase.CredSsp when _authenticateSent:
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
            string detail = ex is IOException { InnerException: SocketException socketError } ? socketError.SocketErrorCode.ToString() : ex.Message;
            switch (result.Phase)
            {
                case NlaClientPhase.Negotiation:
                    Set(NlaOutcome.Error, NlaFailureKind.ConnectionClosed, $"{Endpoint} closed the connection without answering the X.224 Connection Request ({detail})");
                    break;
                case NlaClientPhase.Tls:
                    Set(NlaOutcome.Error, NlaFailureKind.TlsFailure, $"{Endpoint} closed the connection during the TLS handshake ({detail})");
                    break;
                case NlaClientPhase.CredSsp when _credentialsSent:
                    Set(NlaOutcome.Failure, NlaFailureKind.AccessDenied, $"the server verified the password, then closed the connection after receiving the credentials: logon refused after authentication, no reason given ({detail})");
                    break;
                case NlaClientPhase.CredSsp when _authenticateSent:
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
                Complete($"{Endpoint} answered {result.Negotiation}");
                return;
            }

            if (protocol == SecurityProtocols.Rdp)
            {
                Set(NlaOutcome.Indeterminate, NlaFailureKind.NlaNotOffered, $"{Endpoint} selected Standard RDP Security ({result.Negotiation}): it does not require NLA, so a password cannot be proven here (it would be checked inside the RDP session)");
                return;
            }

            if (protocol is not (SecurityProtocols.Ssl or SecurityProtocols.Hybrid or SecurityProtocols.HybridEx))
            {
                Set(NlaOutcome.Error, NlaFailureKind.InvalidSelection, $"{Endpoint} selected {protocol.Name()}, which this client does not implement");
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
                    Complete($"{Endpoint} completed a {TlsName(tls.SslProtocol)} handshake after selecting {protocol.Name()}");
                    return;
                }

                if (protocol == SecurityProtocols.Ssl)
                {
                    Set(NlaOutcome.Indeterminate, NlaFailureKind.NlaNotOffered, $"{Endpoint} selected PROTOCOL_SSL (TLS without NLA): it does not require NLA, so a password cannot be proven here (it would be checked inside the RDP session, after the logon screen)");
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
                Set(NlaOutcome.Error, NlaFailureKind.ConnectionClosed, $"{Endpoint} closed the connection without answering the X.224 Connection Request");
                return null;
            }

            if (read < header.Length || header[0] != Tpkt.Version)
            {
                Set(NlaOutcome.Error, NlaFailureKind.NotRdp, $"{Endpoint} is not an RDP server: it answered {Describe(header.AsSpan(0, read))} instead of a TPKT X.224 Connection Confirm");
                return null;
            }

            int length = (header[2] << 8) | header[3];
            if (length < Tpkt.MinimumFrameLength || length > MaxConnectionConfirmSize)
            {
                Set(NlaOutcome.Error, NlaFailureKind.NotRdp, $"{Endpoint} is not an RDP server: its answer announces a {length}-byte TPKT frame, not an X.224 Connection Confirm");
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
                    string what = frame.Length >= 8 && (frame[7] & 0xFC) == 0x20 ? "an MCS Disconnect Provider Ultimatum" : "an X.224 Data TPDU";
                    Set(NlaOutcome.Error, NlaFailureKind.NegotiationFailure, $"{Endpoint} refused the requested protocols {options.RequestedProtocols.Name()} without RDP_NEG_FAILURE: it answered {what} (0x{Convert.ToHexString(frame)}) instead of a Connection Confirm");
                    return null;
                }

                Set(NlaOutcome.Error, NlaFailureKind.NotRdp, $"{Endpoint} answered with a TPKT frame that is not a valid X.224 Connection Confirm: {ex.Message}");
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
                    Set(NlaOutcome.Error, NlaFailureKind.NegotiationFailure, $"{Endpoint} refused the requested protocols {options.RequestedProtocols.Name()}: RDP_NEG_FAILURE {failure.FailureCode.Name()} ({failure.FailureCode.Describe()})");
                    return null;
                case RdpNegResponse response:
                    result.Negotiation = new NegotiationAnswer { SelectedProtocol = response.SelectedProtocol, ResponseFlags = response.Flags };
                    SecurityProtocols selected = response.SelectedProtocol;
                    // MS-RDPBCGR §2.2.1.2.1: exactly one protocol, and one that was requested (PROTOCOL_RDP is always possible).
                    if (selected != SecurityProtocols.Rdp
                        && ((selected & (selected - 1)) != 0 || (selected & ~options.RequestedProtocols) != 0))
                    {
                        Set(NlaOutcome.Error, NlaFailureKind.InvalidSelection, $"{Endpoint} selected {selected.Name()}, which is not one of the requested {options.RequestedProtocols.Name()} (protocol violation or tampering)");
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
                Set(NlaOutcome.Error, NlaFailureKind.TlsFailure, $"TLS handshake with {Endpoint} failed ({TlsNames(options.TlsProtocols)} offered): {ex.InnerException?.Message ?? ex.Message}");
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
                    Set(NlaOutcome.Error, NlaFailureKind.TlsFailure, $"{Endpoint} presented no certificate");
                    return null;
                }

                TlsCertificateInfo certificate = TlsCertificateInfo.From(seen);
                result.Certificate = certificate;
                CertificateDecision decision = options.CertificatePolicy.Evaluate(options.Host, options.Port, certificate);
                result.Tls = new TlsSessionInfo(tls.SslProtocol, tls.NegotiatedCipherSuite, certificate, decision);
                if (!decision.Accepted)
                {
                    await tls.DisposeAsync().ConfigureAwait(false);
                    Set(NlaOutcome.Error, NlaFailureKind.CertificateRejected, $"certificate of {Endpoint} rejected, nothing was sent: {decision.Description}");
                    return null;
                }
            }

            return tls;
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
                Set(NlaOutcome.Error, NlaFailureKind.CredSspProtocolError, context.FailureMessage ?? "CredSSP could not start");
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
                Set(NlaOutcome.Error, NlaFailureKind.CredSspProtocolError, $"the server's first TSRequest does not decode: {ex.Message}");
                return;
            }

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

        private async Task AuthenticateAsync(SslStream tls, SecurityProtocols protocol)
        {
            NlaCredentials credentials = options.Credentials!;
            using CredSspClientContext context = CreateContext(out byte[]? ntHash);
            try
            {
                if (_kerberosError is not null && options.Authentication == NlaAuthentication.Kerberos)
                {
                    Set(NlaOutcome.Error, NlaFailureKind.CredSspProtocolError, $"Kerberos: {_kerberosError}");
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
                    pending();
                }

                int read = await reading.ConfigureAwait(false);
                if (read < euar.Length)
                {
                    Set(NlaOutcome.Failure, NlaFailureKind.AccessDenied, $"the server verified the password of {credentials.AccountName}, then closed the connection without the Early User Authorization Result");
                    return;
                }

                EarlyUserAuthorizationResult authorization = EarlyUserAuthorizationResult.Decode(euar);
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
                Package = context.PackageName,
                KerberosFallbackReason = context.KerberosFallbackReason ?? (options.Authentication == NlaAuthentication.Ntlm ? null : _kerberosError),
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
                Set(NlaOutcome.Error, NlaFailureKind.CredSspProtocolError, $"{Endpoint} sent something that is not a TSRequest: {ex.Message}");
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
