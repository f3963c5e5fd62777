namespace RdpNla.Server.FrontDoor;

/// <summary>
/// The front door's Kerberos acceptor: the keytab's credential held by the system GSSAPI for the process lifetime, and
/// the rule that maps a ticket's client principal to a local account (docs/kerberos.md, "Who is the user").
/// </summary>
internal sealed class KerberosAcceptance(KerberosCredential credential, string servicePrincipal, string realm) : IDisposable
{
    public KerberosCredential Credential { get; } = credential;

    public string ServicePrincipal { get; } = servicePrincipal;

    /// <summary>The realm whose user principals are local users.</summary>
    public string Realm { get; } = realm;

    /// <summary>The replay cache's file under the data folder (docs/kerberos.md, "Replay cache").</summary>
    public static string ReplayCachePath(string dataDirectory) => Path.Combine(dataDirectory, "kerberos", "replay.rcache2");

    /// <summary>Loads the keytab; null when none is configured. Seen authenticators go to <see cref="ReplayCachePath"/>.</summary>
    /// <exception cref="InvalidOperationException">The keytab cannot be used; the message says how to fix it.</exception>
    public static KerberosAcceptance? Create(KerberosOptions options, string dataDirectory)
    {
        if (options.Keytab is not { } keytab)
        {
            return null;
        }

        if (!File.Exists(keytab))
        {
            throw new InvalidOperationException($"Kerberos:Keytab '{keytab}' does not exist; export the service principal's keys into it (docs/kerberos.md) or fix Kerberos:Keytab.");
        }

        string? principal;
        try
        {
            principal = options.ServicePrincipal ?? KeytabFile.DefaultServicePrincipal(keytab);
        }
        catch (Exception ex) when (ex is InvalidDataException or IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"Kerberos:Keytab '{keytab}' cannot be read: {ex.Message}", ex);
        }

        if (principal is null)
        {
            throw new InvalidOperationException($"Kerberos:Keytab '{keytab}' holds no keys; export the TERMSRV/<host> principal's keys into it (docs/kerberos.md).");
        }

        int at = principal.LastIndexOf('@');
        string? realm = options.Realm ?? (at >= 0 ? principal[(at + 1)..] : null);
        if (realm is null)
        {
            throw new InvalidOperationException($"Kerberos:ServicePrincipal '{principal}' has no @REALM; add it, or set Kerberos:Realm.");
        }

        string qualified = at >= 0 ? principal : principal + "@" + realm;
        string replayCache = ReplayCachePath(dataDirectory);
        try
        {
            string folder = Path.GetDirectoryName(replayCache)!;
            _ = OperatingSystem.IsWindows() ? Directory.CreateDirectory(folder) : Directory.CreateDirectory(folder, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new InvalidOperationException($"Cannot create the Kerberos replay cache folder '{Path.GetDirectoryName(replayCache)}': {ex.Message}; check the permissions of the data folder (DataDirectory).", ex);
        }

        try
        {
            return new KerberosAcceptance(KerberosCredential.ForAcceptor(keytab, qualified, replayCache), qualified, realm);
        }
        catch (GssException ex)
        {
            throw new InvalidOperationException($"{ex.Message}; check that the keytab holds keys for {qualified} (klist -k {keytab}) or set Kerberos:ServicePrincipal.", ex);
        }
    }

    /// <summary>A new acceptor context for one connection.</summary>
    public IGssContext CreateContext() => KerberosContext.CreateAcceptor(Credential);

    /// <summary>
    /// alice@REALM → local user alice, when REALM is <see cref="Realm"/> (Kerberos realms compare exactly, RFC 4120 §6.1)
    /// and the name has one component (a service principal such as host/x is not a user).
    /// </summary>
    public bool TryMapToLocalUser(string principal, out string userName, out string? problem)
    {
        int at = principal.LastIndexOf('@');
        string name = at < 0 ? principal : principal[..at];
        string realm = at < 0 ? string.Empty : principal[(at + 1)..];
        userName = name;
        if (!string.Equals(realm, Realm, StringComparison.Ordinal))
        {
            problem = $"the ticket's client {principal} is not of realm {Realm} (Kerberos:Realm); only that realm's users map to local accounts";
            return false;
        }

        if (name.Length == 0 || name.Contains('/', StringComparison.Ordinal))
        {
            problem = $"the ticket's client {principal} is a service principal, not a user";
            return false;
        }

        problem = null;
        return true;
    }

    public void Dispose() => Credential.Dispose();
}
