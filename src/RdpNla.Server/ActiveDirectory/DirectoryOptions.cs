namespace RdpNla.Server.ActiveDirectory;

/// <summary>Domain accounts (docs/active-directory.md): NTLM pass-through to the domain controller and who may log on.</summary>
public sealed class DirectoryOptions
{
    /// <summary>How NTLM logons of domain users are verified: <c>none</c> (local users only) or <c>winbind</c> (the host's winbind, libwbclient).</summary>
    public string NtlmPassthrough { get; set; } = "none";

    /// <summary>
    /// Domain groups whose members may log on, as <c>DOMAIN\group</c> or a SID (S-1-5-21-...). Required with domain
    /// logons; <c>DOMAIN\Domain Users</c> lets every domain user in.
    /// </summary>
    public List<string> AllowedGroups { get; set; } = [];

    /// <summary>
    /// A folder to bind on <c>/run/samba</c> for the thread that talks to winbind (in its own mount namespace; needs
    /// root), when winbind's socket is not in /run/samba/winbindd (a DC or winbind started in a private folder).
    /// </summary>
    public string? WinbindRunDirectory { get; set; }

    /// <summary>Whether domain users are verified through winbind.</summary>
    public bool Enabled => string.Equals(NtlmPassthrough, "winbind", StringComparison.OrdinalIgnoreCase);

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Enabled && !string.Equals(NtlmPassthrough, "none", StringComparison.OrdinalIgnoreCase))
        {
            errors.Add($"Directory:NtlmPassthrough must be 'none' or 'winbind'; got '{NtlmPassthrough}'.");
            return errors;
        }

        if (!Enabled)
        {
            if (AllowedGroups.Count > 0 || WinbindRunDirectory is not null)
            {
                errors.Add("Directory:AllowedGroups and Directory:WinbindRunDirectory need domain logons: set Directory:NtlmPassthrough to winbind.");
            }

            return errors;
        }

        if (AllowedGroups.Count == 0)
        {
            errors.Add("Domain logons are on (Directory:NtlmPassthrough = winbind) but no group may log on: add a group 'DOMAIN\\group' to Directory:AllowedGroups ('DOMAIN\\Domain Users' lets every domain user in).");
        }

        foreach (string group in AllowedGroups)
        {
            if (!IsSid(group) && (group.Split('\\') is not [{ Length: > 0 }, { Length: > 0 }]))
            {
                errors.Add($"Directory:AllowedGroups '{group}' is neither DOMAIN\\group nor a SID; write e.g. 'LAB\\rdp-users' or S-1-5-21-...-1105.");
            }
        }

        if (WinbindRunDirectory is { } run && !System.IO.Directory.Exists(run))
        {
            errors.Add($"Directory:WinbindRunDirectory '{run}' does not exist; give the folder winbind's socket directory (winbindd/pipe) is in.");
        }

        return errors;
    }

    /// <summary>Whether <paramref name="text"/> is written as a SID (S-1-...).</summary>
    public static bool IsSid(string text) => text.StartsWith("S-1-", StringComparison.OrdinalIgnoreCase);
}
