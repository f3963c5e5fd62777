using RdpNla.Diagnosis;
using RdpNla.Diagnosis.Catalogue;

namespace RdpNla.Tests.Doctor;

public class CatalogueTests
{
    [Fact]
    public void Catalogue_HasOneEntryPerCause_WithUniqueKebabIds()
    {
        Assert.Equal(Enum.GetValues<Cause>(), CauseCatalogue.All.Select(e => e.Cause));
        Assert.Equal(CauseCatalogue.All.Count, CauseCatalogue.All.Select(e => e.Id).Distinct().Count());
        Assert.All(CauseCatalogue.All, e => Assert.Matches("^[a-z0-9]+(-[a-z0-9]+)*$", e.Id));
    }

    [Fact]
    public void Catalogue_EveryEntryStartsWithASafeFix_AndEveryInsecureFixHasARevert()
    {
        Assert.All(CauseCatalogue.All, e =>
        {
            Assert.NotEmpty(e.Fixes);
            Assert.Equal(FixSafety.Safe, e.Fixes[0].Safety);
            Assert.All(e.Fixes, f => Assert.Equal(f.Safety == FixSafety.Insecure, f.Revert.Count > 0));
        });
    }

    [Fact]
    public void Catalogue_NamedFixes_EveryReferenceExists_AndEveryEntryIsUsed()
    {
        _ = CauseCatalogue.All; // builds the catalogue, which looks every named fix up

        Assert.Equal(NamedFixes.Names.Order(StringComparer.Ordinal), NamedFixes.Used.Order(StringComparer.Ordinal));
        Assert.Throws<KeyNotFoundException>(() => NamedFixes.Use("no-such-fix"));
    }

    [Fact]
    public void Catalogue_NamedFixes_AreSharedSteps_NotCopies()
    {
        // The insecure "stop requiring NLA" workaround of two causes and its revert come from one table entry.
        Fix Insecure(Cause cause) => CauseCatalogue.Get(cause).Fixes.First(f => f.Safety == FixSafety.Insecure && f.Side == FixSide.Server);

        Fix xp = Insecure(Cause.NlaRequiredClientUnsupported);
        Fix oracle = Insecure(Cause.EncryptionOracleServerUnpatched);
        Assert.Same(xp.Steps, oracle.Steps);
        Assert.Same(xp.Revert, oracle.Revert);
        Assert.Equal(
            [
                new FixStep(FixStepKind.Registry, @"reg add ""HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp"" /v UserAuthentication /t REG_DWORD /d 0 /f"),
                new FixStep(FixStepKind.GroupPolicy, "Computer Configuration > Administrative Templates > Windows Components > Remote Desktop Services > Remote Desktop Session Host > Security > Require user authentication for remote connections by using Network Level Authentication = Disabled"),
                new FixStep(FixStepKind.PowerShell, @"Set-ItemProperty -Path 'HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp' -Name UserAuthentication -Value 0 -Type DWord"),
            ],
            xp.Steps);
    }

    [Fact]
    public void Catalogue_KnownMstscMessages_AreQuotedExactly()
    {
        Assert.Contains(CauseCatalogue.Get(Cause.NlaRequiredClientUnsupported).MessagesSeen, m => m.Text.StartsWith("The remote computer requires Network Level Authentication, which your computer does not support", StringComparison.Ordinal) && m.Confirmed);
        Assert.Contains(CauseCatalogue.Get(Cause.NlaRequiredClientUnsupported).MessagesSeen, m => m.Text == "Authentication error (code 0x507)");
        Assert.Contains(CauseCatalogue.Get(Cause.EncryptionOracleServerUnpatched).MessagesSeen, m => m.Text.Contains("The function requested is not supported", StringComparison.Ordinal) && m.Text.Contains("This could be due to CredSSP encryption oracle remediation", StringComparison.Ordinal));
        Assert.Contains(CauseCatalogue.Get(Cause.ServerRefusesNla).MessagesSeen, m => m.Text == "You cannot proceed because authentication is required");
    }

