namespace RdpNla.Server.Metrics;

/// <summary>
/// Traces of the front door (System.Diagnostics.ActivitySource): one span per connection with a child span per
/// handshake phase. Tags carry addresses, protocols, versions and outcomes, never a user name, password, hash, key
/// or token. OpenTelemetry exports them when <c>OpenTelemetry:Endpoint</c> is set (docs/deploy.md).
/// </summary>
internal static class FrontDoorTracing
{
    public const string SourceName = "RdpNla.Server";

    /// <summary>The span of one connection, from accept to the end of its handshake (or of its relayed session).</summary>
    public const string Connection = "RDP connection";

    /// <summary>X.224 Connection Request and Confirm: the security protocol negotiation (MS-RDPBCGR §1.3.1.1).</summary>
    public const string X224 = "X.224";

    public const string Tls = "TLS";

    /// <summary>The CredSSP exchange (MS-CSSP §3.1.5), from the first TSRequest to the credentials or the failure.</summary>
    public const string CredSsp = "CredSSP";

    /// <summary>The user store look-up and account policy during CredSSP.</summary>
    public const string AccountCheck = "account check";

    /// <summary>The gateway's connection to the backend (X.224, TLS and CredSSP towards it).</summary>
    public const string BackendConnect = "backend connect";

    internal static readonly ActivitySource Source = new(SourceName, typeof(FrontDoorTracing).Assembly.GetName().Version?.ToString());
}
