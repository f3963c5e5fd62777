namespace RdpNla.Server.Storage;

/// <summary>What the SQLite and PostgreSQL stores share: argument checks and the reading of rows in the same column order.</summary>
internal static class StoreRows
{
    /// <summary>The checks of <see cref="IUserStore.AddAsync"/>: a valid user name and a 16-byte hash.</summary>
    public static void CheckNewUser(string userName, ReadOnlyMemory<byte> ntHash)
    {
        ArgumentNullException.ThrowIfNull(userName);
        if (AccountName.ValidateUserName(userName) is { } error)
        {
            throw new ArgumentException(error, nameof(userName));
        }

        CheckHash(ntHash);
    }

    /// <summary>An NT hash is 16 bytes.</summary>
    public static void CheckHash(ReadOnlyMemory<byte> ntHash)
    {
        if (ntHash.Length != NtlmCrypto.NtOwfSize)
        {
            throw new ArgumentException($"An NT hash is {NtlmCrypto.NtOwfSize} bytes, not {ntHash.Length}.", nameof(ntHash));
        }
    }

    /// <summary>The columns of <c>users</c> that make a <see cref="UserAccount"/>, in the order <see cref="ReadAccount"/> reads them.</summary>
    public const string AccountColumns =
        "id, name, disabled, locked_until, failed_count, last_failed_at, last_logon_at, password_last_set, " +
        "password_expired, must_change_password, deny_remote_logon, created_at, updated_at, attempts_in_progress, " +
        "attempts_in_progress_until";

    /// <summary>The column after <see cref="AccountColumns"/> when <c>nt_hash</c> is read with them.</summary>
    public const int HashOrdinal = 15;

    /// <summary>
    /// A <see cref="UserAccount"/> from a row of <see cref="AccountColumns"/>; <paramref name="readTime"/> and
    /// <paramref name="readFlag"/> read a time and a flag as the engine stores them.
    /// </summary>
    public static UserAccount ReadAccount(DbDataReader reader, Func<DbDataReader, int, DateTimeOffset> readTime, Func<DbDataReader, int, bool> readFlag)
    {
        DateTimeOffset? ReadOptionalTime(int ordinal) => reader.IsDBNull(ordinal) ? null : readTime(reader, ordinal);
        return new UserAccount
        {
            Id = reader.GetInt64(0),
            UserName = reader.GetString(1),
            Disabled = readFlag(reader, 2),
            LockedUntil = ReadOptionalTime(3),
            FailedLogonCount = reader.GetInt32(4),
            LastFailedLogon = ReadOptionalTime(5),
            LastLogon = ReadOptionalTime(6),
            PasswordLastSet = readTime(reader, 7),
            PasswordExpired = readFlag(reader, 8),
            MustChangePassword = readFlag(reader, 9),
            RemoteLogonDenied = readFlag(reader, 10),
            Created = readTime(reader, 11),
            Updated = readTime(reader, 12),
            AttemptsInProgress = reader.GetInt32(13),
            AttemptsInProgressUntil = ReadOptionalTime(14),
        };
    }

    /// <summary>Every row of <paramref name="reader"/>, read with <paramref name="read"/>.</summary>
    public static async Task<IReadOnlyList<T>> ReadAllAsync<T>(DbDataReader reader, Func<DbDataReader, T> read, CancellationToken cancellationToken)
    {
        List<T> rows = [];
        while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
        {
            rows.Add(read(reader));
        }

        return rows;
    }

    /// <summary>
    /// An audit row in the column order id, time, client_address, client_port, user_name, domain, credssp_version,
    /// security_protocol, outcome, nt_status, reason, connection_id, instance_name; <paramref name="time"/> is column 1
    /// as the engine stores it.
    /// </summary>
    public static AuditEntry ReadAuditEntry(DbDataReader reader, DateTimeOffset time) => new()
    {
        Id = reader.GetInt64(0),
        Time = time,
        ClientAddress = reader.IsDBNull(2) ? null : reader.GetString(2),
        ClientPort = reader.IsDBNull(3) ? null : reader.GetInt32(3),
        UserName = reader.IsDBNull(4) ? null : reader.GetString(4),
        Domain = reader.IsDBNull(5) ? null : reader.GetString(5),
        CredSspVersion = reader.IsDBNull(6) ? null : reader.GetInt32(6),
        SecurityProtocol = reader.IsDBNull(7) ? null : reader.GetString(7),
        Outcome = SqliteAuditLog.TryParseOutcome(reader.GetString(8), out AuditOutcome outcome)
            ? outcome
            : throw new InvalidDataException($"Unknown audit outcome '{reader.GetString(8)}' in the database."),
        Status = reader.IsDBNull(9) ? null : (NtStatus)(uint)reader.GetInt64(9),
        Reason = reader.GetString(10),
        ConnectionId = reader.GetString(11),
        InstanceName = reader.IsDBNull(12) ? null : reader.GetString(12),
    };
}
