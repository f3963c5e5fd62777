namespace RdpNla.Server.Storage.Postgres;

/// <summary>
/// <see cref="IAuditLog"/> in PostgreSQL: one table for every instance, each row naming its instance. An append is one
/// <c>INSERT</c>, committed (and, with the server's default <c>synchronous_commit</c>, flushed) before it returns.
/// </summary>
public sealed class PostgresAuditLog : IAuditLog
{
    private const string Columns =
        "id, time, client_address, client_port, user_name, domain, credssp_version, security_protocol, outcome, " +
        "nt_status, reason, connection_id, instance_name";

    private readonly PostgresDatabase _database;

    internal PostgresAuditLog(PostgresDatabase database) => _database = database;

    /// <inheritdoc/>
    public async Task<long> AppendAsync(AuditEntry entry, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(entry);
        using NpgsqlCommand command = _database.CreateCommand(
            "INSERT INTO audit (time, instance_name, client_address, client_port, user_name, domain, user_key, credssp_version, " +
            "security_protocol, outcome, nt_status, nt_status_name, reason, connection_id) VALUES (@time, @instance, @address, " +
            "@port, @user, @domain, @userKey, @credssp, @protocol, @outcome, @status, @statusName, @reason, @connection) " +
            "RETURNING id;");
        command.Parameters.AddWithValue("time", NpgsqlDbType.TimestampTz, PostgresTime.ToDb(entry.Time));
        AddText(command, "instance", entry.InstanceName);
        AddText(command, "address", entry.ClientAddress is { } a ? AuditEntry.NormalizeAddress(a) : null);
        command.Parameters.AddWithValue("port", NpgsqlDbType.Integer, (object?)entry.ClientPort ?? DBNull.Value);
        AddText(command, "user", entry.UserName);
        AddText(command, "domain", entry.Domain);
        AddText(command, "userKey", SqliteAuditLog.UserKeyOf(entry.UserName, entry.Domain));
        command.Parameters.AddWithValue("credssp", NpgsqlDbType.Integer, (object?)entry.CredSspVersion ?? DBNull.Value);
        AddText(command, "protocol", entry.SecurityProtocol);
        command.Parameters.AddWithValue("outcome", SqliteAuditLog.OutcomeText(entry.Outcome));
        command.Parameters.AddWithValue("status", NpgsqlDbType.Bigint, entry.Status is { } s ? (long)(uint)s : DBNull.Value);
        AddText(command, "statusName", entry.StatusName);
        command.Parameters.AddWithValue("reason", entry.Reason);
        command.Parameters.AddWithValue("connection", entry.ConnectionId);
        return (long)(await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<AuditEntry>> QueryAsync(AuditQuery query, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(query);
        ArgumentOutOfRangeException.ThrowIfLessThan(query.Limit, 1);
        using NpgsqlCommand command = _database.CreateCommand(string.Empty);
        var sql = new StringBuilder($"SELECT {Columns} FROM audit WHERE true");
        if (query.Since is { } since)
        {
            sql.Append(" AND time >= @since");
            command.Parameters.AddWithValue("since", NpgsqlDbType.TimestampTz, PostgresTime.ToDb(since));
        }

        if (query.Until is { } until)
        {
            sql.Append(" AND time < @until");
            command.Parameters.AddWithValue("until", NpgsqlDbType.TimestampTz, PostgresTime.ToDb(until));
        }

        if (!string.IsNullOrEmpty(query.UserName))
        {
            sql.Append(" AND user_key = @userKey");
            command.Parameters.AddWithValue("userKey", SqliteAuditLog.UserKeyOf(query.UserName, null) ?? AccountName.NormalizeUserName(query.UserName));
        }

        if (!string.IsNullOrEmpty(query.ClientAddress))
        {
            sql.Append(" AND client_address = @address");
            command.Parameters.AddWithValue("address", AuditEntry.NormalizeAddress(query.ClientAddress));
        }

        if (query.Outcome is { } outcome)
        {
            sql.Append(" AND outcome = @outcome");
            command.Parameters.AddWithValue("outcome", SqliteAuditLog.OutcomeText(outcome));
        }

        sql.Append(" ORDER BY time DESC, id DESC LIMIT @limit;");
        command.Parameters.AddWithValue("limit", Math.Min(query.Limit, SqliteAuditLog.MaxLimit));
        command.CommandText = sql.ToString();
        NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            return await StoreRows.ReadAllAsync(reader, r => StoreRows.ReadAuditEntry(r, PostgresTime.FromDb(r.GetDateTime(1))), cancellationToken).ConfigureAwait(false);
        }
    }

    private static void AddText(NpgsqlCommand command, string name, string? value) =>
        command.Parameters.AddWithValue(name, NpgsqlDbType.Text, (object?)value ?? DBNull.Value);
}
