namespace RdpNla.Server.Storage;

/// <summary>The default <see cref="IUserStore"/>: the <c>users</c> table of <see cref="RdpNlaDatabase"/>.</summary>
/// <remarks>
/// Every write is committed to survive a power loss, except two steps of a logon attempt, which only survive a process
/// crash (<see cref="CommitDurability.SurvivesProcessCrash"/>), so that a correct logon waits for the disk once (its
/// audit row) instead of three times. Losing them in a power failure cannot weaken the policy:
/// <list type="bullet">
/// <item>A reservation (<see cref="ReserveAttemptAsync"/>) belongs to an attempt in this machine's memory: SQLite in WAL
/// mode is shared only by processes of one machine (https://www.sqlite.org/wal.html), and the power failure ends
/// every one of them.</item>
/// <item>A recorded success (<see cref="RecordSuccessfulAttemptAsync"/>) releases a reservation, resets the failure
/// count and notes the logon time: lost, the count stays higher and the reservation counts until
/// <see cref="LockoutRules.ReservationLifetime"/>, both stricter.</item>
/// </list>
/// A counted failure is a fact an attacker would like lost, and stays synced. The decoy write of a name that matches no
/// user commits as a user's write in the same step does, so that it takes the same time.
/// </remarks>
public sealed class SqliteUserStore(RdpNlaDatabase database, TimeProvider timeProvider) : IUserStore
{
    private readonly RdpNlaDatabase _database = database;
    private readonly TimeProvider _timeProvider = timeProvider;

