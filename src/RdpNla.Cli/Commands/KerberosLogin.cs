namespace RdpNla.Cli.Commands;

/// <summary>The Kerberos options of the client commands (docs/kerberos.md): <c>--auth</c> and <c>--spn</c>.</summary>
internal static class KerberosLogin
{
    public static Option<string?> AuthOption() => new("--auth")
    {
        Description = "Security package: negotiate (default: Kerberos when a ticket for the target can be had from KRB5CCNAME, NTLM otherwise; a target given by IP address means NTLM unless --spn is given), kerberos (Kerberos only; with a password, a ticket is requested from the KDC), ntlm.",
        HelpName = "negotiate|kerberos|ntlm",
    };

    public static Option<string?> SpnOption() => new("--spn")
    {
        Description = "Kerberos service principal of the server (default TERMSRV/HOST), e.g. TERMSRV/rdpgw.example.com.",
        HelpName = "NAME",
    };

    public static NlaAuthentication Parse(string? text) => text?.ToLowerInvariant() switch
    {
        null or "negotiate" => NlaAuthentication.Negotiate,
        "kerberos" => NlaAuthentication.Kerberos,
        "ntlm" => NlaAuthentication.Ntlm,
        _ => throw new CliException($"--auth must be negotiate, kerberos or ntlm; got '{text}'"),
    };

    /// <summary>Checks the combination before anything is sent; one line per mistake, with the fix.</summary>
    public static void Validate(NlaAuthentication authentication, string host, string? servicePrincipal, string? user)
    {
        if (servicePrincipal is not null && (servicePrincipal.Length == 0 || servicePrincipal.Contains(' ', StringComparison.Ordinal)))
        {
            throw new CliException($"--spn '{servicePrincipal}' is not a principal name; use e.g. TERMSRV/host.example.com");
        }

        if (authentication == NlaAuthentication.Ntlm && servicePrincipal is not null)
        {
            throw new CliException("--spn is for Kerberos; drop it, or use --auth negotiate or --auth kerberos");
        }

        if (authentication == NlaAuthentication.Kerberos && servicePrincipal is null && System.Net.IPAddress.TryParse(host, out _))
        {
            throw new CliException($"Kerberos needs the server's name, not the address {host}: connect by host name, or give its principal with --spn TERMSRV/NAME");
        }

        if (user is null && authentication != NlaAuthentication.Kerberos)
        {
            throw new CliException("--user is required (with --auth kerberos it defaults to the principal of the credential cache, KRB5CCNAME)");
        }
    }

    /// <summary>The user of the current credential cache, or null when there is none (negotiate: NTLM then).</summary>
    public static NlaCredentials? TryFromCredentialCache()
    {
        try
        {
            return FromCredentialCache();
        }
        catch (CliException)
        {
            return null;
        }
    }

    /// <summary>The user of the current credential cache, with no password: Kerberos proves who it is, nothing to delegate.</summary>
    public static NlaCredentials FromCredentialCache()
    {
        string? principal;
        try
        {
            using KerberosCredential cache = KerberosCredential.ForInitiator();
            principal = cache.PrincipalName;
        }
        catch (GssException ex)
        {
            throw new CliException($"no Kerberos ticket: {ex.Message}; run kinit USER@REALM first (KRB5CCNAME selects the cache), or give --user and --password-stdin");
        }

        if (principal is null)
        {
            throw new CliException("the Kerberos credential cache names no principal; run kinit USER@REALM, or give --user");
        }

        int at = principal.LastIndexOf('@');
        return at < 0 ? new NlaCredentials(principal, string.Empty, []) : new NlaCredentials(principal[..at], principal[(at + 1)..], []);
    }
}