    [Fact]
    public void Catalogue_RegistryFixes_NameTheDocumentedKeys()
    {
        string Steps(Cause cause) => string.Join("\n", CauseCatalogue.Get(cause).Fixes.SelectMany(f => f.Steps.Concat(f.Revert)).Select(s => s.Text));

        string xp = Steps(Cause.NlaRequiredClientUnsupported);
        Assert.Contains(@"reg add ""HKLM\SYSTEM\CurrentControlSet\Control\Lsa"" /v ""Security Packages"" /t REG_MULTI_SZ", xp, StringComparison.Ordinal);
        Assert.Contains("tspkg", xp, StringComparison.Ordinal);
        Assert.Contains(@"reg add ""HKLM\SYSTEM\CurrentControlSet\Control\SecurityProviders"" /v SecurityProviders", xp, StringComparison.Ordinal);
        Assert.Contains("credssp.dll", xp, StringComparison.Ordinal);

        string oracle = Steps(Cause.EncryptionOracleServerUnpatched);
        Assert.Contains(@"reg add ""HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System\CredSSP\Parameters"" /v AllowEncryptionOracle /t REG_DWORD /d 2 /f", oracle, StringComparison.Ordinal);
        Assert.Contains("Credentials Delegation > Encryption Oracle Remediation", oracle, StringComparison.Ordinal);
        Assert.Contains("Set-ItemProperty", oracle, StringComparison.Ordinal);

        Assert.Contains(@"WinStations\RDP-Tcp"" /v SecurityLayer /t REG_DWORD /d 2 /f", Steps(Cause.ServerRefusesNla), StringComparison.Ordinal);
        Assert.Contains("rdpnla users unlock <user>", Steps(Cause.AccountLocked), StringComparison.Ordinal);
        Assert.Contains("Unlock-ADAccount", Steps(Cause.AccountLocked), StringComparison.Ordinal);
        Assert.Contains("net user <user> /active:yes", Steps(Cause.AccountDisabled), StringComparison.Ordinal);
    }

    [Fact]
    public void Catalogue_EvidenceTemplates_UseOnlyKnownPlaceholders()
    {
        string[] known = ["host", "endpoint", "error", "answer", "requested", "selected", "serverSetting", "clientDetail", "certificateProblem", "serverVersion", "clientVersion", "clientPolicy", "serverAnswer", "status", "user", "authorization", "stage", "detail"];
        Assert.All(CauseCatalogue.All, e => Assert.All(Evidence.Placeholders(e.EvidenceTemplate), p => Assert.Contains(p, known)));
    }

    [Fact]
    public void TroubleshootingDoc_IsGeneratedFromTheCatalogue()
    {
        string expected = CatalogueMarkdown.Render();
        if (Environment.GetEnvironmentVariable("RDPNLA_REGENERATE_DOCS") == "1")
        {
            File.WriteAllText(DoctorPaths.TroubleshootingDoc, expected);
        }

        string actual = File.Exists(DoctorPaths.TroubleshootingDoc) ? File.ReadAllText(DoctorPaths.TroubleshootingDoc).ReplaceLineEndings("\n") : "(missing)";
        Assert.True(
            expected == actual,
            "docs/troubleshooting.md differs from the cause catalogue; regenerate it with: dotnet run --project src/RdpNla.Cli -- doctor --catalogue-markdown > docs/troubleshooting.md (or RDPNLA_REGENERATE_DOCS=1 dotnet test)");
    }

    [Fact]
    public void DoctorDoc_ExitCodeTable_ListsEveryCauseUnderItsExitCode()
    {
        // docs/doctor.md is written by hand: its table must follow the catalogue (ids and classes).
        string doc = File.ReadAllText(Path.Combine(DoctorPaths.RepositoryRoot, "docs", "doctor.md"));
        string table = doc[doc.IndexOf("## Exit codes", StringComparison.Ordinal)..];
        var listed = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (string row in table.Split('\n').TakeWhile(line => !line.StartsWith("## ", StringComparison.Ordinal) || line == "## Exit codes").Where(line => line.StartsWith("| 1", StringComparison.Ordinal)))
        {
            string[] cells = row.Split('|');
            int code = int.Parse(cells[1].Trim(), System.Globalization.CultureInfo.InvariantCulture);
            foreach (System.Text.RegularExpressions.Match id in System.Text.RegularExpressions.Regex.Matches(cells[3], "`([a-z0-9-]+)`"))
            {
                listed.Add(id.Groups[1].Value, code);
            }
        }

        Assert.Equal(CauseCatalogue.All.ToDictionary(e => e.Id, e => e.ExitCode).OrderBy(p => p.Key), listed.OrderBy(p => p.Key));
    }

    [Fact]
    public void TroubleshootingDoc_HasOneSectionPerCause()
    {
        string markdown = CatalogueMarkdown.Render();

        Assert.All(CauseCatalogue.All, e => Assert.Contains($"<a id=\"{e.Id}\"></a>\n## {e.Title}\n", markdown, StringComparison.Ordinal));
        Assert.Equal(CauseCatalogue.All.Sum(e => e.Fixes.Count(f => f.Safety == FixSafety.Insecure)), markdown.Split("**INSECURE** workaround").Length - 1);
    }
}
