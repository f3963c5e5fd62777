namespace RdpNla.Server.Storage;

/// <summary>
/// The gateway's tables: per-user and per-group backends, mapped (sealed) backend credentials, backend certificates
/// trusted on first use, backend security settings with their protocol pins, and one audit row per relayed session.
/// They have the same shape in SQLite (<see cref="RdpNlaDatabase"/>, schema versions 2 to 4) and PostgreSQL
/// (<see cref="Postgres.PostgresDatabase"/>, schema version 3), and for domain accounts SQLite version 8 and PostgreSQL
/// version 5, so every statement here serves both; with PostgreSQL every instance sees the same rows
/// (docs/high-availability.md). Accounts are named by their user name (its normalised key) or, for domain accounts,
/// their NETBIOS\USER key, never by a row id.
/// </summary>
public sealed class GatewayStore
{
    private readonly ISqlEngine _engine;
    private readonly TimeProvider _timeProvider;

    internal GatewayStore(ISqlEngine engine, TimeProvider timeProvider)
    {
        _engine = engine;
        _timeProvider = timeProvider;
    }

    /// <summary>Sets (or with null clears) the user's own backend. False when there is no such user.</summary>
    public Task<bool> SetUserBackendAsync(string userName, string? backend, CancellationToken cancellationToken = default) =>
        _engine.ExecuteAsync("UPDATE users SET backend = @backend WHERE name_key = @key;",
            c => c.With("backend", backend).With("key", UserKey(userName)), cancellationToken);

    /// <summary>The user's own backend, or null.</summary>
    public async Task<string?> GetUserBackendAsync(string userName, CancellationToken cancellationToken = default) =>
        await _engine.ScalarAsync("SELECT backend FROM users WHERE name_key = @key;", c => c.With("key", UserKey(userName)), cancellationToken).ConfigureAwait(false) as string;

    /// <summary>The backend of the first group (by name) of the user that has one, with the group's name; null when none.</summary>
    public async Task<(string Group, string Backend)?> GetGroupBackendAsync(string userName, CancellationToken cancellationToken = default)
    {
        List<(string, string)> rows = await _engine.QueryAsync(
            "SELECT g.name, g.backend FROM groups g JOIN group_members m ON m.group_id = g.id JOIN users u ON u.id = m.user_id " +
            "WHERE u.name_key = @key AND g.backend IS NOT NULL ORDER BY g.name_key LIMIT 1;",
            c => c.With("key", UserKey(userName)),
            r => (r.GetString(0), r.GetString(1)),
            cancellationToken).ConfigureAwait(false);
        return rows.Count == 0 ? null : rows[0];
    }

    /// <summary>
    /// In one round trip: the user's own backend, and the first group (by name) of the user that has one, with its name
    /// (what the gateway asks after every successful logon; docs/BENCHMARKS.md (i)). Both null for an unknown user.
    /// </summary>
    public async Task<(string? Own, (string Group, string Backend)? Group)> GetBackendsAsync(string userName, CancellationToken cancellationToken = default)
    {
        const string FirstGroup =
            "FROM groups g JOIN group_members m ON m.group_id = g.id WHERE m.user_id = u.id AND g.backend IS NOT NULL ORDER BY g.name_key LIMIT 1";
        List<(string?, string?, string?)> rows = await _engine.QueryAsync(
            $"SELECT u.backend, (SELECT g.name {FirstGroup}), (SELECT g.backend {FirstGroup}) FROM users u WHERE u.name_key = @key;",
            c => c.With("key", UserKey(userName)),
            r => (r.TextOrNull(0), r.TextOrNull(1), r.TextOrNull(2)),
            cancellationToken).ConfigureAwait(false);
        if (rows.Count == 0)
        {
            return (null, null);
        }

        (string? own, string? group, string? backend) = rows[0];
        return (own, group is not null && backend is not null ? (group, backend) : null);
    }

    /// <summary>Creates a group. False when a group of that name (any case) exists.</summary>
    public Task<bool> AddGroupAsync(string name, string? backend, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return _engine.ExecuteAsync(
            "INSERT INTO groups (name, name_key, backend, created_at) VALUES (@name, @key, @backend, @now) ON CONFLICT (name_key) DO NOTHING;",
            c => c.With("name", name).With("key", GroupKey(name)).With("backend", backend).With("now", Now()),
            cancellationToken);
    }

