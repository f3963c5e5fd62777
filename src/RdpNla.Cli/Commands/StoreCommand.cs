namespace RdpNla.Cli.Commands;

/// <summary><c>rdpnla store copy</c>: move an installation's users and audit trail from SQLite to PostgreSQL.</summary>
public static class StoreCommand
{
    public static Command Create()
    {
        var from = new Option<string>("--from")
        {
            Description = "The SQLite database to copy from (e.g. rdpnla/rdpnla.db); it is only read, once brought to this version's schema as serve would bring it.",
            HelpName = "SQLITE_PATH",
            Required = true,
        };
        var to = new Option<string>("--to")
        {
            Description = $"The PostgreSQL connection string to copy to, e.g. \"Host=db1;Port=5432;Username=rdpnla;Database=rdpnla\" (password from a passfile or PGPASSFILE, never here). Its users, audit and gateway tables must be empty.",
            HelpName = "CONNECTION_STRING",
            Required = true,
        };
        var copy = new Command("copy", "Copy the users (NT hashes and account state), the audit trail, the gateway's tables (groups, backends, mapped credentials, trusted certificates, sessions) and the portal's (second factor, password history) of an SQLite store into an empty PostgreSQL store, in one transaction.") { from, to };
        copy.SetAction((parseResult, cancellationToken) => DataDirectoryOption.RunAsync(parseResult, async output =>
        {
            string sourcePath = Path.GetFullPath(parseResult.GetValue(from)!);
            if (!File.Exists(sourcePath))
            {
                throw new CliException($"--from: there is no database at '{sourcePath}'; give the path of an existing rdpnla.db");
            }

            StoreLocation target = StoreOption.Parse(parseResult.GetValue(to), null, fromCommandLine: true, "--to");
            if (!target.IsPostgres)
            {
                throw new CliException("--to: give a PostgreSQL connection string, e.g. \"Host=db1;Port=5432;Username=rdpnla;Database=rdpnla\"");
            }

            RdpNlaDatabase source;
            try
            {
                // Opening creates and migrates; an empty file (a truncated backup) would get rdpnla's schema and copy as "0 users".
                if (RdpNlaDatabase.ReadSchemaVersion(sourcePath) == 0)
                {
                    throw new CliException($"--from: '{sourcePath}' is not an rdpnla database (empty, or without rdpnla's schema); give the rdpnla.db that serve wrote", ExitCodes.DataError);
                }

                source = await RdpNlaDatabase.OpenAsync(sourcePath, TimeProvider.System, cancellationToken);
            }
            catch (Exception ex) when (ex is SqliteException or InvalidOperationException)
            {
                throw new CliException($"--from: cannot open '{sourcePath}': {ex.Message}", ExitCodes.DataError);
            }

            await using (source)
            {
                PostgresDatabase destination;
                try
                {
                    destination = await PostgresDatabase.OpenAsync(target, TimeProvider.System, cancellationToken);
                }
                catch (StoreUnavailableException ex)
                {
                    throw new CliException($"--to: {ex.Message}; check that PostgreSQL runs and the connection string", ExitCodes.Unavailable);
                }
                catch (InvalidOperationException ex)
                {
                    throw new CliException($"--to: {ex.Message}", ExitCodes.DataError);
                }

                await using (destination)
                {
                    StoreCopyResult result;
                    try
                    {
                        result = await StoreCopy.CopyAsync(source, destination, cancellationToken);
                    }
                    catch (InvalidOperationException ex)
                    {
                        throw new CliException($"--to: {ex.Message}", ExitCodes.DataError);
                    }

                    await output.WriteLineAsync($"copied {result.Users} users, {result.AuditRows} audit rows, {result.GatewayRows} gateway rows and {result.PortalRows} portal rows from {sourcePath} to {target.Description}");
                    return ExitCodes.Success;
                }
            }
        }));

        return new Command("store", "Manage the store shared by several instances (docs/high-availability.md).") { copy };
    }
}
