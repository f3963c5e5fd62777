namespace RdpNla.Server.Accounts;

/// <summary>How an account name was written.</summary>
public enum AccountNameForm
{
    /// <summary><c>user</c>: no domain (or an empty domain field on the wire).</summary>
    Plain,

    /// <summary><c>DOMAIN\user</c>, or a user with a separate non-empty domain field (down-level logon name).</summary>
    DownLevel,

    /// <summary><c>user@domain</c>: a user principal name. FreeRDP sends these as the user with an empty domain (docs/interop.md#account-names).</summary>
    UserPrincipalName,
}

/// <summary>
/// A user name as Windows handles it: <c>DOMAIN\user</c>, <c>user@domain</c> or plain <c>user</c>.
/// The user part keeps its original spelling; comparisons are case-insensitive (upper-invariant, as SAM does).
/// Whether the name belongs to this server's local store is decided by <see cref="IsLocalTo"/>.
/// </summary>
/// <remarks>
/// Validation follows the Windows rules for local user names: at most <see cref="MaxUserNameLength"/> characters, none of
/// <c>" / \ [ ] : ; | = , + * ? &lt; &gt;</c>, no control characters, not only dots and spaces. '@' is refused in the user
/// part as well, because it separates user and domain in <c>user@domain</c> and a stored name containing it could never
/// be addressed unambiguously.
/// </remarks>
public readonly struct AccountName : IEquatable<AccountName>
{
    /// <summary>Longest user name accepted.</summary>
    public const int MaxUserNameLength = 104;

    /// <summary>Longest domain name accepted (a DNS name).</summary>
    public const int MaxDomainLength = 255;

    /// <summary>Characters Windows forbids in user names (plus '@', see the type remarks).</summary>
    public const string ForbiddenUserNameCharacters = "\"/\\[]:;|=,+*?<>@";

    private const string ForbiddenDomainCharacters = "\"/\\[]:;|=,+*?<>@";

    private readonly string? _userName;
    private readonly string? _domain;
    private readonly string? _userKey;

    private AccountName(string userName, string domain, AccountNameForm form)
    {
        _userName = userName;
        _domain = domain;
        _userKey = NormalizeUserName(userName);
        Form = form;
    }

    /// <summary>The user part in its original spelling.</summary>
    public string UserName => _userName ?? string.Empty;

    /// <summary>The domain as written: empty for a plain name; the part after '@' for a UPN.</summary>
    public string Domain => _domain ?? string.Empty;

    /// <summary>How the name was written.</summary>
    public AccountNameForm Form { get; }

    /// <summary>The case-insensitive key of the user part (upper-invariant).</summary>
    public string UserKey => _userKey ?? string.Empty;

    /// <summary>Whether the domain part designates this server's own store.</summary>
    public bool IsLocalTo(LocalDomainNames localNames)
    {
        ArgumentNullException.ThrowIfNull(localNames);
        return localNames.IsLocal(Domain);
    }

    /// <summary>The case-insensitive key of a user name, as stored in the user store's unique index.</summary>
    public static string NormalizeUserName(string userName)
    {
        ArgumentNullException.ThrowIfNull(userName);
        return userName.ToUpperInvariant();
    }

    /// <summary>Parses <c>DOMAIN\user</c>, <c>user@domain</c> or <c>user</c>, as typed by an administrator or sent in a user field with an empty domain.</summary>
    /// <exception cref="FormatException">The name is empty, too long or has a character Windows forbids; the message says which.</exception>
    public static AccountName Parse(string value)
    {
        ArgumentNullException.ThrowIfNull(value);
        return TryParse(value, out AccountName name, out string? error) ? name : throw new FormatException(error);
    }

    /// <summary>Parses <c>DOMAIN\user</c>, <c>user@domain</c> or <c>user</c>.</summary>
    /// <param name="value">The name.</param>
    /// <param name="name">The parsed name.</param>
    /// <param name="error">When parsing fails, a one-line explanation that is safe to show and log.</param>
    public static bool TryParse(string? value, out AccountName name, out string? error)
    {
        name = default;
        if (string.IsNullOrEmpty(value))
        {
            error = "the user name is empty";
            return false;
        }

        int backslash = value.IndexOf('\\', StringComparison.Ordinal);
        if (backslash >= 0)
        {
            string domain = value[..backslash];
            string user = value[(backslash + 1)..];
            if ((error = ValidateDomain(domain)) is not null || (error = ValidateUserName(user)) is not null)
            {
                return false;
            }

            name = new AccountName(user, domain, AccountNameForm.DownLevel);
            return true;
        }

        int at = value.LastIndexOf('@');
        if (at >= 0)
        {
            string user = value[..at];
            string domain = value[(at + 1)..];
            if (domain.Length == 0)
            {
                error = $"the name '{PrintableText.Escape(value)}' ends with '@'; write user@domain or just the user name";
                return false;
            }

            if ((error = ValidateUserName(user)) is not null || (error = ValidateDomain(domain)) is not null)
            {
                return false;
            }

            name = new AccountName(user, domain, AccountNameForm.UserPrincipalName);
            return true;
        }

        if ((error = ValidateUserName(value)) is not null)
        {
            return false;
        }

        name = new AccountName(value, string.Empty, AccountNameForm.Plain);
        return true;
    }

    /// <summary>
    /// Builds the name from the separate user and domain fields a client sends (NTLM AUTHENTICATE, TSPasswordCreds).
    /// An empty domain means the user field may itself be a UPN or a <c>DOMAIN\user</c> name.
    /// </summary>
    /// <exception cref="FormatException">The fields do not form a valid name.</exception>
    public static AccountName FromCredentials(string? userName, string? domain) =>
        TryFromCredentials(userName, domain, out AccountName name, out string? error) ? name : throw new FormatException(error);

    /// <summary>Builds the name from the separate user and domain fields a client sends.</summary>
    public static bool TryFromCredentials(string? userName, string? domain, out AccountName name, out string? error)
    {
        if (string.IsNullOrEmpty(domain))
        {
            // docs/interop.md#account-names: FreeRDP sends UPNs as user "user@corp.net" with an empty domain.
            return TryParse(userName, out name, out error);
        }

        name = default;
        if (string.IsNullOrEmpty(userName))
        {
            error = "the user name is empty";
            return false;
        }

        if ((error = ValidateDomain(domain)) is not null || (error = ValidateUserName(userName)) is not null)
        {
            return false;
        }

        name = new AccountName(userName, domain, AccountNameForm.DownLevel);
        return true;
    }

    /// <summary>Checks a user name (without domain) against the Windows rules; returns null when valid, else a one-line reason.</summary>
    public static string? ValidateUserName(string userName) => ValidateLocalName(userName, "user", MaxUserNameLength);

    /// <summary>
    /// The Windows rules for a local user or group name (<paramref name="kind"/>): not empty, at most
    /// <paramref name="maxLength"/> characters, none of <c>" / \ [ ] : ; | = , + * ? &lt; &gt; @</c>, no control characters, not
    /// only dots and spaces. Null when valid, else a one-line reason whose quoted name is escaped.
    /// </summary>
    internal static string? ValidateLocalName(string name, string kind, int maxLength)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0)
        {
            return $"the {kind} name is empty";
        }

        if (name.Length > maxLength)
        {
            return $"the {kind} name is {name.Length} characters long; the limit is {maxLength}";
        }

        if (FindInvalidCharacter(name, ForbiddenUserNameCharacters) is (char c, bool isControl))
        {
            return isControl
                ? $"the {kind} name '{PrintableText.Escape(name)}' contains a control character ({PrintableText.Escape(c.ToString())}), which Windows does not allow"
                : $"the {kind} name '{PrintableText.Escape(name)}' contains '{c}'; {kind} names cannot contain any of \" / \\ [ ] : ; | = , + * ? < > @";
        }

        if (name.AsSpan().Trim(". ").IsEmpty)
        {
            return $"the {kind} name '{name}' consists only of dots and spaces, which Windows does not allow";
        }

        return null;
    }

    /// <summary>The first control character or character of <paramref name="forbidden"/> in <paramref name="name"/>, or null.</summary>
    internal static (char Character, bool IsControl)? FindInvalidCharacter(string name, string forbidden)
    {
        foreach (char c in name)
        {
            if (char.IsControl(c) || forbidden.Contains(c, StringComparison.Ordinal))
            {
                return (c, char.IsControl(c));
            }
        }

        return null;
    }

    private static string? ValidateDomain(string domain)
    {
        if (domain.Length > MaxDomainLength)
        {
            return $"the domain name is {domain.Length} characters long; the limit is {MaxDomainLength}";
        }

        // "." alone is the local-machine alias and is handled by LocalDomainNames.
        if (FindInvalidCharacter(domain, ForbiddenDomainCharacters) is (char c, bool isControl))
        {
            return isControl
                ? $"the domain '{PrintableText.Escape(domain)}' contains a control character, which Windows does not allow"
                : $"the domain '{PrintableText.Escape(domain)}' contains '{c}', which is not allowed in a domain name";
        }

        return null;
    }

    /// <summary>Case-insensitive on both user and domain; the form is ignored.</summary>
    public bool Equals(AccountName other) =>
        string.Equals(UserKey, other.UserKey, StringComparison.Ordinal)
        && string.Equals(Domain, other.Domain, StringComparison.OrdinalIgnoreCase);

    public override bool Equals(object? obj) => obj is AccountName other && Equals(other);

    public override int GetHashCode() => HashCode.Combine(UserKey, StringComparer.OrdinalIgnoreCase.GetHashCode(Domain));

    public static bool operator ==(AccountName left, AccountName right) => left.Equals(right);

    public static bool operator !=(AccountName left, AccountName right) => !left.Equals(right);

    /// <summary>The name in the form it was written: <c>DOMAIN\user</c>, <c>user@domain</c> or <c>user</c>.</summary>
    public override string ToString() => Form switch
    {
        AccountNameForm.DownLevel => $"{Domain}\\{UserName}",
        AccountNameForm.UserPrincipalName => $"{UserName}@{Domain}",
        _ => UserName,
    };
}
