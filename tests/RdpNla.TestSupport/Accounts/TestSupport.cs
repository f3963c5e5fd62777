using System.CommandLine;
using Microsoft.Data.Sqlite;
using RdpNla.Cli;
using RdpNla.Cli.Interaction;

namespace RdpNla.Tests.Accounts;

/// <summary>A scratch directory under the system temp folder, deleted on dispose.</summary>
internal sealed class TempDirectory : IDisposable
{
    public TempDirectory()
    {
        Path = Directory.CreateTempSubdirectory("rdpnla-accounts-").FullName;
    }

    public string Path { get; }

    public string DatabasePath => System.IO.Path.Combine(Path, "rdpnla.db");

    public void Dispose()
    {
        SqliteConnection.ClearAllPools();
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // Best effort: a pooled handle from a parallel test may still be open.
        }
    }
}

/// <summary>Console input for in-process CLI runs: standard input text, terminal or not, and lines typed at a no-echo prompt.</summary>
internal sealed class FakeCliConsole(string stdin = "", bool isTerminal = false, params string[] secretLines) : ICliConsole
{
    private readonly Queue<string> _secretLines = new(secretLines);

    public TextReader In { get; } = new StringReader(stdin);

    public bool IsInputRedirected => !isTerminal;

    public int SecretPrompts { get; private set; }

    /// <summary>The environment the command sees (the test process's own is never read).</summary>
    public Dictionary<string, string> Environment { get; init; } = [];

    public string? GetEnvironmentVariable(string name) => Environment.GetValueOrDefault(name);

    /// <summary>The clock the command times its connections with (a FakeTimeProvider where the test drives time).</summary>
    public TimeProvider Time { get; init; } = TimeProvider.System;

    public int ReadSecretLine(Span<char> buffer)
    {
        SecretPrompts++;
        if (!_secretLines.TryDequeue(out string? line))
        {
            return -1;
        }

        line.AsSpan(0, Math.Min(line.Length, buffer.Length)).CopyTo(buffer);
        return line.Length;
    }
}

internal sealed record CliResult(int ExitCode, string Output, string Error);

internal static class Cli
{
    public static async Task<CliResult> RunAsync(ICliConsole console, params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int exitCode;
        using (CliConsole.Use(console))
        {
            exitCode = await CliApplication.InvokeAsync(args, new InvocationConfiguration { Output = output, Error = error }, TestContext.Current.CancellationToken);
        }

        return new CliResult(exitCode, output.ToString(), error.ToString());
    }

    public static Task<CliResult> RunAsync(params string[] args) => RunAsync(new FakeCliConsole(), args);
}
