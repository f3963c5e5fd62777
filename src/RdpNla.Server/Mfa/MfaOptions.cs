namespace RdpNla.Server.Mfa;

/// <summary>The second factor at the NLA step (section <c>Mfa</c>; docs/portal.md).</summary>
public sealed class MfaOptions
{
    /// <summary>How long a held connection waits for the user's approval on the portal. Default 60 seconds.</summary>
    public TimeSpan ApprovalTimeout { get; set; } = TimeSpan.FromSeconds(60);

    /// <summary>The issuer shown by authenticator apps. Default <c>rdpnla</c>.</summary>
    public string Issuer { get; set; } = "rdpnla";

    /// <summary>Code attempts (right or wrong) accepted per user per minute; more are refused unchecked. Default 5.</summary>
    public int MaxCodeAttemptsPerMinute { get; set; } = 5;

    /// <summary>Connections one user may have held at once; more are refused at once. Default 4.</summary>
    public int MaxPendingPerUser { get; set; } = 4;

    internal IEnumerable<string> Validate()
    {
        if (ApprovalTimeout < TimeSpan.FromSeconds(5) || ApprovalTimeout > TimeSpan.FromMinutes(10))
        {
            yield return $"Mfa:ApprovalTimeout is {ApprovalTimeout}; use 00:00:05 to 00:10:00.";
        }

        if (string.IsNullOrWhiteSpace(Issuer) || Issuer.Contains(':', StringComparison.Ordinal))
        {
            yield return $"Mfa:Issuer '{Issuer}' must be a non-empty name without ':'.";
        }

        if (MaxCodeAttemptsPerMinute is < 1 or > 100)
        {
            yield return $"Mfa:MaxCodeAttemptsPerMinute is {MaxCodeAttemptsPerMinute}; use 1 to 100.";
        }

        if (MaxPendingPerUser is < 1 or > 100)
        {
            yield return $"Mfa:MaxPendingPerUser is {MaxPendingPerUser}; use 1 to 100.";
        }
    }
}