    /// <inheritdoc/>
    public async Task<UserAccount?> FindAsync(string userName, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userName);
        SqliteSession session = await _database.OpenSessionAsync(cancellationToken).ConfigureAwait(false);
        await using (session.ConfigureAwait(false))
        {
            return await ReadAccountAsync(session, null, userName, cancellationToken).ConfigureAwait(false);
        }
    }

    /// <inheritdoc/>
    public async Task<UserCredential?> FindCredentialAsync(string userName, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userName);
        SqliteSession session = await _database.OpenSessionAsync(cancellationToken).ConfigureAwait(false);
        await using (session.ConfigureAwait(false))
        {
            return await ReadCredentialAsync(session, null, userName, cancellationToken).ConfigureAwait(false);
        }
    }

    private static Task<UserCredential?> ReadCredentialAsync(SqliteSession session, SqliteTransaction? transaction, string userName, CancellationToken cancellationToken) =>
        ReadUserRowAsync(session, transaction, userName, SelectCredential, ReadCredential, cancellationToken);

    private static UserCredential ReadCredential(SqliteDataReader reader)
    {
        UserAccount account = ReadAccount(reader);
        byte[] hash = new byte[NtlmCrypto.NtOwfSize];
        long read = reader.GetBytes(StoreRows.HashOrdinal, 0, hash, 0, hash.Length);
        if (read != hash.Length)
        {
            CryptographicOperations.ZeroMemory(hash);
            throw new InvalidDataException($"The stored NT hash of user '{account.UserName}' is not {NtlmCrypto.NtOwfSize} bytes.");
        }

        return new UserCredential(account, hash);
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<UserAccount>> ListAsync(CancellationToken cancellationToken = default)
    {
        SqliteSession session = await _database.OpenSessionAsync(cancellationToken).ConfigureAwait(false);
        await using (session.ConfigureAwait(false))
        {
            SqliteCommand command = session.Statement($"SELECT {StoreRows.AccountColumns} FROM users ORDER BY name_key;");
            SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                return await StoreRows.ReadAllAsync(reader, r => ReadAccount((SqliteDataReader)r), cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <inheritdoc/>
    public async Task<UserAccount> AddAsync(string userName, ReadOnlyMemory<byte> ntHash, CancellationToken cancellationToken = default)
    {
        StoreRows.CheckNewUser(userName, ntHash);
        string now = SqliteTime.ToText(_timeProvider.GetUtcNow());
        return await _database.InWriteTransactionAsync(async (session, transaction) =>
        {
            using SqliteCommand command = session.Connection.CreateCommand(
                transaction,
                "INSERT INTO users (name, name_key, nt_hash, password_last_set, created_at, updated_at) " +
                "VALUES ($name, $key, $hash, $now, $now, $now) ON CONFLICT (name_key) DO NOTHING;");
            command.Parameters.AddWithValue("$name", userName);
            command.Parameters.AddWithValue("$key", AccountName.NormalizeUserName(userName));
            AddHashParameter(command, ntHash);
            command.Parameters.AddWithValue("$now", now);
            int inserted = await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            if (inserted == 0)
            {
                UserAccount? existing = await ReadAccountAsync(session, transaction, userName, cancellationToken).ConfigureAwait(false);
                throw new UserAlreadyExistsException(existing?.UserName ?? userName);
            }

            return await ReadAccountAsync(session, transaction, userName, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException("The inserted user could not be read back.");
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<UserAccount?> SetNtHashAsync(string userName, ReadOnlyMemory<byte> ntHash, bool mustChangePassword, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userName);
        StoreRows.CheckHash(ntHash);
        string now = SqliteTime.ToText(_timeProvider.GetUtcNow());
        return await WriteAsync(userName, async (session, transaction) =>
        {
            using SqliteCommand command = session.Connection.CreateCommand(
                transaction,
                "UPDATE users SET nt_hash = $hash, password_last_set = $now, password_expired = 0, " +
                "must_change_password = $mustChange, updated_at = $now WHERE name_key = $key;");
            command.Parameters.AddWithValue("$key", AccountName.NormalizeUserName(userName));
            AddHashParameter(command, ntHash);
            command.Parameters.AddWithValue("$now", now);
            command.Parameters.AddWithValue("$mustChange", mustChangePassword ? 1 : 0);
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<bool> RemoveAsync(string userName, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userName);
        return await _database.ExecuteAsync(
            "DELETE FROM users WHERE name_key = @key;",
            command => command.With("key", AccountName.NormalizeUserName(userName)),
            cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<UserAccount?> UpdateAsync(string userName, Func<UserAccount, UserAccount> update, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userName);
        ArgumentNullException.ThrowIfNull(update);
        string now = SqliteTime.ToText(_timeProvider.GetUtcNow());
        return await _database.InWriteTransactionAsync<UserAccount?>(async (session, transaction) =>
        {
            UserAccount? current = await ReadAccountAsync(session, transaction, userName, cancellationToken).ConfigureAwait(false);
            if (current is null)
            {
                return null;
            }

            UserAccount changed = update(current);
            if (changed == current)
            {
                return current;
            }

            SqliteCommand command = session.Statement(
                "UPDATE users SET disabled = $disabled, locked_until = $lockedUntil, failed_count = $failedCount, " +
                "last_failed_at = $lastFailed, last_logon_at = $lastLogon, password_expired = $expired, " +
                "must_change_password = $mustChange, deny_remote_logon = $deny, updated_at = $now WHERE id = $id;",
                transaction);
            command.Parameters.AddWithValue("$disabled", changed.Disabled ? 1 : 0);
            AddLogonStateParameters(command, changed with { Id = current.Id });
            command.Parameters.AddWithValue("$expired", changed.PasswordExpired ? 1 : 0);
            command.Parameters.AddWithValue("$mustChange", changed.MustChangePassword ? 1 : 0);
            command.Parameters.AddWithValue("$deny", changed.RemoteLogonDenied ? 1 : 0);
            command.Parameters.AddWithValue("$now", now);
            await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
            return await ReadAccountAsync(session, transaction, userName, cancellationToken).ConfigureAwait(false)
                ?? throw new InvalidOperationException("The updated user could not be read back.");
        }, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public Task<AttemptReservation> ReserveAttemptAsync(string userName, LockoutRules rules, DateTimeOffset now, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userName);
        ArgumentNullException.ThrowIfNull(rules);
        return _database.InWriteTransactionAsync(async (session, transaction) =>
        {
            using UserCredential? credential = await ReadCredentialAsync(session, transaction, userName, cancellationToken).ConfigureAwait(false);
            AttemptReservation reservation = AttemptSteps.Reserve(credential?.Account, credential is null ? ReadOnlySpan<byte>.Empty : credential.NtHash, rules, now, out UserAccount? write);
            await WriteStepAsync(session, transaction, credential is null, write, +1, now, cancellationToken).ConfigureAwait(false);
            return reservation;
        }, cancellationToken, CommitDurability.SurvivesProcessCrash);
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
    public Task WriteDecoyAttemptAsync(DecoyStep step, DateTimeOffset now, CancellationToken cancellationToken = default) =>
        _database.InWriteTransactionAsync(
            async (session, transaction) =>
            {
                await WriteDecoyAsync(session, transaction, 0, now, cancellationToken).ConfigureAwait(false);
                return true;
            },
            cancellationToken,
            step == DecoyStep.Reservation ? CommitDurability.SurvivesProcessCrash : CommitDurability.SurvivesPowerLoss);

    private Task<AttemptRecord> RecordAttemptAsync(string userName, LockoutRules? failureRules, DateTimeOffset now, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(userName);
        return _database.InWriteTransactionAsync(async (session, transaction) =>
        {
            UserAccount? current = await ReadAccountAsync(session, transaction, userName, cancellationToken).ConfigureAwait(false);
            AttemptRecord record = AttemptSteps.Record(current, failureRules, now, out UserAccount? write);
            await WriteStepAsync(session, transaction, current is null, write, -1, now, cancellationToken).ConfigureAwait(false);
            return record;
        }, cancellationToken, failureRules is null ? CommitDurability.SurvivesProcessCrash : CommitDurability.SurvivesPowerLoss);
    }

    // What a step writes: the user's new state, or for a name that matches no user the decoy row.
    private static async Task WriteStepAsync(SqliteSession session, SqliteTransaction transaction, bool unknownUser, UserAccount? write, int decoyDelta, DateTimeOffset now, CancellationToken cancellationToken)
    {
        if (unknownUser)
        {
            await WriteDecoyAsync(session, transaction, decoyDelta, now, cancellationToken).ConfigureAwait(false);
        }
        else if (write is not null)
        {
            await WriteAttemptStateAsync(session, transaction, write, now, cancellationToken).ConfigureAwait(false);
        }
    }

    // The row id and the logon/failure/lock fields, as both updates of the account state write them.
    private static void AddLogonStateParameters(SqliteCommand command, UserAccount state)
    {
        command.Parameters.AddWithValue("$id", state.Id);
        command.Parameters.AddWithValue("$lockedUntil", SqliteTime.ToDb(state.LockedUntil));
        command.Parameters.AddWithValue("$failedCount", Math.Max(0, state.FailedLogonCount));
        command.Parameters.AddWithValue("$lastFailed", SqliteTime.ToDb(state.LastFailedLogon));
        command.Parameters.AddWithValue("$lastLogon", SqliteTime.ToDb(state.LastLogon));
    }

    private static async Task WriteAttemptStateAsync(SqliteSession session, SqliteTransaction transaction, UserAccount state, DateTimeOffset now, CancellationToken cancellationToken)
    {
        SqliteCommand command = session.Statement(
            "UPDATE users SET locked_until = $lockedUntil, failed_count = $failedCount, last_failed_at = $lastFailed, " +
            "last_logon_at = $lastLogon, attempts_in_progress = $inProgress, attempts_in_progress_until = $inProgressUntil, " +
            "updated_at = $now WHERE id = $id;",
            transaction);
        AddLogonStateParameters(command, state);
        command.Parameters.AddWithValue("$inProgress", Math.Max(0, state.AttemptsInProgress));
        command.Parameters.AddWithValue("$inProgressUntil", SqliteTime.ToDb(state.AttemptsInProgressUntil));
        command.Parameters.AddWithValue("$now", SqliteTime.ToText(now));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    // The same kind of write as for a user, on the single decoy row (schema version 3).
    private static async Task WriteDecoyAsync(SqliteSession session, SqliteTransaction transaction, int delta, DateTimeOffset now, CancellationToken cancellationToken)
    {
        SqliteCommand command = session.Statement(
            "UPDATE attempt_decoy SET attempts_in_progress = max(0, attempts_in_progress + $delta), updated_at = $now WHERE id = 1;",
            transaction);
        command.Parameters.AddWithValue("$delta", delta);
        command.Parameters.AddWithValue("$now", SqliteTime.ToText(now));
        await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
    }

    private async Task<UserAccount?> WriteAsync(string userName, Func<SqliteSession, SqliteTransaction, Task<bool>> write, CancellationToken cancellationToken)
    {
        // A write that changes no row returns null; nothing was written, so the empty commit is harmless.
        return await _database.InWriteTransactionAsync<UserAccount?>(
            async (session, transaction) => await write(session, transaction).ConfigureAwait(false)
                ? await ReadAccountAsync(session, transaction, userName, cancellationToken).ConfigureAwait(false)
                : null,
            cancellationToken).ConfigureAwait(false);
    }

    private static void AddHashParameter(SqliteCommand command, ReadOnlyMemory<byte> ntHash)
    {
        // SQLite binds a copy; the parameter's array is wiped by the caller's command disposal below.
        SqliteParameter parameter = command.Parameters.Add("$hash", SqliteType.Blob);
        parameter.Value = ntHash.ToArray();
        command.Disposed += (_, _) => CryptographicOperations.ZeroMemory((byte[])parameter.Value);
    }

    private const string SelectAccount = $"SELECT {StoreRows.AccountColumns} FROM users WHERE name_key = $key;";
    private const string SelectCredential = $"SELECT {StoreRows.AccountColumns}, nt_hash FROM users WHERE name_key = $key;";

    private static Task<UserAccount?> ReadAccountAsync(SqliteSession session, SqliteTransaction? transaction, string userName, CancellationToken cancellationToken) =>
        ReadUserRowAsync(session, transaction, userName, SelectAccount, ReadAccount, cancellationToken);

    private static async Task<T?> ReadUserRowAsync<T>(SqliteSession session, SqliteTransaction? transaction, string userName, string select, Func<SqliteDataReader, T> map, CancellationToken cancellationToken)
        where T : class
    {
        SqliteCommand command = session.Statement(select, transaction);
        command.Parameters.AddWithValue("$key", AccountName.NormalizeUserName(userName));
        SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
        await using (reader.ConfigureAwait(false))
        {
            return await reader.ReadAsync(cancellationToken).ConfigureAwait(false) ? map(reader) : null;
        }
    }

    private static UserAccount ReadAccount(SqliteDataReader reader) =>
        StoreRows.ReadAccount(reader, static (row, ordinal) => SqliteTime.FromText(row.GetString(ordinal)), static (row, ordinal) => row.GetInt64(ordinal) != 0);
}
