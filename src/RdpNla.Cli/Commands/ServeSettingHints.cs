namespace RdpNla.Cli.Commands;

/// <summary>
/// The server's messages name its settings (<c>Kerberos:Keytab</c>); on the command line of <c>rdpnla serve</c> the
/// same settings are options. This adds the options to a message that names such settings.
/// </summary>
internal static class ServeSettingHints
{
    private static readonly (string Setting, string Option)[] s_options =
    [
        ("Kerberos:Keytab", "--keytab FILE"),
        ("Kerberos:ServicePrincipal", "--service-principal SPN"),
        ("Kerberos:Realm", "--kerberos-realm REALM"),
        ("Directory:NtlmPassthrough", "--ntlm-passthrough winbind"),
        ("Directory:AllowedGroups", "--allowed-group 'DOMAIN\\group'"),
        ("DataDirectory", "--data FOLDER"),
        ("LockoutAdmissionWaiters", "--lockout-admission-waiters COUNT"),
        ("LockoutAdmissionWait ", "--lockout-admission-wait TIME"),
    ];

    /// <summary><paramref name="message"/>, followed by the options of the settings it names, if any.</summary>
    public static string WithOptions(string message)
    {
        string[] options = [.. s_options.Where(o => message.Contains(o.Setting, StringComparison.Ordinal)).Select(o => o.Option)];
        return options.Length == 0 ? message : $"{message} (rdpnla serve: {string.Join(", ", options)})";
    }
}
