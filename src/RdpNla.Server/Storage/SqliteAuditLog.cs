namespace RdpNla.Server.Storage;

/// <summary>The default <see cref="IAuditLog"/>: the <c>audit</c> table of <see cref="RdpNlaDatabase"/>.</summary>
public sealed class SqliteAuditLog : IAuditLog
{
    /// <summary>The most entries one query returns.</summary>
    public const int MaxLimit = 100_000;

    private readonly RdpNlaDatabase _database;

    internal SqliteAuditLog(RdpNlaDatabase database) => _database = database;

    /// <inheritdoc/>
    public async Task<long> AppendAsync(AuditEntry entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entry);
        // One INSERT is one transaction; with synchronous=FULL it is on disk when the call returns.
        object? id = await _database.ScalarAsync(
            "INSERT INTO audit (time, instance_name, client_address, client_port, user_name, domain, user_key, credssp_version, " +
            "security_protocol, outcome, nt_status, nt_status_name, reason, connection_id) VALUES (@time, @instance, @address, " +
            "@port, @user, @domain, @userKey, @credssp, @protocol, @outcome, @status, @statusName, @reason, @connection) " +
            "RETURNING id;",
            command =>
            {
                command.With("time", SqliteTime.ToText(entry.Time));
                command.With("instance", entry.InstanceName);
                command.With("address", (entry.ClientAddress is { } a ? AuditEntry.NormalizeAddress(a) : null));
                command.With("port", entry.ClientPort);
                command.With("user", entry.UserName);
                command.With("domain", entry.Domain);
                command.With("userKey", UserKeyOf(entry.UserName, entry.Domain));
                command.With("credssp", entry.CredSspVersion);
                command.With("protocol", entry.SecurityProtocol);
                command.With("outcome", OutcomeText(entry.Outcome));
                command.With("status", entry.Status is { } s ? (long)(uint)s : null);
                command.With("statusName", entry.StatusName);
                command.With("reason", entry.Reason);
                command.With("connection", entry.ConnectionId);
            },
            cancellationToken).ConfigureAwait(false);
        return Convert.ToInt64(id, CultureInfo.InvariantCulture);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<AuditEntry>> QueryAsync(AuditQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Limit, 1);
        SqliteSession session = await _database.OpenSessionAsync(cancellationToken).ConfigureAwait(false);
        await using (session.ConfigureAwait(false))
        {
            // The text depends on the filters: a command of its own, not one the session keeps.
            using SqliteCommand command = session.Connection.CreateCommand();
            var sql = new StringBuilder(
                "SELECT id, time, client_address, client_port, user_name, domain, credssp_version, security_protocol, " +
                "outcome, nt_status, reason, connection_id, instance_name FROM audit WHERE 1 = 1");
            if (query.Since is { } since)
            {
                sql.Append(" AND time >= $since");
                command.Parameters.AddWithValue("$since", SqliteTime.ToText(since));
            }

            if (query.Until is { } until)
            {
                sql.Append(" AND time < $until");
                command.Parameters.AddWithValue("$until", SqliteTime.ToText(until));
            }

            if (!string.IsNullOrEmpty(query.UserName))
            {
                sql.Append(" AND user_key = $userKey");
                command.Parameters.AddWithValue("$userKey", UserKeyOf(query.UserName, null) ?? AccountName.NormalizeUserName(query.UserName));
            }

            if (!string.IsNullOrEmpty(query.ClientAddress))
            {
                sql.Append(" AND client_address = $address");
                command.Parameters.AddWithValue("$address", AuditEntry.NormalizeAddress(query.ClientAddress));
            }

            if (query.Outcome is { } outcome)
            {
                sql.Append(" AND outcome = $outcome");
                command.Parameters.AddWithValue("$outcome", OutcomeText(outcome));
            }

            sql.Append(" ORDER BY time DESC, id DESC LIMIT $limit;");
            command.Parameters.AddWithValue("$limit", Math.Min(query.Limit, MaxLimit));
            command.CommandText = sql.ToString();
            SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                return await StoreRows.ReadAllAsync(reader, r => StoreRows.ReadAuditEntry(r, SqliteTime.FromText(r.GetString(1))), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The lower-case text of an outcome as stored and typed on the command line.</summary>
    public static string OutcomeText(AuditOutcome outcome) => outcome switch
    {
        AuditOutcome.Success => "success",
        AuditOutcome.Failure => "failure",
        AuditOutcome.Refused => "refused",
        AuditOutcome.Error => "error",
        _ => throw new ArgumentOutOfRangeException(nameof(outcome), outcome, null),
    };

    /// <summary>Parses "success", "failure", "refused" or "error" (any case).</summary>
    public static bool TryParseOutcome(string? text, out AuditOutcome outcome)
    {
        foreach (AuditOutcome candidate in Enum.GetValues<AuditOutcome>())
        {
            if (string.Equals(text, OutcomeText(candidate), StringComparison.OrdinalIgnoreCase))
            {
                outcome = candidate;
                return true;
            }
        }

        outcome = default;
        return false;
    }

    // The user part in any form (alice, LAB\alice, alice@host) so that a query for "alice" finds them all.
    internal static string? UserKeyOf(string? userName, string? domain)
    {
        if (string.IsNullOrEmpty(userName))
        {
            return null;
        }

        return AccountName.TryFromCredentials(userName, domain, out AccountName name, out _)
            ? name.UserKey
            : AccountName.NormalizeUserName(userName);
    }
}
