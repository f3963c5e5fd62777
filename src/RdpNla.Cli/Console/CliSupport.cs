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
    public static Option<string?> Create() => EmptyValues.Refuse(new Option<string?>("--data")
    {
        Description = $"The data directory holding {DataDirectory.DatabaseFileName} (default: ./{DataDirectory.DefaultFolderName}, created when needed).",
        HelpName = "DIR",
    }, $"give a folder, or leave --data out for ./{DataDirectory.DefaultFolderName}");

    /// <summary>
    /// Opens the store of the command: <c>--store</c> (or <c>RDPNLA_Store__ConnectionString</c>) when given, else the
    /// database of the <c>--data</c> directory; failures become a one-line <see cref="CliException"/>.
    /// </summary>
    /// <param name="parseResult">The parsed command line.</param>
    /// <param name="dataOption">The command's <c>--data</c> option.</param>
    /// <param name="cancellationToken">Cancels the opening.</param>
    /// <param name="existing">
    /// For a command that only reads (<c>users list</c>, <c>audit</c>, ...): an SQLite database that does not exist is an
    /// error naming the path, rather than a new empty one in a mistyped <c>--data</c> folder that answers "no users".
    /// </param>
    public static async Task<RdpNlaStore> OpenDatabaseAsync(ParseResult parseResult, Option<string?> dataOption, CancellationToken cancellationToken, bool existing = false)
    {
        ArgumentNullException.ThrowIfNull(parseResult);
        string? path = parseResult.GetValue(dataOption);
        StoreLocation location = StoreOption.Parse(parseResult, path);
        if (existing && !location.IsPostgres && !File.Exists(location.SqlitePath))
        {
            throw new CliException($"no database at '{location.SqlitePath}': check --data DIR (or --store PATH); 'rdpnla users add' or 'rdpnla serve' creates it", ExitCodes.DataError);
        }

        string directory;
        try
        {
            // A PostgreSQL store needs no data directory of its own (the gateway key of set-credentials is still read there).
            directory = location.IsPostgres
                ? Path.GetFullPath(string.IsNullOrWhiteSpace(path) ? DataDirectory.DefaultFolderName : path)
                : DataDirectory.Resolve(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or ArgumentException or NotSupportedException)
        {
            throw new CliException($"cannot use data directory '{path ?? DataDirectory.DefaultFolderName}': {ex.Message}; pass a writable directory with --data DIR", ExitCodes.DataError);
        }

        if (!location.IsPostgres && Path.GetDirectoryName(location.SqlitePath) is { } parent && !Directory.Exists(parent))
        {
            throw new CliException($"cannot open database '{location.SqlitePath}': the folder '{parent}' does not exist; create it or pass another --store PATH", ExitCodes.DataError);
        }

        try
        {
            return await RdpNlaStore.OpenAsync(location, directory, TimeProvider.System, cancellationToken);
        }
        catch (SqliteException ex)
        {
            // SQLITE_NOTADB (26, https://www.sqlite.org/rescode.html#notadb): a path to some other file, typically.
            bool givenAsStore = location.SqlitePath != DataDirectory.GetDatabasePath(directory);
            string reason = ex.SqliteErrorCode == 26 ? "it is not an SQLite database" : ex.Message.TrimEnd('.');
            string fix = givenAsStore
                ? "give the path of an rdpnla database (rdpnla.db) or a PostgreSQL connection string with --store"
                : "check the file's permissions or pass another directory with --data DIR";
            throw new CliException($"cannot open database '{location.Description}': {reason}; {fix}", ExitCodes.DataError);
        }
        catch (StoreUnavailableException ex)
        {
            throw new CliException($"{ex.Message}; check that PostgreSQL runs and the --store connection string", ExitCodes.Unavailable);
        }
        catch (InvalidOperationException ex)
        {
            throw new CliException($"cannot open database '{location.Description}': {ex.Message}", ExitCodes.DataError);
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
        catch (Exception ex) when (Failure(ex) is { } failure)
        {
            // The line may quote what was typed or read (a backend, a file's line): a control character in it is escaped.
            await error.WriteLineAsync($"error: {PrintableText.Escape(failure.Message)}");
            return failure.ExitCode;
        }
    }

    /// <summary>The line and exit code of a failure a command reports instead of crashing; null for any other exception.</summary>
    private static (string Message, int ExitCode)? Failure(Exception exception) => exception switch
    {
        CliException cli => (cli.Message, cli.ExitCode),
        SqliteException sqlite => ($"database failure: {sqlite.Message}; check that the --data directory is writable and not used by a newer rdpnla", ExitCodes.DataError),
        StoreNotSupportedException unsupported => (unsupported.Message, ExitCodes.UserError),
        NpgsqlException postgres => ($"PostgreSQL failure: {StoreUnavailableException.Describe(postgres)}; check that PostgreSQL runs and is reachable", ExitCodes.Unavailable),
        _ => null,
    };
}

/// <summary>
/// The <c>--store VALUE</c> option of the commands that use the store (<c>serve</c>, <c>users</c>, <c>groups</c>,
/// <c>backends</c>, <c>audit</c>, <c>store</c>): an SQLite path or a PostgreSQL connection string without a password.
/// </summary>
public static class StoreOption
{
    /// <summary>The option's name.</summary>
    public const string Name = "--store";

    /// <summary>The environment variable the admin commands read when <c>--store</c> is not given (as <c>serve</c> does).</summary>
    public const string EnvironmentVariable = "RDPNLA_Store__ConnectionString";

    /// <summary>A new <c>--store</c> option; <paramref name="recursive"/> puts it on every subcommand.</summary>
    public static Option<string?> Create(bool recursive = false) => EmptyValues.Refuse(new Option<string?>(Name)
    {
        Description = $"The store: an SQLite database path (default: rdpnla.db in --data) or a PostgreSQL connection string, e.g. \"Host=db1;Port=5432;Username=rdpnla;Database=rdpnla\" (password from a passfile, PGPASSFILE or {EnvironmentVariable}, never here). See docs/high-availability.md.",
        HelpName = "PATH|CONNECTION-STRING",
        Recursive = recursive,
    }, "give an SQLite path or a PostgreSQL connection string, or leave --store out for rdpnla.db in --data");

    /// <summary>The <c>--store</c> value of the parsed command or its parents, else <see cref="EnvironmentVariable"/>, parsed.</summary>
    public static StoreLocation Parse(ParseResult parseResult, string? dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(parseResult);
        string? fromCommandLine = null;
        try
        {
            fromCommandLine = parseResult.GetValue<string?>(Name);
        }
        catch (InvalidOperationException)
        {
            // This command has no --store option.
        }

        string? value = fromCommandLine ?? Environment.GetEnvironmentVariable(EnvironmentVariable);
        return Parse(value, dataDirectory, fromCommandLine is not null, Name);
    }

    /// <summary>Parses a store value typed as <paramref name="optionName"/>; a password on the command line is refused.</summary>
    public static StoreLocation Parse(string? value, string? dataDirectory, bool fromCommandLine, string optionName)
    {
        StoreLocation location;
        try
        {
            location = StoreLocation.Parse(value, Path.GetFullPath(string.IsNullOrWhiteSpace(dataDirectory) ? DataDirectory.DefaultFolderName : dataDirectory));
        }
        catch (ArgumentException ex)
        {
            throw new CliException($"{optionName}: {ex.Message.Split(" (Parameter", 2)[0]}");
        }

        if (fromCommandLine && location.HasPassword)
        {
            throw new CliException($"{optionName}: do not put the password on the command line (other users see it in the process list); put it in a passfile (Passfile=PATH or PGPASSFILE, lines host:port:database:user:password), in {EnvironmentVariable}, or in Store:ConnectionString of the --config file");
        }

        return location;
    }
}

/// <summary>
/// Options whose empty value would quietly mean their default: <c>--data ""</c> (an unset shell variable) wrote the users
/// and a certificate to ./rdpnla wherever the command ran. An empty value is a usage error instead.
/// </summary>
internal static class EmptyValues
{
    /// <summary>Adds to <paramref name="option"/> the validator that refuses an empty or blank value, saying <paramref name="fix"/>.</summary>
    public static Option<string?> Refuse(Option<string?> option, string fix)
    {
        option.Validators.Add(result =>
        {
            if (result.Tokens.Count > 0 && string.IsNullOrWhiteSpace(result.GetValueOrDefault<string?>()))
            {
                result.AddError($"{UsageErrors.Prefix}{option.Name} is empty (an unset variable?); {fix}.");
            }
        });
        return option;
    }
}
