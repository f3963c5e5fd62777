namespace RdpNla.Diagnosis.Registry;

/// <summary>What the exports cannot tell, given by the user.</summary>
public sealed record OfflineOptions
{
    /// <summary>The client's CredSSP: used when no client export decides it.</summary>
    public ClientCredSsp? ClientCredSsp { get; init; }

    /// <summary>The client's AllowEncryptionOracle: used when the client export has no AllowEncryptionOracle.</summary>
    public EncryptionOraclePolicy? ClientAllowEncryptionOracle { get; init; }

    /// <summary>Whether the server has the CVE-2018-0886 fix (an export cannot tell).</summary>
    public bool? ServerPatched { get; init; }

    /// <summary>
    /// The note for an <see cref="OfflineAssumption"/>, in the words of the caller (a command line names its options
    /// there), or null for the library's own note. The <see cref="Model.ClientCredSsp"/> is the client's as given.
    /// </summary>
    public Func<OfflineAssumption, ClientCredSsp, string?>? AssumptionNote { get; init; }
}

/// <summary>What the offline prediction assumed, or took from the user rather than from the exports: the user can state otherwise.</summary>
public enum OfflineAssumption
{
    /// <summary>An export cannot show whether the server has the CredSSP update: assumed updated (CredSSP 6).</summary>
    ServerCredSspAssumedUpdated,

    /// <summary>No client export: the client is as <see cref="OfflineOptions.ClientCredSsp"/> gives it.</summary>
    ClientAsGiven,

    /// <summary>The client export shows no CredSSP provider, which overrides <see cref="OfflineOptions.ClientCredSsp"/>.</summary>
    ClientCredSspOverridden,

    /// <summary>The client export cannot show whether the client has the CredSSP update: assumed updated (CredSSP 6).</summary>
    ClientCredSspAssumedUpdated,
}

/// <summary>
/// The offline diagnosis: reads a server export and/or a client export, fills what is missing with the Windows
/// defaults (documented in docs/doctor.md), runs the <see cref="OutcomeModel"/> and returns the report.
/// </summary>
/// <remarks>
/// Defaults for values missing from an export: SecurityLayer 1 (Negotiate, the policy's default), UserAuthentication 1
/// (NLA required, the default since Windows 8 / Server 2012), AllowEncryptionOracle 1 (Mitigated, the default since the
/// May 2018 update), fDenyTSConnections 0, server and client CredSSP patched (version 6). A client export whose Lsa
/// "Security Packages" lacks tspkg, or whose SecurityProviders lacks credssp.dll, has no CredSSP; a Windows XP export
/// without those values has no CredSSP either (XP SP3 does not enable it), and XP with CredSSP speaks version 2 without
/// the CVE-2018-0886 fix.
/// </remarks>
public static class RegDiagnoser
{
    /// <summary>Default SecurityLayer when the export has none.</summary>
    public const int DefaultSecurityLayer = 1;

    /// <summary>Default UserAuthentication when the export has none.</summary>
    public const int DefaultUserAuthentication = 1;

    /// <summary>Default AllowEncryptionOracle when the export has none.</summary>
    public const int DefaultAllowEncryptionOracle = 1;

    /// <summary>The settings deduced from the exports, with the evidence lines and notes.</summary>
    public sealed record Deduction(ServerSettings Server, ClientSettings Client, IReadOnlyList<string> Evidence, IReadOnlyList<string> Notes, Fact<int>? DenyTsConnections);

    /// <summary>Diagnoses the pair (account state assumed OK: an export says nothing about accounts).</summary>
    public static DoctorReport Diagnose(RegFile? server, RegFile? client, OfflineOptions options)
    {
        Deduction deduction = Deduce(server, client, options);
        if (deduction.DenyTsConnections is { Value: not 0 } deny)
        {
            return new DoctorReport
            {
                Cause = Cause.ConnectionRefused,
                Phase = ConnectionPhase.Tcp,
                Evidence = [$"{deny.Where}: Remote Desktop is disabled on the server, nothing listens on the RDP port (connection refused, or no answer behind a firewall).", .. deduction.Evidence],
                Notes = deduction.Notes,
                Mode = "offline",
            };
        }

        PredictedOutcome outcome = OutcomeModel.Predict(deduction.Server, deduction.Client, AccountState.Ok);
        DoctorReport report = outcome.ToReport("offline", deduction.Notes);
        var evidence = new List<string>();
        if (report.Cause is not null)
        {
            evidence.Add(report.Evidence[0]);
        }

        evidence.AddRange(deduction.Evidence);
        evidence.AddRange(outcome.Reasoning);
        return report with { Evidence = evidence };
    }

