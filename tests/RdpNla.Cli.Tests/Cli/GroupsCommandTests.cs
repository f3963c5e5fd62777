using RdpNla.Tests.Accounts;
using RdpNla.Server.Gateway;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Cli;

/// <summary><c>rdpnla groups ...</c>: group names checked as user names are, escaped when listed, and one-line errors.</summary>
public class GroupsCommandTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<CliResult> RunAsync(params string[] args) => Accounts.Cli.RunAsync([.. args, "--data", _directory.Path]);

    private async Task AddUserAsync(string name) =>
        Assert.Equal(0, (await Accounts.Cli.RunAsync(new FakeCliConsole("Passw0rd!\n"), "users", "add", name, "--password-stdin", "--data", _directory.Path)).ExitCode);

    private async Task<IReadOnlyList<GatewayGroup>> ListGroupsAsync()
    {
        await using RdpNlaDatabase database = await DataDirectory.OpenDatabaseAsync(_directory.Path, null, Ct);
        return await database.Gateway.ListGroupsAsync(Ct);
    }

    /// <summary>Stores a group the way an older version did, which took any name.</summary>
    private async Task AddStoredGroupAsync(string name)
    {
        await using RdpNlaDatabase database = await DataDirectory.OpenDatabaseAsync(_directory.Path, null, Ct);
        Assert.True(await database.Gateway.AddGroupAsync(name, null, Ct));
    }

    private static void AssertOneLineError(CliResult result, string expectedStart)
    {
        Assert.Equal(1, result.ExitCode);
        Assert.StartsWith(expectedStart, result.Error, StringComparison.Ordinal);
        Assert.Single(result.Error.TrimEnd('\n').Split('\n'));
        Assert.DoesNotContain("Exception", result.Error, StringComparison.Ordinal);
        Assert.DoesNotContain(result.Error, c => c is '\u001B' or '\r');
    }

    [Theory]
    [InlineData("", "error: the group name is empty")]
    [InlineData(" ", "error: the group name ' ' consists only of dots and spaces")]
    [InlineData("..", "error: the group name '..' consists only of dots and spaces")]
    [InlineData("evil\u001B[2J\u001B[31mRED", "error: the group name 'evil\\u001B[2J\\u001B[31mRED' contains a control character (\\u001B)")]
    [InlineData("g\nx", "error: the group name 'g\\u000Ax' contains a control character (\\u000A)")]
    [InlineData("a,b", "error: the group name 'a,b' contains ','; group names cannot contain any of")]
    [InlineData("ops@lab", "error: the group name 'ops@lab' contains '@'")]
    public async Task Add_InvalidName_IsRefusedInOneLine(string name, string expected)
    {
        AssertOneLineError(await RunAsync("groups", "add", name), expected);

        Assert.Empty(await ListGroupsAsync());
    }

    [Fact]
    public async Task Add_NameLongerThanTheLimit_IsRefused_AtTheLimitIsAdded()
    {
        AssertOneLineError(await RunAsync("groups", "add", new string('g', 257)), "error: the group name is 257 characters long; the limit is 256");

        Assert.Equal(0, (await RunAsync("groups", "add", new string('g', 256))).ExitCode);
    }

    [Theory]
    [InlineData("remove")]
    [InlineData("set-backend", "10.0.0.8:3389")]
    [InlineData("add-member", "alice")]
    [InlineData("remove-member", "alice")]
    [InlineData("require-mfa")]
    [InlineData("no-require-mfa")]
    public async Task CommandsOnAGroup_EmptyOrBlankName_AreRefusedInOneLine(string command, string? value = null)
    {
        await AddUserAsync("alice");

        AssertOneLineError(await RunAsync(["groups", command, "", .. value is null ? Array.Empty<string>() : [value]]), "error: the group name is empty");
        AssertOneLineError(await RunAsync(["groups", command, " ", .. value is null ? Array.Empty<string>() : [value]]), "error: the group name ' ' consists only of dots and spaces");
    }

    [Theory]
    [InlineData("add-member")]
    [InlineData("remove-member")]
    public async Task Members_OfADomainGroup_SayThatItIsTheDomainControllers(string command)
    {
        await AddUserAsync("alice");

        AssertOneLineError(await RunAsync("groups", command, "LAB\\rdp-admins", "alice"), "error: 'LAB\\rdp-admins' names a domain group, whose members are the domain controller's");
    }

    [Fact]
    public async Task List_NamesStoredByAnOlderVersionWithControlCharacters_AreEscapedOneLineEach()
    {
        await AddStoredGroupAsync("evil\u001B[2J\u001B[31mRED");
        await AddStoredGroupAsync("g\nx");

        CliResult list = await RunAsync("groups", "list");

        Assert.Equal(0, list.ExitCode);
        Assert.DoesNotContain(list.Output, c => c is '\u001B' or '\r');
        Assert.Equal(
            ["evil\\u001B[2J\\u001B[31mRED\tbackend (none)\tmembers (none)", "g\\u000Ax\tbackend (none)\tmembers (none)"],
            list.Output.TrimEnd('\n').Split('\n'));
    }

    [Fact]
    public async Task Remove_NameStoredByAnOlderVersion_IsStillRemovedAndEchoedEscaped()
    {
        await AddStoredGroupAsync("evil\u001B[2J");

        CliResult removed = await RunAsync("groups", "remove", "evil\u001B[2J");

        Assert.Equal((0, "group 'evil\\u001B[2J' removed\n", ""), (removed.ExitCode, removed.Output, removed.Error));
        Assert.Empty(await ListGroupsAsync());
    }

    [Fact]
    public async Task AddMember_SaysWhichOfGroupAndUserIsMissing_AndAnExistingMemberIsSuccess()
    {
        await AddUserAsync("alice");
        Assert.Equal(0, (await RunAsync("groups", "add", "Admins")).ExitCode);

        AssertOneLineError(await RunAsync("groups", "add-member", "nogroup", "alice"), "error: no group 'nogroup'; run 'rdpnla groups list'");
        AssertOneLineError(await RunAsync("groups", "add-member", "admins", "bob"), "error: no user 'bob'; run 'rdpnla users list'");
        CliResult added = await RunAsync("groups", "add-member", "admins", "ALICE");
        CliResult again = await RunAsync("groups", "add-member", "ADMINS", "alice");

        Assert.Equal((0, "user 'alice' added to group 'Admins'\n", ""), (added.ExitCode, added.Output, added.Error));
        Assert.Equal((0, "user 'alice' is already a member of group 'Admins'\n", ""), (again.ExitCode, again.Output, again.Error));
        Assert.Equal(["alice"], (await ListGroupsAsync()).Single().Members);
    }

    [Fact]
    public async Task RemoveMember_SaysWhichOfGroupAndUserIsMissing_AndANonMemberIsSuccess()
    {
        await AddUserAsync("alice");
        Assert.Equal(0, (await RunAsync("groups", "add", "admins")).ExitCode);
        Assert.Equal(0, (await RunAsync("groups", "add-member", "admins", "alice")).ExitCode);

        AssertOneLineError(await RunAsync("groups", "remove-member", "nogroup", "alice"), "error: no group 'nogroup'; run 'rdpnla groups list'");
        AssertOneLineError(await RunAsync("groups", "remove-member", "admins", "bob"), "error: no user 'bob'; run 'rdpnla users list'");
        CliResult removed = await RunAsync("groups", "remove-member", "admins", "Alice");
        CliResult again = await RunAsync("groups", "remove-member", "admins", "alice");

        Assert.Equal((0, "user 'alice' removed from group 'admins'\n", ""), (removed.ExitCode, removed.Output, removed.Error));
        Assert.Equal((0, "user 'alice' was not a member of group 'admins'\n", ""), (again.ExitCode, again.Output, again.Error));
        Assert.Empty((await ListGroupsAsync()).Single().Members);
    }
}
