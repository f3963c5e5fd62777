namespace RdpNla.Server.Storage.Postgres;

/// <summary>What <see cref="StoreCopy.CopyAsync"/> copied: users, audit rows, and rows of the gateway's and the portal's tables.</summary>
public sealed record StoreCopyResult(int Users, long AuditRows, long GatewayRows = 0, long PortalRows = 0);

/// <summary>
/// <c>rdpnla store copy</c>: copies the users (with their NT hashes and account state), the audit trail, the gateway's
/// tables (backends, groups, mapped credentials, trusted certificates, backend security, relayed sessions, and those of
/// domain accounts: their mapped credentials and the backends of domain groups) and the
/// portal's (second-factor requirements, password history, TOTP authenticators) of an SQLite database into an empty
/// PostgreSQL store, in one transaction, so that an existing installation can move to a shared store
/// (docs/high-availability.md). Rows that name a user or a group are joined by its name, not its row id; sealed
/// values are copied as they are (they stay bound to the user name and open with the same gateway key).
/// </summary>
public static class StoreCopy
{
    private const int AuditPage = 5000;

    // The PostgreSQL type of each column the audit copy selects, by ordinal (id and time are written apart).
    private static readonly NpgsqlDbType[] AuditColumnTypes =
    [
        NpgsqlDbType.Bigint, NpgsqlDbType.TimestampTz, // id, time
        NpgsqlDbType.Text, NpgsqlDbType.Text, NpgsqlDbType.Integer, // instance_name, client_address, client_port
        NpgsqlDbType.Text, NpgsqlDbType.Text, NpgsqlDbType.Text, NpgsqlDbType.Integer, // user_name, domain, user_key, credssp_version
        NpgsqlDbType.Text, NpgsqlDbType.Text, NpgsqlDbType.Bigint, // security_protocol, outcome, nt_status
        NpgsqlDbType.Text, NpgsqlDbType.Text, NpgsqlDbType.Text, // nt_status_name, reason, connection_id
    ];

