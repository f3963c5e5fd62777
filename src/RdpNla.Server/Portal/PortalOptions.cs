namespace RdpNla.Server.Portal;

/// <summary>The self-service portal of <c>rdpnla serve</c> (section <c>Portal</c>; docs/portal.md).</summary>
public sealed class PortalOptions
{
    /// <summary>Where the HTTPS portal listens, <c>ADDRESS:PORT</c>; empty (the default): no portal.</summary>
    public string? Listen { get; set; }

    /// <summary>
    /// The address users are told to open (failure messages, log, audit), e.g. <c>https://rdp.example.com:8443/</c>.
    /// Default: <c>https://</c> and <see cref="Listen"/>. <see cref="PublicUrl"/> ends with '/'.
    /// </summary>
    public string? Url { get; set; }

    /// <summary>The largest request body accepted, in bytes (forms and JSON). Default 16 KiB.</summary>
    public int MaxRequestBodySize { get; set; } = 16 * 1024;

    /// <summary>The local password policy applied by the password change.</summary>
    public PasswordPolicyOptions Password { get; set; } = new();

    /// <summary>
    /// The group (<c>rdpnla groups</c>, or <c>DOMAIN\group</c> with domain logons) whose members may open the read-only admin page (<c>/admin</c>,
    /// <c>POST /api/admin/overview</c>): recent audit rows and the live relayed sessions. Empty (the default): no admin
    /// page, both answer 404.
    /// </summary>
    public string? AdminGroup { get; set; }

    /// <summary>The most audit rows the admin page shows (and the JSON twin returns) at once. Default 200.</summary>
    public int AdminMaxRows { get; set; } = 200;

    /// <summary>Admin page requests per client address and per user name per minute; more get 429 unchecked. Default 10.</summary>
    public int AdminAttemptsPerMinute { get; set; } = 10;

    /// <summary>Whether the admin page is on.</summary>
    public bool AdminEnabled => !string.IsNullOrWhiteSpace(AdminGroup);

    /// <summary>Whether the portal is on.</summary>
    public bool Enabled => !string.IsNullOrWhiteSpace(Listen);

    /// <summary>The address named in messages, or null without a portal.</summary>
    public string? PublicUrl => !Enabled ? null
        : !string.IsNullOrWhiteSpace(Url) ? (Url.EndsWith('/') ? Url : Url + "/")
        : $"https://{Listen}/";

    internal IEnumerable<string> Validate()
    {
        if (Enabled && !ListenEndpoint.TryParse(Listen!, out _, out string? error))
        {
            yield return $"Portal:Listen '{Listen}': {error}";
        }

        if (!string.IsNullOrWhiteSpace(Url) && !(Uri.TryCreate(Url, UriKind.Absolute, out Uri? uri) && uri.Scheme == Uri.UriSchemeHttps))
        {
            yield return $"Portal:Url '{Url}' must be an absolute https:// address, e.g. https://rdp.example.com:8443/.";
        }

        if (MaxRequestBodySize is < 1024 or > 1024 * 1024)
        {
            yield return $"Portal:MaxRequestBodySize is {MaxRequestBodySize}; use 1024 to 1048576 bytes.";
        }

        if (AdminGroup is { Length: > 256 })
        {
            yield return "Portal:AdminGroup is longer than 256 characters; name a local group, or a domain group as DOMAIN\\group or a SID.";
        }

        if (AdminMaxRows is < 1 or > 5000)
        {
            yield return $"Portal:AdminMaxRows is {AdminMaxRows}; use 1 to 5000 rows.";
        }

        if (AdminAttemptsPerMinute is < 1 or > 1000)
        {
            yield return $"Portal:AdminAttemptsPerMinute is {AdminAttemptsPerMinute}; use 1 to 1000.";
        }

        foreach (string problem in Password.Validate())
        {
            yield return problem;
        }
    }
}

/// <summary>The local password policy (section <c>Portal:Password</c>), as in Windows "Password Policy".</summary>
public sealed class PasswordPolicyOptions
{
    /// <summary>"Minimum password length", in characters. Default 8.</summary>
    public int MinLength { get; set; } = 8;

    /// <summary>The longest password accepted, in characters. Default 256.</summary>
    public int MaxLength { get; set; } = 256;

    /// <summary>
    /// "Password must meet complexity requirements": at least three of upper case, lower case, digits and other
    /// characters, and not containing the user name. Default on.
    /// </summary>
    public bool RequireComplexity { get; set; } = true;

    /// <summary>"Enforce password history": the new password may not be one of this many, the current one included. Default 5; 0 = off.</summary>
    public int History { get; set; } = 5;

    internal IEnumerable<string> Validate()
    {
        if (MinLength is < 1 or > 128)
        {
            yield return $"Portal:Password:MinLength is {MinLength}; use 1 to 128.";
        }

        if (MaxLength < MinLength || MaxLength > 1024)
        {
            yield return $"Portal:Password:MaxLength is {MaxLength}; use MinLength ({MinLength}) to 1024.";
        }

        if (History is < 0 or > 24)
        {
            yield return $"Portal:Password:History is {History}; use 0 (off) to 24 (the Windows maximum).";
        }
    }
}
