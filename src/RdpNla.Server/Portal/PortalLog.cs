namespace RdpNla.Server.Portal;

/// <summary>Log messages of the portal and the second factor's hold (EventId range 4600-4699).</summary>
internal static partial class PortalLog
{
    [LoggerMessage(4620, LogLevel.Information, "Self-service portal on https://{EndPoint}/ (users are sent to {PortalUrl})")]
    public static partial void Listening(ILogger logger, IPEndPoint endPoint, string portalUrl);

    [LoggerMessage(4621, LogLevel.Information, "Second factor for {Account}: {Reason}")]
    public static partial void SecondFactorApproved(ILogger logger, string account, string reason);

    [LoggerMessage(4622, LogLevel.Warning, "Second factor for {Account} failed: {Reason} ({Action})")]
    public static partial void SecondFactorRefused(ILogger logger, string account, string reason, string action);
}
