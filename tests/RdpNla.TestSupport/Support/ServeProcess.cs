using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;
using RdpNla.Tests.Accounts;

namespace RdpNla.Tests.Support;

/// <summary>
/// <c>rdpnla serve</c> as a child process (the CLI the test project references is copied next to the tests), for what
/// only a real process shows: SIGKILL in the middle of a write, SIGTERM and its drain, the exit code.
/// </summary>
public sealed class ServeProcess : IAsyncDisposable
{
    private readonly StringBuilder _output;

    private ServeProcess(Process process, int port, StringBuilder output)
    {
        Process = process;
        Port = port;
        _output = output;
    }

    public Process Process { get; }

    public int Port { get; }

    public string Address => $"127.0.0.1:{Port}";

    /// <summary>What the server wrote to stdout and stderr so far.</summary>
    public string Output
    {
        get
        {
            lock (_output)
            {
                return _output.ToString();
            }
        }
    }

    /// <summary>Adds a user to the store in <paramref name="dataDirectory"/> with <c>rdpnla users add</c> (before the server owns it).</summary>
    public static async Task AddUserAsync(string dataDirectory, string name, string password)
    {
        CliResult result = await Accounts.Cli.RunAsync(new FakeCliConsole(password + "\n"), "users", "add", name, "--password-stdin", "--data", dataDirectory);
        Assert.True(result.ExitCode == 0, result.Output + result.Error);
    }

    /// <summary>Starts the server on a free loopback port and waits until it listens.</summary>
    public static Task<ServeProcess> StartAsync(string dataDirectory, string configFile, params string[] extraArguments) =>
        StartAsync(dataDirectory, configFile, null, extraArguments);

    /// <summary>Starts the server on a free loopback port with extra environment variables and waits until it listens.</summary>
    public static Task<ServeProcess> StartAsync(string dataDirectory, string configFile, IDictionary<string, string>? environment, params string[] extraArguments) =>
        StartUnderAsync([], dataDirectory, configFile, environment, extraArguments);

    /// <summary>
    /// Starts the server as the command run by <paramref name="wrapper"/> (a program and its arguments, e.g. strace; empty:
    /// none) on a free loopback port and waits until it listens. <see cref="Process"/> is the wrapper's.
    /// </summary>
    public static async Task<ServeProcess> StartUnderAsync(IReadOnlyList<string> wrapper, string dataDirectory, string configFile, IDictionary<string, string>? environment, params string[] extraArguments)
    {
        string cli = Path.Combine(AppContext.BaseDirectory, "rdpnla.dll");
        Assert.True(File.Exists(cli), $"{cli} is missing (the test project references src/RdpNla.Cli)");
        for (int attempt = 1; ; attempt++)
        {
            int port = PeerPorts.GetFreePort();
            var output = new StringBuilder();
            string[] command = [.. wrapper, DotnetHost(), cli, "serve", "--data", dataDirectory, "--config", configFile, "--listen", $"127.0.0.1:{port}", .. extraArguments];
            Process process = ExternalProcess.Start(command[0], command[1..], environment, output);
            var server = new ServeProcess(process, port, output);
            if (await PeerPorts.WaitForListenerAsync(port, TimeSpan.FromSeconds(20), process))
            {
                return server;
            }

            // Another test's peer was handed the same free port and bound it first: serve said "cannot listen". Take another.
            bool portTaken = process.HasExited && server.Output.Contains("error: cannot listen", StringComparison.Ordinal);
            await server.DisposeAsync();
            Assert.True(portTaken && attempt < 3, $"rdpnla serve did not listen on {port}:\n{server.Output}");
        }
    }

    /// <summary>Waits until the output holds <paramref name="text"/> at least <paramref name="count"/> times.</summary>
    public async Task WaitForOutputAsync(string text, int count = 1)
    {
        var limit = System.Diagnostics.Stopwatch.StartNew();
        while (Occurrences(text) < count)
        {
            Assert.True(limit.Elapsed < TimeSpan.FromSeconds(20) && !Process.HasExited, $"'{text}' did not appear {count} time(s):\n{Output}");
            await Task.Delay(50, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>How many times <paramref name="text"/> appears in the output so far.</summary>
    public int Occurrences(string text)
    {
        string output = Output;
        int count = 0;
        for (int at = output.IndexOf(text, StringComparison.Ordinal); at >= 0; at = output.IndexOf(text, at + text.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    /// <summary>Sends a signal by name: TERM (what systemd and docker stop send), INT (Ctrl+C), KILL.</summary>
    public async Task SignalAsync(string signal)
    {
        // A process started with SIGHUP ignored (nohup) passes that on, and the runtime leaves an inherited SIG_IGN in
        // place: serve would never see the reload. Say so instead of timing out on the missing answer.
        Assert.False(signal == "HUP" && SighupIgnored(), "this test process ignores SIGHUP (started under nohup?) and serve inherits that, so it cannot be reloaded: run the tests without nohup");
        ProcessResult result = await ExternalProcess.RunAsync("kill", ["-" + signal, Process.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)], null, TimeSpan.FromSeconds(5), CancellationToken.None);
        Assert.Equal(0, result.ExitCode);
    }

    /// <summary>Whether SIGHUP (signal 1) is in this process's ignored set, <c>SigIgn</c> of /proc/self/status (proc(5)).</summary>
    private static bool SighupIgnored()
    {
        string? line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line is not null && (Convert.ToUInt64(line["SigIgn:".Length..].Trim(), 16) & 1) != 0;
    }

    /// <summary>The muxer of the runtime running the tests (<c>ROOT/shared/Microsoft.NETCore.App/VERSION/</c> → <c>ROOT/dotnet</c>).</summary>
    internal static string DotnetHost()
    {
        string host = Path.GetFullPath(Path.Combine(RuntimeEnvironment.GetRuntimeDirectory(), "..", "..", "..", "dotnet"));
        return File.Exists(host) ? host : "dotnet";
    }

    public async ValueTask DisposeAsync() => await ExternalProcess.StopAsync(Process);
}
