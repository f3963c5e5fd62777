using System.CommandLine;
using System.Globalization;
using System.Net.Sockets;
using System.Runtime.InteropServices;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Npgsql;
using RdpNla.Cli.Interaction;
using RdpNla.Server.Accounts;
using RdpNla.Server.FrontDoor;
using RdpNla.Server.Hosting;
using RdpNla.Server.Storage;

namespace RdpNla.Cli.Commands;

/// <summary><c>rdpnla serve</c>: the NLA front door.</summary>
internal static class ServeCommand
{
    public static Command Create()
    {
        var listen = new Option<string[]>("--listen", "-l")
        {
            Description = "Endpoint to listen on, ADDRESS:PORT or [IPV6]:PORT; repeat for several. Default 127.0.0.1:3389.",
            AllowMultipleArgumentsPerToken = false,
        };
        var data = new Option<string?>("--data") { Description = "Data folder (user store, audit log, generated certificate). Default: ./rdpnla." };
        var config = new Option<FileInfo?>("--config") { Description = "JSON settings file; keys as in docs/serve.md (e.g. {\"SecurityLayer\": 2}). Environment variables RDPNLA_<Key> override it, flags override both." };
        var securityLayer = new Option<int?>("--security-layer")
        {
            Description = "RDP-Tcp SecurityLayer: 0 = Standard RDP Security, 1 = Negotiate, 2 = TLS (default). With NLA required, 1 and 2 both demand CredSSP.",
        };
        var userAuthentication = new Option<int?>("--user-authentication")
        {
            Description = "RDP-Tcp UserAuthentication: 1 = require Network Level Authentication (default), 0 = do not require it (clients without CredSSP are then offered TLS or RDP and closed: this front door only serves NLA).",
        };
        var allowEncryptionOracle = new Option<int?>("--allow-encryption-oracle")
        {
            Description = "CredSSP AllowEncryptionOracle (CVE-2018-0886): 0 = Force Updated Clients (refuse CredSSP clients below version 5), 1 = Mitigated (default), 2 = Vulnerable.",
        };
        var maxVersion = new Option<int?>("--max-credssp-version")
        {
            Description = "Highest CredSSP version to speak, 2-6 (default 6). 2-4 emulate a server without the May 2018 update (for tests and diagnosis).",
        };
        var requireNtlmMic = new Option<bool>("--require-ntlm-mic")
        {
            Description = "Refuse NTLMv2 clients that send no MIC (MsvAvFlags 0x2). Default: accept them as Windows does; an announced MIC must always verify.",
        };
        var certificate = new Option<string?>("--cert") { Description = "PEM certificate file (with --key). Default: a self-signed certificate generated in the data folder." };
        var key = new Option<string?>("--key") { Description = "PEM private key of --cert." };
        var pfx = new Option<string?>("--pfx") { Description = "PKCS#12 file with certificate and key (password from RDPNLA_Certificate__PfxPassword)." };
        var computerName = new Option<string?>("--computer-name") { Description = "NetBIOS computer name announced in NTLM (default: the host name)." };
        var domain = new Option<string?>("--domain") { Description = "NetBIOS domain announced in NTLM and accepted as the users' domain (default: the computer name, as a workgroup server)." };
        var metricsListen = new Option<string?>("--metrics-listen") { Description = "Serve Prometheus metrics on ADDRESS:PORT (path /metrics) and the health check (path /health), e.g. 127.0.0.1:9464. Default: off." };
        var otlpEndpoint = new Option<string?>("--otlp-endpoint") { Description = "Export the metrics and the handshake traces with OTLP to this collector, e.g. http://127.0.0.1:4318 (setting OpenTelemetry:Endpoint; OpenTelemetry:Protocol http/protobuf or grpc). Default: off." };
        var portalListen = new Option<string?>("--portal-listen") { Description = "Serve the HTTPS self-service portal (password change, authenticator enrolment, connection approval; docs/portal.md) on ADDRESS:PORT with the front door's certificate, e.g. 0.0.0.0:8443. Default: off." };
        var trustedProxy = new Option<string[]>("--trusted-proxy")
        {
            Description = "Address or CIDR of a TCP load balancer that sends a PROXY protocol v1/v2 header; repeat for several. Its connections must start with one.",
            AllowMultipleArgumentsPerToken = false,
        };
        var keytab = new Option<string?>("--keytab") { Description = "Accept Kerberos (raw or in SPNEGO, next to NTLM) with the keys of this keytab (setting Kerberos:Keytab; docs/kerberos.md). Default: NTLM only." };
        var servicePrincipal = new Option<string?>("--service-principal") { Description = "Kerberos service principal to accept tickets for, e.g. TERMSRV/host.example.com (setting Kerberos:ServicePrincipal). Default: the keytab's first TERMSRV/ principal." };
        var kerberosRealm = new Option<string?>("--kerberos-realm") { Description = "Realm whose users map to local accounts of the same name, alice@REALM -> alice (setting Kerberos:Realm). Default: the service principal's realm." };
        var ntlmPassthrough = new Option<string?>("--ntlm-passthrough") { Description = "winbind: users of the host's domain (DOMAIN\\user, user@dns.domain) are verified by a domain controller through winbind; none (default): local users only (setting Directory:NtlmPassthrough; docs/active-directory.md)." };
        var allowedGroup = new Option<string[]>("--allowed-group")
        {
            Description = "Domain group whose members may log on, DOMAIN\\group or a SID; repeatable, required with --ntlm-passthrough winbind ('DOMAIN\\Domain Users' for every domain user) (setting Directory:AllowedGroups).",
            AllowMultipleArgumentsPerToken = false,
        };
        var winbindRun = new Option<string?>("--winbind-run-dir") { Description = "Folder to bind on /run/samba for the winbind client thread, in its own mount namespace (needs root), when winbind's socket is elsewhere (setting Directory:WinbindRunDirectory)." };
        var store = StoreOption.Create();
        var instanceName = new Option<string?>("--instance-name")
        {
            Description = "The name audit rows give this instance, to tell instances sharing one PostgreSQL store apart (default: the host name).",
            HelpName = "NAME",
        };
        var logLevel = new Option<LogLevel>("--log-level")
        {
            Description = "Trace, Debug, Information (default), Warning, Error.",
            DefaultValueFactory = _ => LogLevel.Information,
        };

        var command = new Command("serve", "Run the NLA front door: answer RDP, authenticate every user with CredSSP against the local user store, apply account policy, audit every attempt. SIGTERM drains; SIGHUP re-reads the settings file and the certificate for new connections (docs/deploy.md).")
        {
            listen, data, config, securityLayer, userAuthentication, allowEncryptionOracle, maxVersion, requireNtlmMic, certificate, key, pfx, computerName, domain, metricsListen, otlpEndpoint, portalListen, trustedProxy, keytab, servicePrincipal, kerberosRealm, ntlmPassthrough, allowedGroup, winbindRun, store, instanceName, logLevel,
        };

        command.SetAction(async (parse, cancellationToken) =>
        {
            var overrides = new Dictionary<string, string?>();
            string[] endpoints = parse.GetValue(listen) ?? [];
            for (int i = 0; i < endpoints.Length; i++)
            {
                overrides[$"Listen:{i}"] = endpoints[i];
            }

            void Set(string name, object? value)
            {
                if (value is not null)
                {
                    overrides[name] = Convert.ToString(value, CultureInfo.InvariantCulture);
                }
            }

            string[] proxies = parse.GetValue(trustedProxy) ?? [];
            for (int i = 0; i < proxies.Length; i++)
            {
                overrides[$"TrustedProxies:{i}"] = proxies[i];
            }

            Set("MetricsListen", parse.GetValue(metricsListen));
            Set("OpenTelemetry:Endpoint", parse.GetValue(otlpEndpoint));
            Set("Portal:Listen", parse.GetValue(portalListen));
            Set("DataDirectory", parse.GetValue(data));
            Set("SecurityLayer", parse.GetValue(securityLayer));
            Set("UserAuthentication", parse.GetValue(userAuthentication));
            Set("AllowEncryptionOracle", parse.GetValue(allowEncryptionOracle));
            Set("MaxCredSspVersion", parse.GetValue(maxVersion));
            if (parse.GetValue(requireNtlmMic))
            {
                Set("RequireNtlmMic", true);
            }

            Set("Certificate:CertificatePath", parse.GetValue(certificate));
            Set("Certificate:KeyPath", parse.GetValue(key));
            Set("Certificate:PfxPath", parse.GetValue(pfx));
            Set("ComputerName", parse.GetValue(computerName));
            Set("DomainName", parse.GetValue(domain));
            Set("Kerberos:Keytab", parse.GetValue(keytab));
            Set("Kerberos:ServicePrincipal", parse.GetValue(servicePrincipal));
            Set("Kerberos:Realm", parse.GetValue(kerberosRealm));
            Set("Directory:NtlmPassthrough", parse.GetValue(ntlmPassthrough));
            Set("Directory:WinbindRunDirectory", parse.GetValue(winbindRun));
            string[] groups = parse.GetValue(allowedGroup) ?? [];
            for (int i = 0; i < groups.Length; i++)
            {
                overrides[$"Directory:AllowedGroups:{i}"] = groups[i];
            }
            Set("InstanceName", parse.GetValue(instanceName));
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
        if (configFile is not null)
        {
            builder.AddJsonFile(configFile.FullName, optional: false);
        }

        IConfiguration configuration = builder
            .AddEnvironmentVariables("RDPNLA_")
            .AddInMemoryCollection(overrides)
            .Build();
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
            await Console.Error.WriteLineAsync($"error: cannot read the settings file: {ex.Message}");
            return ExitCodes.UserError;
        }

        using ILoggerFactory loggerFactory = LoggerFactory.Create(builder => builder
            .SetMinimumLevel(logLevel)
            .AddSimpleConsole(console =>
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
        catch (Exception ex) when (ex is SocketException or System.Net.HttpListenerException)
        {
            await Console.Error.WriteLineAsync($"error: cannot listen: {ex.Message}; choose another --listen address or port, or stop the program that uses it.");
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
            if (TryBindOptions(configFile, overrides, out FrontDoorOptions options, out _, out IReadOnlyList<string> errors))
            {
                host.Reload(options);
            }
            else
            {
                host.RefuseReload(string.Join(" ", errors));
            }
        }
        catch (Exception ex) when (ex is FormatException or InvalidDataException or IOException)
        {
            host.RefuseReload($"cannot read the settings file: {ex.Message} {ex.InnerException?.Message}".TrimEnd());
        }
    }
}
