namespace RdpNla.Client;

/// <summary>What a <see cref="ServerCertificatePolicy"/> checked and found.</summary>
public enum CertificateCheck
{
    /// <summary>Nothing was checked (<see cref="ServerCertificatePolicy.Ignore"/>): insecure.</summary>
    NotChecked,

    /// <summary>The certificate has the pinned SHA-256 fingerprint.</summary>
    PinMatches,

    /// <summary>The certificate does not have the pinned fingerprint.</summary>
    PinMismatch,

    /// <summary>The certificate is the one recorded for the host in the known-hosts file.</summary>
    KnownHostMatches,

    /// <summary>Another certificate is recorded for the host: renewed, or a man in the middle.</summary>
    KnownHostChanged,

    /// <summary>The host was not in the known-hosts file: the certificate was recorded and trusted on first use.</summary>
    TrustedOnFirstUse,
}

/// <summary>The verdict of a <see cref="ServerCertificatePolicy"/> on the server certificate.</summary>
/// <param name="Accepted">True to continue with CredSSP.</param>
/// <param name="Check">What was checked and how it went.</param>
/// <param name="ExpectedFingerprint">The pinned or recorded SHA-256 fingerprint the certificate was compared with.</param>
/// <param name="KnownHostsFile">The known-hosts file, for the known-hosts checks.</param>
public sealed record CertificateDecision(bool Accepted, CertificateCheck Check, string? ExpectedFingerprint = null, string? KnownHostsFile = null);

/// <summary>
/// How the client decides whether to trust the server certificate before it sends anything derived from a password.
/// RDP servers mostly use self-signed certificates, so the choices are those of FreeRDP and mstsc: a pinned
/// fingerprint, trust on first use with a known-hosts file, or no check (insecure).
/// </summary>
public abstract class ServerCertificatePolicy
{
    private protected ServerCertificatePolicy()
    {
    }

    /// <summary>Accepts any certificate. Insecure: a man in the middle is detected only by the CredSSP binding of this connection, not prevented.</summary>
    public static ServerCertificatePolicy Ignore { get; } = new IgnorePolicy();

    /// <summary>Accepts only the certificate with this SHA-256 fingerprint.</summary>
    /// <exception cref="FormatException">The fingerprint is not 64 hex digits.</exception>
    public static ServerCertificatePolicy Pinned(string sha256Fingerprint) => new PinnedPolicy(TlsCertificateInfo.NormalizeFingerprint(sha256Fingerprint));

    /// <summary>
    /// Trust on first use: a host not in the file is recorded and accepted; a known host must present the same certificate.
    /// The file is checked here, before any connection: it must not be a folder and, when it exists, must be readable.
    /// Whether it can be written is known only when a new host is recorded: <see cref="Evaluate"/> (and so
    /// <see cref="NlaClient.RunAsync"/>) then throws <see cref="KnownHostsFileException"/> and the certificate is not accepted.
    /// </summary>
    /// <exception cref="KnownHostsFileException">The file is a folder or cannot be read.</exception>
    public static ServerCertificatePolicy KnownHosts(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        KnownHostsPolicy policy = new(path);
        policy.CheckReadable();
        return policy;
    }

    /// <summary>Decides on the certificate of <paramref name="host"/>:<paramref name="port"/>.</summary>
    /// <exception cref="KnownHostsFileException">The known-hosts file of <see cref="KnownHosts"/> could not be read or written.</exception>
    public abstract CertificateDecision Evaluate(string host, int port, TlsCertificateInfo certificate);

    private sealed class IgnorePolicy : ServerCertificatePolicy
    {
        public override CertificateDecision Evaluate(string host, int port, TlsCertificateInfo certificate) =>
            new(true, CertificateCheck.NotChecked);
    }

    private sealed class PinnedPolicy(string fingerprint) : ServerCertificatePolicy
    {
        public override CertificateDecision Evaluate(string host, int port, TlsCertificateInfo certificate) =>
            string.Equals(certificate.Sha256Fingerprint, fingerprint, StringComparison.Ordinal)
                ? new(true, CertificateCheck.PinMatches, fingerprint)
                : new(false, CertificateCheck.PinMismatch, fingerprint);
    }

    /// <summary>
    /// A known-hosts file in the spirit of FreeRDP's <c>known_hosts2</c>: one line per host,
    /// <c>HOST PORT SHA256-FINGERPRINT SUBJECT</c> (the subject is informational). Lines starting with # are comments.
    /// The file is plain UTF-8 text without a byte order mark; one written with a mark (by rdpnla before it wrote
    /// without) is read as well.
    /// </summary>
    private sealed class KnownHostsPolicy(string path) : ServerCertificatePolicy
    {
        private static readonly Lock s_fileLock = new();

        private static readonly UTF8Encoding s_utf8WithoutMark = new(encoderShouldEmitUTF8Identifier: false);

        public void CheckReadable()
        {
            lock (s_fileLock)
            {
                _ = ReadRecords().Count;
            }
        }

        public override CertificateDecision Evaluate(string host, int port, TlsCertificateInfo certificate)
        {
            lock (s_fileLock)
            {
                string key = host.ToLowerInvariant();
                string portText = port.ToString(CultureInfo.InvariantCulture);
                foreach (string[] fields in ReadRecords())
                {
                    if (fields[0] != key || fields[1] != portText)
                    {
                        continue;
                    }

                    return string.Equals(fields[2], certificate.Sha256Fingerprint, StringComparison.OrdinalIgnoreCase)
                        ? new(true, CertificateCheck.KnownHostMatches, fields[2], path)
                        : new(false, CertificateCheck.KnownHostChanged, fields[2], path);
                }

                string subject = certificate.Subject.Replace('\n', ' ').Replace('\r', ' ');
                try
                {
                    string? directory = Path.GetDirectoryName(Path.GetFullPath(path));
                    if (!string.IsNullOrEmpty(directory))
                    {
                        // A folder created here is its owner's only (0700), as the XDG Base Directory Specification
                        // asks of $XDG_CONFIG_HOME; an existing one keeps its mode.
                        _ = OperatingSystem.IsWindows()
                            ? Directory.CreateDirectory(directory)
                            : Directory.CreateDirectory(directory, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
                    }

                    File.AppendAllText(path, $"{key} {portText} {certificate.Sha256Fingerprint} {subject}\n", s_utf8WithoutMark);
                }
                catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
                {
                    throw new KnownHostsFileException(path, KnownHostsFileAccess.Write, ex);
                }

                return new(true, CertificateCheck.TrustedOnFirstUse, certificate.Sha256Fingerprint, path);
            }
        }

        /// <summary>The host lines of the file (at least HOST PORT SHA256), none when it does not exist yet.</summary>
        private List<string[]> ReadRecords()
        {
            var records = new List<string[]>();
            try
            {
                if (Directory.Exists(path))
                {
                    throw new KnownHostsFileException(path, KnownHostsFileAccess.Read, innerException: null);
                }

                if (!File.Exists(path))
                {
                    return records;
                }

                // File.ReadLines detects a byte order mark and drops it.
                foreach (string line in File.ReadLines(path, Encoding.UTF8))
                {
                    string[] fields = line.Split(' ', 4, StringSplitOptions.RemoveEmptyEntries);
                    if (fields.Length >= 3 && !fields[0].StartsWith('#'))
                    {
                        records.Add(fields);
                    }
                }
            }
            catch (Exception ex) when (ex is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
            {
                throw new KnownHostsFileException(path, KnownHostsFileAccess.Read, ex);
            }

            return records;
        }
    }
}
