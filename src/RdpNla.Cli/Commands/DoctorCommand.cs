namespace RdpNla.Cli.Commands;

/// <summary>
/// <c>rdpnla doctor</c>: why does a Remote Desktop connection fail, and what is the fix. Offline from <c>reg export</c>
/// files (<c>--reg</c>), or live against HOST[:PORT] (the walk is <see cref="LiveWalker"/>; it maps observations with
/// <c>LiveDiagnoser</c>). Exit codes: docs/doctor.md and <see cref="DoctorExitCodes"/>.
/// </summary>
internal static class DoctorCommand
{
    public static Command Create()
    {
        var host = new Argument<string?>("host")
        {
            Description = "HOST[:PORT] to diagnose live (default port 3389); omit with --reg.",
            Arity = ArgumentArity.ZeroOrOne,
        };
        var reg = new Option<string[]>("--reg")
        {
            Description = "A reg export file (UTF-16 or UTF-8). The first is the server's, the second the client's; or prefix server= / client= (repeatable, e.g. --reg client=xp.reg).",
            HelpName = "FILE",
            AllowMultipleArgumentsPerToken = false,
        };
        var user = new Option<string?>("--user", "-u") { Description = "User to authenticate as (live): NAME, DOMAIN\\NAME or NAME@DOMAIN.", HelpName = "USER" };
        var password = new PasswordOptions("live, with -u");
        var clientCredSsp = new Option<string?>("--client-credssp")
        {
            Description = "The client being diagnosed: none (no CredSSP, e.g. XP SP3 without tspkg), unpatched (CredSSP 4, before the May 2018 update) or patched (default).",
            HelpName = "none|unpatched|patched",
        };
        clientCredSsp.AcceptOnlyFromAmong("none", "unpatched", "patched");
        var clientOracle = new Option<int?>("--client-allow-encryption-oracle")
        {
            Description = "The client's AllowEncryptionOracle: 0 Force Updated Clients, 1 Mitigated (default), 2 Vulnerable.",
            HelpName = "0|1|2",
        };
        var serverCredSsp = new Option<string?>("--server-credssp")
        {
            Description = "Offline: whether the server has the CredSSP update of March 2018 (an export cannot tell): unpatched or patched (default).",
            HelpName = "unpatched|patched",
        };
        serverCredSsp.AcceptOnlyFromAmong("unpatched", "patched");
        var timeout = new Option<double?>("--timeout") { Description = "Live: seconds each connection of the walk may take (default 10; the TLS fallback makes up to three connections).", HelpName = "S" };
        var json = new Option<bool>("--json") { Description = "Write the diagnosis as JSON." };
        var auth = KerberosLogin.AuthOption();
        var spn = KerberosLogin.SpnOption();
        var catalogueMarkdown = new Option<bool>("--catalogue-markdown") { Description = "Print docs/troubleshooting.md (generated from the cause catalogue).", Hidden = true };

        var command = new Command("doctor", "Find out why a Remote Desktop connection fails and print the fix: live against HOST[:PORT], or offline from reg export files (--reg).")
        {
            host, reg, user, clientCredSsp, clientOracle, serverCredSsp, timeout, json, auth, spn, catalogueMarkdown,
        };
        password.AddTo(command);

        command.SetAction((parse, cancellationToken) => DataDirectoryOption.RunAsync(parse, async output =>
        {
            if (parse.GetValue(catalogueMarkdown))
            {
                await output.WriteAsync(CatalogueMarkdown.Render());
                return ExitCodes.Success;
            }

            string? target = parse.GetValue(host);
            string[] regs = parse.GetValue(reg) ?? [];
            int? oracle = parse.GetValue(clientOracle);
            if (oracle is { } o && o is < 0 or > 2)
            {
                throw new CliException($"--client-allow-encryption-oracle must be 0, 1 or 2; got {o}");
            }

            ClientCredSsp? credSsp = parse.GetValue(clientCredSsp) switch
            {
                "none" => ClientCredSsp.None,
                "unpatched" => ClientCredSsp.Unpatched,
                "patched" => ClientCredSsp.Patched,
                _ => null,
            };
            EncryptionOraclePolicy? policy = oracle is { } p ? (EncryptionOraclePolicy)p : null;

            DoctorReport report;
            if (regs.Length > 0)
            {
                if (target is not null)
                {
                    throw new CliException("give either HOST (live) or --reg files (offline), not both");
                }

                (RegFile? server, RegFile? client) = await ReadRegFilesAsync(regs, cancellationToken);
                report = RegDiagnoser.Diagnose(server, client, new OfflineOptions
                {
                    ClientCredSsp = credSsp,
                    ClientAllowEncryptionOracle = policy,
                    ServerPatched = parse.GetValue(serverCredSsp) switch { "unpatched" => false, "patched" => true, _ => null },
                    AssumptionNote = AssumptionNote,
                });
            }
            else if (target is not null)
            {
                if (password.IsGiven(parse) && parse.GetValue(user) is null)
                {
                    throw new CliException("a password needs a user: add -u USER");
                }

                if (parse.GetValue(serverCredSsp) is not null)
                {
                    throw new CliException("--server-credssp is for the offline prediction (--reg); live, doctor measures the server's CredSSP version");
                }

                double seconds = parse.GetValue(timeout) ?? LiveWalker.DefaultTimeout.TotalSeconds;
                if (double.IsNaN(seconds) || seconds is <= 0 or > 3600)
                {
                    throw new CliException("--timeout must be more than 0 and at most 3600 seconds");
                }

                LiveTarget live = LiveTarget.Parse(target);
                var client = new ClientSettings(credSsp ?? ClientCredSsp.Patched, policy ?? EncryptionOraclePolicy.Mitigated);
                string? userText = parse.GetValue(user);
                NlaAuthentication authentication = KerberosLogin.Parse(parse.GetValue(auth));
                string? servicePrincipal = parse.GetValue(spn);

                // doctor runs without -u (it stops at the server's CHALLENGE), so the user check of login does not apply.
                KerberosLogin.Validate(authentication, live.Host, servicePrincipal, userText ?? string.Empty);
                NlaCredentials? credentials = userText is null
                    ? authentication == NlaAuthentication.Kerberos ? KerberosLogin.FromCredentialCache() : null
                    : ReadDoctorCredentials(userText, password.GetSource(parse, CliConsole.Current), parse.InvocationConfiguration.Error, $"rdpnla doctor {target} -u {userText}");
                using (credentials)
                {
                    report = await LiveWalker.RunAsync(live.Host, live.Port, client, credentials, TimeSpan.FromSeconds(seconds), cancellationToken, authentication, servicePrincipal, CliConsole.Current.Time);
                }

                if (credentials is null)
                {
                    report = report with
                    {
                        Notes =
                        [
                            .. report.Notes,
                            report.IsSuccess
                                ? "The credentials were NOT checked (no -u): the walk stopped at the server's NTLM CHALLENGE, which proves the server requires and speaks NLA. Add -u USER --password-stdin to check the password and the account."
                                : "No credentials were given (no -u): the walk stops at the server's NTLM CHALLENGE, so account problems are not looked for.",
                        ],
                    };
                }
            }
            else
            {
                if (parse.GetValue(timeout) is not null || parse.GetValue(user) is not null)
                {
                    throw new CliException("--timeout and -u are for the live walk: give HOST[:PORT]");
                }

                throw new CliException("nothing to diagnose: give HOST[:PORT] (live) or --reg server.reg [--reg client.reg] (offline)");
            }

            // The report quotes what the server sent (its certificate subject, its errors): control characters are escaped.
            await output.WriteAsync(parse.GetValue(json) ? ReportWriter.ToJson(report) + "\n" : PrintableText.EscapeExceptLineBreaks(ReportWriter.ToText(report, "add -u USER --password-stdin")));
            return report.ExitCode;
        }));
        return command;
    }

