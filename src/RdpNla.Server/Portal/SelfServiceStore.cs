using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using RdpNla.Server.Accounts;
using RdpNla.Server.Storage;

namespace RdpNla.Server.Portal;

/// <summary>A user's TOTP authenticator as stored: the sealed secret, whether enrolment was confirmed, the last step used.</summary>
public sealed record StoredTotp(byte[] SealedSecret, bool Confirmed, long LastStep);

/// <summary>
/// The portal's tables (schema version 3): the second-factor requirement of users and groups, the password history and
/// the sealed TOTP secrets. The history keeps, per replaced password, SHA-256(salt ‖ NT hash) with a random 16-byte salt:
/// enough to refuse a reused password, without keeping old NT hashes, which NTLM would accept as passwords.
/// </summary>
public sealed class SelfServiceStore
{
    private const int SaltSize = 16;
    private readonly RdpNlaDatabase _database;
    private readonly TimeProvider _timeProvider;

    public SelfServiceStore(RdpNlaDatabase database, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _database = database;
        _timeProvider = timeProvider;
    }

    /// <summary>Whether the user must approve connections with a second factor: set on the user or on one of its groups.</summary>
    public async Task<bool> IsMfaRequiredAsync(string userName, CancellationToken cancellationToken = default) =>
        await _database.ScalarAsync(
            "SELECT EXISTS (SELECT 1 FROM users WHERE name_key = $key AND mfa_required = 1) OR EXISTS (" +
            "SELECT 1 FROM users u JOIN group_members m ON m.user_id = u.id JOIN groups g ON g.id = m.group_id " +
            "WHERE u.name_key = $key AND g.mfa_required = 1);",
            c => c.Parameters.AddWithValue("$key", AccountName.NormalizeUserName(userName)),
            cancellationToken).ConfigureAwait(false) is long value && value != 0;

    /// <summary>Sets the user's own requirement; false when there is no such user.</summary>
    public Task<bool> SetUserMfaRequiredAsync(string userName, bool required, CancellationToken cancellationToken = default) =>
        _database.ExecuteAsync("UPDATE users SET mfa_required = $value WHERE name_key = $key;", c =>
        {
            c.Parameters.AddWithValue("$key", AccountName.NormalizeUserName(userName));
            c.Parameters.AddWithValue("$value", required ? 1 : 0);
        }, cancellationToken);

    /// <summary>Sets a group's requirement (every member); false when there is no such group.</summary>
    public Task<bool> SetGroupMfaRequiredAsync(string group, bool required, CancellationToken cancellationToken = default) =>
        _database.ExecuteAsync("UPDATE groups SET mfa_required = $value WHERE name_key = $key;", c =>
        {
            c.Parameters.AddWithValue("$key", group.ToUpperInvariant());
            c.Parameters.AddWithValue("$value", required ? 1 : 0);
        }, cancellationToken);