    /// <summary>Copies everything; the target must hold no users and no audit rows.</summary>
    /// <exception cref="InvalidOperationException">The target is not empty.</exception>
    public static async Task<StoreCopyResult> CopyAsync(RdpNlaDatabase source, PostgresDatabase target, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        return await target.InTransactionAsync(async (connection, transaction) =>
        {
            // EXCLUSIVE: running instances may still read, but nobody writes until the copy commits.
            using (var check = new NpgsqlCommand(
                "LOCK TABLE users, audit, groups, backend_certificates, backend_security, gateway_sessions, domain_mapped_credentials, domain_group_backends IN EXCLUSIVE MODE; " +
                "SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM audit) + (SELECT count(*) FROM groups) + " +
                "(SELECT count(*) FROM backend_certificates) + (SELECT count(*) FROM backend_security) + (SELECT count(*) FROM gateway_sessions) + " +
                "(SELECT count(*) FROM domain_mapped_credentials) + (SELECT count(*) FROM domain_group_backends);",
                connection, transaction))
            {
                long existing = (long)(await check.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
                if (existing > 0)
                {
                    throw new InvalidOperationException(
                        $"the PostgreSQL store {target.Location.Description} already holds users, audit rows or gateway settings; copy into an empty database");
                }
            }

            int users = await CopyUsersAsync(source, connection, cancellationToken).ConfigureAwait(false);
            long audit = await CopyAuditAsync(source, connection, cancellationToken).ConfigureAwait(false);
            long gateway = 0;
            foreach (TableCopy table in GatewayTables)
            {
                gateway += await table.CopyAsync(source, connection, cancellationToken).ConfigureAwait(false);
            }

            long portal = 0;
            foreach (TableCopy table in PortalTables)
            {
                portal += await table.CopyAsync(source, connection, cancellationToken).ConfigureAwait(false);
            }

            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return new StoreCopyResult(users, audit, gateway, portal);
        }, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<int> CopyUsersAsync(RdpNlaDatabase source, NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        IReadOnlyList<UserAccount> accounts = await source.Users.ListAsync(cancellationToken).ConfigureAwait(false);
        const string Copy =
            "COPY users (name, name_key, nt_hash, disabled, locked_until, failed_count, last_failed_at, last_logon_at, " +
            "password_last_set, password_expired, must_change_password, deny_remote_logon, created_at, updated_at) FROM STDIN (FORMAT BINARY)";
        return (int)await ImportAsync(connection, Copy, async importer =>
        {
            int count = 0;
            foreach (UserAccount listed in accounts)
            {
                using UserCredential? credential = await source.Users.FindCredentialAsync(listed.UserName, cancellationToken).ConfigureAwait(false);
                if (credential is null)
                {
                    continue;
                }

                UserAccount a = credential.Account;
                byte[] hash = credential.NtHash.ToArray();
                try
                {
                    await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(a.UserName, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(a.UserKey, NpgsqlDbType.Text, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(hash, NpgsqlDbType.Bytea, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(a.Disabled, NpgsqlDbType.Boolean, cancellationToken).ConfigureAwait(false);
                    await WriteTimeAsync(importer, a.LockedUntil, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(a.FailedLogonCount, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                    await WriteTimeAsync(importer, a.LastFailedLogon, cancellationToken).ConfigureAwait(false);
                    await WriteTimeAsync(importer, a.LastLogon, cancellationToken).ConfigureAwait(false);
                    await WriteTimeAsync(importer, a.PasswordLastSet, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(a.PasswordExpired, NpgsqlDbType.Boolean, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(a.MustChangePassword, NpgsqlDbType.Boolean, cancellationToken).ConfigureAwait(false);
                    await importer.WriteAsync(a.RemoteLogonDenied, NpgsqlDbType.Boolean, cancellationToken).ConfigureAwait(false);
                    await WriteTimeAsync(importer, a.Created, cancellationToken).ConfigureAwait(false);
                    await WriteTimeAsync(importer, a.Updated, cancellationToken).ConfigureAwait(false);
                }
                finally
                {
                    CryptographicOperations.ZeroMemory(hash);
                }

                count++;
            }

            return count;
        }, cancellationToken).ConfigureAwait(false);
    }

    private static async Task<long> CopyAuditAsync(RdpNlaDatabase source, NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        const string Copy =
            "COPY audit (time, instance_name, client_address, client_port, user_name, domain, user_key, credssp_version, " +
            "security_protocol, outcome, nt_status, nt_status_name, reason, connection_id) FROM STDIN (FORMAT BINARY)";
        return await ImportAsync(connection, Copy, async importer =>
        {
            long count = 0;
            long after = 0;
            SqliteSession session = await source.OpenSessionAsync(cancellationToken).ConfigureAwait(false);
            await using (session.ConfigureAwait(false))
            {
                SqliteConnection sqlite = session.Connection;
                while (true)
                {
                    using SqliteCommand command = sqlite.CreateCommand();
                    command.CommandText =
                        "SELECT id, time, instance_name, client_address, client_port, user_name, domain, user_key, credssp_version, " +
                        "security_protocol, outcome, nt_status, nt_status_name, reason, connection_id FROM audit WHERE id > $after ORDER BY id LIMIT $page;";
                    command.Parameters.AddWithValue("$after", after);
                    command.Parameters.AddWithValue("$page", AuditPage);
                    int rows = 0;
                    SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                    await using (reader.ConfigureAwait(false))
                    {
                        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                        {
                            rows++;
                            after = reader.GetInt64(0);
                            await importer.StartRowAsync(cancellationToken).ConfigureAwait(false);
                            await WriteTimeAsync(importer, SqliteTime.FromText(reader.GetString(1)), cancellationToken).ConfigureAwait(false);
                            for (int ordinal = 2; ordinal < reader.FieldCount; ordinal++)
                            {
                                await WriteColumnAsync(importer, reader, ordinal, AuditColumnTypes[ordinal], cancellationToken).ConfigureAwait(false);
                            }
                        }
                    }

                    count += rows;
                    if (rows < AuditPage)
                    {
                        break;
                    }
                }
            }

            return count;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <summary>Runs one binary COPY: <paramref name="writeRows"/> writes the rows and returns how many.</summary>
    private static async Task<long> ImportAsync(NpgsqlConnection connection, string copy, Func<NpgsqlBinaryImporter, Task<long>> writeRows, CancellationToken cancellationToken)
    {
        NpgsqlBinaryImporter importer = await connection.BeginBinaryImportAsync(copy, cancellationToken).ConfigureAwait(false);
        await using (importer.ConfigureAwait(false))
        {
            long count = await writeRows(importer).ConfigureAwait(false);
            await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
            return count;
        }
    }

    // The users' own backend and second-factor flag: an update of the rows COPY wrote (not counted as rows).
    private static readonly TableCopy[] GatewayTables =
    [
        new("SELECT name_key, backend, mfa_required FROM users WHERE backend IS NOT NULL OR mfa_required <> 0;",
            "UPDATE users SET backend = @p1, mfa_required = @p2 WHERE name_key = @p0;", Flags: [2], Counted: false),
        new("SELECT name, name_key, backend, created_at, mfa_required FROM groups;",
            "INSERT INTO groups (name, name_key, backend, created_at, mfa_required) VALUES (@p0, @p1, @p2, @p3, @p4);", Times: [3], Flags: [4]),
        new("SELECT g.name_key, u.name_key FROM group_members m JOIN groups g ON g.id = m.group_id JOIN users u ON u.id = m.user_id;",
            "INSERT INTO group_members (group_id, user_id) SELECT g.id, u.id FROM groups g, users u WHERE g.name_key = @p0 AND u.name_key = @p1;"),
        new("SELECT u.name_key, m.backend_user, m.backend_domain, m.password_sealed, m.updated_at, m.backend FROM mapped_credentials m JOIN users u ON u.id = m.user_id;",
            "INSERT INTO mapped_credentials (user_id, backend_user, backend_domain, password_sealed, updated_at, backend) SELECT id, @p1, @p2, @p3, @p4, @p5 FROM users WHERE name_key = @p0;", Times: [4]),
        new("SELECT backend, sha256, subject, first_seen FROM backend_certificates;",
            "INSERT INTO backend_certificates (backend, sha256, subject, first_seen) VALUES (@p0, @p1, @p2, @p3);", Times: [3]),
        new("SELECT backend, security, strongest_protocol, strongest_rank, strongest_sha256, strongest_at FROM backend_security;",
            "INSERT INTO backend_security (backend, security, strongest_protocol, strongest_rank, strongest_sha256, strongest_at) VALUES (@p0, @p1, @p2, @p3, @p4, @p5);", Times: [5]),
        new("SELECT connection_id, user_name, user_key, client_address, client_port, backend, backend_account, credential_mode, front_protocol, backend_protocol, " +
            "started_at, ended_at, bytes_to_backend, bytes_to_client, outcome, reason FROM gateway_sessions ORDER BY id;",
            "INSERT INTO gateway_sessions (connection_id, user_name, user_key, client_address, client_port, backend, backend_account, credential_mode, front_protocol, " +
            "backend_protocol, started_at, ended_at, bytes_to_backend, bytes_to_client, outcome, reason) " +
            "VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6, @p7, @p8, @p9, @p10, @p11, @p12, @p13, @p14, @p15);", Times: [10, 11]),
        new("SELECT account_key, account_name, backend_user, backend_domain, password_sealed, backend, updated_at FROM domain_mapped_credentials;",
            "INSERT INTO domain_mapped_credentials (account_key, account_name, backend_user, backend_domain, password_sealed, backend, updated_at) VALUES (@p0, @p1, @p2, @p3, @p4, @p5, @p6);", Times: [6]),
        new("SELECT group_sid, group_name, name_key, backend, updated_at FROM domain_group_backends;",
            "INSERT INTO domain_group_backends (group_sid, group_name, name_key, backend, updated_at) VALUES (@p0, @p1, @p2, @p3, @p4);", Times: [4]),
    ];

    private static readonly TableCopy[] PortalTables =
    [
        new("SELECT u.name_key, h.salt, h.digest, h.set_at FROM password_history h JOIN users u ON u.id = h.user_id ORDER BY h.id;",
            "INSERT INTO password_history (user_id, salt, digest, set_at) SELECT id, @p1, @p2, @p3 FROM users WHERE name_key = @p0;", Times: [3]),
        new("SELECT u.name_key, t.secret_sealed, t.confirmed, t.last_step, t.created_at, t.confirmed_at FROM totp_secrets t JOIN users u ON u.id = t.user_id;",
            "INSERT INTO totp_secrets (user_id, secret_sealed, confirmed, last_step, created_at, confirmed_at) SELECT id, @p1, @p2, @p3, @p4, @p5 FROM users WHERE name_key = @p0;",
            Times: [4, 5], Flags: [2]),
    ];

    /// <summary>One table, row by row: <paramref name="Select"/> on SQLite, <paramref name="Insert"/> (parameters <c>@p0</c>...) on PostgreSQL.</summary>
    private sealed record TableCopy(string Select, string Insert, int[]? Times = null, int[]? Flags = null, bool Counted = true)
    {
        public async Task<long> CopyAsync(RdpNlaDatabase source, NpgsqlConnection target, CancellationToken cancellationToken)
        {
            long count = 0;
            SqliteSession session = await source.OpenSessionAsync(cancellationToken).ConfigureAwait(false);
            await using (session.ConfigureAwait(false))
            {
                SqliteConnection sqlite = session.Connection;
                using SqliteCommand select = sqlite.CreateCommand();
                select.CommandText = Select;
                SqliteDataReader reader = await select.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                await using (reader.ConfigureAwait(false))
                {
                    while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                    {
                        using var insert = new NpgsqlCommand(Insert, target);
                        for (int i = 0; i < reader.FieldCount; i++)
                        {
                            insert.Parameters.Add(new NpgsqlParameter("p" + i.ToString(System.Globalization.CultureInfo.InvariantCulture), Value(reader, i)) { NpgsqlDbType = Type(reader, i) });
                        }

                        await insert.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                        count++;
                    }
                }
            }

            return Counted ? count : 0;
        }

        private object Value(SqliteDataReader reader, int ordinal) =>
            reader.IsDBNull(ordinal) ? DBNull.Value
            : Times?.Contains(ordinal) == true ? PostgresTime.ToDb(SqliteTime.FromText(reader.GetString(ordinal)))
            : Flags?.Contains(ordinal) == true ? reader.GetInt64(ordinal) != 0
            : reader.GetValue(ordinal);

        private NpgsqlDbType Type(SqliteDataReader reader, int ordinal) =>
            Times?.Contains(ordinal) == true ? NpgsqlDbType.TimestampTz
            : Flags?.Contains(ordinal) == true ? NpgsqlDbType.Boolean
            : reader.GetFieldType(ordinal) == typeof(long) ? NpgsqlDbType.Bigint
            : reader.GetFieldType(ordinal) == typeof(byte[]) ? NpgsqlDbType.Bytea
            : NpgsqlDbType.Text;
    }

    private static Task WriteTimeAsync(NpgsqlBinaryImporter importer, DateTimeOffset? value, CancellationToken cancellationToken) =>
        value is { } v
            ? importer.WriteAsync(PostgresTime.ToDb(v), NpgsqlDbType.TimestampTz, cancellationToken)
            : importer.WriteNullAsync(cancellationToken);

    private static Task WriteColumnAsync(NpgsqlBinaryImporter importer, SqliteDataReader reader, int ordinal, NpgsqlDbType type, CancellationToken cancellationToken) =>
        reader.IsDBNull(ordinal) ? importer.WriteNullAsync(cancellationToken)
        : type == NpgsqlDbType.Text ? importer.WriteAsync(reader.GetString(ordinal), type, cancellationToken)
        : type == NpgsqlDbType.Integer ? importer.WriteAsync(checked((int)reader.GetInt64(ordinal)), type, cancellationToken)
        : importer.WriteAsync(reader.GetInt64(ordinal), type, cancellationToken);
}
