using RdpNla.Tests.Accounts;
using RdpNla.Server.Portal;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Portal;

/// <summary><c>rdpnla users require-mfa</c> and <c>rdpnla groups require-mfa</c>: who must approve connections.</summary>
public class MfaCommandTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private Task<CliResult> RunAsync(params string[] args) => Accounts.Cli.RunAsync([.. args, "--data", _directory.Path]);

    private async Task<bool> IsRequiredAsync(string user)
    {
        await using RdpNlaDatabase database = await DataDirectory.OpenDatabaseAsync(_directory.Path, null, TestContext.Current.CancellationToken);
        return await new SelfServiceStore(database, TimeProvider.System).IsMfaRequiredAsync(user, TestContext.Current.CancellationToken);
    }

    [Fact]
    public async Task RequireMfa_PerUserAndPerGroup_AndOff()
    {
        Assert.Equal(0, (await Accounts.Cli.RunAsync(new FakeCliConsole("Passw0rd!\n"), "users", "add", "ann", "--password-stdin", "--data", _directory.Path)).ExitCode);
        Assert.Equal(0, (await Accounts.Cli.RunAsync(new FakeCliConsole("Passw0rd!\n"), "users", "add", "ben", "--password-stdin", "--data", _directory.Path)).ExitCode);
        Assert.Equal(0, (await RunAsync("groups", "add", "admins")).ExitCode);
        Assert.Equal(0, (await RunAsync("groups", "add-member", "admins", "ben")).ExitCode);

        CliResult user = await RunAsync("users", "require-mfa", "ANN");
        CliResult group = await RunAsync("groups", "require-mfa", "admins");
        Assert.Equal(0, user.ExitCode);
        Assert.Contains("user 'ann' must approve connections with a second factor; it has no authenticator yet", user.Output, StringComparison.Ordinal);
        Assert.Equal(0, group.ExitCode);
        Assert.True(await IsRequiredAsync("ann"));
        Assert.True(await IsRequiredAsync("ben"));

        Assert.Equal(0, (await RunAsync("groups", "no-require-mfa", "admins")).ExitCode);
        Assert.Equal(0, (await RunAsync("users", "no-require-mfa", "ann")).ExitCode);
        Assert.False(await IsRequiredAsync("ann"));
        Assert.False(await IsRequiredAsync("ben"));

        CliResult missing = await RunAsync("groups", "require-mfa", "nosuchgroup");
        Assert.NotEqual(0, missing.ExitCode);
        Assert.Contains("no group 'nosuchgroup'; run 'rdpnla groups list'", missing.Error, StringComparison.Ordinal);
    }
}
