namespace RdpNla.Server.Storage;

/// <summary>
/// Where users and the audit trail live (<c>--store VALUE</c>, setting <c>Store:ConnectionString</c>): an SQLite file
/// (the default, <c>rdpnla.db</c> in the data directory) or a PostgreSQL database shared by several instances. A value
/// with a <c>Host=</c> key is a PostgreSQL connection string (Npgsql syntax); anything else is a file path.
/// See docs/high-availability.md.
/// </summary>
public sealed class StoreLocation
{
    private StoreLocation(string? sqlitePath, NpgsqlConnectionStringBuilder? postgres)
    {
        SqlitePath = sqlitePath;
        Postgres = postgres;
    }

    /// <summary>The SQLite database file, or null for PostgreSQL.</summary>
    public string? SqlitePath { get; }

    /// <summary>The PostgreSQL connection settings, or null for SQLite.</summary>
    public NpgsqlConnectionStringBuilder? Postgres { get; }

    /// <summary>Whether this is a PostgreSQL database.</summary>
    public bool IsPostgres => Postgres is not null;

    /// <summary>
    /// Text safe to log and print: the file path, or <c>postgresql://USER@HOST:PORT/DATABASE</c> (never the password).
    /// </summary>
    public string Description => Postgres is { } p
        ? $"postgresql://{p.Username ?? "(default user)"}@{p.Host}:{p.Port}/{p.Database ?? p.Username ?? "(default database)"}"
        : SqlitePath!;

    /// <summary>Whether <paramref name="value"/> looks like a PostgreSQL connection string (has a <c>Host=</c> key).</summary>
    public static bool LooksLikeConnectionString(string? value) =>
        value is not null && value.Contains('=', StringComparison.Ordinal) &&
        value.Split(';').Any(part => part.Split('=', 2)[0].Trim().Equals("Host", StringComparison.OrdinalIgnoreCase) ||
                                     part.Split('=', 2)[0].Trim().Equals("Server", StringComparison.OrdinalIgnoreCase));

    /// <summary>
    /// Parses a <c>--store</c> value. Null or empty: <c>rdpnla.db</c> in <paramref name="dataDirectory"/>.
    /// </summary>
    /// <exception cref="ArgumentException">The value looks like a connection string but is not a valid one.</exception>
    public static StoreLocation Parse(string? value, string dataDirectory)
    {
        ArgumentNullException.ThrowIfNull(dataDirectory);
        if (string.IsNullOrWhiteSpace(value))
        {
            return new StoreLocation(DataDirectory.GetDatabasePath(dataDirectory), null);
        }

        if (!LooksLikeConnectionString(value))
        {
            return new StoreLocation(Path.GetFullPath(value), null);
        }

        NpgsqlConnectionStringBuilder builder;
        try
        {
            builder = new NpgsqlConnectionStringBuilder(value);
        }
        catch (Exception ex) when (ex is ArgumentException or FormatException or KeyNotFoundException)
        {
            // The message names the bad key, never the value (which could be a password).
            throw new ArgumentException($"the store connection string is not valid: {ex.Message.Split('\n')[0]}; use the Npgsql form Host=HOST;Port=5432;Username=USER;Database=DB", nameof(value), ex);
        }

        if (string.IsNullOrWhiteSpace(builder.Host))
        {
            throw new ArgumentException("the store connection string has no Host; use Host=HOST;Port=5432;Username=USER;Database=DB", nameof(value));
        }

        return new StoreLocation(null, builder);
    }

    /// <summary>Whether the connection string carries a password (allowed in a settings file, never on a command line).</summary>
    public bool HasPassword => Postgres is { Password: { Length: > 0 } };
}
