namespace RdpNla.Server.Audit;

/// <summary>How an authentication attempt ended.</summary>
public enum AuditOutcome
{
    /// <summary>Authenticated and let through.</summary>
    Success,

    /// <summary>Authentication failed (bad name or password, account state).</summary>
    Failure,

    /// <summary>Authenticated (or not attempted) but refused by policy: remote logon denied, limits, protocol choice.</summary>
    Refused,

    /// <summary>The attempt broke off: malformed data, timeout, TLS failure, internal error.</summary>
    Error,
}

/// <summary>One authentication attempt, as written to the audit log.</summary>
public sealed record AuditEntry
{
    /// <summary>The log's identifier; 0 for an entry not yet written.</summary>
    public long Id { get; init; }

    /// <summary>When the attempt ended (stored in UTC).</summary>
    public required DateTimeOffset Time { get; init; }

    /// <summary>The client's IP address (IPv4-mapped IPv6 addresses are stored as IPv4), if known.</summary>
    public string? ClientAddress { get; init; }

    /// <summary>The client's TCP port, if known.</summary>
    public int? ClientPort { get; init; }

    /// <summary>The user name exactly as the client sent it (may be a UPN or DOMAIN\user).</summary>
    public string? UserName { get; init; }

    /// <summary>The domain exactly as the client sent it.</summary>
    public string? Domain { get; init; }

    /// <summary>The CredSSP version the client announced, if the exchange got that far.</summary>
    public int? CredSspVersion { get; init; }

    /// <summary>The security protocol selected in X.224 negotiation (e.g. "HYBRID", "HYBRID_EX"), if any.</summary>
    public string? SecurityProtocol { get; init; }

    /// <summary>How the attempt ended.</summary>
    public required AuditOutcome Outcome { get; init; }

    /// <summary>The NTSTATUS sent to (or that applied to) the client, if any.</summary>
    public NtStatus? Status { get; init; }

    /// <summary>The symbolic name of <see cref="Status"/>, e.g. STATUS_LOGON_FAILURE.</summary>
    public string? StatusName => Status is { } status ? NtStatusText.Name(status) : null;

    /// <summary>The specific reason, safe to keep: never a password, hash or key.</summary>
    public required string Reason { get; init; }

    /// <summary>The connection's identifier, shared with log scopes.</summary>
    public required string ConnectionId { get; init; }

    /// <summary>The rdpnla instance that wrote the row (<c>--instance-name</c>, default the host name); null in rows from before it was recorded.</summary>
    public string? InstanceName { get; init; }

    /// <summary>The canonical text of an address as stored and filtered on.</summary>
    public static string NormalizeAddress(IPAddress address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return (address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address).ToString();
    }

    /// <summary>Normalizes a typed address (e.g. a filter) if it parses as IP; otherwise returns it trimmed.</summary>
    public static string NormalizeAddress(string address)
    {
        ArgumentNullException.ThrowIfNull(address);
        return IPAddress.TryParse(address.Trim(), out IPAddress? parsed) ? NormalizeAddress(parsed) : address.Trim();
    }
}

/// <summary>Filters for <see cref="IAuditLog.QueryAsync"/>. All set filters must match. Newest entries first.</summary>
public sealed record AuditQuery
{
    /// <summary>The default number of entries returned.</summary>
    public const int DefaultLimit = 100;

    /// <summary>Entries at or after this time.</summary>
    public DateTimeOffset? Since { get; init; }

    /// <summary>Entries before this time.</summary>
    public DateTimeOffset? Until { get; init; }

    /// <summary>The user part, case-insensitively, whatever form it was sent in (alice matches ALICE, LAB\alice, alice@host).</summary>
    public string? UserName { get; init; }

    /// <summary>The client address (normalized with <see cref="AuditEntry.NormalizeAddress(string)"/>).</summary>
    public string? ClientAddress { get; init; }

    /// <summary>The outcome.</summary>
    public AuditOutcome? Outcome { get; init; }

    /// <summary>At most this many entries (1 or more).</summary>
    public int Limit { get; init; } = DefaultLimit;
}

/// <summary>The authentication audit trail.</summary>
public interface IAuditLog
{
    /// <summary>Writes one entry; completes only after the write is durably committed. Returns the entry's id.</summary>
    Task<long> AppendAsync(AuditEntry entry, CancellationToken cancellationToken = default);

    /// <summary>Entries matching <paramref name="query"/>, newest first.</summary>
    Task<IReadOnlyList<AuditEntry>> QueryAsync(AuditQuery query, CancellationToken cancellationToken = default);
}
