namespace RdpNla.Cli.Commands;

/// <summary>Exit codes of <c>rdpnla login</c> (docs/login.md). 0 only when the server proved the password.</summary>
public static class LoginExitCodes
{
    public const int Success = 0;

    /// <summary>Usage error (as every command).</summary>
    public const int UsageError = ExitCodes.UserError;

    /// <summary>
    /// The known-hosts file cannot be used (a folder, unreadable, unwritable when a new host is recorded, or no home
    /// folder for the default one): a local problem, as a data directory that cannot be used; nothing was sent.
    /// </summary>
    public const int KnownHostsUnusable = ExitCodes.DataError;

    /// <summary>The server refused the logon with an NTSTATUS errorCode.</summary>
    public const int LogonRefused = 10;

    /// <summary>The server closed the connection after the NTLM AUTHENTICATE without a reason.</summary>
    public const int RejectedWithoutReason = 11;

    /// <summary>The password is right but the account may not log on remotely (EUAR denial or close after authInfo).</summary>
    public const int AccessDenied = 12;

    /// <summary>The server does not require NLA: the password cannot be proven.</summary>
    public const int Indeterminate = 13;

    /// <summary>
    /// The server could not check the logon: its errorCode says no domain controller answered or its account database
    /// failed (<see cref="NtStatusText.IsServerFault"/>), which the client reports as no verdict (<see cref="NlaOutcome.Error"/>).
    /// Try again later.
    /// </summary>
    public const int LogonNotChecked = 14;

    public const int NameNotResolved = 20;

    public const int ConnectionRefused = 21;

    public const int NoAnswer = 22;

    /// <summary>Not an RDP server: the answer is not an X.224 Connection Confirm.</summary>
    public const int NotRdp = 23;

    /// <summary>RDP_NEG_FAILURE, or a selected protocol that was not requested.</summary>
    public const int NegotiationFailure = 24;

    public const int TlsFailure = 25;

    public const int CertificateRejected = 26;

    public const int CredSspProtocolError = 27;

    /// <summary>The server's CredSSP version is below 5 and --allow-encryption-oracle is 0 or 1.</summary>
    public const int CredSspVersionNotPermitted = 28;

    /// <summary>The CredSSP public-key binding failed: a man in the middle.</summary>
    public const int PublicKeyMismatch = 29;

    public const int NetworkError = 30;

    /// <summary>The server closed the connection before any verdict (before answering X.224, or after the NTLM NEGOTIATE).</summary>
    public const int ConnectionClosed = 31;

    public static int For(NlaClientResult result)
    {
        ArgumentNullException.ThrowIfNull(result);
        return result.Outcome == NlaOutcome.Success ? Success : result.FailureKind switch
        {
            NlaFailureKind.LogonRefused when result.Outcome == NlaOutcome.Error => LogonNotChecked,
            NlaFailureKind.LogonRefused => LogonRefused,
            NlaFailureKind.RejectedWithoutReason => RejectedWithoutReason,
            NlaFailureKind.AccessDenied => AccessDenied,
            NlaFailureKind.NlaNotOffered => Indeterminate,
            NlaFailureKind.NameNotResolved => NameNotResolved,
            NlaFailureKind.ConnectionRefused => ConnectionRefused,
            NlaFailureKind.NoAnswer => NoAnswer,
            NlaFailureKind.NotRdp => NotRdp,
            NlaFailureKind.ConnectionClosed => ConnectionClosed,
            NlaFailureKind.NegotiationFailure or NlaFailureKind.InvalidSelection => NegotiationFailure,
            NlaFailureKind.TlsFailure => TlsFailure,
            NlaFailureKind.CertificateRejected => CertificateRejected,
            NlaFailureKind.CredSspVersionNotPermitted => CredSspVersionNotPermitted,
            NlaFailureKind.PublicKeyMismatch => PublicKeyMismatch,
            NlaFailureKind.CredSspProtocolError => CredSspProtocolError,
            _ => NetworkError,
        };
    }
}

