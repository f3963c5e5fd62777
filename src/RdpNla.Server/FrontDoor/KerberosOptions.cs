namespace RdpNla.Server.FrontDoor;

/// <summary>The Kerberos acceptor of the front door (docs/kerberos.md). Without a keytab, only NTLM is accepted.</summary>
public sealed class KerberosOptions
{
    /// <summary>The keytab with the service principal's keys (<c>ktpass</c>, <c>samba-tool domain exportkeytab</c>, <c>kadmin ktadd</c>).</summary>
    public string? Keytab { get; set; }

    /// <summary>The service principal clients ask tickets for, normally <c>TERMSRV/&lt;host&gt;</c>. Default: the keytab's first TERMSRV/ principal.</summary>
    public string? ServicePrincipal { get; set; }

    /// <summary>
    /// The realm whose user principals map to local accounts of the same name (alice@REALM → alice). Default: the
    /// service principal's realm. Principals of other realms are refused.
    /// </summary>
    public string? Realm { get; set; }

    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (Keytab is null)
        {
            if (ServicePrincipal is not null || Realm is not null)
            {
                errors.Add("Kerberos:ServicePrincipal and Kerberos:Realm need Kerberos:Keytab; without a keytab only NTLM is accepted.");
            }

            return errors;
        }

        if (Keytab.Length == 0)
        {
            errors.Add("Kerberos:Keytab is empty; give the path of the keytab file.");
        }

        if (ServicePrincipal is { } spn && (spn.Length == 0 || spn.Contains(' ', StringComparison.Ordinal) || spn.Count(c => c == '@') > 1))
        {
            errors.Add($"Kerberos:ServicePrincipal '{spn}' is not a principal name; use e.g. TERMSRV/host.example.com or TERMSRV/host.example.com@EXAMPLE.COM.");
        }

        if (Realm is { } realm && (realm.Length == 0 || realm.Contains('@', StringComparison.Ordinal) || realm.Contains(' ', StringComparison.Ordinal)))
        {
            errors.Add($"Kerberos:Realm '{realm}' is not a realm name; use e.g. EXAMPLE.COM.");
        }

        return errors;
    }
}
