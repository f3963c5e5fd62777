namespace RdpNla.Client;

/// <summary>What was being done with the known-hosts file when it failed.</summary>
public enum KnownHostsFileAccess
{
    /// <summary>Looking the host up.</summary>
    Read,

    /// <summary>Recording the certificate of a new host.</summary>
    Write,
}

/// <summary>
/// The known-hosts file of <see cref="ServerCertificatePolicy.KnownHosts"/> could not be read or written. A problem of
/// this machine, not of the server: <see cref="NlaClient.RunAsync"/> lets it through instead of reporting a TLS
/// failure, and the certificate is not accepted, so nothing derived from the password is sent.
/// </summary>
public sealed class KnownHostsFileException : Exception
{
    /// <summary>Creates the exception for <paramref name="knownHostsFile"/>, with the reason found on the file system.</summary>
    /// <param name="knownHostsFile">The known-hosts file, as given.</param>
    /// <param name="access">Reading or writing.</param>
    /// <param name="innerException">The failure of the file system, if there was one.</param>
    public KnownHostsFileException(string knownHostsFile, KnownHostsFileAccess access, Exception? innerException)
        : this(knownHostsFile, access, Describe(knownHostsFile, innerException), innerException)
    {
    }

    /// <summary>Creates the exception without a file.</summary>
    public KnownHostsFileException()
        : this("The known-hosts file could not be used.")
    {
    }

    /// <summary>Creates the exception without a file.</summary>
    /// <param name="message">What is wrong.</param>
    public KnownHostsFileException(string message)
        : base(message)
    {
        KnownHostsFile = "";
        Reason = message;
    }

    /// <summary>Creates the exception without a file.</summary>
    /// <param name="message">What is wrong.</param>
    /// <param name="innerException">The failure of the file system.</param>
    public KnownHostsFileException(string message, Exception innerException)
        : base(message, innerException)
    {
        KnownHostsFile = "";
        Reason = message;
    }

    private KnownHostsFileException(string knownHostsFile, KnownHostsFileAccess access, string reason, Exception? innerException)
        : base($"cannot {(reason == FolderReason ? "use" : access == KnownHostsFileAccess.Write ? "write" : "read")} the known-hosts file '{knownHostsFile}': {reason}", innerException)
    {
        KnownHostsFile = knownHostsFile;
        Access = access;
        Reason = reason;
    }

    private const string FolderReason = "it is a folder";

    /// <summary>The known-hosts file, as given.</summary>
    public string KnownHostsFile { get; }

    /// <summary>Reading or writing.</summary>
    public KnownHostsFileAccess Access { get; }

    /// <summary>Why, in a few words: "it is a folder", "permission denied", or the message of the file system.</summary>
    public string Reason { get; }

    private static string Describe(string path, Exception? cause)
    {
        try
        {
            if (Directory.Exists(path))
            {
                return FolderReason;
            }

            // The first folder of the path that exists is a file: the folders cannot be created.
            for (string? parent = Path.GetDirectoryName(Path.GetFullPath(path)); !string.IsNullOrEmpty(parent); parent = Path.GetDirectoryName(parent))
            {
                if (File.Exists(parent))
                {
                    return $"'{parent}' is a file, not a folder";
                }

                if (Directory.Exists(parent))
                {
                    break;
                }
            }
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            // The cause below says it.
        }

        return cause switch
        {
            UnauthorizedAccessException => "permission denied",
            null => "unknown failure",
            _ => cause.Message,
        };
    }
}
