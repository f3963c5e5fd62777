namespace RdpNla.Server.Storage.Postgres;

/// <summary>
/// <see cref="IUserStore"/> in PostgreSQL, shared by every instance. Each step of a logon attempt
/// (<see cref="ReserveAttemptAsync"/>, <see cref="RecordFailedAttemptAsync"/>, <see cref="RecordSuccessfulAttemptAsync"/>)
/// and <see cref="UpdateAsync"/> holds the row lock (<c>SELECT ... FOR UPDATE</c>) from read to write in one
/// transaction and applies <see cref="LockoutRules"/>, so no instance's reservation or count is lost to another's.
/// </summary>
public sealed class PostgresUserStore(PostgresDatabase database, TimeProvider timeProvider) : IUserStore
{
    private readonly PostgresDatabase _database = database;
    private readonly TimeProvider _timeProvider = timeProvider;

    /// <inheritdoc/>
    public async Task<UserAccount?> FindAsync(string userName, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userName);
        using NpgsqlCommand command = _database.CreateCommand($"SELECT {StoreRows.AccountColumns} FROM users WHERE name_key = @key;");
        command.Parameters.AddWithValue("key", AccountName.NormalizeUserName(userName));
        return await ReadSingleAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<UserCredential?> FindCredentialAsync(string userName, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userName);
        using NpgsqlCommand command = _database.CreateCommand($"SELECT {StoreRows.AccountColumns}, nt_hash FROM users WHERE name_key = @key;");
        command.Parameters.AddWithValue("key", AccountName.NormalizeUserName(userName));
        NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            if (!await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
            {
                return null;
            }

            UserAccount account = ReadAccount(reader);
            byte[] hash = new byte[NtlmCrypto.NtOwfSize];
            long length = reader.GetBytes(StoreRows.HashOrdinal, 0, null, 0, 0);
            if (length != hash.Length)
            {
                throw new InvalidDataException($"The stored NT hash of user '{account.UserName}' is not {NtlmCrypto.NtOwfSize} bytes.");
            }

            reader.GetBytes(StoreRows.HashOrdinal, 0, hash, 0, hash.Length);
            return new UserCredential(account, hash);
        }
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<UserAccount>> ListAsync(CancellationToken cancellationToken = default)
    {
        using NpgsqlCommand command = _database.CreateCommand($"SELECT {StoreRows.AccountColumns} FROM users ORDER BY name_key;");
        NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            return await StoreRows.ReadAllAsync(reader, ReadAccount, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public async Task<UserAccount> AddAsync(string userName, ReadOnlyMemory<byte> ntHash, CancellationToken cancellationToken = default)
    {
        StoreRows.CheckNewUser(userName, ntHash);
        using NpgsqlCommand command = _database.CreateCommand(
            "INSERT INTO users (name, name_key, nt_hash, password_last_set, created_at, updated_at) " +
            $"VALUES (@name, @key, @hash, @now, @now, @now) ON CONFLICT (name_key) DO NOTHING RETURNING {StoreRows.AccountColumns};");
        command.Parameters.AddWithValue("name", userName);
        command.Parameters.AddWithValue("key", AccountName.NormalizeUserName(userName));
        byte[] hash = AddHashParameter(command, ntHash);
        command.Parameters.AddWithValue("now", PostgresTime.ToDb(_timeProvider.GetUtcNow()));
        UserAccount? added;
        try
        {
            added = await ReadSingleAsync(command, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(hash);
        }

        if (added is null)
        {
            UserAccount? existing = await FindAsync(userName, cancellationToken).ConfigureAwait(false);
            throw new UserAlreadyExistsException(existing?.UserName ?? userName);
        }

        return added;
    }

    /// <inheritdoc/>
    public async Task<UserAccount?> SetNtHashAsync(string userName, ReadOnlyMemory<byte> ntHash, bool mustChangePassword, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userName);
        StoreRows.CheckHash(ntHash);
        using NpgsqlCommand command = _database.CreateCommand(
            "UPDATE users SET nt_hash = @hash, password_last_set = @now, password_expired = false, " +
            $"must_change_password = @mustChange, updated_at = @now WHERE name_key = @key RETURNING {StoreRows.AccountColumns};");
        command.Parameters.AddWithValue("key", AccountName.NormalizeUserName(userName));
        byte[] hash = AddHashParameter(command, ntHash);
        command.Parameters.AddWithValue("now", PostgresTime.ToDb(_timeProvider.GetUtcNow()));
        command.Parameters.AddWithValue("mustChange", mustChangePassword);
        try
        {
            return await ReadSingleAsync(command, cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(hash);
        }
    }

    /// <inheritdoc/>
    public async Task<bool> RemoveAsync(string userName, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userName);
        using NpgsqlCommand command = _database.CreateCommand("DELETE FROM users WHERE name_key = @key;");
        command.Parameters.AddWithValue("key", AccountName.NormalizeUserName(userName));
        return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
    }

    /// <inheritdoc/>
    public async Task<UserAccount?> UpdateAsync(string userName, Func<UserAccount, UserAccount> update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userName);
        ArgumentNullException.ThrowIfNull(update);
        return await _database.InTransactionAsync<UserAccount?>(async (connection, transaction) =>
        {
            // FOR UPDATE: another instance's read-modify-write of this row waits until this transaction ends.
            using var read = new NpgsqlCommand($"SELECT {StoreRows.AccountColumns} FROM users WHERE name_key = @key FOR UPDATE;", connection, transaction);
            read.Parameters.AddWithValue("key", AccountName.NormalizeUserName(userName));
            UserAccount? current = await ReadSingleAsync(read, cancellationToken).ConfigureAwait(false);
            if (current is null)
            {
                return null;
            }

            UserAccount changed = update(current);
            if (changed == current)
            {
                return current;
            }

            using var write = new NpgsqlCommand(
                "UPDATE users SET disabled = @disabled, locked_until = @lockedUntil, failed_count = @failedCount, " +
                "last_failed_at = @lastFailed, last_logon_at = @lastLogon, password_expired = @expired, " +
                "must_change_password = @mustChange, deny_remote_logon = @deny, updated_at = @now " +
                $"WHERE id = @id RETURNING {StoreRows.AccountColumns};", connection, transaction);
            write.Parameters.AddWithValue("id", current.Id);
            write.Parameters.AddWithValue("disabled", changed.Disabled);
            AddTime(write, "lockedUntil", changed.LockedUntil);
            write.Parameters.AddWithValue("failedCount", Math.Max(0, changed.FailedLogonCount));
            AddTime(write, "lastFailed", changed.LastFailedLogon);
            AddTime(write, "lastLogon", changed.LastLogon);
            write.Parameters.AddWithValue("expired", changed.PasswordExpired);
            write.Parameters.AddWithValue("mustChange", changed.MustChangePassword);
            write.Parameters.AddWithValue("deny", changed.RemoteLogonDenied);
            write.Parameters.AddWithValue("now", PostgresTime.ToDb(_timeProvider.GetUtcNow()));
            UserAccount stored = await ReadSingleAsync(write, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException("The updated user could not be read back.");
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            return stored;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public Task<AttemptReservation> ReserveAttemptAsync(string userName, LockoutRules rules, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userName);
        ArgumentNullException.ThrowIfNull(rules);
        return InRowLockAsync(userName, withHash: true, now, (current, hash) =>
        {
            AttemptReservation reservation = AttemptSteps.Reserve(current, hash, rules, now, out UserAccount? write);
            return (reservation, write);
        }, decoyDelta: +1, cancellationToken);
    }

    /// <inheritdoc/>
    public Task<AttemptRecord> RecordFailedAttemptAsync(string userName, LockoutRules rules, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(rules);
        return RecordAttemptAsync(userName, rules, now, cancellationToken);
    }

    /// <inheritdoc/>
    public Task<AttemptRecord> RecordSuccessfulAttemptAsync(string userName, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        RecordAttemptAsync(userName, null, now, cancellationToken);

    /// <inheritdoc/>
    /// <remarks>
    /// Both steps commit as every write here does, waiting for PostgreSQL's log flush: unlike SQLite's, this database
    /// can fail on its own while the front doors go on, so a reservation lost with it could belong to a running attempt.
    /// </remarks>
    public async Task WriteDecoyAttemptAsync(DecoyStep step, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        await _database.InTransactionAsync(async (connection, transaction) =>
        {
            await LockDecoyAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
            await WriteDecoyAsync(connection, transaction, 0, now, cancellationToken).ConfigureAwait(false);
            await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
        }, cancellationToken).ConfigureAwait(false);
    }

    private Task<AttemptRecord> RecordAttemptAsync(string userName, LockoutRules? failureRules, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(userName);
        return InRowLockAsync(userName, withHash: false, now, (current, _) =>
        {
            AttemptRecord record = AttemptSteps.Record(current, failureRules, now, out UserAccount? write);
            return (record, write);
        }, decoyDelta: -1, cancellationToken);
    }

    // One transaction: the user's row is read under FOR UPDATE (another instance's step on the same row waits until
    // this one commits, then reads what it wrote), the step decides (AttemptSteps), its state is written, and the
    // transaction commits. A name that matches
    // no user takes the same lock and write on the single decoy row instead.
    private async Task<T> InRowLockAsync<T>(
        string userName,
        bool withHash,
        DateTimeOffset now,
        Func<UserAccount?, ReadOnlySpan<byte>, (T Result, UserAccount? Write)> step,
        int decoyDelta,
        CancellationToken cancellationToken)
    {
        return await _database.InTransactionAsync(async (connection, transaction) =>
        {
            UserAccount? current = null;
            byte[]? hash = null;
            try
            {
                using (var read = new NpgsqlCommand($"SELECT {StoreRows.AccountColumns}{(withHash ? ", nt_hash" : string.Empty)} FROM users WHERE name_key = @key FOR UPDATE;", connection, transaction))
                {
                    read.Parameters.AddWithValue("key", AccountName.NormalizeUserName(userName));
                    NpgsqlDataReader reader = await read.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
                    await using (reader.ConfigureAwait(false))
                    {
                        if (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                        {
                            current = ReadAccount(reader);
                            if (withHash)
                            {
                                hash = new byte[NtlmCrypto.NtOwfSize];
                                if (reader.GetBytes(StoreRows.HashOrdinal, 0, null, 0, 0) != hash.Length)
                                {
                                    throw new InvalidDataException($"The stored NT hash of user '{current.UserName}' is not {NtlmCrypto.NtOwfSize} bytes.");
                                }

                                reader.GetBytes(StoreRows.HashOrdinal, 0, hash, 0, hash.Length);
                            }
                        }
                    }
                }

                if (current is null)
                {
                    await LockDecoyAsync(connection, transaction, cancellationToken).ConfigureAwait(false);
                    await WriteDecoyAsync(connection, transaction, decoyDelta, now, cancellationToken).ConfigureAwait(false);
                }

                (T result, UserAccount? write) = step(current, hash);
                if (write is not null)
                {
                    await WriteAttemptStateAsync(connection, transaction, write, now, cancellationToken).ConfigureAwait(false);
                }

                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return result;
            }
            finally
            {
                if (hash is not null)
                {
                    CryptographicOperations.ZeroMemory(hash);
                }
            }
        }, cancellationToken).ConfigureAwait(false);
    }

    private static async Task WriteAttemptStateAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, UserAccount state, DateTimeOffset now, CancellationToken cancellationToken)
    {
        using var command = new NpgsqlCommand(
            "UPDATE users SET locked_until = @lockedUntil, failed_count = @failedCount, last_failed_at = @lastFailed, " +
            "last_logon_at = @lastLogon, attempts_in_progress = @inProgress, attempts_in_progress_until = @inProgressUntil, " +
            "updated_at = @now WHERE id = @id;", connection, transaction);
        command.Parameters.AddWithValue("id", state.Id);
        AddTime(command, "lockedUntil", state.LockedUntil);
        command.Parameters.AddWithValue("failedCount", Math.Max(0, state.FailedLogonCount));
        AddTime(command, "lastFailed", state.LastFailedLogon);
        AddTime(command, "lastLogon", state.LastLogon);
        command.Parameters.AddWithValue("inProgress", Math.Max(0, state.AttemptsInProgress));
        AddTime(command, "inProgressUntil", state.AttemptsInProgressUntil);
        AddTime(command, "now", now);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    // The read a user's step makes (a row lock), on the decoy row.
    private static async Task LockDecoyAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, CancellationToken cancellationToken)
    {
        using var command = new NpgsqlCommand("SELECT attempts_in_progress FROM attempt_decoy WHERE id = 1 FOR UPDATE;", connection, transaction);
        await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
    }

    // The same kind of write as for a user, on the single decoy row (PostgreSQL schema version 2).
    private static async Task WriteDecoyAsync(NpgsqlConnection connection, NpgsqlTransaction transaction, int delta, DateTimeOffset now, CancellationToken cancellationToken)
    {
        using var command = new NpgsqlCommand(
            "UPDATE attempt_decoy SET attempts_in_progress = greatest(0, attempts_in_progress + @delta), updated_at = @now WHERE id = 1;",
            connection, transaction);
        command.Parameters.AddWithValue("delta", delta);
        AddTime(command, "now", now);
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private static void AddTime(NpgsqlCommand command, string name, DateTimeOffset? value) =>
        command.Parameters.AddWithValue(name, NpgsqlDbType.TimestampTz, PostgresTime.ToDb(value));

    // Npgsql sends the parameter's bytes; the caller wipes the returned copy once the command has run.
    private static byte[] AddHashParameter(NpgsqlCommand command, ReadOnlyMemory<byte> ntHash)
    {
        byte[] copy = ntHash.ToArray();
        command.Parameters.AddWithValue("hash", NpgsqlDbType.Bytea, copy);
        return copy;
    }

    private static async Task<UserAccount?> ReadSingleAsync(NpgsqlCommand command, CancellationToken cancellationToken)
    {
        NpgsqlDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? ReadAccount(reader) : null;
        }
    }

    private static UserAccount ReadAccount(DbDataReader reader) =>
        StoreRows.ReadAccount(reader, static (row, ordinal) => PostgresTime.FromDb(row.GetDateTime(ordinal)), static (row, ordinal) => row.GetBoolean(ordinal));
}