/// <summary><c>rdpnla login</c>: authenticate over NLA without opening a session and say exactly what happened.</summary>
internal static class LoginCommand
{
    public static Command Create()
    {
        var target = new Argument<string>("HOST[:PORT]") { Description = "The RDP server (port 3389 by default; [IPV6]:PORT for IPv6)." };
        var user = new Option<string>("--user", "-u") { Description = "The user, as USER or DOMAIN\\USER (with --auth kerberos: default the credential cache's principal).", HelpName = "[DOMAIN\\]USER" };
        var domain = new Option<string?>("--domain", "-d") { Description = "The domain (instead of DOMAIN\\ in --user).", HelpName = "DOMAIN" };
        var password = new PasswordOptions();
        var timeout = new Option<double>("--timeout") { Description = "Seconds for the whole attempt (default 10).", DefaultValueFactory = _ => 10, HelpName = "S" };
        var maxVersion = new Option<int>("--max-credssp-version") { Description = "CredSSP version to announce, 2-6 (default 6).", DefaultValueFactory = _ => CredSspVersion.Latest, HelpName = "N" };
        var oracle = new Option<int>("--allow-encryption-oracle")
        {
            Description = "AllowEncryptionOracle as a client: 0 or 1 (default, Mitigated) refuse a server below CredSSP version 5 (CVE-2018-0886), 2 (Vulnerable) accepts it.",
            DefaultValueFactory = _ => (int)EncryptionOraclePolicy.Mitigated,
            HelpName = "0|1|2",
        };
        var json = new Option<bool>("--json") { Description = "Print one JSON object (result, ntstatus, and every observation)." };
        var auth = KerberosLogin.AuthOption();
        var spn = KerberosLogin.SpnOption();
        var certificate = new ClientCertificateOptions();

        var command = new Command("login", "Authenticate with NLA (CredSSP) without opening a session, and report exactly what the server answered. Exit code 0 only when the server proved the password.")
        {
            target, user, domain, timeout, maxVersion, oracle, json, auth, spn,
        };
        password.AddTo(command);
        foreach (Option option in certificate.All)
        {
            command.Options.Add(option);
        }

        command.SetAction((parse, cancellationToken) => DataDirectoryOption.RunAsync(parse, async output =>
        {
            TextWriter error = parse.InvocationConfiguration.Error;
            if (!ClientCommandSupport.TryParseTarget(parse.GetValue(target)!, 3389, out string host, out int port, out string? problem))
            {
                throw new CliException($"bad target: {problem}");
            }

            NlaAuthentication authentication = KerberosLogin.Parse(parse.GetValue(auth));
            string? servicePrincipal = parse.GetValue(spn);
            string? givenUser = parse.GetValue(user);
            KerberosLogin.Validate(authentication, host, servicePrincipal, givenUser);
            double seconds = parse.GetValue(timeout);
            if (seconds is <= 0 or > 3600 || double.IsNaN(seconds))
            {
                throw new CliException("--timeout must be more than 0 and at most 3600 seconds");
            }

            int version = parse.GetValue(maxVersion);
            if (version is < CredSspVersion.Minimum or > CredSspVersion.Latest)
            {
                throw new CliException("--max-credssp-version must be 2, 3, 4, 5 or 6");
            }

            int oracleValue = parse.GetValue(oracle);
            if (oracleValue is < 0 or > 2)
            {
                throw new CliException("--allow-encryption-oracle must be 0, 1 or 2");
            }

            // The password source is checked before anything else is printed (one clear line when two are given).
            PasswordSource? source = authentication == NlaAuthentication.Kerberos && !password.HasSource(parse) ? null : password.GetSource(parse, CliConsole.Current);
            ServerCertificatePolicy policy = certificate.GetPolicy(parse, error);
            NlaCredentials credentials;
            if (source is null)
            {
                credentials = KerberosLogin.FromCredentialCache();
            }
            else
            {
                (string givenName, string givenDomain) = SplitUser(givenUser ?? throw new CliException("a password for Kerberos needs --user USER@REALM"), parse.GetValue(domain));
                credentials = PasswordInput.ReadCredentials(CliConsole.Current, error, source.Value, givenName, givenDomain, $"rdpnla login {parse.GetValue(target)} -u {givenUser}");
            }

            string userName = credentials.UserName;
            NlaClientResult result;
            using (credentials)
            {
                try
                {
                    result = await NlaClient.RunAsync(
                    new NlaClientOptions
                    {
                        Host = host,
                        Port = port,
                        Timeout = TimeSpan.FromSeconds(seconds),
                        TimeProvider = CliConsole.Current.Time,
                        Cookie = userName.Length > 9 ? userName[..9] : userName,
                        Credentials = credentials,
                        CertificatePolicy = policy,
                        MaxCredSspVersion = version,
                        AllowEncryptionOracle = (EncryptionOraclePolicy)oracleValue,
                        StopAfter = NlaClientStage.Authentication,
                        AuthorizationPending = () => error.WriteLine($"password verified; waiting for approval (the server holds the connection until it is approved, e.g. on its portal's /approve page; giving up after --timeout {seconds:0.###} s)"),
                        Authentication = authentication,
                        ServicePrincipal = servicePrincipal,
                    },
                    cancellationToken);
                }
                catch (KnownHostsFileException ex)
                {
                    throw ClientCertificateOptions.KnownHostsError(ex);
                }
            }

            int exitCode = LoginExitCodes.For(result);
            if (parse.GetValue(json))
            {
                await output.WriteLineAsync(ToJson(result, credentials.AccountName, exitCode).ToJsonString());
            }
            else
            {
                // The text quotes what the server sent (its NetBIOS names, certificate subject, errors): control
                // characters are escaped before they reach the terminal.
                using var text = new StringWriter(CultureInfo.InvariantCulture);
                await WriteTextAsync(text, result, credentials.AccountName);
                await output.WriteAsync(PrintableText.EscapeExceptLineBreaks(text.ToString()));
            }

            return exitCode;
        }));
        return command;
    }

