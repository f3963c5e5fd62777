using System.Diagnostics;
using System.Text;
using RdpNla.Tests.Accounts;
using RdpNla.Tests.Support;
using RdpNla.Protocol.Ntlm;
using RdpNla.Server.Accounts;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Cli;

/// <summary>
/// The real <c>rdpnla</c> process and the real console: the no-echo prompt on a pseudo-terminal (util-linux
/// <c>script</c>), and RDPNLA_PASSWORD read from the process environment.
/// </summary>
public class PasswordTerminalTests : IDisposable
{
    private const string Password = "Pty-Passw0rd";

    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static string Cli => Path.Combine(AppContext.BaseDirectory, "rdpnla.dll");

    private async Task<byte[]?> StoredHashAsync(string user)
    {
        await using RdpNlaDatabase database = await DataDirectory.OpenDatabaseAsync(_directory.Path, null, Ct);
        using UserCredential? credential = await database.Users.FindCredentialAsync(user, Ct);
        return credential?.NtHash.ToArray();
    }

    private static string Quote(string text) => "'" + text.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    [Fact]
    public async Task UsersAddWithPromptOption_OnAPseudoTerminal_ReadsTheTypedPasswordWithoutEcho()
    {
        string command = string.Join(' ', new[] { ServeProcess.DotnetHost(), Cli, "users", "add", "carol", "-p", "--data", _directory.Path }.Select(Quote));
        var info = new ProcessStartInfo(Peers.Require("script"))
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in new[] { "-qec", command, "/dev/null" })
        {
            info.ArgumentList.Add(argument);
        }

        using var limit = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        limit.CancelAfter(TimeSpan.FromSeconds(60));
        using var process = new Process { StartInfo = info };
        process.Start();
        var screen = new StringBuilder();
        Task reader = Task.Run(async () =>
        {
            var buffer = new char[256];
            int read;
            while ((read = await process.StandardOutput.ReadAsync(buffer, Ct)) > 0)
            {
                lock (screen)
                {
                    screen.Append(buffer, 0, read);
                }
            }
        }, Ct);

        async Task TypeAfterAsync(string prompt, string line)
        {
            // Typing before the prompt would reach the terminal while it still echoes: wait for the prompt first.
            while (!Screen().Contains(prompt, StringComparison.Ordinal))
            {
                Assert.False(process.HasExited, $"rdpnla ended before '{prompt}':\n{Screen()}");
                await Task.Delay(50, limit.Token);
            }

            await process.StandardInput.WriteAsync(line + "\n");
            await process.StandardInput.FlushAsync(Ct);
        }

        string Screen()
        {
            lock (screen)
            {
                return screen.ToString();
            }
        }

        try
        {
            await TypeAfterAsync("Password for carol: ", Password);
            await TypeAfterAsync("Retype the password: ", Password);
            await process.WaitForExitAsync(limit.Token);
            await reader;
        }
        finally
        {
            if (!process.HasExited)
            {
                process.Kill(entireProcessTree: true);
            }
        }

        Assert.True(process.ExitCode == 0, Screen());
        Assert.Contains("user 'carol' added", Screen(), StringComparison.Ordinal);
        Assert.DoesNotContain(Password, Screen(), StringComparison.Ordinal);
        Assert.Equal(NtlmCrypto.NtOwfV1(Password), await StoredHashAsync("carol"));
    }

    [Fact]
    public async Task UsersAdd_WithRdpnlaPasswordInTheProcessEnvironment_UsesIt()
    {
        ProcessResult result = await ExternalProcess.RunAsync(
            ServeProcess.DotnetHost(),
            [Cli, "users", "add", "dave", "--data", _directory.Path],
            new Dictionary<string, string> { ["RDPNLA_PASSWORD"] = Password },
            TimeSpan.FromSeconds(60),
            Ct);

        Assert.True(result.ExitCode == 0, result.Output);
        Assert.DoesNotContain(Password, result.Output, StringComparison.Ordinal);
        Assert.Equal(NtlmCrypto.NtOwfV1(Password), await StoredHashAsync("dave"));
    }
}
