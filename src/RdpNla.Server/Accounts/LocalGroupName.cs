namespace RdpNla.Server.Accounts;

/// <summary>
/// The name of a group of the local store (<c>rdpnla groups</c>), checked as Windows checks local group names and as
/// <see cref="AccountName"/> checks user names: not empty, at most <see cref="MaxLength"/> characters, none of
/// <c>" / \ [ ] : ; | = , + * ? &lt; &gt; @</c>, no control characters, not only dots and spaces. '\' is what marks a
/// domain group (DOMAIN\group), so a local group can never be mistaken for one.
/// </summary>
public static class LocalGroupName
{
    /// <summary>Longest group name accepted (Windows' limit for local group names).</summary>
    public const int MaxLength = 256;

    /// <summary>Checks a group name; returns null when valid, else a one-line reason whose quoted name is escaped (<see cref="PrintableText"/>).</summary>
    public static string? Validate(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        if (name.Length == 0)
        {
            return "the group name is empty";
        }

        if (name.Length > MaxLength)
        {
            return $"the group name is {name.Length} characters long; the limit is {MaxLength}";
        }

        if (AccountName.FindInvalidCharacter(name, AccountName.ForbiddenUserNameCharacters) is (char c, bool isControl))
        {
            return isControl
                ? $"the group name '{PrintableText.Escape(name)}' contains a control character ({PrintableText.Escape(c.ToString())}), which Windows does not allow"
                : $"the group name '{PrintableText.Escape(name)}' contains '{c}'; group names cannot contain any of \" / \\ [ ] : ; | = , + * ? < > @";
        }

        if (name.AsSpan().Trim(". ").IsEmpty)
        {
            return $"the group name '{name}' consists only of dots and spaces, which Windows does not allow";
        }

        return null;
    }
}