    internal static (string User, string Domain) SplitUser(string user, string? domain)
    {
        string userName = user;
        string domainName = domain ?? "";
        int slash = user.IndexOf('\\', StringComparison.Ordinal);
        if (slash >= 0)
        {
            string given = user[..slash];
            userName = user[(slash + 1)..];
            if (domain is not null && !string.Equals(domain, given, StringComparison.OrdinalIgnoreCase))
            {
                throw new CliException($"--user names domain '{given}' and --domain names '{domain}'; give the domain once");
            }

            domainName = given;
        }

        if (userName.Length == 0)
        {
            throw new CliException("--user: empty user name");
        }

        return (userName, domainName);
    }

    /// <summary>Why Kerberos was not used, when NTLM ran instead of it.</summary>
    private static string? KerberosFallback(CredSspInfo credSsp) => credSsp.Package == "Kerberos" ? null : credSsp.Kerberos?.Text;

    private static string ResultWord(NlaOutcome outcome) => outcome.ToString().ToLowerInvariant();

    private static async Task WriteTextAsync(TextWriter output, NlaClientResult result, string account)
    {
        await output.WriteLineAsync($"result: {ResultWord(result.Outcome)}");
        if (result.CredSsp?.ErrorCode is { } status)
        {
            await output.WriteLineAsync($"ntstatus: {NtStatusText.Name(status)} (0x{(uint)status:X8}): {NtStatusText.Describe(status)}");
        }

        await output.WriteLineAsync(ClientResultText.Describe(result));
        await output.WriteLineAsync($"account: {account}");
        string target = ClientCommandSupport.FormatTarget(result.Host, result.Port);
        await output.WriteLineAsync($"server: {target}{(result.RemoteEndPoint is { } ep && ep.ToString() != target ? $" ({ep})" : "")}");
        if (result.Negotiation is { } negotiation)
        {
            await output.WriteLineAsync($"negotiation: requested {result.RequestedProtocols.Name()}, answer {negotiation}");
        }

        if (result.Tls is { } tls)
        {
            await output.WriteLineAsync($"tls: {NlaClient.TlsName(tls.Protocol)}, {tls.CipherSuite}");
        }

        if (result.Certificate is { } certificate)
        {
            await output.WriteLineAsync($"certificate: {certificate.Subject}, SHA-256 {certificate.Sha256Fingerprint}{(result.Tls is { } t ? $" ({ClientResultText.Decision(result, t.CertificateDecision)})" : "")}");
        }

        if (result.CredSsp is { ServerVersion: > 0 } credSsp)
        {
            await output.WriteLineAsync($"credssp: server version {credSsp.ServerVersion}, client version {credSsp.ClientVersion}, package {credSsp.Package}");
            if (KerberosFallback(credSsp) is { } fallback)
            {
                await output.WriteLineAsync($"kerberos: not used ({fallback})");
            }

            if (credSsp.Ntlm is { } ntlm)
            {
                await output.WriteLineAsync($"ntlm: {ClientCommandSupport.NtlmText(ntlm)}");
            }
        }

        if (result.EarlyAuthorization is { } euar)
        {
            await output.WriteLineAsync($"early user authorization: {euar.Name}");
        }
    }

