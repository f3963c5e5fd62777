using System.Data.Common;
using System.Security.Cryptography;
using Npgsql;
using NpgsqlTypes;
using RdpNla.Protocol.Ntlm;
using RdpNla.Server.Accounts;

namespace RdpNla.Server.Storage.Postgres;

/// <summary>
/// <see cref="IUserStore"/> in PostgreSQL, shared by every instance. Lockout counting is one <c>UPDATE</c>
/// (<see cref="RecordFailedLogonAsync"/>), and <see cref="UpdateAsync"/> holds the row lock
/// (<c>SELECT ... FOR UPDATE</c>) from read to write, so no instance's count is lost to another's.
/// </summary>
public sealed class PostgresUserStore : IUserStore
{
    private const string AccountColumns =
        "id, name, disabled, locked_until, failed_count, last_failed_at, last_logon_at, password_last_set, " +
        "password_expired, must_change_password, deny_remote_logon, created_at, updated_at";

    private readonly PostgresDatabase _database;
    private readonly TimeProvider _timeProvider;

    internal PostgresUserStore(PostgresDatabase database, TimeProvider timeProvider)
    {
        _database = database;
        _timeProvider = timeProvider;
    }

    /// <inheritdoc/>
    public async Task<UserAccount?> FindAsync(string userName, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userName);
        using NpgsqlCommand command = _database.CreateCommand($"SELECT {AccountColumns} FROM users WHERE name_key = @key;");
        command.Parameters.AddWithValue("key", AccountName.NormalizeUserName(userName));
        return await ReadSingleAsync(command, cancellationToken).ConfigureAwait(false);
    }

    /// <inheritdoc/>
    public async Task<UserCredential?> FindCredentialAsync(string userName, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userName);
        using NpgsqlCommand command = _database.CreateCommand($"SELECT {AccountColumns}, nt_hash FROM users WHERE name_key = @key;");
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
            long length = reader.GetBytes(13, 0, null, 0, 0);
            if (length != hash.Length)
            {
                throw new InvalidDataException($"The stored NT hash of user '{account.UserName}' is not {NtlmCrypto.NtOwfSize} bytes.");
            }

            reader.GetBytes(13, 0, hash, 0, hash.Length);
            return new UserCredential(account, hash);
        }
    }

    /// <inheritdoc/>
    public async Task<IReadOnlyList<UserAccount>> ListAsync(CancellationToken cancellationToken = default)
    {
        using NpgsqlCommand command = _database.CreateCommand($"SELECT {AccountColumns} FROM users ORDER BY name_key;");
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
            $"VALUES (@name, @key, @hash, @now, @now, @now) ON CONFLICT (name_key) DO NOTHING RETURNING {AccountColumns};");
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
            $"must_change_password = @mustChange, updated_at = @now WHERE name_key = @key RETURNING {AccountColumns};");
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
        NpgsqlConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            NpgsqlTransaction transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                // FOR UPDATE: another instance's read-modify-write of this row waits until this transaction ends.
                using var read = new NpgsqlCommand($"SELECT {AccountColumns} FROM users WHERE name_key = @key FOR UPDATE;", connection, transaction);
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
                    $"WHERE id = @id RETURNING {AccountColumns};", connection, transaction);
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
            }
        }
    }

    /// <summary>
    /// Counts one wrong password in a single <c>UPDATE</c> (the rule of <see cref="AccountPolicy.RecordFailureAsync"/>:
    /// the count restarts at 1 after <paramref name="window"/> or an expired lock, and reaching
    /// <paramref name="threshold"/> locks for <paramref name="duration"/>; a locked account is not counted). Concurrent
    /// calls from any instance are serialised by the row lock, and PostgreSQL re-evaluates the row a waiting call
    /// updates, so the threshold holds across the cluster. Returns the stored account and whether this call locked it,
    /// or null when there is no such user.
    /// </summary>
    public async Task<(UserAccount Account, bool LockedNow)?> RecordFailedLogonAsync(
        string userName, int threshold, TimeSpan window, TimeSpan duration, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(userName);
        ArgumentOutOfRangeException.ThrowIfLessThan(threshold, 1);
        const string Count =
            "(CASE WHEN locked_until IS NOT NULL OR last_failed_at IS NULL OR @now - last_failed_at >= @window " +
            "THEN 1 ELSE failed_count + 1 END)";
        using NpgsqlCommand command = _database.CreateCommand(
            $"UPDATE users SET failed_count = {Count}, last_failed_at = @now, " +
            $"locked_until = CASE WHEN {Count} >= @threshold THEN @now + @duration ELSE NULL END, updated_at = @now " +
            "WHERE name_key = @key AND NOT (locked_until IS NOT NULL AND locked_until > @now) " +
            $"RETURNING {AccountColumns};");
        DateTimeOffset now = _timeProvider.GetUtcNow();
        command.Parameters.AddWithValue("key", AccountName.NormalizeUserName(userName));
        command.Parameters.AddWithValue("now", NpgsqlDbType.TimestampTz, PostgresTime.ToDb(now));
        command.Parameters.AddWithValue("window", NpgsqlDbType.Interval, window);
        command.Parameters.AddWithValue("duration", NpgsqlDbType.Interval, duration);
        command.Parameters.AddWithValue("threshold", threshold);
        if (await ReadSingleAsync(command, cancellationToken).ConfigureAwait(false) is { } counted)
        {
            return (counted, counted.IsLockedOut(now));
        }

        return await FindAsync(userName, cancellationToken).ConfigureAwait(false) is { } unchanged ? (unchanged, false) : null;
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

    private static UserAccount ReadAccount(DbDataReader reader) => new()
    {
        Id = reader.GetInt64(0),
        UserName = reader.GetString(1),
        Disabled = reader.GetBoolean(2),
        LockedUntil = ReadTime(reader, 3),
        FailedLogonCount = reader.GetInt32(4),
        LastFailedLogon = ReadTime(reader, 5),
        LastLogon = ReadTime(reader, 6),
        PasswordLastSet = PostgresTime.FromDb(reader.GetDateTime(7)),
        PasswordExpired = reader.GetBoolean(8),
        MustChangePassword = reader.GetBoolean(9),
        RemoteLogonDenied = reader.GetBoolean(10),
        Created = PostgresTime.FromDb(reader.GetDateTime(11)),
        Updated = PostgresTime.FromDb(reader.GetDateTime(12)),
    };

    private static DateTimeOffset? ReadTime(DbDataReader reader, int ordinal) =>
        reader.IsDBNull(ordinal) ? null : PostgresTime.FromDb(reader.GetDateTime(ordinal));
}
