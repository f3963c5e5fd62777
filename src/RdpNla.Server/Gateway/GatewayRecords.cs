namespace RdpNla.Server.Gateway;

/// <summary>A group of users and its backend.</summary>
public sealed record GatewayGroup(string Name, string? Backend, IReadOnlyList<string> Members);

/// <summary>Mapped backend credentials of a user, password still sealed; <paramref name="Backend"/> is the backend they were sealed for (null: sealed before the binding).</summary>
public sealed record MappedCredential(string BackendUser, string BackendDomain, byte[] SealedPassword, DateTimeOffset Updated, string? Backend = null);

/// <summary>A backend certificate recorded on first use.</summary>
public sealed record TrustedCertificate(string Backend, string Sha256, string? Subject, DateTimeOffset FirstSeen);

/// <summary>
/// A backend's security setting (null: <c>Gateway:BackendSecurity</c> applies) and its protocol pin: the strongest
/// protocol it selected so far (rank 1 SSL, 2 HYBRID, 3 HYBRID_EX), with the certificate it presented then.
/// </summary>
public sealed record BackendSecurityRecord(string Backend, BackendSecurity? Security, string? StrongestProtocol, int? StrongestRank, string? StrongestSha256, DateTimeOffset? StrongestAt);

/// <summary>One relayed session, as audited.</summary>
public sealed record GatewaySessionRecord
{
    public long Id { get; init; }

    public required string ConnectionId { get; init; }

    public string? UserName { get; init; }

    public string? ClientAddress { get; init; }

    public int? ClientPort { get; init; }

    public required string Backend { get; init; }

    public string? BackendAccount { get; init; }

    public string? CredentialMode { get; init; }

    public string? FrontProtocol { get; init; }

    public string? BackendProtocol { get; init; }

    public required DateTimeOffset Started { get; init; }

    public required DateTimeOffset Ended { get; init; }

    public long BytesToBackend { get; init; }

    public long BytesToClient { get; init; }

    /// <summary>How it ended: <c>closed</c> (an end hung up), <c>timeout</c>, <c>shutdown</c>, or a backend failure (<c>backend-down</c>, <c>credentials-rejected</c>, <c>certificate-changed</c>, <c>negotiation-failed</c>), or <c>error</c>.</summary>
    public required string Outcome { get; init; }

    public required string Reason { get; init; }
}

/// <summary>A domain group that chooses its members' backend: its SID (as the DC reports it), its name as the admin gave it, the backend.</summary>
public sealed record DomainGroupBackend(string Sid, string Name, string Backend);

/// <summary>A domain account with mapped backend credentials (password not shown): its key (NETBIOS\USER), its name as given, the backend account and backend.</summary>
public sealed record DomainMappedAccount(string AccountKey, string AccountName, string BackendUser, string BackendDomain, string Backend, DateTimeOffset Updated);