    /// <summary>The offline notes that tell how to state what the registry exports cannot show: with the options of doctor.</summary>
    private static string AssumptionNote(OfflineAssumption assumption, ClientCredSsp credSsp) => assumption switch
    {
        OfflineAssumption.ServerCredSspAssumedUpdated =>
            "Whether the server has the CredSSP update (CVE-2018-0886, March 2018) is not in the registry: assumed updated (CredSSP 6). Use --server-credssp unpatched for a server without it.",
        OfflineAssumption.ClientAsGiven => $"No client export: the client is as given by --client-credssp {credSsp.ToString().ToLowerInvariant()}.",
        OfflineAssumption.ClientCredSspOverridden => $"(--client-credssp {credSsp.ToString().ToLowerInvariant()} is overridden by the export.)",
        _ => "Whether the client has the CredSSP update is not in the registry: assumed updated (CredSSP 6). Use --client-credssp unpatched for a client without it.",
    };

    private static async Task<(RegFile? Server, RegFile? Client)> ReadRegFilesAsync(string[] regs, CancellationToken cancellationToken)
    {
        var server = new List<string>();
        var client = new List<string>();
        var unnamed = new List<string>();
        foreach (string reg in regs)
        {
            if (reg.StartsWith("server=", StringComparison.OrdinalIgnoreCase))
            {
                server.Add(reg[7..]);
            }
            else if (reg.StartsWith("client=", StringComparison.OrdinalIgnoreCase))
            {
                client.Add(reg[7..]);
            }
            else
            {
                unnamed.Add(reg);
            }
        }

        // Unnamed files: the first is the server's, the second the client's.
        foreach (string file in unnamed)
        {
            if (server.Count == 0)
            {
                server.Add(file);
            }
            else if (client.Count == 0)
            {
                client.Add(file);
            }
            else
            {
                throw new CliException($"too many --reg files ('{file}'): give one for the server and one for the client, or prefix them with server= / client=");
            }
        }

        return (await ReadSideAsync(server, cancellationToken), await ReadSideAsync(client, cancellationToken));
    }