    /// <summary>Whether <paramref name="ntHash"/> matches one of the user's <paramref name="count"/> most recent replaced passwords.</summary>
    public async Task<bool> IsInHistoryAsync(long userId, ReadOnlyMemory<byte> ntHash, int count, CancellationToken cancellationToken = default)
    {
        if (count <= 0)
        {
            return false;
        }

        SqliteConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = "SELECT salt, digest FROM password_history WHERE user_id = $id ORDER BY id DESC LIMIT $count;";
            command.Parameters.AddWithValue("$id", userId);
            command.Parameters.AddWithValue("$count", count);
            SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                bool found = false;
                while (await reader.ReadAsync(cancellationToken).ConfigureAwait(false))
                {
                    byte[] salt = (byte[])reader.GetValue(0);
                    byte[] digest = (byte[])reader.GetValue(1);
                    byte[] candidate = Digest(salt, ntHash.Span);
                    found |= CryptographicOperations.FixedTimeEquals(candidate, digest);
                }

                return found;
            }
        }
    }

    /// <summary>Records a replaced NT hash (as a salted digest) and keeps only the user's <paramref name="keep"/> most recent.</summary>
    public async Task RecordReplacedAsync(long userId, ReadOnlyMemory<byte> ntHash, int keep, CancellationToken cancellationToken = default)
    {
        SqliteConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            SqliteTransaction transaction = connection.BeginTransaction(deferred: false);
            await using (transaction.ConfigureAwait(false))
            {
                using SqliteCommand command = connection.CreateCommand();
                command.Transaction = transaction;
                if (keep > 0)
                {
                    byte[] salt = RandomNumberGenerator.GetBytes(SaltSize);
                    command.CommandText = "INSERT INTO password_history (user_id, salt, digest, set_at) VALUES ($id, $salt, $digest, $now);";
                    command.Parameters.AddWithValue("$id", userId);
                    command.Parameters.AddWithValue("$salt", salt);
                    command.Parameters.AddWithValue("$digest", Digest(salt, ntHash.Span));
                    command.Parameters.AddWithValue("$now", SqliteTime.ToText(_timeProvider.GetUtcNow()));
                    await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                    command.Parameters.Clear();
                }

                command.CommandText = "DELETE FROM password_history WHERE user_id = $id AND id NOT IN (SELECT id FROM password_history WHERE user_id = $id ORDER BY id DESC LIMIT $keep);";
                command.Parameters.AddWithValue("$id", userId);
                command.Parameters.AddWithValue("$keep", Math.Max(0, keep));
                await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The user's authenticator, or null.</summary>
    public async Task<StoredTotp?> GetTotpAsync(string userName, CancellationToken cancellationToken = default)
    {
        SqliteConnection connection = await _database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = "SELECT t.secret_sealed, t.confirmed, t.last_step FROM totp_secrets t JOIN users u ON u.id = t.user_id WHERE u.name_key = $key;";
            command.Parameters.AddWithValue("$key", AccountName.NormalizeUserName(userName));
            SqliteDataReader reader = await command.ExecuteReaderAsync(cancellationToken).ConfigureAwait(false);
            await using (reader.ConfigureAwait(false))
            {
                return await reader.ReadAsync(cancellationToken).ConfigureAwait(false)
                    ? new StoredTotp((byte[])reader.GetValue(0), reader.GetInt64(1) != 0, reader.GetInt64(2))
                    : null;
            }
        }
    }

    /// <summary>Stores a new, unconfirmed authenticator; false when the user has a confirmed one (or does not exist).</summary>
    public Task<bool> SetPendingTotpAsync(string userName, byte[] sealedSecret, CancellationToken cancellationToken = default) =>
        _database.ExecuteAsync(
            "INSERT INTO totp_secrets (user_id, secret_sealed, confirmed, last_step, created_at) " +
            "SELECT id, $secret, 0, 0, $now FROM users WHERE name_key = $key " +
            "ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, created_at = excluded.created_at, last_step = 0 WHERE confirmed = 0;",
            c =>
            {
                c.Parameters.AddWithValue("$key", AccountName.NormalizeUserName(userName));
                c.Parameters.AddWithValue("$secret", sealedSecret);
                c.Parameters.AddWithValue("$now", SqliteTime.ToText(_timeProvider.GetUtcNow()));
            },
            cancellationToken);

    /// <summary>
    /// Uses time step <paramref name="step"/> of the user's authenticator once: true only the first time a step at or
    /// after every step used before is presented (RFC 6238 §5.2: a verified OTP must not be accepted again).
    /// With <paramref name="confirm"/>, the unconfirmed authenticator becomes the confirmed one.
    /// </summary>
    public Task<bool> ConsumeStepAsync(string userName, long step, bool confirm, CancellationToken cancellationToken = default) =>
        _database.ExecuteAsync(
            confirm
                ? "UPDATE totp_secrets SET last_step = $step, confirmed = 1, confirmed_at = $now WHERE confirmed = 0 AND last_step < $step AND user_id = (SELECT id FROM users WHERE name_key = $key);"
                : "UPDATE totp_secrets SET last_step = $step WHERE confirmed = 1 AND last_step < $step AND user_id = (SELECT id FROM users WHERE name_key = $key);",
            c =>
            {
                c.Parameters.AddWithValue("$key", AccountName.NormalizeUserName(userName));
                c.Parameters.AddWithValue("$step", step);
                c.Parameters.AddWithValue("$now", SqliteTime.ToText(_timeProvider.GetUtcNow()));
            },
            cancellationToken);

    /// <summary>Forgets the user's authenticator (the user enrols again); false when there was none.</summary>
    public Task<bool> RemoveTotpAsync(string userName, CancellationToken cancellationToken = default) =>
        _database.ExecuteAsync(
            "DELETE FROM totp_secrets WHERE user_id = (SELECT id FROM users WHERE name_key = $key);",
            c => c.Parameters.AddWithValue("$key", AccountName.NormalizeUserName(userName)),
            cancellationToken);

    private static byte[] Digest(ReadOnlySpan<byte> salt, ReadOnlySpan<byte> ntHash)
    {
        Span<byte> input = stackalloc byte[SaltSize + 16];
        salt.CopyTo(input);
        ntHash.CopyTo(input[salt.Length..]);
        byte[] digest = SHA256.HashData(input[..(salt.Length + ntHash.Length)]);
        CryptographicOperations.ZeroMemory(input);
        return digest;
    }
}
