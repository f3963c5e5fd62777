namespace RdpNla.Cli.Commands;

/// <summary>Exit codes of <c>rdpnla probe</c> (docs/probe.md).</summary>
public static class ProbeExitCodes
{
    /// <summary>Every target was probed (whatever the findings).</summary>
    public const int Success = 0;

    public const int UsageError = ExitCodes.UserError;

    /// <summary>At least one target could not be probed (not reachable, not RDP).</summary>
    public const int SomeTargetsFailed = 20;
}

/// <summary><c>rdpnla probe</c>: what RDP servers offer and require, measured.</summary>
internal static class ProbeCommand
{
    /// <summary>Most addresses one probe run expands to.</summary>
    public const int MaxTargets = 65536;

    public static Command Create()
    {
        var targets = new Argument<string[]>("TARGET") { Description = "HOST, HOST:PORT, [IPV6]:PORT, or an address range in CIDR notation (ADDRESS/BITS, optionally :PORT for IPv4).", Arity = ArgumentArity.ZeroOrMore };
        var targetsFile = new Option<FileInfo?>("--targets-file") { Description = "Read more targets from FILE, one per line (# starts a comment).", HelpName = "FILE" };
        var port = new Option<int>("--port") { Description = "Port for targets that give none (default 3389).", DefaultValueFactory = _ => 3389 };
        var concurrency = new Option<int>("--concurrency") { Description = "Targets probed at the same time (default 16).", DefaultValueFactory = _ => 16, HelpName = "N" };
        var timeout = new Option<double>("--timeout") { Description = "Seconds for all connections to one target (default 15).", DefaultValueFactory = _ => 15, HelpName = "S" };
        var noTlsScan = new Option<bool>("--no-tls-versions") { Description = "Do not try each TLS version (four connections fewer per target)." };
        var json = new Option<bool>("--json") { Description = "Print one JSON object per target, one per line." };
        var auth = new Option<string?>("--auth")
        {
            Description = "ntlm (default): NTLM up to the CHALLENGE, no credentials. kerberos or negotiate: also log on with the ticket of the credential cache (KRB5CCNAME) to prove the server accepts Kerberos (negotiate: only when the cache has a ticket; kerberos: required).",
            HelpName = "negotiate|kerberos|ntlm",
        };
        var spn = KerberosLogin.SpnOption();
        var command = new Command("probe", "Measure what RDP servers accept and require: security protocols, NLA (by completing TLS and CredSSP up to the NTLM CHALLENGE), CredSSP version, NTLM target information, TLS versions, certificate; with findings.")
        {
            targets, targetsFile, port, concurrency, timeout, noTlsScan, json, auth, spn,
        };

        // TARGET takes every word, a misspelt option too (--jsn would be probed as a host named "--jsn"); no host starts with '-'.
        command.Validators.Add(result =>
        {
            if (result.GetValue(targets)?.FirstOrDefault(t => t.StartsWith('-')) is { } word)
            {
                result.AddError(UsageErrors.UnknownOption(word, command, "rdpnla probe"));
            }
        });

        command.SetAction((parse, cancellationToken) => DataDirectoryOption.RunAsync(parse, async output =>
        {
            int defaultPort = parse.GetValue(port);
            if (defaultPort is < 1 or > 65535)
            {
                throw new CliException("--port must be between 1 and 65535");
            }

            int parallel = parse.GetValue(concurrency);
            if (parallel is < 1 or > 1024)
            {
                throw new CliException("--concurrency must be between 1 and 1024");
            }

            double seconds = parse.GetValue(timeout);
            if (seconds is <= 0 or > 3600 || double.IsNaN(seconds))
            {
                throw new CliException("--timeout must be more than 0 and at most 3600 seconds");
            }

            var texts = new List<string>(parse.GetValue(targets) ?? []);

            // Where each target of the file came from, for an error about it: "(--targets-file FILE, line N)".
            var origins = new List<string?>(texts.Select(_ => (string?)null));
            FileInfo? file = parse.GetValue(targetsFile);
            if (file is not null)
            {
                try
                {
                    int number = 0;
                    foreach (string line in await File.ReadAllLinesAsync(file.FullName, cancellationToken))
                    {
                        number++;
                        string text = line.Split('#', 2)[0].Trim();
                        if (text.Length > 0)
                        {
                            texts.Add(text);
                            origins.Add(string.Create(CultureInfo.InvariantCulture, $"--targets-file '{file.FullName}', line {number}"));
                        }
                    }
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
                {
                    throw new CliException($"cannot read --targets-file '{file.FullName}': {ex.Message}");
                }
            }

            if (texts.Count == 0)
            {
                throw new CliException(file is null
                    ? "no targets; give HOST[:PORT], a CIDR range, or --targets-file FILE"
                    : $"--targets-file '{file.FullName}' holds no target (only blank lines and # comments), and none is given on the command line");
            }

            List<(string Host, int Port)> expanded = ExpandTargets(texts, defaultPort, i => origins[i]);
            NlaAuthentication authentication = parse.GetValue(auth) is null ? NlaAuthentication.Ntlm : KerberosLogin.Parse(parse.GetValue(auth));
            string? servicePrincipal = parse.GetValue(spn);
            if (servicePrincipal is not null && expanded.Count > 1)
            {
                throw new CliException("--spn names one server; probe one target with it, or drop --spn (each target then uses TERMSRV/HOST)");
            }

            foreach ((string host, _) in expanded.Take(1))
            {
                KerberosLogin.Validate(authentication, host, servicePrincipal, string.Empty);
            }

            using NlaCredentials? kerberosCredentials = authentication switch
            {
                NlaAuthentication.Kerberos => KerberosLogin.FromCredentialCache(),
                NlaAuthentication.Negotiate => KerberosLogin.TryFromCredentialCache(),
                _ => null,
            };
            var options = new ProbeOptions
            {
                Timeout = TimeSpan.FromSeconds(seconds),
                TimeProvider = CliConsole.Current.Time,
                ScanTlsVersions = !parse.GetValue(noTlsScan),
                Authentication = authentication,
                ServicePrincipal = servicePrincipal,
                KerberosCredentials = kerberosCredentials,
            };
            ProbeResult[] results = await ProbeAllAsync(expanded, options, parallel, output, cancellationToken);
            if (parse.GetValue(json))
            {
                foreach (ProbeResult result in results)
                {
                    await output.WriteLineAsync(ToJson(result).ToJsonString());
                }
            }
            else
            {
                WriteTable(output, results);
            }

            return results.Any(r => r.Error is not null) ? ProbeExitCodes.SomeTargetsFailed : ProbeExitCodes.Success;
        }));
        return command;
    }

    private static async Task<ProbeResult[]> ProbeAllAsync(List<(string Host, int Port)> targets, ProbeOptions options, int concurrency, TextWriter output, CancellationToken cancellationToken)
    {
        var results = new ProbeResult[targets.Count];
        async Task RunAllAsync(Action? advance)
        {
            await Parallel.ForEachAsync(
                Enumerable.Range(0, targets.Count),
                new ParallelOptions { MaxDegreeOfParallelism = concurrency, CancellationToken = cancellationToken },
                async (index, ct) =>
                {
                    results[index] = await RdpProber.ProbeAsync(targets[index].Host, targets[index].Port, options, ct);
                    advance?.Invoke();
                });
        }

        bool terminal = ReferenceEquals(output, System.Console.Out) && !System.Console.IsErrorRedirected && !System.Console.IsOutputRedirected;
        if (!terminal)
        {
            await RunAllAsync(null);
            return results;
        }

        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(System.Console.Error) });
        await console.Progress().AutoClear(true).StartAsync(async context =>
        {
            ProgressTask task = context.AddTask($"probing {targets.Count} target(s)", maxValue: targets.Count);
            await RunAllAsync(() => task.Increment(1));
        });
        return results;
    }

    /// <summary>Expands HOST[:PORT] and CIDR targets; refuses more than <see cref="MaxTargets"/> addresses.</summary>
    /// <exception cref="CliException">A malformed target or too many addresses.</exception>
    internal static List<(string Host, int Port)> ExpandTargets(IEnumerable<string> texts, int defaultPort, Func<int, string?>? originOf = null)
    {
        var targets = new List<(string Host, int Port)>();
        int index = 0;
        foreach (string raw in texts)
        {
            try
            {
                ExpandTarget(targets, raw, defaultPort);
            }
            catch (CliException ex) when (originOf?.Invoke(index) is { } origin)
            {
                throw new CliException($"{ex.Message} ({origin})", ex.ExitCode);
            }

            index++;
        }

        return targets;
    }

    /// <summary>Adds the targets of one text (HOST[:PORT], or a CIDR range) to <paramref name="targets"/>.</summary>
    private static void ExpandTarget(List<(string Host, int Port)> targets, string raw, int defaultPort)
    {
        string text = raw.Trim();
        int slash = text.IndexOf('/', StringComparison.Ordinal);
        if (slash < 0)
        {
            if (!ClientCommandSupport.TryParseTarget(text, defaultPort, out string host, out int port, out string? problem))
            {
                throw new CliException($"bad target: {problem}");
            }

            AddChecked(targets, [(host, port)], text);
            return;
        }

        // ADDRESS/BITS, optionally followed by :PORT (IPv4 only: an IPv6 range takes --port).
        string range = text;
        int rangePort = defaultPort;
        int colon = text.LastIndexOf(':');
        if (colon > slash)
        {
            if (!int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out rangePort) || rangePort is < 1 or > 65535)
            {
                throw new CliException($"bad target '{text}': the port must be a number from 1 to 65535");
            }

            range = text[..colon];
        }

        if (!IPNetwork.TryParse(range, out IPNetwork network))
        {
            throw new CliException($"bad target '{text}': not an address range (expected e.g. 192.168.1.0/24)");
        }

        int bits = network.BaseAddress.AddressFamily == AddressFamily.InterNetwork ? 32 : 128;
        int hostBits = bits - network.PrefixLength;
        if (hostBits > 16 || targets.Count + (1 << hostBits) > MaxTargets)
        {
            BigInteger size = BigInteger.One << hostBits;
            throw new CliException($"'{text}' expands to {size} addresses; at most {MaxTargets} addresses per run are probed: split the range (e.g. /16 pieces)");
        }

        byte[] baseBytes = network.BaseAddress.GetAddressBytes();
        var start = new BigInteger(baseBytes, isUnsigned: true, isBigEndian: true);
        var list = new List<(string, int)>(1 << hostBits);
        for (int i = 0; i < 1 << hostBits; i++)
        {
            byte[] bytes = (start + i).ToByteArray(isUnsigned: true, isBigEndian: true);
            byte[] padded = new byte[baseBytes.Length];
            bytes.CopyTo(padded, padded.Length - bytes.Length);
            list.Add((new IPAddress(padded).ToString(), rangePort));
        }

        AddChecked(targets, list, text);
    }

    private static void AddChecked(List<(string Host, int Port)> targets, List<(string Host, int Port)> more, string text)
    {
        if (targets.Count + more.Count > MaxTargets)
        {
            throw new CliException($"the targets expand to more than {MaxTargets} addresses (at '{text}'); probe fewer per run");
        }

        targets.AddRange(more);
    }

    private static string TlsVersionKey(SslProtocols version) => NlaClient.TlsName(version);

    private static string SupportText(TlsVersionSupport support) => support switch
    {
        TlsVersionSupport.Accepted => "accepted",
        TlsVersionSupport.Refused => "refused",
        TlsVersionSupport.NotTestableHere => "not testable here",
        _ => "not tested",
    };

    internal static JsonObject ToJson(ProbeResult result) => ToJson(result, SecurityFindings.Assess(result, DateTimeOffset.UtcNow));

    private static JsonObject ToJson(ProbeResult result, IReadOnlyList<ProbeFinding> assessed)
    {
        var versions = new JsonObject();
        foreach ((SslProtocols version, TlsVersionSupport support) in result.TlsVersions.OrderBy(p => (int)p.Key))
        {
            versions[TlsVersionKey(version)] = SupportText(support);
        }

        var attempts = new JsonArray();
        foreach (NegotiationAttempt attempt in result.Attempts)
        {
            attempts.Add(new JsonObject
            {
                ["requested"] = attempt.Requested.Name(),
                ["answer"] = attempt.Answer?.ToString(),
                ["selected"] = attempt.Answer?.SelectedProtocol?.Name(),
                ["failure_code"] = attempt.Answer?.FailureCode?.Name(),
                ["error"] = attempt.Failure is { } failure ? ClientResultText.Describe(failure) : null,
            });
        }

        var findings = new JsonArray();
        foreach (ProbeFinding finding in assessed)
        {
            findings.Add(new JsonObject { ["severity"] = finding.Severity.ToString().ToLowerInvariant(), ["id"] = finding.Id, ["message"] = finding.Message });
        }

        return new JsonObject
        {
            ["target"] = result.Target,
            ["result"] = result.Error is null ? "probed" : "error",
            ["error"] = result.Error is { } error ? new JsonObject
            {
                ["kind"] = ClientCommandSupport.SnakeCase(error.FailureKind.ToString()),
                ["phase"] = ClientCommandSupport.SnakeCase(error.Phase.ToString()),
                ["message"] = ClientResultText.Describe(error),
            } : null,
            ["nla_required"] = result.Error is null ? result.NlaRequired : null,
            ["nla_supported"] = result.Error is null ? result.NlaSupported : null,
            ["protocols"] = new JsonObject
            {
                ["accepted"] = ClientCommandSupport.ProtocolNames(result.Accepted, result.StandardRdpAccepted),
                ["required"] = result.Error is null ? ClientResultText.Required(result.Required) : null,
                ["legacy"] = result.Legacy,
                ["attempts"] = attempts,
            },
            ["credssp_version"] = result.CredSspVersion,
            ["credssp_cve_2018_0886_fixed"] = result.CredSspPatched,
            ["credssp_accepts_unpatched_clients"] = result.AcceptsUnpatchedClients,
            ["ntlm"] = ClientCommandSupport.NtlmJson(result.Ntlm),
            ["kerberos"] = result.KerberosRun is { } kerberos ? new JsonObject
            {
                ["accepted"] = result.KerberosAccepted,
                ["package"] = kerberos.CredSsp?.Package,
                ["account"] = kerberos.Account,
                ["ntstatus"] = kerberos.CredSsp?.ErrorCode is { } status ? NtStatusText.Name(status) : null,
                ["message"] = ClientResultText.Describe(kerberos),
            } : null,
            ["tls"] = new JsonObject
            {
                ["versions"] = versions,
                ["negotiated_version"] = result.Tls is { } tls ? NlaClient.TlsName(tls.Protocol) : null,
                ["cipher_suite"] = result.Tls?.CipherSuite.ToString(),
                ["certificate"] = ClientCommandSupport.CertificateJson(result.Certificate),
            },
            ["findings"] = findings,
            ["notes"] = new JsonArray(result.Notes.Select(n => (JsonNode?)JsonValue.Create(ClientResultText.Note(n))).ToArray()),
            ["elapsed_ms"] = Math.Round(result.Elapsed.TotalMilliseconds, 1),
        };
    }

    private static void WriteTable(TextWriter output, IReadOnlyList<ProbeResult> results)
    {
        var table = new Table().AddColumns("Target", "Accepted", "NLA", "CredSSP", "TLS", "NTLM", "Certificate", "Findings");
        foreach (ProbeResult r in results)
        {
            if (r.Error is { } error)
            {
                table.AddRow(Cell(r.Target), Cell("-"), Cell("error"), Cell("-"), Cell("-"), Cell("-"), Cell("-"), Cell($"{ClientCommandSupport.SnakeCase(error.FailureKind.ToString())}: {ClientResultText.Describe(error)}"));
                continue;
            }

            string accepted = string.Join(", ", ClientCommandSupport.ProtocolNames(r.Accepted, r.StandardRdpAccepted).Select(n => n!.GetValue<string>().Replace("PROTOCOL_", "", StringComparison.Ordinal)));
            string nla = (r.NlaRequired ? "required" : r.NlaSupported ? "supported, not required" : "not supported")
                + (r.KerberosAccepted switch { true => ", Kerberos accepted", false => ", Kerberos refused", null => "" });
            string credSsp = r.CredSspVersion is int v ? $"v{v}{(v >= 5 ? "" : " (unpatched)")}" : "-";
            string tls = string.Join(" ", r.TlsVersions.Where(p => p.Value == TlsVersionSupport.Accepted).OrderBy(p => (int)p.Key).Select(p => NlaClient.TlsName(p.Key).Replace("TLS ", "", StringComparison.Ordinal)));
            if (r.TlsVersions.Any(p => p.Value == TlsVersionSupport.NotTestableHere))
            {
                tls += " (" + string.Join(", ", r.TlsVersions.Where(p => p.Value == TlsVersionSupport.NotTestableHere).OrderBy(p => (int)p.Key).Select(p => NlaClient.TlsName(p.Key))) + " not testable here)";
            }

            string ntlm = r.Ntlm is { } n ? $"{n.NbDomainName}\\{n.NbComputerName} {n.DnsComputerName} OS {n.OsVersion}" : "-";
            string certificate = r.Certificate is { } c ? $"{c.Subject}{(c.SelfSigned ? " (self-signed)" : "")}, {c.KeyType} {c.KeySize}, until {c.NotAfter:yyyy-MM-dd}, SHA-256 {c.Sha256Fingerprint}" : "-";
            List<string> findings = SecurityFindings.Assess(r, DateTimeOffset.UtcNow).Where(f => f.Severity > FindingSeverity.Info).OrderByDescending(f => f.Severity).Select(f => $"{f.Severity.ToString().ToUpperInvariant()} {f.Id}").ToList();
            table.AddRow(Cell(r.Target), Cell(accepted), Cell(nla), Cell(credSsp), Cell(tls.Trim()), Cell(ntlm), Cell(certificate), findings.Count == 0 ? Cell("-") : TableCells.Lines(findings));
        }

        UsersCommand.CreateAnsiConsole(output).Write(table);
    }

    private static IRenderable Cell(string text) => TableCells.Text(text);
}
