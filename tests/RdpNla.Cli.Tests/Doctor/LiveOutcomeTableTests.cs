using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text;
using RdpNla.Cli.Commands;
using RdpNla.Client;
using RdpNla.Diagnosis;
using RdpNla.Diagnosis.Catalogue;
using RdpNla.Diagnosis.Live;
using RdpNla.Diagnosis.Model;
using RdpNla.Tests.Support;
using RdpNla.Protocol.CredSsp;
using RdpNla.Server.Accounts;
using RdpNla.Server.FrontDoor;

namespace RdpNla.Tests.Doctor;

/// <summary>
/// The outcome table predicted by <see cref="OutcomeModel"/> equals the outcome measured by really
/// connecting doctor's live walk, emulating each client kind, to <c>rdpnla serve</c> in every combination of server
/// SecurityLayer × UserAuthentication × CredSSP version × AllowEncryptionOracle × client CredSSP × client
/// AllowEncryptionOracle × account state. Writes (or checks) docs/doctor-outcomes.md.
/// </summary>
public class LiveOutcomeTableTests(ITestOutputHelper output)
{
    private const string Password = "Corr3ct-Horse-Battery";
    private const string WrongPassword = "Wrong-Horse-Battery";

    private static readonly IReadOnlyDictionary<AccountState, string> UserNames = new Dictionary<AccountState, string>
    {
        [AccountState.Ok] = "ok",
        [AccountState.WrongPassword] = "wrongpw",
        [AccountState.LockedOut] = "locked",
        [AccountState.Disabled] = "disabled",
        [AccountState.PasswordExpired] = "expired",
        [AccountState.MustChangePassword] = "mustchange",
        [AccountState.RemoteLogonDenied] = "denied",
    };

    private static readonly Lazy<string> SharedPfx = new(() =>
    {
        string path = Path.Combine(Path.GetTempPath(), "rdpnla-tests", $"doctor-table-{Environment.ProcessId}.pfx");
        Directory.CreateDirectory(Path.GetDirectoryName(path)!);
        File.WriteAllBytes(path, TestCertificates.Server.Export(System.Security.Cryptography.X509Certificates.X509ContentType.Pkcs12));
        return path;
    });

    private static string DocPath => Path.Combine(DoctorPaths.RepositoryRoot, "docs", "doctor-outcomes.md");

    [Fact]
    public async Task MeasuredOutcomeTable_EqualsTheModel_CellByCell()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        List<ModelCell> cells = [.. OutcomeModel.EnumerateCells()];
        var watch = Stopwatch.StartNew();

