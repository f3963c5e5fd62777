namespace RdpNla.Cli.Commands;

/// <summary>
/// <c>rdpnla bench</c>: a closed-loop NLA load generator (full handshakes, handshakes/s, latency percentiles, errors by
/// kind), plus idle and slowloris connection modes for resilience measurements against a loopback server.
/// </summary>
internal static partial class BenchCommand
{
    public static Command Create()
    {
        var target = new Argument<string>("HOST[:PORT]") { Description = "The RDP server (port 3389 by default)." };
        var user = new Option<string?>("--user", "-u") { Description = "The user, as USER or DOMAIN\\USER (needed when --connections is above 0).", HelpName = "[DOMAIN\\]USER" };
        var domain = new Option<string?>("--domain", "-d") { Description = "The domain (instead of DOMAIN\\ in --user).", HelpName = "DOMAIN" };
        var password = new PasswordOptions("with --connections above 0");
        var connections = new Option<int?>("--connections", "-c") { Description = "Closed-loop workers, each running full NLA handshakes back to back (default 1; 0 with --idle/--slowloris only).", HelpName = "N" };
        var duration = new Option<double>("--duration") { Description = "Seconds the run lasts (default 10, at most 3600).", DefaultValueFactory = _ => 10, HelpName = "S" };
        var count = new Option<long?>("--count", "-n") { Description = "Stop after this many handshakes (the run still ends at --duration).", HelpName = "N" };
        var idle = new Option<int>("--idle") { Description = "Also hold N connections that send nothing (loopback targets only), reopening those the server closes.", HelpName = "N" };
        var slowloris = new Option<int>("--slowloris") { Description = "Also hold N connections that trickle one byte per --slowloris-interval (loopback targets only), reopening those the server closes.", HelpName = "N" };
        var slowInterval = new Option<double>("--slowloris-interval") { Description = "Seconds between two slowloris bytes (default 1).", DefaultValueFactory = _ => 1, HelpName = "S" };
        var noReconnect = new Option<bool>("--no-reconnect") { Description = "Do not reopen idle or slowloris connections the server closes." };
        var sources = new Option<int>("--sources") { Description = "Spread the connections over N loopback source addresses 127.x.y.z (each /24 gets as few as possible; loopback targets only).", HelpName = "N" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds allowed for one handshake or connect (default 10).", DefaultValueFactory = _ => 10, HelpName = "S" };
        var tls = new Option<string>("--tls") { Description = "TLS versions to offer: 1.2, 1.3 or any (default any: the server picks, normally 1.3).", DefaultValueFactory = _ => "any", HelpName = "1.2|1.3|any" };
        var json = new Option<bool>("--json") { Description = "Print one JSON object with every figure." };
        var auth = KerberosLogin.AuthOption();
        var spn = KerberosLogin.SpnOption();

        var command = new Command("bench", "Load-test an NLA server: closed-loop full handshakes (X.224, TLS, CredSSP; success only when the server proved the password) with handshakes/s and latency percentiles; optionally hold idle and slowloris connections against a loopback server.")
        {
            target, user, domain, connections, duration, count, idle, slowloris, slowInterval, noReconnect, sources, timeout, tls, json, auth, spn,
        };
        password.AddTo(command);

        command.SetAction((parse, cancellationToken) => DataDirectoryOption.RunAsync(parse, async output =>
        {
            TextWriter error = parse.InvocationConfiguration.Error;
            if (!ClientCommandSupport.TryParseTarget(parse.GetValue(target)!, 3389, out string host, out int port, out string? problem))
            {
                throw new CliException($"bad target: {problem}");
            }

            int idleCount = parse.GetValue(idle);
            int slowCount = parse.GetValue(slowloris);
            int workers = parse.GetValue(connections) ?? (idleCount + slowCount > 0 ? 0 : 1);
            double seconds = parse.GetValue(duration);
            if (double.IsNaN(seconds) || seconds <= 0 || seconds > NlaBenchOptions.MaxDuration.TotalSeconds)
            {
                throw new CliException($"--duration must be more than 0 and at most {NlaBenchOptions.MaxDuration.TotalSeconds} seconds");
            }

            double perHandshake = parse.GetValue(timeout);
            if (double.IsNaN(perHandshake) || perHandshake <= 0 || perHandshake > 3600)
            {
                throw new CliException("--timeout must be more than 0 and at most 3600 seconds");
            }

            double interval = parse.GetValue(slowInterval);
            if (double.IsNaN(interval) || interval <= 0 || interval > 3600)
            {
                throw new CliException("--slowloris-interval must be more than 0 and at most 3600 seconds");
            }

            int sourceCount = parse.GetValue(sources);
            if (sourceCount is < 0 or > 250 * 250 * 250)
            {
                throw new CliException("--sources must be between 0 and 15625000");
            }

            SslProtocols tlsVersions = parse.GetValue(tls) switch
            {
                "1.2" => SslProtocols.Tls12,
                "1.3" => SslProtocols.Tls13,
                "any" => SslProtocols.Tls12 | SslProtocols.Tls13,
                var other => throw new CliException($"--tls must be 1.2, 1.3 or any, not '{other}'"),
            };

            if ((idleCount > 0 || slowCount > 0 || sourceCount > 0) && !NlaBenchOptions.IsLoopbackName(host))
            {
                throw new CliException($"--idle, --slowloris and --sources only target a server on this machine (127.0.0.0/8, ::1 or localhost), not '{host}': they are denial-of-service tools for resilience measurements of your own server");
            }

            if (sourceCount > 0 && host.Contains(':', StringComparison.Ordinal))
            {
                throw new CliException("--sources spreads over 127.x.y.z: use an IPv4 loopback target (127.0.0.1)");
            }

            NlaCredentials? credentials = null;
            NlaAuthentication authentication = KerberosLogin.Parse(parse.GetValue(auth));
            KerberosLogin.Validate(authentication, host, parse.GetValue(spn), parse.GetValue(user) ?? (workers > 0 ? null : string.Empty));
            if (workers > 0 && authentication == NlaAuthentication.Kerberos && !password.HasSource(parse))
            {
                // Every handshake gets its service ticket from the credential cache (KRB5CCNAME), as login does.
                credentials = KerberosLogin.FromCredentialCache();
            }
            else if (workers > 0)
            {
                string? userText = parse.GetValue(user) ?? throw new CliException("--user is required to run handshakes (--connections above 0)");
                PasswordSource source = password.GetSource(parse, CliConsole.Current);
                (string userName, string domainName) = LoginCommand.SplitUser(userText, parse.GetValue(domain));
                credentials = PasswordInput.ReadCredentials(CliConsole.Current, error, source, userName, domainName, $"rdpnla bench {parse.GetValue(target)} -u {userText}");
            }

            var options = new NlaBenchOptions
            {
                Host = host,
                Port = port,
                Connections = workers,
                Credentials = credentials,
                Authentication = authentication,
                ServicePrincipal = parse.GetValue(spn),
                Duration = TimeSpan.FromSeconds(seconds),
                MaxHandshakes = parse.GetValue(count),
                Idle = idleCount,
                Slowloris = slowCount,
                SlowlorisInterval = TimeSpan.FromSeconds(interval),
                Reconnect = !parse.GetValue(noReconnect),
                SourceAddresses = NlaBenchOptions.LoopbackSources(sourceCount),
                Timeout = TimeSpan.FromSeconds(perHandshake),
                TlsProtocols = tlsVersions,
                OnHeldTargetReached = held => error.WriteLine(string.Create(CultureInfo.InvariantCulture, $"bench: holding {idleCount} idle and {slowCount} slowloris connections")),
            };

            IReadOnlyList<string> errors = options.Validate();
            if (errors.Count > 0)
            {
                credentials?.Dispose();
                throw new CliException(string.Join("; ", errors));
            }

            NlaBenchResult result;
            using (credentials)
            {
                await error.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"bench: {ClientCommandSupport.FormatTarget(host, port)}, {workers} handshake connections, {idleCount} idle, {slowCount} slowloris, {seconds} s"));
                result = await NlaBench.RunAsync(options, cancellationToken);
            }

            if (parse.GetValue(json))
            {
                await output.WriteLineAsync(ToJson(result, options).ToJsonString());
            }
            else
            {
                await WriteTextAsync(output, result);
            }

            return ExitCodes.Success;
        }));
        return command;
    }
}
