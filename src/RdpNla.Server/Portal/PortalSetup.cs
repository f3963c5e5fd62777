namespace RdpNla.Server.Portal;

/// <summary>Builds the self-service services of a front door host; the portal itself is started by <see cref="PortalServer.StartAsync"/>.</summary>
internal static class PortalSetup
{
    /// <summary>
    /// The second-factor gate is always built: a user who must use one is never let through without it, portal or not.
    /// TOTP secrets are sealed with the gateway key (created on first enrolment, like <c>rdpnla users set-credentials</c> does).
    /// </summary>
    public static (SecondFactorGate Gate, SelfService Service) Create(FrontDoorOptions options, RdpNlaStore database, string dataDirectory, AccountPolicy policy, LocalDomainNames localNames, ActiveDirectory.DomainLogons? domain, LiveSessions? liveSessions, ILoggerFactory loggerFactory, TimeProvider timeProvider)
    {
        GatewayKey? key = null;
        var gate = new Lock();
        GatewayKey LoadKey()
        {
            lock (gate)
            {
                return key ??= GatewayKey.Load(dataDirectory, options.Gateway.KeyFile, create: true);
            }
        }

        ILogger logger = loggerFactory.CreateLogger("RdpNla.Portal");
        SelfServiceStore store = database.SelfService;
        var approvals = new ConnectionApprovals(timeProvider, options.Mfa.MaxPendingPerUser);
        var service = new SelfService(policy, localNames, database.Users, store, database.Audit, options.Portal, options.Mfa, approvals, LoadKey, timeProvider, logger) { Domain = domain, InstanceName = options.EffectiveInstanceName, LiveSessions = liveSessions };
        return (new SecondFactorGate(store, approvals, options.Mfa, options.Portal.PublicUrl, timeProvider, logger), service);
    }

    /// <summary>The failure message of a must-change or expired password, naming where to change it.</summary>
    public static string WithPortalHint(string message, Protocol.NtStatus status, string? portalUrl) =>
        portalUrl is not null && status is Protocol.NtStatus.PasswordMustChange or Protocol.NtStatus.PasswordExpired
            ? $"{message}; change it at {portalUrl}password"
            : message;
}
