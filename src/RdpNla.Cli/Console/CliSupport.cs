using System.CommandLine;
using Microsoft.Data.Sqlite;
using RdpNla.Server.Storage;

namespace RdpNla.Cli.Interaction;

/// <summary>Exit codes of rdpnla commands.</summary>
public static class ExitCodes
{
    /// <summary>The command did what was asked.</summary>
    public const int Success = 0;

    /// <summary>A usage or user error: bad arguments, no such user, name taken, passwords that do not match.</summary>
    public const int UserError = 1;

    /// <summary>The data directory or database could not be used (permissions, corrupt file, newer schema).</summary>
    public const int DataError = 2;

    /// <summary>A network resource the command needs is unavailable (e.g. the listen port is in use).</summary>
    public const int Unavailable = 3;
}

/// <summary>An error to report as one line <c>error: ...</c> with an exit code; the message says what is wrong and how to fix it.</summary>
public sealed class CliException : Exception
{
    public CliException()
        : this("unexpected error")
    {
    }

    public CliException(string message)
        : this(message, ExitCodes.UserError)
    {
    }

    public CliException(string message, Exception innerException)
        : base(message, innerException)
    {
        ExitCode = ExitCodes.UserError;
    }

    public CliException(string message, int exitCode)
        : base(message)
    {
        ExitCode = exitCode;
    }

    /// <summary>The process exit code.</summary>
    public int ExitCode { get; }
}

/// <summary>The <c>--data DIR</c> option shared by every command that uses the data directory, and the database opener.</summary>
public static class DataDirectoryOption
{
    /// <summary>A new <c>--data</c> option (each command needs its own instance).</summary>
    public static Option<string?> Create() => new("--data")
    {
        Description = $"The data directory holding {DataDirectory.DatabaseFileName} (default: ./{DataDirectory.DefaultFolderName}, created when needed).",
        HelpName = "DIR",
    };

    /// <summary>Opens the database of the <c>--data</c> directory, turning failures into a one-line <see cref="CliException"/>.</summary>
    public static async Task<RdpNlaDatabase> OpenDatabaseAsync(ParseResult parseResult, Option<string?> dataOption, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(parseResult);
        string? path = parseResult.GetValue(dataOption);
        string directory;
        try
        {
            directory = DataDirectory.Resolve(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new CliException($"cannot use data directory '{path ?? DataDirectory.DefaultFolderName}': {ex.Message}; pass a writable directory with --data DIR", ExitCodes.DataError);
        }

        string databasePath = DataDirectory.GetDatabasePath(directory);
        try
        {
            return await RdpNlaDatabase.OpenAsync(databasePath, TimeProvider.System, cancellationToken);
        }
        catch (SqliteException ex)
        {
            throw new CliException($"cannot open database '{databasePath}': {ex.Message}; check the file's permissions or pass another directory with --data DIR", ExitCodes.DataError);
        }
        catch (InvalidOperationException ex)
        {
            throw new CliException($"cannot open database '{databasePath}': {ex.Message}", ExitCodes.DataError);
        }
    }

    /// <summary>Runs a command body, printing <c>error: ...</c> on <see cref="CliException"/> and database failures.</summary>
    public static async Task<int> RunAsync(ParseResult parseResult, Func<TextWriter, Task<int>> body)
    {
        ArgumentNullException.ThrowIfNull(parseResult);
        ArgumentNullException.ThrowIfNull(body);
        TextWriter output = parseResult.InvocationConfiguration.Output;
        TextWriter error = parseResult.InvocationConfiguration.Error;
        try
        {
            return await body(output);
        }
        catch (CliException ex)
        {
            await error.WriteLineAsync($"error: {ex.Message}");
            return ex.ExitCode;
        }
        catch (SqliteException ex)
        {
            await error.WriteLineAsync($"error: database failure: {ex.Message}; check that the --data directory is writable and not used by a newer rdpnla");
            return ExitCodes.DataError;
        }
    }
}
