namespace RdpNla.Cli.Commands;

/// <summary><c>rdpnla serve</c>: the NLA front door.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        // The options that each set one setting (docs/serve.md); their values override the settings file and the environment.
        var settings = new List<(string Key, Func<ParseResult, object?> Value)>();
        Option<T> Setting<T>(string name, string key, string description)
        {
            var option = new Option<T>(name) { Description = description };
            settings.Add((key, parse => parse.GetValue(option)));
            return option;
        }

        // The repeatable options, each a list setting (Listen:0, Listen:1, ...).
        var lists = new List<(string Key, Option<string[]> Option)>();
        Option<string[]> ListSetting(string name, string key, string description, params string[] aliases)
        {
            var option = new Option<string[]>(name, aliases) { Description = description, AllowMultipleArgumentsPerToken = false };
            lists.Add((key, option));
            return option;
        }

        var listen = ListSetting("--listen", "Listen", "Endpoint to listen on, ADDRESS:PORT or [IPV6]:PORT; repeat for several. Default 127.0.0.1:3389.", "-l");
        var data = EmptyValues.Refuse(Setting<string?>("--data", "DataDirectory", "Data folder (user store, audit log, generated certificate). Default: ./rdpnla."), "give a folder, or leave --data out for ./rdpnla");
        var config = new Option<FileInfo?>("--config") { Description = "JSON settings file; keys as in docs/serve.md (e.g. {\"SecurityLayer\": 2}). Environment variables RDPNLA_<Key> override it, flags override both." };
        var securityLayer = Setting<int?>("--security-layer", "SecurityLayer", "RDP-Tcp SecurityLayer: 0 = Standard RDP Security, 1 = Negotiate, 2 = TLS (default). With NLA required, 1 and 2 both demand CredSSP.");
        var userAuthentication = Setting<int?>("--user-authentication", "UserAuthentication", "RDP-Tcp UserAuthentication: 1 = require Network Level Authentication (default), 0 = do not require it (clients without CredSSP are then offered TLS or RDP and closed: this front door only serves NLA).");
        var allowEncryptionOracle = Setting<int?>("--allow-encryption-oracle", "AllowEncryptionOracle", "CredSSP AllowEncryptionOracle (CVE-2018-0886): 0 = Force Updated Clients (refuse CredSSP clients below version 5), 1 = Mitigated (default), 2 = Vulnerable.");
        var maxVersion = Setting<int?>("--max-credssp-version", "MaxCredSspVersion", "Highest CredSSP version to speak, 2-6 (default 6). 2-4 emulate a server without the May 2018 update (for tests and diagnosis).");
        var requireNtlmMic = new Option<bool>("--require-ntlm-mic")
        {
            Description = "Refuse NTLMv2 clients that send no MIC (MsvAvFlags 0x2). Default: accept them as Windows does; an announced MIC must always verify.",
        };
        var certificate = Setting<string?>("--cert", "Certificate:CertificatePath", "PEM certificate file (with --key). Default: a self-signed certificate generated in the data folder.");
        var key = Setting<string?>("--key", "Certificate:KeyPath", "PEM private key of --cert.");
        var pfx = Setting<string?>("--pfx", "Certificate:PfxPath", "PKCS#12 file with certificate and key (password from RDPNLA_Certificate__PfxPassword).");
        var computerName = Setting<string?>("--computer-name", "ComputerName", "NetBIOS computer name announced in NTLM (default: the host name).");
        var domain = Setting<string?>("--domain", "DomainName", "NetBIOS domain announced in NTLM and accepted as the users' domain (default: the computer name, as a workgroup server).");
        var metricsListen = Setting<string?>("--metrics-listen", "MetricsListen", "Serve Prometheus metrics on ADDRESS:PORT (path /metrics) and the health check (path /health), e.g. 127.0.0.1:9464. Default: off.");
        var otlpEndpoint = Setting<string?>("--otlp-endpoint", "OpenTelemetry:Endpoint", "Export the metrics and the handshake traces with OTLP to this collector, e.g. http://127.0.0.1:4318 (setting OpenTelemetry:Endpoint; OpenTelemetry:Protocol http/protobuf or grpc). Default: off.");
        var portalListen = Setting<string?>("--portal-listen", "Portal:Listen", "Serve the HTTPS self-service portal (password change, authenticator enrolment, connection approval; docs/portal.md) on ADDRESS:PORT with the front door's certificate, e.g. 0.0.0.0:8443. Default: off.");
        var portalAdminGroup = Setting<string?>("--portal-admin-group", "Portal:AdminGroup", "Members of this group (rdpnla groups, or DOMAIN\\group with --ntlm-passthrough winbind) may open the portal's read-only admin page /admin (recent audit rows, live relayed sessions) with their password (and code); setting Portal:AdminGroup. Default: none, no admin page.");
        var trustedProxy = ListSetting("--trusted-proxy", "TrustedProxies", "Address or CIDR of a TCP load balancer that sends a PROXY protocol v1/v2 header; repeat for several. Its connections must start with one.");
        var keytab = Setting<string?>("--keytab", "Kerberos:Keytab", "Accept Kerberos (raw or in SPNEGO, next to NTLM) with the keys of this keytab (setting Kerberos:Keytab; docs/kerberos.md). Default: NTLM only.");
        var servicePrincipal = Setting<string?>("--service-principal", "Kerberos:ServicePrincipal", "Kerberos service principal to accept tickets for, e.g. TERMSRV/host.example.com (setting Kerberos:ServicePrincipal). Default: the keytab's first TERMSRV/ principal.");
        var kerberosRealm = Setting<string?>("--kerberos-realm", "Kerberos:Realm", "Realm whose users map to local accounts of the same name, alice@REALM -> alice (setting Kerberos:Realm). Default: the service principal's realm.");
        var restrictNtlm = new Option<bool>("--restrict-ntlm") { Description = "Refuse every NTLM logon with STATUS_NTLM_BLOCKED, as Windows' \"Restrict NTLM: Incoming NTLM traffic = Deny all accounts\" does; only Kerberos logs on, so --keytab is needed (setting Ntlm:Incoming = Deny; docs/kerberos.md). Default: NTLM allowed." };
        var ntlmPassthrough = Setting<string?>("--ntlm-passthrough", "Directory:NtlmPassthrough", "winbind: users of the host's domain (DOMAIN\\user, user@dns.domain) are verified by a domain controller through winbind; none (default): local users only (setting Directory:NtlmPassthrough; docs/active-directory.md).");
        var allowedGroup = ListSetting("--allowed-group", "Directory:AllowedGroups", "Domain group whose members may log on, DOMAIN\\group or a SID; repeatable, required with --ntlm-passthrough winbind ('DOMAIN\\Domain Users' for every domain user) (setting Directory:AllowedGroups).");
        var winbindRun = Setting<string?>("--winbind-run-dir", "Directory:WinbindRunDirectory", "Folder to bind on /run/samba for the winbind client thread, in its own mount namespace (needs root), when winbind's socket is elsewhere (setting Directory:WinbindRunDirectory).");
        var admissionWait = Setting<string?>("--lockout-admission-wait", "LockoutAdmissionWait", "How long a logon waits for other logons of the same account in progress when they hold the last places under LockoutThreshold, before it is refused as locked out, e.g. 00:00:02 (default; 00:00:00 = do not wait; below Limits:HandshakeTimeout) (setting LockoutAdmissionWait; docs/hardening.md).");
        admissionWait.HelpName = "TIME";
        var admissionWaiters = Setting<int?>("--lockout-admission-waiters", "LockoutAdmissionWaiters", "At most this many logons of one account wait at once (--lockout-admission-wait); a further one is refused as locked out at once. Default 32 (setting LockoutAdmissionWaiters).");
        admissionWaiters.HelpName = "COUNT";
        var store = StoreOption.Create();
        var instanceName = Setting<string?>("--instance-name", "InstanceName", "The name audit rows give this instance, to tell instances sharing one PostgreSQL store apart (default: the host name).");
        instanceName.HelpName = "NAME";
        var logLevel = new Option<LogLevel>("--log-level")
        {
            Description = "Trace, Debug, Information (default), Warning, Error.",
            DefaultValueFactory = _ => LogLevel.Information,
        };

        var command = new Command("serve", "Run the NLA front door: answer RDP, authenticate every user with CredSSP (local users of the store; domain users through winbind and Kerberos, docs/active-directory.md), apply account policy, audit every attempt, relay to the backend. SIGTERM drains; SIGHUP re-reads the settings file and the certificate for new connections (docs/deploy.md).")
        {
            listen, data, config, securityLayer, userAuthentication, allowEncryptionOracle, maxVersion, requireNtlmMic, certificate, key, pfx, computerName, domain, metricsListen, otlpEndpoint, portalListen, portalAdminGroup, trustedProxy, keytab, servicePrincipal, kerberosRealm, restrictNtlm, ntlmPassthrough, allowedGroup, winbindRun, admissionWait, admissionWaiters, store, instanceName, logLevel,
        };

        command.SetAction(async (parse, cancellationToken) =>
        {
            var overrides = new Dictionary<string, string?>();
            void Set(string name, object? value)
            {
                if (value is not null)
                {
                    overrides[name] = Convert.ToString(value, CultureInfo.InvariantCulture);
                }
            }

            foreach ((string listKey, Option<string[]> option) in lists)
            {
                string[] values = parse.GetValue(option) ?? [];
                for (int i = 0; i < values.Length; i++)
                {
                    overrides[$"{listKey}:{i}"] = values[i];
                }
            }

            foreach ((string settingKey, Func<ParseResult, object?> value) in settings)
            {
                Set(settingKey, value(parse));
            }

            if (parse.GetValue(requireNtlmMic))
            {
                Set("RequireNtlmMic", true);
            }

            if (parse.GetValue(restrictNtlm))
            {
                Set("Ntlm:Incoming", nameof(NtlmIncomingPolicy.Deny));
            }

            if (parse.GetValue(store) is { } storeValue)
            {
                try
                {
                    _ = StoreOption.Parse(storeValue, parse.GetValue(data), fromCommandLine: true, StoreOption.Name);
                }
                catch (CliException ex)
                {
                    await Console.Error.WriteLineAsync($"error: {ex.Message}");
                    return ExitCodes.UserError;
                }

                Set("Store:ConnectionString", storeValue);
            }

            return await RunAsync(parse.GetValue(config), overrides, parse.GetValue(logLevel), cancellationToken);
        });
        return command;
    }

    /// <summary>
    /// Binds the settings (file, <c>RDPNLA_</c> environment variables, flags) through the options pipeline and validates
    /// them as the host's start does (<see cref="ServeOptionsServiceCollectionExtensions.AddRdpNlaServeOptions"/>).
    /// </summary>
    internal static bool TryBindOptions(FileInfo? configFile, IDictionary<string, string?> overrides, out FrontDoorOptions options, out AccountPolicyOptions policy, out IReadOnlyList<string> errors)
    {
        var builder = new ConfigurationBuilder();
        IConfiguration? file = null;
        if (configFile is not null)
        {
            builder.AddJsonFile(configFile.FullName, optional: false);
            file = new ConfigurationBuilder().AddJsonFile(configFile.FullName, optional: false).Build();
        }

        IConfiguration configuration = builder
            .AddEnvironmentVariables("RDPNLA_")
            .AddInMemoryCollection(overrides)
            .Build();

        // A misspelt name is reported only from the settings file: other RDPNLA_ variables (RDPNLA_GATEWAY_KEY) are no settings.
        IReadOnlyList<string> shape = ServeSettingsShape.Check(configuration, path => file?.GetSection(path).Exists() == true);
        if (shape.Count > 0)
        {
            options = new FrontDoorOptions();
            policy = new AccountPolicyOptions();
            errors = [.. shape.Select(ServeSettingHints.WithOptions)];
            return false;
        }

        using ServiceProvider services = new ServiceCollection().AddRdpNlaServeOptions(configuration).BuildServiceProvider();
        bool valid = services.TryGetServeOptions(out options, out policy, out errors);
        errors = [.. errors.Select(ServeSettingHints.WithOptions)];
        return valid;
    }

    private static async Task<int> RunAsync(FileInfo? configFile, Dictionary<string, string?> overrides, LogLevel logLevel, CancellationToken cancellationToken)
    {
        if (configFile is { Exists: false })
        {
            await Console.Error.WriteLineAsync($"error: the settings file '{configFile.FullName}' does not exist; check the --config path.");
            return ExitCodes.UserError;
        }

        FrontDoorOptions options;
        AccountPolicyOptions policy;
        try
        {
            if (!TryBindOptions(configFile, overrides, out options, out policy, out IReadOnlyList<string> errors))
            {
                foreach (string error in errors)
                {
                    await Console.Error.WriteLineAsync($"error: {error}");
                }

                return ExitCodes.UserError;
            }
        }
        catch (Exception ex) when (ex is FormatException or InvalidDataException or IOException)
        {
            // The JSON reader's own message says where: "... LineNumber: 0 | BytePositionInLine: 21."
            await Console.Error.WriteLineAsync($"error: cannot read the settings file: {SettingsFileProblem(ex)}");
            return ExitCodes.UserError;
        }

        using ILoggerFactory loggerFactory = LoggerFactory.Create(builder => builder
            .SetMinimumLevel(logLevel)
            .AddPrintableSimpleConsole(console =>
            {
                console.IncludeScopes = true;
                console.SingleLine = true;
                console.TimestampFormat = "yyyy-MM-ddTHH:mm:ss.fffZ ";
                console.UseUtcTimestamp = true;
            }));

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        // Under systemd with Type=notify (deploy/rdpnla.service): READY=1 once listening, STOPPING=1 when the drain starts.
        using SystemdNotifier? notifier = SystemdNotifier.FromEnvironment();
        using var reloadRequests = new SemaphoreSlim(0);

        // SIGTERM (systemd, docker stop) and Ctrl+C stop accepting and drain; CliApplication leaves both to us.
        void Drain(PosixSignalContext context)
        {
            context.Cancel = true;
            if (!stop.IsCancellationRequested)
            {
                notifier?.Stopping("Draining: no new connections; running sessions get Gateway:DrainTimeout");
            }

            stop.Cancel();
        }

        // SIGHUP (systemctl reload): re-read the settings file and the certificate files.
        void RequestReload(PosixSignalContext context)
        {
            context.Cancel = true;
            reloadRequests.Release();
        }

        using PosixSignalRegistration sigterm = PosixSignalRegistration.Create(PosixSignal.SIGTERM, Drain);
        using PosixSignalRegistration sigint = PosixSignalRegistration.Create(PosixSignal.SIGINT, Drain);
        using PosixSignalRegistration sighup = PosixSignalRegistration.Create(PosixSignal.SIGHUP, RequestReload);
        using OpenTelemetryExport? telemetry = OpenTelemetryExport.Start(options.OpenTelemetry);

        FrontDoorHost host;
        try
        {
            host = await FrontDoorHost.StartAsync(options, policy, loggerFactory, TimeProvider.System, stop.Token);
        }
        catch (ListenFailedException ex)
        {
            await Console.Error.WriteLineAsync(ListenFailure(ex));
            return ExitCodes.Unavailable;
        }
        catch (StoreUnavailableException ex)
        {
            await Console.Error.WriteLineAsync($"error: {ex.Message}; start PostgreSQL or correct --store / Store:ConnectionString.");
            return ExitCodes.Unavailable;
        }
        catch (NpgsqlException ex)
        {
            await Console.Error.WriteLineAsync($"error: PostgreSQL failure at start: {StoreUnavailableException.Describe(ex)}; check the server and the --store connection string.");
            return ExitCodes.Unavailable;
        }
        catch (InvalidOperationException ex)
        {
            await Console.Error.WriteLineAsync($"error: {ServeSettingHints.WithOptions(ex.Message)}");
            return ExitCodes.UserError;
        }
        catch (Exception ex) when (ex is Microsoft.Data.Sqlite.SqliteException or IOException or UnauthorizedAccessException)
        {
            await Console.Error.WriteLineAsync($"error: cannot use the data folder '{options.DataDirectory}': {ex.Message}; check its permissions or choose another with --data.");
            return ExitCodes.DataError;
        }

        await using (host)
        {
            string listening = "Listening on " + string.Join(", ", host.Server.LocalEndPoints);
            notifier?.Ready(listening);
            while (true)
            {
                try
                {
                    await reloadRequests.WaitAsync(stop.Token);
                }
                catch (OperationCanceledException)
                {
                    break; // SIGTERM or Ctrl+C: drain below.
                }

                notifier?.Reloading();
                Reload(host, configFile, overrides);
                notifier?.Ready(listening);
            }
        }

        return ExitCodes.Success;
    }

    /// <summary>
    /// Why the settings file could not be read, on one line: the configuration's message and the JSON reader's, which
    /// says where ("LineNumber: 0 | BytePositionInLine: 21", both counted from 0).
    /// </summary>
    private static string SettingsFileProblem(Exception exception)
    {
        string innermost = exception.GetBaseException().Message;
        string text = ReferenceEquals(exception.GetBaseException(), exception) ? exception.Message : $"{exception.Message} {innermost}";
        return text.ReplaceLineEndings(" ");
    }

    /// <summary>
    /// One line for an endpoint that cannot be bound: which one (flag and setting), why, and what to do about it. Exit
    /// code <see cref="ExitCodes.Unavailable"/> (docs/serve.md#exit-codes).
    /// </summary>
    internal static string ListenFailure(ListenFailedException failure)
    {
        string flag = failure.Setting switch
        {
            "MetricsListen" => "--metrics-listen",
            "Portal:Listen" => "--portal-listen",
            _ => "--listen",
        };
        string endpoint = ListenFailedException.Format(failure.EndPoint);
        string fix = failure.Error switch
        {
            SocketError.AddressAlreadyInUse => $"another program listens there (ss -ltnp 'sport = :{failure.EndPoint.Port}' names it): stop it, or choose another port with {flag}",
            SocketError.AccessDenied => $"ports below 1024 need root or the CAP_NET_BIND_SERVICE capability (the systemd unit of docs/deploy.md grants it), or choose a port above 1023 with {flag}",
            SocketError.AddressNotAvailable => $"choose one of this machine's addresses ('ip -brief address' lists them), or 0.0.0.0 for all, with {flag}",
            _ => $"choose another address or port with {flag}",
        };
        return $"{UsageErrors.Prefix}{failure.Message}; {fix}.";
    }

    /// <summary>Re-reads the settings (file, environment, the flags given at start) and hands them to the host.</summary>
    private static void Reload(FrontDoorHost host, FileInfo? configFile, Dictionary<string, string?> overrides)
    {
        if (configFile is not null && !File.Exists(configFile.FullName))
        {
            host.RefuseReload($"the settings file '{configFile.FullName}' does not exist");
            return;
        }

        try
        {
            if (TryBindOptions(configFile, overrides, out FrontDoorOptions options, out AccountPolicyOptions policy, out IReadOnlyList<string> errors))
            {
                host.Reload(options, policy);
            }
            else
            {
                host.RefuseReload(string.Join(" ", errors));
            }
        }
        catch (Exception ex) when (ex is FormatException or InvalidDataException or IOException)
        {
            host.RefuseReload($"cannot read the settings file: {SettingsFileProblem(ex)}");
        }
    }
}