    /// <summary>Deletes a group and its memberships. False when there is no such group.</summary>
    public Task<bool> RemoveGroupAsync(string name, CancellationToken cancellationToken = default) =>
        _engine.ExecuteAsync("DELETE FROM groups WHERE name_key = @key;", c => c.With("key", GroupKey(name)), cancellationToken);

    /// <summary>Sets (or clears) a group's backend. False when there is no such group.</summary>
    public Task<bool> SetGroupBackendAsync(string name, string? backend, CancellationToken cancellationToken = default) =>
        _engine.ExecuteAsync("UPDATE groups SET backend = @backend WHERE name_key = @key;",
            c => c.With("backend", backend).With("key", GroupKey(name)), cancellationToken);

    /// <summary>Adds a user to a group. False when the group or the user does not exist (or the user is a member already; <see cref="FindGroupAsync"/> tells these apart).</summary>
    public Task<bool> AddMemberAsync(string group, string userName, CancellationToken cancellationToken = default) =>
        _engine.ExecuteAsync(
            "INSERT INTO group_members (group_id, user_id) SELECT g.id, u.id FROM groups g, users u WHERE g.name_key = @group AND u.name_key = @user " +
            "ON CONFLICT DO NOTHING;",
            c => c.With("group", GroupKey(group)).With("user", UserKey(userName)),
            cancellationToken);

    /// <summary>Removes a user from a group. False when the user was not a member.</summary>
    public Task<bool> RemoveMemberAsync(string group, string userName, CancellationToken cancellationToken = default) =>
        _engine.ExecuteAsync(
            "DELETE FROM group_members WHERE group_id = (SELECT id FROM groups WHERE name_key = @group) AND user_id = (SELECT id FROM users WHERE name_key = @user);",
            c => c.With("group", GroupKey(group)).With("user", UserKey(userName)),
            cancellationToken);

    /// <summary>All groups with their members, by name.</summary>
    public Task<IReadOnlyList<GatewayGroup>> ListGroupsAsync(CancellationToken cancellationToken = default) =>
        QueryGroupsAsync(null, cancellationToken);

    /// <summary>The group of that name (any case) with its members, or null when there is none.</summary>
    public async Task<GatewayGroup?> FindGroupAsync(string name, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(name);
        IReadOnlyList<GatewayGroup> groups = await QueryGroupsAsync(name, cancellationToken).ConfigureAwait(false);
        return groups.Count == 0 ? null : groups[0];
    }

    /// <summary>The groups with their members, by name: all, or the one named <paramref name="only"/>.</summary>
    private async Task<IReadOnlyList<GatewayGroup>> QueryGroupsAsync(string? only, CancellationToken cancellationToken)
    {
        List<(string Name, string? Backend, string? Member)> rows = await _engine.QueryAsync(
            "SELECT g.name, g.backend, u.name FROM groups g LEFT JOIN group_members m ON m.group_id = g.id LEFT JOIN users u ON u.id = m.user_id " +
            "WHERE (@key IS NULL OR g.name_key = @key) ORDER BY g.name_key, u.name_key;",
            c => c.With("key", only is null ? null : GroupKey(only)),
            r => (r.GetString(0), r.TextOrNull(1), r.TextOrNull(2)),
            cancellationToken).ConfigureAwait(false);
        var groups = new List<(string Name, string? Backend, List<string> Members)>();
        foreach ((string name, string? backend, string? member) in rows)
        {
            if (groups.Count == 0 || groups[^1].Name != name)
            {
                groups.Add((name, backend, []));
            }

            if (member is not null)
            {
                groups[^1].Members.Add(member);
            }
        }

        return groups.Select(g => new GatewayGroup(g.Name, g.Backend, g.Members)).ToList();
    }