        // One server per server configuration (36), one user per account state; every client cell runs against it.
        var servers = new ConcurrentDictionary<ServerSettings, TestFrontDoor>();
        try
        {
            await Parallel.ForEachAsync(cells.Select(c => c.Server).Distinct(), new ParallelOptions { MaxDegreeOfParallelism = 6, CancellationToken = ct }, async (settings, token) =>
            {
                TestFrontDoor server = await TestFrontDoor.StartAsync(
                    o =>
                    {
                        o.SecurityLayer = settings.SecurityLayer;
                        o.UserAuthentication = settings.UserAuthentication ? 1 : 0;
                        o.MaxCredSspVersion = settings.MaxCredSspVersion;
                        o.AllowEncryptionOracle = settings.AllowEncryptionOracle;
                        o.Certificate.PfxPath = SharedPfx.Value; // one certificate for all 36 servers: no key generation each

                        // The table makes 63 connections per server from 127.0.0.1, a third of them failed logons: the
                        // default per-source penalties would start refusing 127.0.0.1, and the default connection rate
                        // limit (50/s per address) would refuse the burst. Both are turned off for this test only. The cap of
                        // unauthenticated connections per address (16) is raised too: the walks run in parallel and a
                        // server releases a slot only when its handler has finished (audit row written), a little after
                        // the client has gone.
                        o.Limits = new FrontDoorLimits { PenaltiesEnabled = false, MaxConnectionRatePerAddress = 0, MaxUnauthenticatedConnectionsPerAddress = 256 };
                    },
                    new AccountPolicyOptions { LockoutThreshold = 0 }); // the wrong-password user must not become locked
                servers[settings] = server;
                foreach ((AccountState state, string name) in UserNames)
                {
                    await server.AddUserAsync(name, Password, state switch
                    {
                        AccountState.LockedOut => a => a with { LockedUntil = DateTimeOffset.UtcNow.AddDays(1) },
                        AccountState.Disabled => a => a with { Disabled = true },
                        AccountState.PasswordExpired => a => a with { PasswordExpired = true },
                        AccountState.MustChangePassword => a => a with { MustChangePassword = true },
                        AccountState.RemoteLogonDenied => a => a with { RemoteLogonDenied = true },
                        _ => null,
                    });
                }
            });

            TimeSpan setup = watch.Elapsed;
            var measured = new ConcurrentDictionary<ModelCell, DoctorReport>();
            await Parallel.ForEachAsync(cells, new ParallelOptions { MaxDegreeOfParallelism = 8, CancellationToken = ct }, async (cell, token) =>
            {
                TestFrontDoor server = servers[cell.Server];
                using var credentials = new NlaCredentials(UserNames[cell.Account], "", cell.Account == AccountState.WrongPassword ? WrongPassword : Password);
                measured[cell] = await LiveWalker.RunAsync("127.0.0.1", server.Port, cell.Client, credentials, TimeSpan.FromSeconds(10), token);
            });
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{cells.Count} cells: servers started in {setup.TotalSeconds:0.0} s, walks took {(watch.Elapsed - setup).TotalSeconds:0.0} s"));

            var mismatches = new List<string>();
            foreach (ModelCell cell in cells)
            {
                PredictedOutcome predicted = OutcomeModel.Predict(cell);
                DoctorReport report = measured[cell];
                string expected = Label(predicted.ObservableCause);
                if (expected != report.Label || predicted.Phase != report.Phase)
                {
                    mismatches.Add($"{cell.Key}: predicted {expected} at {predicted.Phase}, measured {report.Label} at {report.Phase} ({string.Join(" | ", report.Evidence.Take(3))})");
                }
            }

            foreach (ServerSettings settings in cells.Where(c => measured[c].Label != Label(OutcomeModel.Predict(c).ObservableCause)).Select(c => c.Server).Distinct())
            {
                output.WriteLine($"server {settings}:\n" + string.Join("\n", servers[settings].LogRecords.Where(r => r.Level >= Microsoft.Extensions.Logging.LogLevel.Warning).Select(r => r.Message).Take(20)));
            }

            string markdown = Render(cells, measured, mismatches);
            if (Environment.GetEnvironmentVariable("RDPNLA_REGENERATE_DOCS") == "1")
            {
                await File.WriteAllTextAsync(DocPath, markdown, ct);
            }

            Assert.True(mismatches.Count == 0, $"{mismatches.Count} of {cells.Count} cells differ between the model and the measurement:\n{string.Join("\n", mismatches)}");
            string actual = File.Exists(DocPath) ? (await File.ReadAllTextAsync(DocPath, ct)).ReplaceLineEndings("\n") : "(missing)";
            Assert.True(markdown == actual, "docs/doctor-outcomes.md differs from the measured table; regenerate it with: RDPNLA_REGENERATE_DOCS=1 dotnet test --project tests/RdpNla.Cli.Tests -- --filter-class \"*LiveOutcomeTableTests\"");
        }
        finally
        {
            foreach (TestFrontDoor server in servers.Values)
            {
                await server.DisposeAsync();
            }
        }
    }

    private static string Label(Cause? cause) => cause is { } c ? CauseCatalogue.Get(c).Id : "success";

    private static string ClientColumn(ClientSettings client) => client.CredSsp switch
    {
        ClientCredSsp.None => "none",
        ClientCredSsp.Unpatched => "unpatched v4",
        _ => string.Create(CultureInfo.InvariantCulture, $"patched v6 AEO {(int)client.AllowEncryptionOracle}"),
    };

    /// <summary>The account pattern when CredSSP runs to the account check: each state gives its own cause.</summary>
    private static readonly IReadOnlyDictionary<AccountState, string> AccountDecides = new Dictionary<AccountState, string>
    {
        [AccountState.Ok] = "success",
        [AccountState.WrongPassword] = "wrong-credentials",
        [AccountState.LockedOut] = "account-locked",
        [AccountState.Disabled] = "account-disabled",
        [AccountState.PasswordExpired] = "password-expired",
        [AccountState.MustChangePassword] = "password-must-change",
        [AccountState.RemoteLogonDenied] = "remote-logon-denied",
    };

    private static string Render(List<ModelCell> cells, ConcurrentDictionary<ModelCell, DoctorReport> measured, List<string> mismatches)
    {
        var text = new StringBuilder();
        text.Append("# `rdpnla doctor`: the outcome table, predicted and measured\n\n");
        text.Append("Generated by `tests/RdpNla.Cli.Tests/Doctor/LiveOutcomeTableTests.cs` (regenerate with\n");
        text.Append("`RDPNLA_REGENERATE_DOCS=1 dotnet test --project tests/RdpNla.Cli.Tests -- --filter-class \"*LiveOutcomeTableTests\"`).\n");
        text.Append("For every cell the test starts `rdpnla serve` with the server settings (one server per configuration, one user\n");
        text.Append("per account state), runs doctor's live walk emulating the client (none: requests PROTOCOL_SSL only, the XP SP3\n");
        text.Append("case; unpatched: CredSSP version 4, no AllowEncryptionOracle; patched: CredSSP version 6 with the given\n");
        text.Append("AllowEncryptionOracle; SSL|HYBRID|HYBRID_EX requested otherwise), and compares the diagnosis (cause and phase) with\n");
        text.Append("`OutcomeModel.Predict` for the same cell. Causes are the ids of [troubleshooting.md](troubleshooting.md).\n\n");
        text.Append(string.Create(CultureInfo.InvariantCulture, $"**{cells.Count} cells, {cells.Count - mismatches.Count} equal, {mismatches.Count} different.**\n\n"));
        foreach (string mismatch in mismatches)
        {
            text.Append("- MISMATCH ").Append(mismatch).Append('\n');
        }

        text.Append("## Summary\n\n");
        text.Append("One row per server configuration, one column per client. *by account* means CredSSP reached the account check,\n");
        text.Append("so the account state decides: ok → `success`, wrong password → `wrong-credentials`, locked → `account-locked`,\n");
        text.Append("disabled → `account-disabled`, expired → `password-expired`, must change → `password-must-change`, no right to log\n");
        text.Append("on remotely → `remote-logon-denied`. Otherwise the connection stops before the account and every state gives the\n");
        text.Append("cause shown. Unpatched and no-CredSSP clients have no AllowEncryptionOracle: their three rows of the full table\n");
        text.Append("(AEO 0/1/2) are equal and shown once.\n\n");
        string[] columns = ["none", "unpatched v4", "patched v6 AEO 0", "patched v6 AEO 1", "patched v6 AEO 2"];
        text.Append("| SecurityLayer | UserAuthentication | server CredSSP | server AEO | ").Append(string.Join(" | ", columns)).Append(" |\n");
        text.Append("|---|---|---|---|").Append(string.Concat(columns.Select(_ => "---|"))).Append('\n');
        foreach (IGrouping<ServerSettings, ModelCell> server in cells.GroupBy(c => c.Server))
        {
            ServerSettings s = server.Key;
            text.Append(string.Create(CultureInfo.InvariantCulture, $"| {(int)s.SecurityLayer} | {(s.UserAuthentication ? 1 : 0)} | {s.MaxCredSspVersion} | {(int)s.AllowEncryptionOracle} |"));
            foreach (string column in columns)
            {
                var byAccount = server.Where(c => ClientColumn(c.Client) == column)
                    .GroupBy(c => c.Account)
                    .ToDictionary(g => g.Key, g => g.Select(c => measured[c].Label).Distinct().ToList());
                string cell;
                if (byAccount.Values.Any(v => v.Count != 1))
                {
                    cell = "varies with client AEO";
                }
                else if (byAccount.Values.Select(v => v[0]).Distinct().Count() == 1)
                {
                    cell = $"`{byAccount.Values.First()[0]}`";
                }
                else if (byAccount.All(kv => AccountDecides[kv.Key] == kv.Value[0]))
                {
                    cell = "*by account*";
                }
                else
                {
                    cell = string.Join(", ", byAccount.Select(kv => $"{kv.Key}: `{kv.Value[0]}`"));
                }

                text.Append(' ').Append(cell).Append(" |");
            }

            text.Append('\n');
        }

        text.Append("\n## Every cell\n\n");
        text.Append("| SL | UA | server CredSSP | server AEO | client | client AEO | account | predicted | measured | phase |\n");
        text.Append("|---|---|---|---|---|---|---|---|---|---|\n");
        foreach (ModelCell cell in cells)
        {
            PredictedOutcome predicted = OutcomeModel.Predict(cell);
            DoctorReport report = measured[cell];
            ServerSettings s = cell.Server;
            text.Append(string.Create(CultureInfo.InvariantCulture,
                $"| {(int)s.SecurityLayer} | {(s.UserAuthentication ? 1 : 0)} | {s.MaxCredSspVersion} | {(int)s.AllowEncryptionOracle} | {cell.Client.CredSsp.ToString().ToLowerInvariant()} | {(int)cell.Client.AllowEncryptionOracle} | {cell.Account} | {Label(predicted.ObservableCause)} | {report.Label} | {report.Phase} |\n"));
        }

        return text.ToString();
    }
}
