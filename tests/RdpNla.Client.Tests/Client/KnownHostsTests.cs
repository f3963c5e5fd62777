using System.Text;
using System.Text.Json;
using RdpNla.Tests.Accounts;
using RdpNla.Tests.Support;

namespace RdpNla.Tests.Client;

/// <summary>
/// <c>login</c>'s known-hosts file (docs/login.md): a file that cannot be used is one line and exit code 2, before
/// connecting where it can be seen then, never a TLS failure of the server; the default file is never a relative path;
/// the file is plain UTF-8 without a byte order mark, as FreeRDP's known_hosts2.
/// </summary>
public class KnownHostsTests
{
    private const string Password = "Corr3ct-horse";

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static Task<CliResult> LoginAsync(string target, Dictionary<string, string>? environment, params string[] more) =>
        Accounts.Cli.RunAsync(new FakeCliConsole(Password + "\n") { Environment = environment ?? [] }, ["login", target, "-u", "alice", "--password-stdin", "--json", .. more]);

    private static void AssertOneErrorLine(CliResult result, string expected)
    {
        Assert.Equal(2, result.ExitCode);
        Assert.Equal("", result.Output);
        Assert.Equal($"error: {expected}", result.Error.TrimEnd('\n'));
    }

    [Fact]
    public async Task Folder_OneLineBeforeConnecting()
    {
        using var directory = new TempDirectory();

        // A refused port: the file is judged before connecting, so the answer is about the file, not the port (21).
        using ClosedPort closed = PeerPorts.HoldClosedPort();
        CliResult result = await LoginAsync(closed.Address, null, "--known-hosts", directory.Path);

        AssertOneErrorLine(result, $"cannot use the known-hosts file '{directory.Path}': it is a folder; give a file you can read and write with --known-hosts FILE, or pin the certificate with --cert-fingerprint SHA256");
    }

    [Fact]
    public async Task CannotRecordNewHost_LocalErrorNotTlsFailure_NothingSent()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync();
        await server.AddUserAsync("alice", Password);
        using var directory = new TempDirectory();
        string notAFolder = Path.Combine(directory.Path, "file");
        await File.WriteAllTextAsync(notAFolder, "", Ct);
        string knownHosts = Path.Combine(notAFolder, "known_hosts");

        CliResult result = await LoginAsync(server.Address, null, "--known-hosts", knownHosts);

        AssertOneErrorLine(result, $"cannot write the known-hosts file '{knownHosts}': '{notAFolder}' is a file, not a folder; give a file you can read and write with --known-hosts FILE, or pin the certificate with --cert-fingerprint SHA256");
    }

    [Fact]
    public async Task NewFile_PlainUtf8WithoutByteOrderMark_InAFolderOfItsOwnersOnly()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync();
        await server.AddUserAsync("alice", Password);
        using var directory = new TempDirectory();
        string folder = Path.Combine(directory.Path, "config", "rdpnla");
        string knownHosts = Path.Combine(folder, "known_hosts");

        CliResult result = await LoginAsync(server.Address, null, "--known-hosts", knownHosts);

        Assert.True(result.ExitCode == 0, result.Output + result.Error);
        byte[] bytes = await File.ReadAllBytesAsync(knownHosts, Ct);
        Assert.StartsWith($"127.0.0.1 {server.Port} ", Encoding.ASCII.GetString(bytes), StringComparison.Ordinal);
        if (!OperatingSystem.IsWindows())
        {
            Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute, File.GetUnixFileMode(folder));
        }
    }

    [Fact]
    public async Task FileWithByteOrderMark_HostOnFirstLineIsKnown()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync();
        await server.AddUserAsync("alice", Password);
        using var directory = new TempDirectory();
        string knownHosts = Path.Combine(directory.Path, "known_hosts");
        CliResult first = await LoginAsync(server.Address, null, "--known-hosts", knownHosts);
        Assert.True(first.ExitCode == 0, first.Output + first.Error);

        // As rdpnla wrote it before: a byte order mark before the first line.
        string line = await File.ReadAllTextAsync(knownHosts, Ct);
        await File.WriteAllBytesAsync(knownHosts, [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(line)], Ct);
        CliResult second = await LoginAsync(server.Address, null, "--known-hosts", knownHosts);

        Assert.True(second.ExitCode == 0, second.Output + second.Error);
        Assert.Contains("matches the certificate recorded", ClientCli.Parse(second).GetProperty("tls").Str("certificate_check"), StringComparison.Ordinal);
        Assert.Equal(line, await File.ReadAllTextAsync(knownHosts, Ct));
    }

    public static TheoryData<string?, string?> NoHome => new()
    {
        // HOME, XDG_CONFIG_HOME
        { null, null },
        { "/nonexistent-rdpnla-home", null },
        { "relative-home", null },
        { "/nonexistent-rdpnla-home", "relative-config" },
    };

    [Theory]
    [MemberData(nameof(NoHome))]
    public async Task NoHomeFolder_RefusedBeforeConnecting_NeverARelativeDefault(string? home, string? config)
    {
        var environment = new Dictionary<string, string>();
        if (home is not null)
        {
            environment[OperatingSystem.IsWindows() ? "USERPROFILE" : "HOME"] = home;
        }

        if (config is not null)
        {
            environment["XDG_CONFIG_HOME"] = config;
        }

        using ClosedPort closed = PeerPorts.HoldClosedPort();
        CliResult result = await LoginAsync(closed.Address, environment);

        AssertOneErrorLine(result, "no home folder to keep the known-hosts file in (HOME is not an existing absolute folder and XDG_CONFIG_HOME is not an absolute path); give a file with --known-hosts FILE or pin the certificate with --cert-fingerprint SHA256");
    }

    [Fact]
    public async Task DefaultFile_UnderXdgConfigHome_ElseUnderHome()
    {
        await using TestFrontDoor server = await TestFrontDoor.StartAsync();
        await server.AddUserAsync("alice", Password);
        using var directory = new TempDirectory();
        string home = Path.Combine(directory.Path, "home");
        Directory.CreateDirectory(home);
        string homeKey = OperatingSystem.IsWindows() ? "USERPROFILE" : "HOME";

        // A relative XDG_CONFIG_HOME is ignored (XDG Base Directory Specification): the file goes under HOME.
        CliResult underHome = await LoginAsync(server.Address, new() { [homeKey] = home, ["XDG_CONFIG_HOME"] = "relative-config" });
        CliResult underConfig = await LoginAsync(server.Address, new() { [homeKey] = home, ["XDG_CONFIG_HOME"] = Path.Combine(directory.Path, "config") });

        Assert.True(underHome.ExitCode == 0, underHome.Output + underHome.Error);
        Assert.True(underConfig.ExitCode == 0, underConfig.Output + underConfig.Error);
        Assert.True(File.Exists(Path.Combine(home, ".config", "rdpnla", "known_hosts")));
        Assert.True(File.Exists(Path.Combine(directory.Path, "config", "rdpnla", "known_hosts")));
        Assert.False(Directory.Exists("relative-config"));
    }
}