    internal static JsonObject ToJson(NlaClientResult result, string account, int exitCode)
    {
        NtStatus? status = result.CredSsp?.ErrorCode;
        return new JsonObject
        {
            ["result"] = ResultWord(result.Outcome),
            ["ntstatus"] = status is { } s ? NtStatusText.Name(s) : null,
            ["ntstatus_code"] = status is { } c ? $"0x{(uint)c:X8}" : null,
            ["ntstatus_text"] = status is { } d ? NtStatusText.Describe(d) : null,
            ["failure_kind"] = ClientCommandSupport.SnakeCase(result.FailureKind.ToString()),
            ["phase"] = ClientCommandSupport.SnakeCase(result.Phase.ToString()),
            ["message"] = ClientResultText.Describe(result),
            ["exit_code"] = exitCode,
            ["target"] = ClientCommandSupport.FormatTarget(result.Host, result.Port),
            ["address"] = ClientCommandSupport.EndPointText(result.RemoteEndPoint),
            ["account"] = account,
            ["requested_protocols"] = result.RequestedProtocols.Name(),
            ["negotiation"] = result.Negotiation is { } n ? new JsonObject
            {
                ["answer"] = n.ToString(),
                ["selected_protocol"] = n.SelectedProtocol?.Name(),
                ["failure_code"] = n.FailureCode?.Name(),
                ["legacy"] = n.Legacy,
            } : null,
            ["tls"] = result.Tls is { } tls ? new JsonObject
            {
                ["version"] = NlaClient.TlsName(tls.Protocol),
                ["cipher_suite"] = tls.CipherSuite.ToString(),
                ["certificate_check"] = ClientResultText.Decision(result, tls.CertificateDecision),
                ["certificate_accepted"] = tls.CertificateDecision.Accepted,
            } : null,
            ["certificate"] = ClientCommandSupport.CertificateJson(result.Certificate),
            ["credssp"] = result.CredSsp is { } credSsp ? new JsonObject
            {
                ["server_version"] = credSsp.ServerVersion == 0 ? null : credSsp.ServerVersion,
                ["client_version"] = credSsp.ClientVersion,
                ["server_binding_verified"] = credSsp.ServerBindingVerified,
                ["credentials_sent"] = credSsp.CredentialsSent,
                ["package"] = credSsp.Package,
                ["kerberos_fallback"] = KerberosFallback(credSsp),
                ["ntlm"] = ClientCommandSupport.NtlmJson(credSsp.Ntlm),
            } : null,
            ["early_user_authorization"] = result.EarlyAuthorization?.Name,
            ["elapsed_ms"] = Math.Round(result.Elapsed.TotalMilliseconds, 1),
        };
    }
}
