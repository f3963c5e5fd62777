namespace RdpNla.Server.Storage;

/// <summary>The rdpnla data directory (<c>--data DIR</c>): where the database and other state live.</summary>
public static class DataDirectory
{
    /// <summary>The folder used when no directory is given: <c>rdpnla</c> in the current directory.</summary>
    public const string DefaultFolderName = "rdpnla";

    /// <summary>The database file name inside the data directory.</summary>
    public const string DatabaseFileName = "rdpnla.db";

    /// <summary>The full path of the data directory for <paramref name="path"/> (null or empty: the default); creates it when missing.</summary>
    /// <exception cref="IOException">The directory cannot be created, or a file is in the way.</exception>
    /// <exception cref="UnauthorizedAccessException">No permission to create the directory.</exception>
    public static string Resolve(string? path)
    {
        string full = Path.GetFullPath(string.IsNullOrWhiteSpace(path) ? Path.Combine(Environment.CurrentDirectory, DefaultFolderName) : path);
        if (File.Exists(full))
        {
            throw new IOException($"'{full}' is a file, not a directory");
        }

        // A new data folder is its owner's only (0700): it holds the database, the TLS key and the gateway key.
        _ = OperatingSystem.IsWindows() ? Directory.CreateDirectory(full) : Directory.CreateDirectory(full, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        return full;
    }

    /// <summary>The database file inside a resolved data directory.</summary>
    public static string GetDatabasePath(string dataDirectory) => Path.Combine(dataDirectory, DatabaseFileName);

    /// <summary>Resolves the data directory and opens (creating and migrating) its database.</summary>
    public static async Task<RdpNlaDatabase> OpenDatabaseAsync(string? path, TimeProvider? timeProvider = null, CancellationToken cancellationToken = default)
    {
        string directory = Resolve(path);
        return await RdpNlaDatabase.OpenAsync(GetDatabasePath(directory), timeProvider, cancellationToken).ConfigureAwait(false);
    }
}