    private static string? AssumptionNote(OfflineOptions options, OfflineAssumption assumption, ClientCredSsp credSsp) =>
        options.AssumptionNote?.Invoke(assumption, credSsp);

    /// <summary>Reads the settings of both sides.</summary>
    public static Deduction Deduce(RegFile? server, RegFile? client, OfflineOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var evidence = new List<string>();
        var notes = new List<string>();

        // Server.
        MachineFacts? s = server is null ? null : MachineFacts.Read(server);
        if (s is null)
        {
            notes.Add("No server export: the server is assumed to have the Windows defaults (SecurityLayer 1, UserAuthentication 1, AllowEncryptionOracle 1).");
        }
        else if (s.Os is not null)
        {
            evidence.Add($"{server!.Source}: server OS {s.Os}.");
        }

        int layer = Setting(s?.SecurityLayer, DefaultSecurityLayer, "server", "SecurityLayer", "Negotiate", server, evidence, notes);
        if (layer is < 0 or > 2)
        {
            // A REG_DWORD is unsigned: dword:ffffffff is 4294967295, as the evidence line shows it.
            notes.Add($"Server SecurityLayer {unchecked((uint)layer).ToString(CultureInfo.InvariantCulture)} is not 0, 1 or 2; Windows treats it as an invalid setting. Assumed {DefaultSecurityLayer}.");
            layer = DefaultSecurityLayer;
        }

        int ua = Setting(s?.UserAuthentication, DefaultUserAuthentication, "server", "UserAuthentication", "NLA required", server, evidence, notes);
        int serverOracle = Setting(s?.AllowEncryptionOracle, DefaultAllowEncryptionOracle, "server", "AllowEncryptionOracle", "Mitigated", server, evidence, notes);
        if (s?.DenyTsConnections is { } deny)
        {
            evidence.Add(deny.Where);
        }

        if (s?.PortNumber is { Value: not 3389 } port)
        {
            notes.Add($"{port.Where}: Remote Desktop listens on port {port.Value.ToString(CultureInfo.InvariantCulture)}, not 3389: connect to HOST:{port.Value.ToString(CultureInfo.InvariantCulture)}.");
        }

        bool serverPatched = options.ServerPatched ?? true;
        if (options.ServerPatched is null)
        {
            notes.Add(AssumptionNote(options, OfflineAssumption.ServerCredSspAssumedUpdated, ClientCredSsp.Patched)
                ?? "Whether the server has the CredSSP update (CVE-2018-0886, March 2018) is not in the registry: assumed updated (CredSSP 6).");
        }

        var serverSettings = new ServerSettings((SecurityLayer)layer, ua != 0, serverPatched ? CredSspVersion.Latest : 4, ToPolicy(serverOracle));
        if (layer == 0 && ua == 0)
        {
            notes.Add("INSECURE server setting: SecurityLayer 0 (Standard RDP Security: the server is not authenticated). Fix: reg add \"HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\WinStations\\RDP-Tcp\" /v SecurityLayer /t REG_DWORD /d 2 /f");
        }

        if (ua == 0)
        {
            notes.Add("INSECURE server setting: UserAuthentication 0 (NLA not required: anyone reaches the logon screen). Fix: reg add \"HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\WinStations\\RDP-Tcp\" /v UserAuthentication /t REG_DWORD /d 1 /f");
        }

        if (serverOracle == 2)
        {
            notes.Add("INSECURE server setting: AllowEncryptionOracle 2 (Vulnerable). Revert: reg add \"HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System\\CredSSP\\Parameters\" /v AllowEncryptionOracle /t REG_DWORD /d 1 /f");
        }

        // Client.
        MachineFacts? c = client is null ? null : MachineFacts.Read(client);
        ClientCredSsp credSsp = options.ClientCredSsp ?? ClientCredSsp.Patched;
        int? version = null;
        if (c is null)
        {
            notes.Add(options.ClientCredSsp is null
                ? "No client export: the client is assumed to be an up-to-date Windows client (CredSSP 6, AllowEncryptionOracle 1)."
                : AssumptionNote(options, OfflineAssumption.ClientAsGiven, credSsp) ?? $"No client export: the client is as given ({credSsp.ToString().ToLowerInvariant()}).");
        }
        else
        {
            if (c.Os is not null)
            {
                evidence.Add($"{client!.Source}: client OS {c.Os}.");
            }

            if (c.SecurityPackages is { } packages)
            {
                evidence.Add(packages.Where + (c.TspkgPresent == true ? " (tspkg present)" : " (no tspkg)"));
            }

            if (c.SecurityProviders is { } providers)
            {
                evidence.Add(providers.Where + (c.CredSspProviderPresent == true ? " (credssp.dll present)" : " (no credssp.dll)"));
            }

            if (c.TspkgPresent == false || c.CredSspProviderPresent == false)
            {
                credSsp = ClientCredSsp.None;
                notes.Add("The client's CredSSP provider is not enabled (tspkg / credssp.dll missing): it cannot do NLA." + (options.ClientCredSsp is { } given && given != ClientCredSsp.None
                    ? " " + (AssumptionNote(options, OfflineAssumption.ClientCredSspOverridden, given) ?? $"(The given client CredSSP, {given.ToString().ToLowerInvariant()}, is overridden by the export.)")
                    : ""));
            }
            else if (c.Os?.IsWindowsXp == true && (c.TspkgPresent is null || c.CredSspProviderPresent is null))
            {
                credSsp = ClientCredSsp.None;
                notes.Add("Windows XP export without the Lsa \"Security Packages\" or SecurityProviders value: assumed the XP SP3 default, CredSSP not enabled (KB951608).");
            }
            else if (c.Os?.IsWindowsXp == true)
            {
                credSsp = ClientCredSsp.Unpatched;
                version = 2;
                notes.Add("Windows XP with CredSSP enabled speaks CredSSP version 2, without the CVE-2018-0886 fix.");
            }
            else if (options.ClientCredSsp is null)
            {
                notes.Add(AssumptionNote(options, OfflineAssumption.ClientCredSspAssumedUpdated, ClientCredSsp.Patched)
                    ?? "Whether the client has the CredSSP update is not in the registry: assumed updated (CredSSP 6).");
            }
        }

        int clientOracle;
        if (c?.AllowEncryptionOracle is { } clientFact)
        {
            clientOracle = clientFact.Value;
            evidence.Add(clientFact.Where);
        }
        else if (options.ClientAllowEncryptionOracle is { } given)
        {
            clientOracle = (int)given;
        }
        else
        {
            clientOracle = DefaultAllowEncryptionOracle;
            if (c is not null && credSsp == ClientCredSsp.Patched)
            {
                notes.Add($"{client!.Source} has no AllowEncryptionOracle: assumed the Windows default 1 (Mitigated).");
            }
        }

        if (clientOracle == 2 && credSsp == ClientCredSsp.Patched)
        {
            notes.Add("INSECURE client setting: AllowEncryptionOracle 2 (Vulnerable). Revert: reg add \"HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System\\CredSSP\\Parameters\" /v AllowEncryptionOracle /t REG_DWORD /d 1 /f");
        }

        var clientSettings = new ClientSettings(credSsp, ToPolicy(clientOracle)) { Version = version };
        return new Deduction(serverSettings, clientSettings, evidence, notes, s?.DenyTsConnections);
    }

    private static int Setting(Fact<int>? fact, int fallback, string side, string name, string meaning, RegFile? file, List<string> evidence, List<string> notes)
    {
        if (fact is not null)
        {
            evidence.Add(fact.Where);
            return fact.Value;
        }

        if (file is not null)
        {
            // Present but not a REG_DWORD (or deleted with "name"=-): Windows reads only a REG_DWORD, so the default applies too.
            string found = MachineFacts.NotADword(file, name) ?? $"{file.Source} has no {name}";
            notes.Add(string.Create(CultureInfo.InvariantCulture, $"{found}: assumed the Windows default {fallback} ({meaning}) for the {side}."));
        }

        return fallback;
    }

    private static EncryptionOraclePolicy ToPolicy(int value) => value switch
    {
        0 => EncryptionOraclePolicy.ForceUpdatedClients,
        2 => EncryptionOraclePolicy.Vulnerable,
        _ => EncryptionOraclePolicy.Mitigated,
    };
}
