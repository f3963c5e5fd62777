namespace RdpNla.Server.Mfa;

/// <summary>How the second factor ended for one connection.</summary>
public enum SecondFactorResult
{
    /// <summary>Neither the user nor its groups require a second factor.</summary>
    NotRequired,

    /// <summary>The user approved the connection on the portal with a current code.</summary>
    Approved,

    /// <summary>A wrong code was presented on the portal for the connection.</summary>
    Denied,

    /// <summary>Not approved within <see cref="MfaOptions.ApprovalTimeout"/>.</summary>
    TimedOut,

    /// <summary>Required, but it cannot be given: no enrolled authenticator, no portal, or too many held connections.</summary>
    Unavailable,
}

/// <summary>
/// The hold at connection time (docs/portal.md): once CredSSP has proven the password of a user who must use a second
/// factor, the front door calls <see cref="HoldAsync"/>, which waits until the user approves the connection on the
/// portal with a current TOTP code, a wrong code denies it, or <see cref="MfaOptions.ApprovalTimeout"/> passes.
/// </summary>
public sealed partial class SecondFactorGate(SelfServiceStore store, ConnectionApprovals approvals, MfaOptions options, string? portalUrl, TimeProvider timeProvider, ILogger logger)
{
    private readonly SelfServiceStore _store = store;
    private readonly MfaOptions _options = options;
    private string? _portalUrl = portalUrl;
    private readonly TimeProvider _timeProvider = timeProvider;
    private readonly ILogger _logger = logger;

    /// <summary>The connections waiting for approval.</summary>
    public ConnectionApprovals Approvals { get; } = approvals;

    /// <summary>How long a connection is held.</summary>
    public TimeSpan ApprovalTimeout => _options.ApprovalTimeout;

    /// <summary>The portal's address (ending with '/'), or null without a portal; set once the portal is bound.</summary>
    public string? PortalUrl { get => _portalUrl; internal set => _portalUrl = value; }

    /// <summary>Whether <paramref name="userName"/> (or one of its groups) must approve connections with a second factor.</summary>
    public Task<bool> IsRequiredAsync(string userName, CancellationToken cancellationToken) => _store.IsMfaRequiredAsync(userName, cancellationToken);

    /// <summary>
    /// Holds the connection of <paramref name="userName"/> (already proven by CredSSP, and required to use a second
    /// factor: <see cref="IsRequiredAsync"/>) until it is approved, denied or times out. The reason is for the log and
    /// the audit row.
    /// </summary>
    public async Task<(SecondFactorResult Result, string Reason)> HoldAsync(long connectionId, string userName, IPEndPoint client, string backend, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(userName);
        ArgumentNullException.ThrowIfNull(client);
        if (_portalUrl is null)
        {
            return (SecondFactorResult.Unavailable, "second factor required, but the portal is off (set Portal:Listen)");
        }

        if (await _store.GetTotpAsync(userName, cancellationToken).ConfigureAwait(false) is not { Confirmed: true })
        {
            return (SecondFactorResult.Unavailable, $"second factor required, but no authenticator is enrolled; enrol one at {_portalUrl}totp");
        }

        var pending = new PendingConnection(connectionId, userName, client, _timeProvider.GetUtcNow(), backend);
        LogHeld(_logger, userName, _portalUrl, _options.ApprovalTimeout.TotalSeconds);
        ApprovalOutcome outcome = await Approvals.WaitAsync(pending, _options.ApprovalTimeout, cancellationToken).ConfigureAwait(false);
        return outcome switch
        {
            ApprovalOutcome.Approved => (SecondFactorResult.Approved, $"second factor approved on the portal {_portalUrl}"),
            ApprovalOutcome.Denied => (SecondFactorResult.Denied, "second factor denied: a wrong code was entered on the portal"),
            ApprovalOutcome.TooManyPending => (SecondFactorResult.Unavailable, $"second factor: {_options.MaxPendingPerUser} connections of this user wait for approval already (Mfa:MaxPendingPerUser)"),
            _ => (SecondFactorResult.TimedOut, $"second factor not approved within {_options.ApprovalTimeout.TotalSeconds:0} s (Mfa:ApprovalTimeout) at {_portalUrl}approve"),
        };
    }

    [LoggerMessage(EventId = 4610, Level = LogLevel.Information, Message = "Holding the connection of {UserName} for approval at {PortalUrl}approve (up to {TimeoutSeconds} s)")]
    private static partial void LogHeld(ILogger logger, string userName, string portalUrl, double timeoutSeconds);
}
