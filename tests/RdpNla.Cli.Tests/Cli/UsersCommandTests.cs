using System.Text.Json;
using RdpNla.Tests.Accounts;
using RdpNla.Protocol.Ntlm;
using RdpNla.Server.Accounts;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Cli;

public class UsersCommandTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<CliResult> RunAsync(params string[] args) => Accounts.Cli.RunAsync([.. args, "--data", _directory.Path]);

    private Task<CliResult> RunAsync(FakeCliConsole console, params string[] args) => Accounts.Cli.RunAsync(console, [.. args, "--data", _directory.Path]);

    private async Task<CliResult> AddAsync(string name, string password = "S3cret!")
    {
        CliResult result = await RunAsync(new FakeCliConsole(password + "\n"), "users", "add", name, "--password-stdin");
        Assert.Equal(0, result.ExitCode);
        return result;
    }

    private async Task<UserCredential?> FindCredentialAsync(string name)
    {
        await using RdpNlaDatabase database = await DataDirectory.OpenDatabaseAsync(_directory.Path, null, Ct);
        return await database.Users.FindCredentialAsync(name, Ct);
    }

    private async Task<UserAccount> FindAsync(string name)
    {
        await using RdpNlaDatabase database = await DataDirectory.OpenDatabaseAsync(_directory.Path, null, Ct);
        return (await database.Users.FindAsync(name, Ct))!;
    }

    [Fact]
    public async Task Add_PasswordStdin_StoresNtHashOfTheLine()
    {
        CliResult result = await RunAsync(new FakeCliConsole("Passw0rd!\r\nignored second line\n"), "users", "add", "alice", "--password-stdin");

        Assert.Equal((0, "user 'alice' added\n", ""), (result.ExitCode, result.Output, result.Error));
        using UserCredential? credential = await FindCredentialAsync("alice");
        Assert.Equal(Convert.FromHexString("fc525c9683e8fe067095ba2ddc971889"), credential!.NtHash.ToArray());
    }

    [Fact]
    public async Task Add_PasswordStdinWithoutNewline_UsesWholeInput()
    {
        await RunAsync(new FakeCliConsole("Passw0rd!"), "users", "add", "alice", "--password-stdin");

        using UserCredential? credential = await FindCredentialAsync("alice");
        Assert.Equal(NtlmCrypto.NtOwfV1("Passw0rd!"), credential!.NtHash.ToArray());
    }

    [Fact]
    public async Task Add_StdinNotTerminalWithoutPasswordStdin_RefusesToPrompt()
    {
        var console = new FakeCliConsole("Passw0rd!\n", isTerminal: false);

        CliResult result = await RunAsync(console, "users", "add", "alice");

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: standard input is not a terminal", result.Error, StringComparison.Ordinal);
        Assert.Contains("--password-stdin", result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.TrimEnd('\n').Split('\n'));
        Assert.Equal(0, console.SecretPrompts);
        Assert.Null(await FindCredentialAsync("alice"));
    }

    [Fact]
    public async Task Add_TerminalPromptTwiceMatching_AddsUser()
    {
        var console = new FakeCliConsole(isTerminal: true, secretLines: ["Passw0rd!", "Passw0rd!"]);

        CliResult result = await RunAsync(console, "users", "add", "alice");

        Assert.Equal(0, result.ExitCode);
        Assert.Equal(2, console.SecretPrompts);
        Assert.Contains("Password for alice:", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain("Passw0rd!", result.Error + result.Output, StringComparison.Ordinal);
        using UserCredential? credential = await FindCredentialAsync("alice");
        Assert.Equal(NtlmCrypto.NtOwfV1("Passw0rd!"), credential!.NtHash.ToArray());
    }

    [Fact]
    public async Task Add_TerminalPromptMismatch_FailsAndAddsNothing()
    {
        var console = new FakeCliConsole(isTerminal: true, secretLines: ["Passw0rd!", "Passw0rd?"]);

        CliResult result = await RunAsync(console, "users", "add", "alice");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("error: the two passwords do not match", result.Error, StringComparison.Ordinal);
        Assert.Null(await FindCredentialAsync("alice"));
    }

    [Theory]
    [InlineData("\n", "the password is empty")]
    [InlineData("", "no password on standard input")]
    public async Task Add_EmptyOrMissingStdinPassword_Fails(string stdin, string expected)
    {
        CliResult result = await RunAsync(new FakeCliConsole(stdin), "users", "add", "alice", "--password-stdin");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Add_PasswordTooLong_Fails()
    {
        CliResult result = await RunAsync(new FakeCliConsole(new string('x', 257) + "\n"), "users", "add", "alice", "--password-stdin");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("longer than 256", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Add_ExistingUserOtherCase_FailsWithHint()
    {
        await AddAsync("Alice");

        CliResult result = await RunAsync(new FakeCliConsole("x\n"), "users", "add", "alice", "--password-stdin");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("error: user 'Alice' already exists; use 'rdpnla users set-password Alice' to change the password\n", result.Error);
    }

    [Theory]
    [InlineData("a*b", "contains '*'")]
    [InlineData(@"CORP\alice", "names domain 'CORP', which is not this server")]
    public async Task Add_InvalidOrForeignName_FailsWithOneLine(string name, string expected)
    {
        CliResult result = await RunAsync(new FakeCliConsole("x\n"), "users", "add", name, "--password-stdin");

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: ", result.Error, StringComparison.Ordinal);
        Assert.Contains(expected, result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public async Task Add_LocalDomainForms_StoreUserPart()
    {
        await AddAsync(@".\alice");
        await AddAsync($@"{Environment.MachineName}\bob");

        Assert.Equal("alice", (await FindAsync("alice")).UserName);
        Assert.Equal("bob", (await FindAsync("BOB")).UserName);
    }

    [Fact]
    public async Task SetPassword_ExistingUser_ReplacesHashAndClearsFlags()
    {
        await AddAsync("alice", "old");
        await RunAsync("users", "expire-password", "alice");
        await RunAsync("users", "require-password-change", "alice");

        CliResult result = await RunAsync(new FakeCliConsole("new\n"), "users", "set-password", "ALICE", "--password-stdin");

        Assert.Equal((0, "password of user 'alice' set\n"), (result.ExitCode, result.Output));
        using UserCredential? credential = await FindCredentialAsync("alice");
        Assert.Equal(NtlmCrypto.NtOwfV1("new"), credential!.NtHash.ToArray());
        Assert.False(credential.Account.PasswordExpired);
        Assert.False(credential.Account.MustChangePassword);
    }

    [Fact]
    public async Task SetPassword_MustChangeOption_SetsFlag()
    {
        await AddAsync("alice");

        await RunAsync(new FakeCliConsole("new\n"), "users", "set-password", "alice", "--password-stdin", "--must-change");

        Assert.True((await FindAsync("alice")).MustChangePassword);
    }

    [Fact]
    public async Task SetPassword_UnknownUser_FailsBeforeReadingPassword()
    {
        await AddAsync("alice");
        var console = new FakeCliConsole(isTerminal: true, secretLines: ["x", "x"]);

        CliResult result = await RunAsync(console, "users", "set-password", "carol");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal("error: no user 'carol'; run 'rdpnla users list' to see the users, or 'rdpnla users add carol' to create it\n", result.Error);
        Assert.Equal(0, console.SecretPrompts);
    }

    [Theory]
    [InlineData("disable", "disabled")]
    [InlineData("expire-password", "password marked expired")]
    [InlineData("require-password-change", "must change the password")]
    [InlineData("deny-logon", "denied remote logon")]
    [InlineData("lock", "locked until unlocked")]
    public async Task StateCommand_ExistingUser_ChangesStateAndReports(string command, string message)
    {
        await AddAsync("alice");

        CliResult result = await RunAsync("users", command, "alice");

        Assert.Equal((0, $"user 'alice' {message}\n", ""), (result.ExitCode, result.Output, result.Error));
        UserAccount account = await FindAsync("alice");
        Assert.True(command switch
        {
            "disable" => account.Disabled,
            "expire-password" => account.PasswordExpired,
            "require-password-change" => account.MustChangePassword,
            "deny-logon" => account.RemoteLogonDenied,
            _ => account.LockedUntil == DateTimeOffset.MaxValue,
        });
    }

    [Fact]
    public async Task ReverseCommands_AfterStateChanges_RestoreDefaults()
    {
        await AddAsync("alice");
        foreach (string command in new[] { "disable", "deny-logon", "lock" })
        {
            await RunAsync("users", command, "alice");
        }

        await using (RdpNlaDatabase database = await DataDirectory.OpenDatabaseAsync(_directory.Path, null, Ct))
        {
            await database.Users.UpdateAsync("alice", a => a with { FailedLogonCount = 4, LastFailedLogon = DateTimeOffset.UtcNow }, Ct);
        }

        foreach (string command in new[] { "enable", "allow-logon", "unlock" })
        {
            Assert.Equal(0, (await RunAsync("users", command, "alice")).ExitCode);
        }

        UserAccount account = await FindAsync("alice");
        Assert.False(account.Disabled);
        Assert.False(account.RemoteLogonDenied);
        Assert.Null(account.LockedUntil);
        Assert.Equal(0, account.FailedLogonCount);
    }

    [Fact]
    public async Task Lock_ForDuration_LocksUntilNowPlusDuration()
    {
        await AddAsync("alice");
        DateTimeOffset before = DateTimeOffset.UtcNow;

        CliResult result = await RunAsync("users", "lock", "alice", "--for", "2h");

        Assert.Equal(0, result.ExitCode);
        DateTimeOffset until = (await FindAsync("alice")).LockedUntil!.Value;
        Assert.InRange(until, before.AddHours(2), DateTimeOffset.UtcNow.AddHours(2));
    }

    [Fact]
    public async Task Lock_BadDuration_FailsWithExample()
    {
        await AddAsync("alice");

        CliResult result = await RunAsync("users", "lock", "alice", "--for", "soon");

        Assert.Equal(1, result.ExitCode);
        Assert.Contains("--for 'soon' is not a positive duration", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Remove_ExistingThenAgain_SecondFails()
    {
        await AddAsync("alice");

        CliResult first = await RunAsync("users", "remove", "ALICE");
        CliResult second = await RunAsync("users", "remove", "alice");

        Assert.Equal((0, "user 'alice' removed\n"), (first.ExitCode, first.Output));
        Assert.Equal(1, second.ExitCode);
        Assert.StartsWith("error: no user 'alice'", second.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task List_NoUsers_SaysHowToAdd()
    {
        await (await DataDirectory.OpenDatabaseAsync(_directory.Path, null, Ct)).DisposeAsync();

        CliResult result = await RunAsync("users", "list");

        Assert.Equal((0, "no users; add one with 'rdpnla users add NAME'\n"), (result.ExitCode, result.Output));
    }

    [Theory]
    [InlineData("users", "list")]
    [InlineData("users", "show", "alice")]
    [InlineData("users", "unlock", "alice")]
    [InlineData("groups", "list")]
    [InlineData("backends", "list")]
    [InlineData("backends", "sessions")]
    [InlineData("audit")]
    public async Task ReadOnlyCommand_NoDatabaseInTheFolder_NamesThePath_CreatesNothing(params string[] command)
    {
        string mistyped = Path.Combine(_directory.Path, "rdpnla-typo");

        CliResult result = await Accounts.Cli.RunAsync([.. command, "--data", mistyped]);

        Assert.Equal(2, result.ExitCode);
        Assert.Equal($"error: no database at '{Path.Combine(mistyped, "rdpnla.db")}': check --data DIR (or --store PATH); 'rdpnla users add' or 'rdpnla serve' creates it{Environment.NewLine}", result.Error);
        Assert.False(Directory.Exists(mistyped));
    }

    [Fact]
    public async Task List_Table_ShowsStateColumns()
    {
        await AddAsync("alice");
        await AddAsync("bob");
        await RunAsync("users", "disable", "bob");
        await RunAsync("users", "deny-logon", "alice");

        CliResult result = await RunAsync("users", "list");

        Assert.Equal(0, result.ExitCode);
        string[] lines = result.Output.Split('\n');
        Assert.Contains(lines, l => l.Contains("User", StringComparison.Ordinal) && l.Contains("State", StringComparison.Ordinal)
            && l.Contains("Locked until", StringComparison.Ordinal) && l.Contains("Password expired", StringComparison.Ordinal)
            && l.Contains("Must change", StringComparison.Ordinal) && l.Contains("Remote logon", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("alice", StringComparison.Ordinal) && l.Contains("enabled", StringComparison.Ordinal) && l.Contains("denied", StringComparison.Ordinal));
        Assert.Contains(lines, l => l.Contains("bob", StringComparison.Ordinal) && l.Contains("disabled", StringComparison.Ordinal) && l.Contains("allowed", StringComparison.Ordinal));
        Assert.DoesNotContain('\u001b', result.Output);
    }

    [Fact]
    public async Task List_Json_IsArrayWithState()
    {
        await AddAsync("alice");
        await RunAsync("users", "lock", "alice");

        CliResult result = await RunAsync("users", "list", "--json");

        using JsonDocument document = JsonDocument.Parse(result.Output);
        JsonElement alice = Assert.Single(document.RootElement.EnumerateArray());
        Assert.Equal("alice", alice.GetProperty("name").GetString());
        Assert.True(alice.GetProperty("enabled").GetBoolean());
        Assert.True(alice.GetProperty("lockedOut").GetBoolean());
        Assert.True(alice.GetProperty("remoteLogonAllowed").GetBoolean());
        Assert.False(alice.GetProperty("passwordExpired").GetBoolean());
        Assert.False(alice.GetProperty("mustChangePassword").GetBoolean());
        Assert.False(alice.TryGetProperty("ntHash", out _));
    }

    [Fact]
    public async Task Show_Json_DescribesOneUser()
    {
        await AddAsync("Alice");
        await RunAsync("users", "expire-password", "alice");

        CliResult result = await RunAsync("users", "show", "ALICE", "--json");

        using JsonDocument document = JsonDocument.Parse(result.Output);
        Assert.Equal("Alice", document.RootElement.GetProperty("name").GetString());
        Assert.True(document.RootElement.GetProperty("passwordExpired").GetBoolean());
        Assert.Equal(JsonValueKind.Null, document.RootElement.GetProperty("lockedUntil").ValueKind);
    }

    [Fact]
    public async Task Show_Table_ListsProperties()
    {
        await AddAsync("alice");

        CliResult result = await RunAsync("users", "show", "alice");

        Assert.Equal(0, result.ExitCode);
        Assert.Contains("Must change password", result.Output, StringComparison.Ordinal);
        Assert.Contains("Remote logon", result.Output, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Show_UnknownUser_Fails()
    {
        await AddAsync("alice");

        CliResult result = await RunAsync("users", "show", "nobody");

        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith("error: no user 'nobody'", result.Error, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Add_PasswordAsArgument_IsRejectedByParser()
    {
        CliResult result = await RunAsync("users", "add", "alice", "--password", "S3cret!");

        Assert.Equal(1, result.ExitCode);
        Assert.Equal(RdpNla.Cli.Interaction.PasswordOptions.ValueRefused, result.Error.Trim());
        Assert.Null(await FindCredentialAsync("alice"));
    }

    [Fact]
    public async Task Add_DataIsAFile_FailsWithDataError()
    {
        string file = Path.Combine(_directory.Path, "file");
        await File.WriteAllTextAsync(file, "x", Ct);

        CliResult result = await Accounts.Cli.RunAsync(new FakeCliConsole("x\n"), "users", "add", "alice", "--password-stdin", "--data", file);

        Assert.Equal(2, result.ExitCode);
        Assert.StartsWith("error: cannot use data directory", result.Error, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("", null, "error: --backend-user is empty; give the account on the backend, e.g. --backend-user svc")]
    [InlineData(" ", null, "error: --backend-user is blank; give the account on the backend")]
    [InlineData("sv\u001B[2Jc", null, "error: --backend-user 'sv\\u001B[2Jc' contains a control character")]
    [InlineData("svc", " ", "error: --backend-domain is blank")]
    [InlineData("svc", "LAB\n", "error: --backend-domain 'LAB\\u000A' contains a control character")]
    public async Task SetCredentials_EmptyBlankOrControlCharacterBackendAccount_IsRefusedAndNothingIsStored(string backendUser, string? backendDomain, string expected)
    {
        await AddAsync("carl");
        var console = new FakeCliConsole("x\n");

        CliResult result = await RunAsync(
            console,
            ["users", "set-credentials", "carl", "--backend-user", backendUser, .. backendDomain is null ? Array.Empty<string>() : ["--backend-domain", backendDomain], "--backend", "127.0.0.1:20130", "--password-stdin"]);

        Assert.Equal((1, ""), (result.ExitCode, result.Output));
        Assert.StartsWith(expected, result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.TrimEnd('\n').Split('\n'));
        Assert.DoesNotContain(result.Error, c => c is '\u001B');
        await using RdpNlaDatabase database = await DataDirectory.OpenDatabaseAsync(_directory.Path, null, Ct);
        Assert.Null(await database.Gateway.GetMappedCredentialAsync("carl", Ct));
    }
}
