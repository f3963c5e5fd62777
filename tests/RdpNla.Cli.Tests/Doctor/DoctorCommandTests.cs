using System.Text.Json;
using RdpNla.Tests.Accounts;

namespace RdpNla.Tests.Doctor;

/// <summary><c>rdpnla doctor --reg</c> in-process, with the documented failure cases (KB951608, KB4093492, SecurityLayer 0) as .reg files (tests/TestVectors/reg).</summary>
public class DoctorCommandTests
{
    private static Task<CliResult> RunAsync(params string[] args) => Accounts.Cli.RunAsync(["doctor", .. args]);

    private static string Reg(string name) => DoctorPaths.RegVector(name);

    private static int IndexOf(string text, string value)
    {
        int index = text.IndexOf(value, StringComparison.Ordinal);
        Assert.True(index >= 0, $"'{value}' not found in:\n{text}");
        return index;
    }

    [Fact]
    public async Task Reg_XpSp3WithoutCredSsp_AgainstNlaServer_IsNlaNotSupportedWithTheTspkgFix()
    {
        // Seed article: XP SP3 tspkg/credssp.dll ("The remote computer requires Network Level Authentication...").
        CliResult result = await RunAsync("--reg", Reg("server-nla-required.reg"), "--reg", Reg("client-xp-sp3-no-credssp.reg"));

        Assert.Equal((13, ""), (result.ExitCode, result.Error));
        string output = result.Output;
        Assert.StartsWith("Cause: The server requires NLA and the client cannot do it (XP SP3: CredSSP provider not enabled) [nla-required-client-unsupported], predicted", output, StringComparison.Ordinal);
        Assert.Contains("\"The remote computer requires Network Level Authentication, which your computer does not support.", output, StringComparison.Ordinal);
        Assert.Contains("\"Authentication error (code 0x507)\"", output, StringComparison.Ordinal);
        Assert.Contains("HYBRID_REQUIRED_BY_SERVER to a request for PROTOCOL_SSL", output, StringComparison.Ordinal);
        Assert.Contains("server-nla-required.reg line 17: [HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\WinStations\\RDP-Tcp] \"UserAuthentication\" = 1", output, StringComparison.Ordinal);
        Assert.Contains("\"Security Packages\" = kerberos, msv1_0, schannel, wdigest (no tspkg)", output, StringComparison.Ordinal);
        Assert.Contains("(no credssp.dll)", output, StringComparison.Ordinal);
        int clientFix = IndexOf(output, "Fix (client side): Enable the CredSSP provider on Windows XP SP3");
        int insecure = IndexOf(output, "INSECURE workaround (server side): Stop requiring NLA");
        Assert.True(clientFix < insecure);
        Assert.Contains("reg> reg add \"HKLM\\SYSTEM\\CurrentControlSet\\Control\\Lsa\" /v \"Security Packages\" /t REG_MULTI_SZ /d \"kerberos\\0msv1_0\\0schannel\\0wdigest\\0tspkg\" /f", output, StringComparison.Ordinal);
        Assert.Contains("credssp.dll\" /f", output, StringComparison.Ordinal);
        Assert.Contains("shutdown /r /t 0", output, StringComparison.Ordinal);
        Assert.Contains("Revert afterwards:\n  reg> reg add \"HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\WinStations\\RDP-Tcp\" /v UserAuthentication /t REG_DWORD /d 1 /f", output, StringComparison.Ordinal);
        Assert.EndsWith("exit code 13\n", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reg_XpSp3AfterTheFix_AgainstNlaServer_Succeeds()
    {
        CliResult result = await RunAsync("--reg", Reg("server-nla-required.reg"), "--reg", Reg("client-xp-sp3-credssp-enabled.reg"));

        Assert.Equal(0, result.ExitCode);
        Assert.StartsWith("OK: the connection would succeed with Network Level Authentication, predicted", result.Output, StringComparison.Ordinal);
        Assert.Contains("CredSSP version 2", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reg_PatchedMitigatedClient_AgainstUnpatchedServer_IsEncryptionOracleWithSafeFixFirst()
    {
        // Seed article: CredSSP encryption oracle remediation (updated Windows client, server without the update).
        CliResult result = await RunAsync("--reg", Reg("server-2012r2-unpatched.reg"), "--reg", Reg("client-win10-mitigated.reg"), "--server-credssp", "unpatched");

        Assert.Equal(14, result.ExitCode);
        string output = result.Output;
        Assert.Contains("[encryption-oracle-server-unpatched]", output, StringComparison.Ordinal);
        Assert.Contains("This could be due to CredSSP encryption oracle remediation.", output, StringComparison.Ordinal);
        Assert.Contains("client-win10-mitigated.reg line 11: [HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System\\CredSSP\\Parameters] \"AllowEncryptionOracle\" = 1", output, StringComparison.Ordinal);
        int safe = IndexOf(output, "Fix (server side): Install the CredSSP update on the server");
        int insecure = IndexOf(output, "INSECURE workaround (client side): Temporarily let this client fall back");
        int revert = IndexOf(output, "Revert afterwards:\n  reg> reg add \"HKLM\\SOFTWARE\\Microsoft\\Windows\\CurrentVersion\\Policies\\System\\CredSSP\\Parameters\" /v AllowEncryptionOracle /t REG_DWORD /d 1 /f");
        Assert.True(safe < insecure && insecure < revert);
        Assert.Contains("/v AllowEncryptionOracle /t REG_DWORD /d 2 /f", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reg_ForceUpdatedClientsServer_AgainstUnpatchedClient_IsEncryptionOracleOtherDirection()
    {
        CliResult result = await RunAsync("--reg", Reg("server-force-updated-clients.reg"), "--reg", Reg("client-win7-unpatched.reg"), "--client-credssp", "unpatched");

        Assert.Equal(14, result.ExitCode);
        string output = result.Output;
        Assert.Contains("[encryption-oracle-client-unpatched]", output, StringComparison.Ordinal);
        Assert.Contains("errorCode STATUS_NOT_SUPPORTED", output, StringComparison.Ordinal);
        int safe = IndexOf(output, "Fix (client side): Install the CredSSP update on the client");
        int insecure = IndexOf(output, "INSECURE workaround (server side): Temporarily let the server accept unpatched clients");
        int revert = IndexOf(output, "/v AllowEncryptionOracle /t REG_DWORD /d 0 /f");
        Assert.True(safe < insecure && insecure < revert);
    }

    [Fact]
    public async Task Reg_SecurityLayer0_IsServerRefusesNlaWithTheSecureFix()
    {
        // Seed article: "You cannot proceed because authentication is required" (its SecurityLayer 0 advice).
        CliResult result = await RunAsync("--reg", Reg("server-securitylayer-0.reg"));

        Assert.Equal(13, result.ExitCode);
        string output = result.Output;
        Assert.Contains("[server-refuses-nla]", output, StringComparison.Ordinal);
        Assert.Contains("\"You cannot proceed because authentication is required\" (unconfirmed)", output, StringComparison.Ordinal);
        Assert.Contains("The server selected PROTOCOL_RDP although the client offered PROTOCOL_SSL|PROTOCOL_HYBRID|PROTOCOL_HYBRID_EX (SecurityLayer=0).", output, StringComparison.Ordinal);
        Assert.Contains("/v SecurityLayer /t REG_DWORD /d 2 /f", output, StringComparison.Ordinal);
        Assert.Contains("INSECURE server setting: SecurityLayer 0", output, StringComparison.Ordinal);
        Assert.Contains("No client export", output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reg_NlaRequiredServerWithDefaultClient_Succeeds()
    {
        CliResult result = await RunAsync("--reg", "server=" + Reg("server-nla-required.reg"));

        Assert.Equal(0, result.ExitCode);
    }

    [Fact]
    public async Task Reg_ClientOnlyWithPrefix_UsesServerDefaults()
    {
        CliResult result = await RunAsync("--reg", "client=" + Reg("client-xp-sp3-no-credssp.reg"));

        Assert.Equal(13, result.ExitCode);
        Assert.Contains("No server export", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reg_Json_HasCauseFixesAndEvidence()
    {
        CliResult result = await RunAsync("--reg", Reg("server-nla-required.reg"), "--reg", Reg("client-xp-sp3-no-credssp.reg"), "--json");

        Assert.Equal(13, result.ExitCode);
        using JsonDocument json = JsonDocument.Parse(result.Output);
        JsonElement root = json.RootElement;
        Assert.Equal(("offline", false, "nla-required-client-unsupported", 13), (root.GetProperty("mode").GetString(), root.GetProperty("success").GetBoolean(), root.GetProperty("result").GetString(), root.GetProperty("exitCode").GetInt32()));
        JsonElement fixes = root.GetProperty("cause").GetProperty("fixes");
        Assert.Equal("Safe", fixes[0].GetProperty("safety").GetString());
        Assert.Contains(fixes.EnumerateArray(), f => f.GetProperty("safety").GetString() == "Insecure" && f.GetProperty("revert").GetArrayLength() > 0);
        Assert.True(root.GetProperty("evidence").GetArrayLength() > 2);
    }

    [Fact]
    public async Task Reg_MalformedFile_IsALineNumberedError()
    {
        string path = Path.Combine(Path.GetTempPath(), $"rdpnla-doctor-{Guid.NewGuid():N}.reg");
        await File.WriteAllTextAsync(path, "Windows Registry Editor Version 5.00\r\n\r\n[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\r\n\"a\"=dword:nothex\r\n", TestContext.Current.CancellationToken);
        try
        {
            CliResult result = await RunAsync("--reg", path);

            Assert.Equal((1, ""), (result.ExitCode, result.Output));
            Assert.StartsWith($"error: {path} line 4: dword of \"a\" must be 1 to 8 hexadecimal digits", result.Error, StringComparison.Ordinal);
            Assert.Single(result.Error.TrimEnd('\n').Split('\n'));
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public async Task Reg_MissingFile_IsAUserError()
    {
        CliResult result = await RunAsync("--reg", "/nonexistent/server.reg");

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: cannot read '/nonexistent/server.reg'", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Reg_FileThatNeverEnds_IsRefusedPastTheLimit_NotReadIntoMemory()
    {
        // /dev/zero stands for a device or a pipe named by mistake: the read stops at 16 MiB.
        CliResult result = await RunAsync("--reg", "/dev/zero");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("error: '/dev/zero' is larger than 16 MiB, which no export of the keys docs/doctor.md lists reaches; export only those keys" + Environment.NewLine, result.Error);
    }

    [Fact]
    public async Task Reg_Folder_SaysItIsAFolder()
    {
        string folder = Directory.CreateTempSubdirectory("rdpnla-reg-").FullName;
        try
        {
            CliResult result = await RunAsync("--reg", folder);

            Assert.Equal(1, result.ExitCode);
            Assert.Equal($"error: cannot read '{folder}': it is a folder; give the file that 'reg export' wrote" + Environment.NewLine, result.Error);
        }
        finally
        {
            Directory.Delete(folder);
        }
    }

    [Theory]
    [InlineData(new string[0], "nothing to diagnose")]
    [InlineData(new[] { "host", "--reg", "x.reg" }, "not both")]
    [InlineData(new[] { "host", "--password-stdin" }, "a password needs a user")]
    [InlineData(new[] { "host:99999" }, "the port must be a number from 1 to 65535")]
    [InlineData(new[] { "--reg", "a.reg", "--reg", "b.reg", "--reg", "c.reg" }, "too many --reg files")]
    [InlineData(new[] { "host", "--client-allow-encryption-oracle", "3" }, "must be 0, 1 or 2")]
    [InlineData(new[] { "host", "--timeout", "0" }, "--timeout must be more than 0 and at most 3600 seconds")]
    [InlineData(new[] { "host", "--server-credssp", "unpatched" }, "--server-credssp is for the offline prediction")]
    public async Task UsageErrors_ExitOne(string[] args, string message)
    {
        CliResult result = await RunAsync(args);

        Assert.Equal(1, result.ExitCode);
        Assert.Contains(message, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task CatalogueMarkdown_PrintsTheGeneratedDoc()
    {
        CliResult result = await RunAsync("--catalogue-markdown");

        Assert.Equal((0, RdpNla.Diagnosis.Catalogue.CatalogueMarkdown.Render()), (result.ExitCode, result.Output));
    }
}
