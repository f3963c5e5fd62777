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
    public static string? Validate(string name) => AccountName.ValidateLocalName(name, "group", MaxLength);
}
