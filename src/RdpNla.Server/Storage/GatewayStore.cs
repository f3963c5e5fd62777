using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using RdpNla.Server.Accounts;
using RdpNla.Server.Gateway;

namespace RdpNla.Server.Storage;

/// <summary>The gateway's tables of <see cref="RdpNlaDatabase"/> (schema versions 2 to 4, and 8 for domain accounts).</summary>
public sealed class GatewayStore
{
    private readonly RdpNlaDatabase _database;
    private readonly TimeProvider _timeProvider;

    internal GatewayStore(RdpNlaDatabase database, TimeProvider timeProvider)
    {
        _database = database;
        _timeProvider = timeProvider;
    }

    /// <summary>Sets (or with null clears) the user's own backend. False when there is no such user.</summary>
    public Task<bool> SetUserBackendAsync(string userName, string? backend, CancellationToken cancellationToken = default) =>
        ExecuteAsync("UPDATE users SET backend = $backend WHERE name_key = $key;", c =>
        {
            c.Parameters.AddWithValue("$backend", (object?)backend ?? DBNull.Value);
            c.Parameters.AddWithValue("$key", AccountName.NormalizeUserName(userName));
        }, cancellationToken);

    /// <summary>The user's own backend, or null.</summary>
    public async Task<string?> GetUserBackendAsync(string userName, CancellationToken cancellationToken = default) =>
        await ScalarAsync<string>("SELECT backend FROM users WHERE name_key = $key;", c => c.Parameters.AddWithValue("$key", AccountName.NormalizeUserName(userName)), cancellationToken).ConfigureAwait(false);

