using System.Diagnostics;
using System.Text;

namespace RdpNla.Tests.Support;

/// <summary>The result of running a real peer program.</summary>
public sealed record ProcessResult(int ExitCode, string Output, bool TimedOut)
{
    public bool HasLine(string fragment) => Output.Contains(fragment, StringComparison.Ordinal);
}

/// <summary>Runs external programs (the interop peers) with a hard time limit; stdout and stderr are merged.</summary>
public static class ExternalProcess
{
    public static async Task<ProcessResult> RunAsync(string fileName, IEnumerable<string> arguments, IDictionary<string, string>? environment, TimeSpan timeout, CancellationToken cancellationToken)
    {
        ProcessStartInfo info = StartInfo(fileName, arguments, environment);
        info.RedirectStandardInput = true;
        using var process = new Process { StartInfo = info };
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.Start();
        process.StandardInput.Close();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(timeout);
        bool timedOut = false;
        try
        {
            await process.WaitForExitAsync(limit.Token);
        }
        catch (OperationCanceledException)
        {
            timedOut = true;
            process.Kill(entireProcessTree: true);
            await process.WaitForExitAsync(CancellationToken.None);
        }

        process.WaitForExit();
        lock (output)
        {
            return new ProcessResult(timedOut ? -1 : process.ExitCode, output.ToString(), timedOut);
        }
    }

    /// <summary>Starts a long-running peer (a server, Xvfb); the caller kills it.</summary>
    public static Process Start(string fileName, IEnumerable<string> arguments, IDictionary<string, string>? environment, StringBuilder output)
    {
        var process = new Process { StartInfo = StartInfo(fileName, arguments, environment) };
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) { lock (output) { output.AppendLine(e.Data); } } };
        process.Start();
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return process;
    }

    /// <summary>
    /// Stops a peer started with <see cref="Start"/> and everything it started: SIGTERM first, so servers remove their
    /// X lock files and sockets (xrdp-sesman's Xorg sessions, Xvfb), then SIGKILL for whatever is left after a grace period.
    /// </summary>
    public static async Task StopAsync(Process? process)
    {
        if (process is { HasExited: false })
        {
            List<int> tree = [process.Id, .. Descendants(process.Id)];
            await SignalAsync("-TERM", tree);
            using var grace = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await process.WaitForExitAsync(grace.Token);
                while (tree.Any(IsAlive) && !grace.IsCancellationRequested)
                {
                    await Task.Delay(50);
                }
            }
            catch (OperationCanceledException)
            {
            }

            List<int> left = tree.Where(IsAlive).ToList();
            if (left.Count > 0)
            {
                await SignalAsync("-KILL", left);
            }

            await process.WaitForExitAsync();
        }

        process?.Dispose();
    }

    /// <summary>
    /// The live processes whose command line contains one of <paramref name="fragments"/> (e.g. a scratch folder a peer
    /// was started with), as "PID command line": what a fixture that stopped its peers must find none of.
    /// </summary>
    public static IReadOnlyList<string> Running(params string[] fragments)
    {
        var found = new List<string>();
        foreach (string directory in Directory.EnumerateDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(directory), out int pid) || pid == Environment.ProcessId || !IsAlive(pid))
            {
                continue;
            }

            string commandLine;
            try
            {
                commandLine = File.ReadAllText(Path.Combine(directory, "cmdline")).Replace('\0', ' ').TrimEnd();
            }
            catch (Exception e) when (e is IOException or UnauthorizedAccessException)
            {
                continue;
            }

            if (fragments.Any(f => f.Length > 0 && commandLine.Contains(f, StringComparison.Ordinal)))
            {
                found.Add($"{pid} {commandLine}");
            }
        }

        return found;
    }

    private static async Task SignalAsync(string signal, IEnumerable<int> pids)
    {
        // kill(1) rather than P/Invoke: the test project stays free of unsafe code.
        await RunAsync("kill", [signal, .. pids.Select(pid => pid.ToString(System.Globalization.CultureInfo.InvariantCulture))], null, TimeSpan.FromSeconds(5), CancellationToken.None);
    }

    private static bool IsAlive(int pid)
    {
        // A zombie still has a /proc entry; its state letter is 'Z'.
        string? stat = ReadStat(pid);
        return stat is not null && StatFields(stat)[0] != "Z";
    }

    /// <summary>The processes below <paramref name="root"/>: its children, theirs, and so on (the parent ids of /proc/PID/stat).</summary>
    internal static List<int> Descendants(int root)
    {
        var children = new Dictionary<int, List<int>>();
        foreach (string directory in Directory.EnumerateDirectories("/proc"))
        {
            if (int.TryParse(Path.GetFileName(directory), out int pid) && ReadStat(pid) is { } stat && int.TryParse(StatFields(stat)[1], out int parent))
            {
                if (!children.TryGetValue(parent, out List<int>? list))
                {
                    children[parent] = list = [];
                }

                list.Add(pid);
            }
        }

        var result = new List<int>();
        var pending = new Stack<int>([root]);
        while (pending.TryPop(out int pid))
        {
            foreach (int child in children.GetValueOrDefault(pid) ?? [])
            {
                result.Add(child);
                pending.Push(child);
            }
        }

        return result;
    }

    private static string? ReadStat(int pid)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/stat");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    // /proc/PID/stat is "pid (comm) state ppid ..."; comm may contain spaces and parentheses, so split after the last ')'.
    private static string[] StatFields(string stat) => stat[(stat.LastIndexOf(')') + 2)..].Split(' ');

    private static ProcessStartInfo StartInfo(string fileName, IEnumerable<string> arguments, IDictionary<string, string>? environment)
    {
        var info = new ProcessStartInfo(Peers.Require(fileName))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (string argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        if (environment is not null)
        {
            foreach ((string key, string value) in environment)
            {
                info.Environment[key] = value;
            }
        }

        return info;
    }
}