    /// <summary>Reads the files of one side; several files are read as one export, each line keeping its file and number.</summary>
    private static async Task<RegFile?> ReadSideAsync(List<string> files, CancellationToken cancellationToken)
    {
        if (files.Count == 0)
        {
            return null;
        }

        var parts = new List<(string Text, string Source)>();
        foreach (string file in files)
        {
            byte[] bytes = await ReadRegFileAsync(file, cancellationToken);

            try
            {
                RegFile parsed = RegFile.Parse(bytes, file);
                if (files.Count == 1)
                {
                    return parsed;
                }
            }
            catch (RegFileException ex)
            {
                throw new CliException($"{ex.Message}; fix the file or export it again with: reg export \"KEY\" FILE");
            }

            parts.Add((RegFile.Decode(bytes), file));
        }

        return RegFile.Parse(parts);
    }

    /// <summary>
    /// The credentials of a live <c>rdpnla doctor -u USER</c>: the password from a no-echo prompt (<c>-p</c>, also the
    /// default on a terminal), standard input (<c>--password-stdin</c>) or RDPNLA_PASSWORD; never from the command line.
    /// </summary>
    private static NlaCredentials ReadDoctorCredentials(string user, PasswordSource source, TextWriter prompt, string commandHint)
    {
        (string userName, string domainName) = LoginCommand.SplitUser(user, null);
        return PasswordInput.ReadCredentials(CliConsole.Current, prompt, source, userName, domainName, commandHint);
    }

    /// <summary>
    /// The largest <c>reg export</c> file doctor reads. The exports docs/doctor.md asks for (Terminal Server, its
    /// policies, CredSSP) are a few hundred KiB; a device or a pipe named by mistake (/dev/zero) never ends.
    /// </summary>
    internal const int MaxRegFileBytes = 16 * 1024 * 1024;

    /// <summary>The bytes of one --reg file, at most <see cref="MaxRegFileBytes"/>; one line for a folder, a missing or unreadable file, or a larger one.</summary>
    private static async Task<byte[]> ReadRegFileAsync(string file, CancellationToken cancellationToken)
    {
        if (Directory.Exists(file))
        {
            throw new CliException($"cannot read '{file}': it is a folder; give the file that 'reg export' wrote");
        }

        try
        {
            await using var stream = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, bufferSize: 1, FileOptions.SequentialScan);
            using var bytes = new MemoryStream();
            byte[] buffer = new byte[81920];
            int read;
            while ((read = await stream.ReadAsync(buffer, cancellationToken)) > 0)
            {
                if (bytes.Length + read > MaxRegFileBytes)
                {
                    throw new CliException($"'{file}' is larger than {MaxRegFileBytes / (1024 * 1024)} MiB, which no export of the keys docs/doctor.md lists reaches; export only those keys");
                }

                bytes.Write(buffer, 0, read);
            }

            return bytes.ToArray();
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new CliException($"cannot read '{file}': {ex.Message}");
        }
    }
}

/// <summary>HOST[:PORT] or [IPv6]:PORT.</summary>
internal sealed record LiveTarget(string Host, int Port)
{
    public static LiveTarget Parse(string text)
    {
        string host = text;
        int port = 3389;
        int colon = text.LastIndexOf(':');
        bool bracketed = text.StartsWith('[');
        if (bracketed)
        {
            int close = text.IndexOf(']', StringComparison.Ordinal);
            if (close < 0)
            {
                throw new CliException($"'{text}' has '[' without ']': write an IPv6 address as [ADDRESS]:PORT");
            }

            host = text[1..close];
            colon = text.IndexOf(':', close);
            if (colon > close + 1 || (colon < 0 && close != text.Length - 1))
            {
                throw new CliException($"'{text}': expected [ADDRESS] or [ADDRESS]:PORT");
            }
        }
        else if (colon >= 0 && text.IndexOf(':', StringComparison.Ordinal) != colon)
        {
            colon = -1; // a bare IPv6 address
        }
        else if (colon >= 0)
        {
            host = text[..colon];
        }

        if (colon >= 0 && (!int.TryParse(text[(colon + 1)..], NumberStyles.None, CultureInfo.InvariantCulture, out port) || port is < 1 or > 65535))
        {
            throw new CliException($"'{text}': the port must be a number from 1 to 65535");
        }

        if (host.Length == 0)
        {
            throw new CliException($"'{text}': no host name");
        }

        return new LiveTarget(host, port);
    }

}