    /// <summary>The backend of the first group (by name) of the user that has one, with the group's name; null when none.</summary>
    public async Task<(string Group, string Backend)?> GetGroupBackendAsync(string userName, CancellationToken cancellationToken = default)
    {
        SqliteConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText =
                "SELECT g.name, g.backend FROM groups g JOIN group_members m ON m.group_id = g.id JOIN users u ON u.id = m.user_id " +
                "WHERE u.name_key = $key AND g.backend IS NOT NULL ORDER BY g.name_key LIMIT 1;";
            command.Parameters.AddWithValue("$key", AccountName.NormalizeUserName(userName));
            SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? (reader.GetString(0), reader.GetString(1)) : null;
            }
        }
    }

    /// <summary>Creates a group. False when a group of that name (any case) exists.</summary>
    public Task<bool> AddGroupAsync(string name, string? backend, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        return ExecuteAsync("INSERT INTO groups (name, name_key, backend, created_at) VALUES ($name, $key, $backend, $now) ON CONFLICT (name_key) DO NOTHING;", c =>
        {
            c.Parameters.AddWithValue("$name", name);
            c.Parameters.AddWithValue("$key", name.ToUpperInvariant());
            c.Parameters.AddWithValue("$backend", (object?)backend ?? DBNull.Value);
            c.Parameters.AddWithValue("$now", SqliteTime.ToText(_timeProvider.GetUtcNow()));
        }, cancellationToken);
    }

    /// <summary>Deletes a group and its memberships. False when there is no such group.</summary>
    public Task<bool> RemoveGroupAsync(string name, CancellationToken cancellationToken = default) =>
        ExecuteAsync("DELETE FROM groups WHERE name_key = $key;", c => c.Parameters.AddWithValue("$key", name.ToUpperInvariant()), cancellationToken);

    /// <summary>Sets (or clears) a group's backend. False when there is no such group.</summary>
    public Task<bool> SetGroupBackendAsync(string name, string? backend, CancellationToken cancellationToken = default) =>
        ExecuteAsync("UPDATE groups SET backend = $backend WHERE name_key = $key;", c =>
        {
            c.Parameters.AddWithValue("$backend", (object?)backend ?? DBNull.Value);
            c.Parameters.AddWithValue("$key", name.ToUpperInvariant());
        }, cancellationToken);

    /// <summary>Adds a user to a group. False when the group or the user does not exist (or the user is a member already).</summary>
    public Task<bool> AddMemberAsync(string group, string userName, CancellationToken cancellationToken = default) =>
        ExecuteAsync(
            "INSERT OR IGNORE INTO group_members (group_id, user_id) SELECT g.id, u.id FROM groups g, users u WHERE g.name_key = $group AND u.name_key = $user;",
            c =>
            {
                c.Parameters.AddWithValue("$group", group.ToUpperInvariant());
                c.Parameters.AddWithValue("$user", AccountName.NormalizeUserName(userName));
            },
            cancellationToken);

    /// <summary>Removes a user from a group. False when the user was not a member.</summary>
    public Task<bool> RemoveMemberAsync(string group, string userName, CancellationToken cancellationToken = default) =>
        ExecuteAsync(
            "DELETE FROM group_members WHERE group_id = (SELECT id FROM groups WHERE name_key = $group) AND user_id = (SELECT id FROM users WHERE name_key = $user);",
            c =>
            {
                c.Parameters.AddWithValue("$group", group.ToUpperInvariant());
                c.Parameters.AddWithValue("$user", AccountName.NormalizeUserName(userName));
            },
            cancellationToken);

    /// <summary>All groups with their members, by name.</summary>
    public async Task<IReadOnlyList<GatewayGroup>> ListGroupsAsync(CancellationToken cancellationToken = default)
    {
        SqliteConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText =
                "SELECT g.name, g.backend, u.name FROM groups g LEFT JOIN group_members m ON m.group_id = g.id LEFT JOIN users u ON u.id = m.user_id " +
                "ORDER BY g.name_key, u.name_key;";
            SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                var groups = new List<(string Name, string? Backend, List<string> Members)>();
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    string name = reader.GetString(0);
                    if (groups.Count == 0 || groups[^1].Name != name)
                    {
                        groups.Add((name, reader.IsDBNull(1) ? null : reader.GetString(1), []));
                    }

                    if (!reader.IsDBNull(2))
                    {
                        groups[^1].Members.Add(reader.GetString(2));
                    }
                }

                return groups.Select(g => new GatewayGroup(g.Name, g.Backend, g.Members)).ToList();
            }
        }
    }

    /// <summary>
    /// Stores mapped credentials for a user, for <paramref name="backend"/> (<c>host:port</c>): the password is sealed
    /// with <paramref name="key"/>, bound to the user, the backend and the backend account. False when there is no such user.
    /// </summary>
    public async Task<bool> SetMappedCredentialAsync(string userName, string backend, string backendUser, string backendDomain, ReadOnlyMemory<byte> passwordUtf16, GatewayKey key, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(key);
        ArgumentException.ThrowIfNullOrWhiteSpace(backend);
        string userKey = AccountName.NormalizeUserName(userName);
        byte[] sealedPassword = key.Seal(passwordUtf16.Span, new MappedCredentialBinding(userKey, backend, backendUser, backendDomain));
        return await ExecuteAsync(
            "INSERT INTO mapped_credentials (user_id, backend_user, backend_domain, password_sealed, updated_at, backend) " +
            "SELECT id, $user, $domain, $sealed, $now, $backend FROM users WHERE name_key = $key " +
            "ON CONFLICT (user_id) DO UPDATE SET backend_user = excluded.backend_user, backend_domain = excluded.backend_domain, " +
            "password_sealed = excluded.password_sealed, updated_at = excluded.updated_at, backend = excluded.backend;",
            c =>
            {
                c.Parameters.AddWithValue("$backend", backend.ToLowerInvariant());
                c.Parameters.AddWithValue("$user", backendUser);
                c.Parameters.AddWithValue("$domain", backendDomain);
                c.Parameters.AddWithValue("$sealed", sealedPassword);
                c.Parameters.AddWithValue("$now", SqliteTime.ToText(_timeProvider.GetUtcNow()));
                c.Parameters.AddWithValue("$key", userKey);
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes a user's mapped credentials (back to pass-through). False when there were none.</summary>
    public Task<bool> RemoveMappedCredentialAsync(string userName, CancellationToken cancellationToken = default) =>
        ExecuteAsync("DELETE FROM mapped_credentials WHERE user_id = (SELECT id FROM users WHERE name_key = $key);",
            c => c.Parameters.AddWithValue("$key", AccountName.NormalizeUserName(userName)), cancellationToken);

    /// <summary>A user's mapped credentials (still sealed), or null.</summary>
    public async Task<MappedCredential?> GetMappedCredentialAsync(string userName, CancellationToken cancellationToken = default)
    {
        SqliteConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = "SELECT m.backend_user, m.backend_domain, m.password_sealed, m.updated_at, m.backend FROM mapped_credentials m JOIN users u ON u.id = m.user_id WHERE u.name_key = $key;";
            command.Parameters.AddWithValue("$key", AccountName.NormalizeUserName(userName));
            SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    return null;
                }

                return new MappedCredential(reader.GetString(0), reader.GetString(1), (byte[])reader.GetValue(2), SqliteTime.FromText(reader.GetString(3)), reader.IsDBNull(4) ? null : reader.GetString(4));
            }
        }
    }

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
        await ExecuteAsync(
            "INSERT INTO domain_mapped_credentials (account_key, account_name, backend_user, backend_domain, password_sealed, backend, updated_at) " +
            "VALUES ($key, $name, $user, $domain, $sealed, $backend, $now) " +
            "ON CONFLICT (account_key) DO UPDATE SET account_name = excluded.account_name, backend_user = excluded.backend_user, backend_domain = excluded.backend_domain, " +
            "password_sealed = excluded.password_sealed, backend = excluded.backend, updated_at = excluded.updated_at;",
            c =>
            {
                c.Parameters.AddWithValue("$key", accountKey);
                c.Parameters.AddWithValue("$name", accountName);
                c.Parameters.AddWithValue("$user", backendUser);
                c.Parameters.AddWithValue("$domain", backendDomain);
                c.Parameters.AddWithValue("$sealed", sealedPassword);
                c.Parameters.AddWithValue("$backend", backend.ToLowerInvariant());
                c.Parameters.AddWithValue("$now", SqliteTime.ToText(_timeProvider.GetUtcNow()));
            },
            cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Deletes a domain account's mapped credentials. False when there were none.</summary>
    public Task<bool> RemoveDomainMappedCredentialAsync(string accountKey, CancellationToken cancellationToken = default) =>
        ExecuteAsync("DELETE FROM domain_mapped_credentials WHERE account_key = $key;", c => c.Parameters.AddWithValue("$key", accountKey), cancellationToken);

    /// <summary>A domain account's mapped credentials (still sealed; open with <see cref="OpenPassword"/> and the account key), or null.</summary>
    public async Task<MappedCredential?> GetDomainMappedCredentialAsync(string accountKey, CancellationToken cancellationToken = default)
    {
        SqliteConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = "SELECT backend_user, backend_domain, password_sealed, updated_at, backend FROM domain_mapped_credentials WHERE account_key = $key;";
            command.Parameters.AddWithValue("$key", accountKey);
            SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
                    ? new MappedCredential(reader.GetString(0), reader.GetString(1), (byte[])reader.GetValue(2), SqliteTime.FromText(reader.GetString(3)), reader.GetString(4))
                    : null;
            }
        }
    }

    /// <summary>The domain accounts with mapped credentials, by key.</summary>
    public async Task<IReadOnlyList<DomainMappedAccount>> ListDomainMappedCredentialsAsync(CancellationToken cancellationToken = default)
    {
        SqliteConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = "SELECT account_key, account_name, backend_user, backend_domain, backend, updated_at FROM domain_mapped_credentials ORDER BY account_key;";
            SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                var rows = new List<DomainMappedAccount>();
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    rows.Add(new DomainMappedAccount(reader.GetString(0), reader.GetString(1), reader.GetString(2), reader.GetString(3), reader.GetString(4), SqliteTime.FromText(reader.GetString(5))));
                }

                return rows;
            }
        }
    }

    /// <summary>Sets the backend of a domain group (by SID; <paramref name="name"/> as the admin wrote it, for listings).</summary>
    public Task SetDomainGroupBackendAsync(string sid, string name, string backend, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(sid);
        ArgumentException.ThrowIfNullOrWhiteSpace(backend);
        return ExecuteAsync(
            "INSERT INTO domain_group_backends (group_sid, group_name, name_key, backend, updated_at) VALUES ($sid, $name, $nkey, $backend, $now) " +
            "ON CONFLICT (group_sid) DO UPDATE SET group_name = excluded.group_name, name_key = excluded.name_key, backend = excluded.backend, updated_at = excluded.updated_at;",
            c =>
            {
                c.Parameters.AddWithValue("$sid", sid.ToUpperInvariant());
                c.Parameters.AddWithValue("$name", name);
                c.Parameters.AddWithValue("$nkey", name.ToUpperInvariant());
                c.Parameters.AddWithValue("$backend", backend.ToLowerInvariant());
                c.Parameters.AddWithValue("$now", SqliteTime.ToText(_timeProvider.GetUtcNow()));
            },
            cancellationToken);
    }

    /// <summary>Removes a domain group's backend. False when it had none.</summary>
    public Task<bool> RemoveDomainGroupBackendAsync(string sid, CancellationToken cancellationToken = default) =>
        ExecuteAsync("DELETE FROM domain_group_backends WHERE group_sid = $sid;", c => c.Parameters.AddWithValue("$sid", sid.ToUpperInvariant()), cancellationToken);

    /// <summary>The domain groups with a backend, by name (case-insensitive): the order in which a member's groups are tried.</summary>
    public async Task<IReadOnlyList<DomainGroupBackend>> ListDomainGroupBackendsAsync(CancellationToken cancellationToken = default)
    {
        SqliteConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = "SELECT group_sid, group_name, backend FROM domain_group_backends ORDER BY name_key, group_sid;";
            SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                var rows = new List<DomainGroupBackend>();
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    rows.Add(new DomainGroupBackend(reader.GetString(0), reader.GetString(1), reader.GetString(2)));
                }

                return rows;
            }
        }
    }

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
    public async Task<TrustedCertificate?> GetTrustedCertificateAsync(string backend, CancellationToken cancellationToken = default)
    {
        SqliteConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = "SELECT backend, sha256, subject, first_seen FROM backend_certificates WHERE backend = $backend;";
            command.Parameters.AddWithValue("$backend", backend.ToLowerInvariant());
            SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
                    ? new TrustedCertificate(reader.GetString(0), reader.GetString(1), reader.IsDBNull(2) ? null : reader.GetString(2), SqliteTime.FromText(reader.GetString(3)))
                    : null;
            }
        }
    }

    /// <summary>Records a backend's certificate unless one is recorded already; returns the one now on record.</summary>
    public async Task<TrustedCertificate> TrustOnFirstUseAsync(string backend, string sha256, string? subject, CancellationToken cancellationToken = default)
    {
        await ExecuteAsync("INSERT INTO backend_certificates (backend, sha256, subject, first_seen) VALUES ($backend, $sha, $subject, $now) ON CONFLICT (backend) DO NOTHING;", c =>
        {
            c.Parameters.AddWithValue("$backend", backend.ToLowerInvariant());
            c.Parameters.AddWithValue("$sha", sha256);
            c.Parameters.AddWithValue("$subject", (object?)subject ?? DBNull.Value);
            c.Parameters.AddWithValue("$now", SqliteTime.ToText(_timeProvider.GetUtcNow()));
        }, cancellationToken).ConfigureAwait(false);
        return await GetTrustedCertificateAsync(backend, cancellationToken).ConfigureAwait(false)
            ?? throw new InvalidOperationException("The trusted certificate could not be read back.");
    }

    /// <summary>Forgets a backend's recorded certificate (the next session trusts what it sees). False when none was recorded.</summary>
    public Task<bool> ForgetCertificateAsync(string backend, CancellationToken cancellationToken = default) =>
        ExecuteAsync("DELETE FROM backend_certificates WHERE backend = $backend;", c => c.Parameters.AddWithValue("$backend", backend.ToLowerInvariant()), cancellationToken);

    /// <summary>Sets (or with null clears) a backend's security setting; its protocol pin is kept.</summary>
    public Task SetBackendSecurityAsync(string backend, BackendSecurity? security, CancellationToken cancellationToken = default) =>
        ExecuteAsync(
            "INSERT INTO backend_security (backend, security) VALUES ($backend, $security) ON CONFLICT (backend) DO UPDATE SET security = excluded.security;",
            c =>
            {
                c.Parameters.AddWithValue("$backend", backend.ToLowerInvariant());
                c.Parameters.AddWithValue("$security", security is { } value ? value.Name() : DBNull.Value);
            },
            cancellationToken);

    /// <summary>A backend's security setting and protocol pin, or null when neither was ever recorded.</summary>
    public async Task<BackendSecurityRecord?> GetBackendSecurityAsync(string backend, CancellationToken cancellationToken = default) =>
        (await ListBackendSecurityAsync(backend, cancellationToken).ConfigureAwait(false)).FirstOrDefault();

    /// <summary>Every backend with a security setting or a protocol pin (or only <paramref name="backend"/>), by name.</summary>
    public async Task<IReadOnlyList<BackendSecurityRecord>> ListBackendSecurityAsync(string? backend = null, CancellationToken cancellationToken = default)
    {
        SqliteConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText =
                "SELECT backend, security, strongest_protocol, strongest_rank, strongest_sha256, strongest_at FROM backend_security " +
                "WHERE ($backend IS NULL OR backend = $backend) ORDER BY backend;";
            command.Parameters.AddWithValue("$backend", backend is null ? DBNull.Value : backend.ToLowerInvariant());
            SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                var rows = new List<BackendSecurityRecord>();
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    BackendSecurity? security = !reader.IsDBNull(1) && BackendSecurityNames.TryParse(reader.GetString(1), out BackendSecurity parsed) ? parsed : null;
                    rows.Add(new BackendSecurityRecord(
                        reader.GetString(0),
                        security,
                        reader.IsDBNull(2) ? null : reader.GetString(2),
                        reader.IsDBNull(3) ? null : reader.GetInt32(3),
                        reader.IsDBNull(4) ? null : reader.GetString(4),
                        reader.IsDBNull(5) ? null : SqliteTime.FromText(reader.GetString(5))));
                }

                return rows;
            }
        }
    }

    /// <summary>Records that a backend selected <paramref name="protocol"/> (of <paramref name="rank"/>) with the certificate <paramref name="sha256"/>, unless a stronger one is on record.</summary>
    public Task RecordProtocolAsync(string backend, string protocol, int rank, string sha256, CancellationToken cancellationToken = default) =>
        ExecuteAsync(
            "INSERT INTO backend_security (backend, strongest_protocol, strongest_rank, strongest_sha256, strongest_at) VALUES ($backend, $protocol, $rank, $sha, $now) " +
            "ON CONFLICT (backend) DO UPDATE SET strongest_protocol = excluded.strongest_protocol, strongest_rank = excluded.strongest_rank, " +
            "strongest_sha256 = excluded.strongest_sha256, strongest_at = excluded.strongest_at " +
            "WHERE backend_security.strongest_rank IS NULL OR backend_security.strongest_rank < excluded.strongest_rank;",
            c =>
            {
                c.Parameters.AddWithValue("$backend", backend.ToLowerInvariant());
                c.Parameters.AddWithValue("$protocol", protocol);
                c.Parameters.AddWithValue("$rank", rank);
                c.Parameters.AddWithValue("$sha", sha256);
                c.Parameters.AddWithValue("$now", SqliteTime.ToText(_timeProvider.GetUtcNow()));
            },
            cancellationToken);

    /// <summary>Forgets a backend's protocol pin (after a legitimate change of its security). False when none was recorded.</summary>
    public Task<bool> ForgetProtocolAsync(string backend, CancellationToken cancellationToken = default) =>
        ExecuteAsync(
            "UPDATE backend_security SET strongest_protocol = NULL, strongest_rank = NULL, strongest_sha256 = NULL, strongest_at = NULL WHERE backend = $backend AND strongest_rank IS NOT NULL;",
            c => c.Parameters.AddWithValue("$backend", backend.ToLowerInvariant()),
            cancellationToken);

    /// <summary>Writes one session audit row.</summary>
    public async Task<long> AppendSessionAsync(GatewaySessionRecord record, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(record);
        SqliteConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText =
                "INSERT INTO gateway_sessions (connection_id, user_name, user_key, client_address, client_port, backend, backend_account, credential_mode, " +
                "front_protocol, backend_protocol, started_at, ended_at, bytes_to_backend, bytes_to_client, outcome, reason) VALUES " +
                "($cid, $user, $ukey, $addr, $port, $backend, $bacct, $mode, $front, $bproto, $start, $end, $tob, $toc, $outcome, $reason) RETURNING id;";
            command.Parameters.AddWithValue("$cid", record.ConnectionId);
            command.Parameters.AddWithValue("$user", (object?)record.UserName ?? DBNull.Value);
            command.Parameters.AddWithValue("$ukey", record.UserName is null ? DBNull.Value : AccountName.NormalizeUserName(record.UserName));
            command.Parameters.AddWithValue("$addr", (object?)record.ClientAddress ?? DBNull.Value);
            command.Parameters.AddWithValue("$port", (object?)record.ClientPort ?? DBNull.Value);
            command.Parameters.AddWithValue("$backend", record.Backend);
            command.Parameters.AddWithValue("$bacct", (object?)record.BackendAccount ?? DBNull.Value);
            command.Parameters.AddWithValue("$mode", (object?)record.CredentialMode ?? DBNull.Value);
            command.Parameters.AddWithValue("$front", (object?)record.FrontProtocol ?? DBNull.Value);
            command.Parameters.AddWithValue("$bproto", (object?)record.BackendProtocol ?? DBNull.Value);
            command.Parameters.AddWithValue("$start", SqliteTime.ToText(record.Started));
            command.Parameters.AddWithValue("$end", SqliteTime.ToText(record.Ended));
            command.Parameters.AddWithValue("$tob", record.BytesToBackend);
            command.Parameters.AddWithValue("$toc", record.BytesToClient);
            command.Parameters.AddWithValue("$outcome", record.Outcome);
            command.Parameters.AddWithValue("$reason", record.Reason);
            return Convert.ToInt64(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false), System.Globalization.CultureInfo.InvariantCulture);
        }
    }

    /// <summary>The newest session rows first, optionally for one user.</summary>
    public async Task<IReadOnlyList<GatewaySessionRecord>> ListSessionsAsync(string? userName = null, int limit = 100, CancellationToken cancellationToken = default)
    {
        SqliteConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText =
                "SELECT id, connection_id, user_name, client_address, client_port, backend, backend_account, credential_mode, front_protocol, backend_protocol, " +
                "started_at, ended_at, bytes_to_backend, bytes_to_client, outcome, reason FROM gateway_sessions " +
                "WHERE ($ukey IS NULL OR user_key = $ukey) ORDER BY id DESC LIMIT $limit;";
            command.Parameters.AddWithValue("$ukey", userName is null ? DBNull.Value : AccountName.NormalizeUserName(userName));
            command.Parameters.AddWithValue("$limit", Math.Max(1, limit));
            SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                var rows = new List<GatewaySessionRecord>();
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    rows.Add(new GatewaySessionRecord
                    {
                        Id = reader.GetInt64(0),
                        ConnectionId = reader.GetString(1),
                        UserName = reader.IsDBNull(2) ? null : reader.GetString(2),
                        ClientAddress = reader.IsDBNull(3) ? null : reader.GetString(3),
                        ClientPort = reader.IsDBNull(4) ? null : reader.GetInt32(4),
                        Backend = reader.GetString(5),
                        BackendAccount = reader.IsDBNull(6) ? null : reader.GetString(6),
                        CredentialMode = reader.IsDBNull(7) ? null : reader.GetString(7),
                        FrontProtocol = reader.IsDBNull(8) ? null : reader.GetString(8),
                        BackendProtocol = reader.IsDBNull(9) ? null : reader.GetString(9),
                        Started = SqliteTime.FromText(reader.GetString(10)),
                        Ended = SqliteTime.FromText(reader.GetString(11)),
                        BytesToBackend = reader.GetInt64(12),
                        BytesToClient = reader.GetInt64(13),
                        Outcome = reader.GetString(14),
                        Reason = reader.GetString(15),
                    });
                }

                return rows;
            }
        }
    }

    private Task<bool> ExecuteAsync(string sql, Action<SqliteCommand> bind, CancellationToken cancellationToken) =>
        _database.ExecuteAsync(sql, bind, cancellationToken);

    private async Task<T?> ScalarAsync<T>(string sql, Action<SqliteCommand> bind, CancellationToken cancellationToken)
        where T : class =>
        await _database.ScalarAsync(sql, bind, cancellationToken).ConfigureAwait(false) as T;
}
