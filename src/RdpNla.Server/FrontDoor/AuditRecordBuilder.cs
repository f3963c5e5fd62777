namespace RdpNla.Server.FrontDoor;

/// <summary>
/// Collects what a connection learned and writes its audit row: one row for how the connection ended, or, once an
/// outcome is decided that the client is about to learn (a verified password, a failed CredSSP exchange), the row
/// committed before the answer goes out (<see cref="WriteBeforeAnswerAsync"/>) plus a second row only if the connection
/// then ended otherwise (a failure, an error, or a refusal such as a second factor not given).
/// </summary>
internal sealed class AuditRecordBuilder
{
    private readonly TimeProvider _timeProvider;
    private bool _ended;
    private AuditOutcome? _answeredOutcome;

    public AuditRecordBuilder(IPEndPoint client, TimeProvider timeProvider)
    {
        Client = client;
        _timeProvider = timeProvider;
    }

    /// <summary>The client's address: the TCP peer, or the one a trusted proxy's PROXY header gave.</summary>
    public IPEndPoint Client { get; set; }

    public long ConnectionId { get; set; }

    public SecurityProtocols? RequestedProtocols { get; set; }

    public SecurityProtocols? SelectedProtocol { get; set; }

    public string? UserName { get; set; }

    public string? DomainName { get; set; }

    public int? CredSspVersion { get; set; }

    /// <summary>Bounds and pauses the writes (Limits:StoreTimeout); without it they run inline.</summary>
    public StoreWaits? Store { get; set; }

    /// <summary>What <see cref="StoreWaits"/> and the logs call an audit write.</summary>
    public const string WriteOperation = "writing the audit record";

    /// <summary>
    /// Writes the row of an outcome before the client learns it: a verified password before the server's proof, a failed
    /// exchange before its errorCode. When it cannot be committed the caller answers STATUS_INTERNAL_DB_ERROR instead:
    /// no outcome is acknowledged without its row (docs/high-availability.md, "Faults").
    /// </summary>
    /// <exception cref="AccountStoreException">The database failed or was busy.</exception>
    public async Task WriteBeforeAnswerAsync(FrontDoorContext context, AuditOutcome outcome, NtStatus status, string reason, CancellationToken cancellationToken)
    {
        await AppendAsync(context, Entry(context, outcome, status, reason), cancellationToken).ConfigureAwait(false);
        _answeredOutcome = outcome;
    }

    /// <summary>Records how the connection ended (a row unless the verified row already tells it); false when it already ended.</summary>
    public async Task<bool> WriteAsync(FrontDoorContext context, AuditOutcome outcome, NtStatus? status, string reason)
    {
        if (_ended)
        {
            return false;
        }

        _ended = true;
        // The row written before the answer already tells this ending; a different ending gets its own row.
        if (_answeredOutcome == outcome)
        {
            return true;
        }

        try
        {
            await AppendAsync(context, Entry(context, outcome, status, reason), CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is DbException or IOException or InvalidOperationException or AccountStoreException)
        {
            FrontDoorLog.AuditFailed(context.Logger, ex.Message);
        }

        return true;
    }

    private Task<long> AppendAsync(FrontDoorContext context, AuditEntry entry, CancellationToken cancellationToken) =>
        Store is { } store
            ? store.RunAsync(WriteOperation, ct => context.AuditLog.AppendAsync(entry, ct), cancellationToken)
            : context.AuditLog.AppendAsync(entry, cancellationToken);

    private AuditEntry Entry(FrontDoorContext context, AuditOutcome outcome, NtStatus? status, string reason) => new()
    {
        Time = _timeProvider.GetUtcNow(),
        ClientAddress = AuditEntry.NormalizeAddress(Client.Address),
        ClientPort = Client.Port,
        UserName = UserName,
        Domain = DomainName,
        CredSspVersion = CredSspVersion,
        SecurityProtocol = SelectedProtocol is { } selected ? SecurityProtocolNames.Name(selected) : null,
        Outcome = outcome,
        Status = status,
        Reason = reason,
        ConnectionId = ConnectionId.ToString(CultureInfo.InvariantCulture),
        InstanceName = context.StartOptions.EffectiveInstanceName,
    };
}