    /// <summary>
    /// Stores mapped credentials for a user, for <paramref name="backend"/> (<c>host:port</c>): the password is sealed
    /// with <paramref name="key"/>, bound to the user, the backend and the backend account. False when there is no such user.
    /// </summary>
    public async Task<bool> SetMappedCredentialAsync(string userName, string backend, string backendUser, string backendDomain, ReadOnlyMemory<byte> passwordUtf16, GatewayKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentException.ThrowIfNullOrWhiteSpace(backend);
        string userKey = UserKey(userName);
        byte[] sealedPassword = key.Seal(passwordUtf16.Span, new MappedCredentialBinding(userKey, backend, backendUser, backendDomain));
        return await _engine.ExecuteAsync(
            "INSERT INTO mapped_credentials (user_id, backend_user, backend_domain, password_sealed, updated_at, backend) " +
            "SELECT id, @user, @domain, @sealed, @now, @backend FROM users WHERE name_key = @key " +
            "ON CONFLICT (user_id) DO UPDATE SET backend_user = excluded.backend_user, backend_domain = excluded.backend_domain, " +
            "password_sealed = excluded.password_sealed, updated_at = excluded.updated_at, backend = excluded.backend;",
            c => c.With("backend", backend.ToLowerInvariant()).With("user", backendUser).With("domain", backendDomain)
                .With("sealed", sealedPassword).With("now", Now()).With("key", userKey),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes a user's mapped credentials (back to pass-through). False when there were none.</summary>
    public Task<bool> RemoveMappedCredentialAsync(string userName, CancellationToken cancellationToken = default) =>
        _engine.ExecuteAsync("DELETE FROM mapped_credentials WHERE user_id = (SELECT id FROM users WHERE name_key = @key);",
            c => c.With("key", UserKey(userName)), cancellationToken);

    /// <summary>A user's mapped credentials (still sealed), or null.</summary>
    public async Task<MappedCredential?> GetMappedCredentialAsync(string userName, CancellationToken cancellationToken = default) =>
        (await _engine.QueryAsync(
            "SELECT m.backend_user, m.backend_domain, m.password_sealed, m.updated_at, m.backend FROM mapped_credentials m JOIN users u ON u.id = m.user_id WHERE u.name_key = @key;",
            c => c.With("key", UserKey(userName)),
            r => new MappedCredential(r.GetString(0), r.GetString(1), (byte[])r.GetValue(2), _engine.ReadTime(r, 3), r.TextOrNull(4)),
            cancellationToken).ConfigureAwait(false)).SingleOrDefault();

    /// <summary>
    /// Opens a user's mapped password (UTF-16LE) for the backend the user is relayed to; the caller wipes it. The stored
    /// backend column is not trusted: <paramref name="backend"/> is where the password would go.
    /// </summary>
    /// <exception cref="CryptographicException">Another key, user, backend or backend account than at sealing, or a value sealed before that binding.</exception>
    public static byte[] OpenPassword(MappedCredential credential, string userName, string backend, GatewayKey key)
    {
        ArgumentNullException.ThrowIfNull(credential);
        ArgumentNullException.ThrowIfNull(key);
        return key.Open(credential.SealedPassword, new MappedCredentialBinding(AccountName.NormalizeUserName(userName), backend, credential.BackendUser, credential.BackendDomain));
    }

    /// <summary>
    /// Stores mapped credentials for a domain account (docs/active-directory.md), keyed by <paramref name="accountKey"/>
    /// (<see cref="ActiveDirectory.DomainAccountName.Key"/>, NETBIOS\USER): the password is sealed as a local user's is,
    /// bound to the account key, the backend and the backend account. Nothing of the domain user's own password is stored.
    /// </summary>
    public async Task SetDomainMappedCredentialAsync(string accountKey, string accountName, string backend, string backendUser, string backendDomain, ReadOnlyMemory<byte> passwordUtf16, GatewayKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentException.ThrowIfNullOrWhiteSpace(accountKey);
        ArgumentException.ThrowIfNullOrWhiteSpace(backend);
        byte[] sealedPassword = key.Seal(passwordUtf16.Span, new MappedCredentialBinding(accountKey, backend, backendUser, backendDomain));
        await _engine.ExecuteAsync(
            "INSERT INTO domain_mapped_credentials (account_key, account_name, backend_user, backend_domain, password_sealed, backend, updated_at) " +
            "VALUES (@key, @name, @user, @domain, @sealed, @backend, @now) " +
            "ON CONFLICT (account_key) DO UPDATE SET account_name = excluded.account_name, backend_user = excluded.backend_user, backend_domain = excluded.backend_domain, " +
            "password_sealed = excluded.password_sealed, backend = excluded.backend, updated_at = excluded.updated_at;",
            c => c.With("key", accountKey).With("name", accountName).With("user", backendUser).With("domain", backendDomain)
                .With("sealed", sealedPassword).With("backend", backend.ToLowerInvariant()).With("now", Now()),
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes a domain account's mapped credentials. False when there were none.</summary>
    public Task<bool> RemoveDomainMappedCredentialAsync(string accountKey, CancellationToken cancellationToken = default) =>
        _engine.ExecuteAsync("DELETE FROM domain_mapped_credentials WHERE account_key = @key;", c => c.With("key", accountKey), cancellationToken);

    /// <summary>A domain account's mapped credentials (still sealed; open with <see cref="OpenPassword"/> and the account key), or null.</summary>
    public async Task<MappedCredential?> GetDomainMappedCredentialAsync(string accountKey, CancellationToken cancellationToken = default) =>
        (await _engine.QueryAsync(
            "SELECT backend_user, backend_domain, password_sealed, updated_at, backend FROM domain_mapped_credentials WHERE account_key = @key;",
            c => c.With("key", accountKey),
            r => new MappedCredential(r.GetString(0), r.GetString(1), (byte[])r.GetValue(2), _engine.ReadTime(r, 3), r.GetString(4)),
            cancellationToken).ConfigureAwait(false)).SingleOrDefault();

    /// <summary>The domain accounts with mapped credentials, by key.</summary>
    public async Task<IReadOnlyList<DomainMappedAccount>> ListDomainMappedCredentialsAsync(CancellationToken cancellationToken = default) =>
        await _engine.QueryAsync(
            "SELECT account_key, account_name, backend_user, backend_domain, backend, updated_at FROM domain_mapped_credentials ORDER BY account_key;",
            _ => { },
            r => new DomainMappedAccount(r.GetString(0), r.GetString(1), r.GetString(2), r.GetString(3), r.GetString(4), _engine.ReadTime(r, 5)),
            cancellationToken).ConfigureAwait(false);

    /// <summary>Sets the backend of a domain group (by SID; <paramref name="name"/> as the admin wrote it, for listings).</summary>
    public Task SetDomainGroupBackendAsync(string sid, string name, string backend, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sid);
        ArgumentException.ThrowIfNullOrWhiteSpace(backend);
        return _engine.ExecuteAsync(
            "INSERT INTO domain_group_backends (group_sid, group_name, name_key, backend, updated_at) VALUES (@sid, @name, @nkey, @backend, @now) " +
            "ON CONFLICT (group_sid) DO UPDATE SET group_name = excluded.group_name, name_key = excluded.name_key, backend = excluded.backend, updated_at = excluded.updated_at;",
            c => c.With("sid", sid.ToUpperInvariant()).With("name", name).With("nkey", GroupKey(name)).With("backend", backend.ToLowerInvariant()).With("now", Now()),
            cancellationToken);
    }

    /// <summary>Removes a domain group's backend. False when it had none.</summary>
    public Task<bool> RemoveDomainGroupBackendAsync(string sid, CancellationToken cancellationToken = default) =>
        _engine.ExecuteAsync("DELETE FROM domain_group_backends WHERE group_sid = @sid;", c => c.With("sid", sid.ToUpperInvariant()), cancellationToken);

    /// <summary>The domain groups with a backend, by name (case-insensitive): the order in which a member's groups are tried.</summary>
    public async Task<IReadOnlyList<DomainGroupBackend>> ListDomainGroupBackendsAsync(CancellationToken cancellationToken = default) =>
        await _engine.QueryAsync(
            "SELECT group_sid, group_name, backend FROM domain_group_backends ORDER BY name_key, group_sid;",
            _ => { },
            r => new DomainGroupBackend(r.GetString(0), r.GetString(1), r.GetString(2)),
            cancellationToken).ConfigureAwait(false);

    /// <summary>
    /// The backend of a domain user: of the domain groups with a backend whose SID is among <paramref name="sids"/> (the
    /// user's and its groups' SIDs from the DC), the first by group name. Null when none.
    /// </summary>
    public async Task<DomainGroupBackend?> GetDomainGroupBackendAsync(IReadOnlyList<string> sids, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(sids);
        var member = new HashSet<string>(sids, StringComparer.OrdinalIgnoreCase);
        return (await ListDomainGroupBackendsAsync(cancellationToken).ConfigureAwait(false)).FirstOrDefault(g => member.Contains(g.Sid));
    }

    /// <summary>The certificate recorded for a backend, or null.</summary>
    public async Task<TrustedCertificate?> GetTrustedCertificateAsync(string backend, CancellationToken cancellationToken = default) =>
        (await _engine.QueryAsync(
            "SELECT backend, sha256, subject, first_seen FROM backend_certificates WHERE backend = @backend;",
            c => c.With("backend", backend.ToLowerInvariant()),
            r => new TrustedCertificate(r.GetString(0), r.GetString(1), r.TextOrNull(2), _engine.ReadTime(r, 3)),
            cancellationToken).ConfigureAwait(false)).SingleOrDefault();

    /// <summary>Records a backend's certificate unless one is recorded already; returns the one now on record.</summary>
    public async Task<TrustedCertificate> TrustOnFirstUseAsync(string backend, string sha256, string? subject, CancellationToken cancellationToken = default)
    {
        await _engine.ExecuteAsync(
            "INSERT INTO backend_certificates (backend, sha256, subject, first_seen) VALUES (@backend, @sha, @subject, @now) ON CONFLICT (backend) DO NOTHING;",
            c => c.With("backend", backend.ToLowerInvariant()).With("sha", sha256).With("subject", subject).With("now", Now()),
            cancellationToken).ConfigureAwait(false);
        return await GetTrustedCertificateAsync(backend, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException("The trusted certificate could not be read back.");
    }

    /// <summary>Forgets a backend's recorded certificate (the next session trusts what it sees). False when none was recorded.</summary>
    public Task<bool> ForgetCertificateAsync(string backend, CancellationToken cancellationToken = default) =>
        _engine.ExecuteAsync("DELETE FROM backend_certificates WHERE backend = @backend;", c => c.With("backend", backend.ToLowerInvariant()), cancellationToken);

    /// <summary>Sets (or with null clears) a backend's security setting; its protocol pin is kept.</summary>
    public Task SetBackendSecurityAsync(string backend, BackendSecurity? security, CancellationToken cancellationToken = default) =>
        _engine.ExecuteAsync(
            "INSERT INTO backend_security (backend, security) VALUES (@backend, @security) ON CONFLICT (backend) DO UPDATE SET security = excluded.security;",
            c => c.With("backend", backend.ToLowerInvariant()).With("security", security?.Name()),
            cancellationToken);

    /// <summary>A backend's security setting and protocol pin, or null when neither was ever recorded.</summary>
    public async Task<BackendSecurityRecord?> GetBackendSecurityAsync(string backend, CancellationToken cancellationToken = default) =>
        (await ListBackendSecurityAsync(backend, cancellationToken).ConfigureAwait(false)).FirstOrDefault();

    /// <summary>Every backend with a security setting or a protocol pin (or only <paramref name="backend"/>), by name.</summary>
    public async Task<IReadOnlyList<BackendSecurityRecord>> ListBackendSecurityAsync(string? backend = null, CancellationToken cancellationToken = default) =>
        await _engine.QueryAsync(
            "SELECT backend, security, strongest_protocol, strongest_rank, strongest_sha256, strongest_at FROM backend_security " +
            "WHERE (@backend IS NULL OR backend = @backend) ORDER BY backend;",
            c => c.With("backend", backend?.ToLowerInvariant()),
            r => new BackendSecurityRecord(
                r.GetString(0),
                r.TextOrNull(1) is { } name && BackendSecurityNames.TryParse(name, out BackendSecurity parsed) ? parsed : null,
                r.TextOrNull(2),
                r.Int32OrNull(3),
                r.TextOrNull(4),
                r.IsDBNull(5) ? null : _engine.ReadTime(r, 5)),
            cancellationToken).ConfigureAwait(false);

    /// <summary>Records that a backend selected <paramref name="protocol"/> (of <paramref name="rank"/>) with the certificate <paramref name="sha256"/>, unless a stronger one is on record.</summary>
    public Task RecordProtocolAsync(string backend, string protocol, int rank, string sha256, CancellationToken cancellationToken = default) =>
        _engine.ExecuteAsync(
            "INSERT INTO backend_security (backend, strongest_protocol, strongest_rank, strongest_sha256, strongest_at) VALUES (@backend, @protocol, @rank, @sha, @now) " +
            "ON CONFLICT (backend) DO UPDATE SET strongest_protocol = excluded.strongest_protocol, strongest_rank = excluded.strongest_rank, " +
            "strongest_sha256 = excluded.strongest_sha256, strongest_at = excluded.strongest_at " +
            "WHERE backend_security.strongest_rank IS NULL OR backend_security.strongest_rank < excluded.strongest_rank;",
            c => c.With("backend", backend.ToLowerInvariant()).With("protocol", protocol).With("rank", rank).With("sha", sha256).With("now", Now()),
            cancellationToken);

    /// <summary>Forgets a backend's protocol pin (after a legitimate change of its security). False when none was recorded.</summary>
    public Task<bool> ForgetProtocolAsync(string backend, CancellationToken cancellationToken = default) =>
        _engine.ExecuteAsync(
            "UPDATE backend_security SET strongest_protocol = NULL, strongest_rank = NULL, strongest_sha256 = NULL, strongest_at = NULL WHERE backend = @backend AND strongest_rank IS NOT NULL;",
            c => c.With("backend", backend.ToLowerInvariant()),
            cancellationToken);

    /// <summary>Writes one session audit row.</summary>
    public async Task<long> AppendSessionAsync(GatewaySessionRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        object? id = await _engine.ScalarAsync(
            "INSERT INTO gateway_sessions (connection_id, user_name, user_key, client_address, client_port, backend, backend_account, credential_mode, " +
            "front_protocol, backend_protocol, started_at, ended_at, bytes_to_backend, bytes_to_client, outcome, reason) VALUES " +
            "(@cid, @user, @ukey, @addr, @port, @backend, @bacct, @mode, @front, @bproto, @start, @end, @tob, @toc, @outcome, @reason) RETURNING id;",
            c => c.With("cid", record.ConnectionId)
                .With("user", record.UserName)
                .With("ukey", record.UserName is null ? null : UserKey(record.UserName))
                .With("addr", record.ClientAddress)
                .With("port", record.ClientPort, DbType.Int32)
                .With("backend", record.Backend)
                .With("bacct", record.BackendAccount)
                .With("mode", record.CredentialMode)
                .With("front", record.FrontProtocol)
                .With("bproto", record.BackendProtocol)
                .With("start", _engine.Time(record.Started))
                .With("end", _engine.Time(record.Ended))
                .With("tob", record.BytesToBackend)
                .With("toc", record.BytesToClient)
                .With("outcome", record.Outcome)
                .With("reason", record.Reason),
            cancellationToken).ConfigureAwait(false);
        return Convert.ToInt64(id, System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The newest session rows first, optionally for one user; at most <see cref="SqliteAuditLog.MaxLimit"/> rows, as the audit log.</summary>
    public async Task<IReadOnlyList<GatewaySessionRecord>> ListSessionsAsync(string? userName = null, int limit = 100, CancellationToken cancellationToken = default) =>
        await _engine.QueryAsync(
            "SELECT id, connection_id, user_name, client_address, client_port, backend, backend_account, credential_mode, front_protocol, backend_protocol, " +
            "started_at, ended_at, bytes_to_backend, bytes_to_client, outcome, reason FROM gateway_sessions " +
            "WHERE (@ukey IS NULL OR user_key = @ukey) ORDER BY id DESC LIMIT @limit;",
            c => c.With("ukey", userName is null ? null : UserKey(userName)).With("limit", Math.Clamp(limit, 1, SqliteAuditLog.MaxLimit)),
            ReadSession,
            cancellationToken).ConfigureAwait(false);

    private GatewaySessionRecord ReadSession(DbDataReader r) => new()
    {
        Id = r.GetInt64(0),
        ConnectionId = r.GetString(1),
        UserName = r.TextOrNull(2),
        ClientAddress = r.TextOrNull(3),
        ClientPort = r.Int32OrNull(4),
        Backend = r.GetString(5),
        BackendAccount = r.TextOrNull(6),
        CredentialMode = r.TextOrNull(7),
        FrontProtocol = r.TextOrNull(8),
        BackendProtocol = r.TextOrNull(9),
        Started = _engine.ReadTime(r, 10),
        Ended = _engine.ReadTime(r, 11),
        BytesToBackend = r.GetInt64(12),
        BytesToClient = r.GetInt64(13),
        Outcome = r.GetString(14),
        Reason = r.GetString(15),
    };

    private object Now() => _engine.Time(_timeProvider.GetUtcNow());

    private static string UserKey(string userName) => AccountName.NormalizeUserName(userName);

    private static string GroupKey(string name) => name.ToUpperInvariant();
}
