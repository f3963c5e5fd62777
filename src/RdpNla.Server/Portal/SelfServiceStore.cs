namespace RdpNla.Server.Portal;

/// <summary>A user's TOTP authenticator as stored: the sealed secret, whether enrolment was confirmed, the last step used.</summary>
public sealed record StoredTotp(byte[] SealedSecret, bool Confirmed, long LastStep);

/// <summary>
/// The portal's tables (SQLite schema version 6, PostgreSQL version 4; the same statements serve both): the
/// second-factor requirement of users and groups, the password history and the sealed TOTP secrets. The history keeps,
/// per replaced password, SHA-256(salt ‖ NT hash) with a random 16-byte salt: enough to refuse a reused password,
/// without keeping old NT hashes, which NTLM would accept as passwords.
/// </summary>
public sealed class SelfServiceStore
{
    private const int SaltSize = 16;
    private readonly ISqlEngine _database;
    private readonly TimeProvider _timeProvider;

    /// <summary>The portal's tables of an SQLite database.</summary>
    public SelfServiceStore(RdpNlaDatabase database, TimeProvider timeProvider)
        : this((ISqlEngine)database, timeProvider)
    {
    }

    internal SelfServiceStore(ISqlEngine database, TimeProvider timeProvider)
    {
        ArgumentNullException.ThrowIfNull(database);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _database = database;
        _timeProvider = timeProvider;
    }

    /// <summary>Whether the user must approve connections with a second factor: set on the user or on one of its groups.</summary>
    public async Task<bool> IsMfaRequiredAsync(string userName, CancellationToken cancellationToken = default) =>
        await _database.ScalarAsync(
            "SELECT EXISTS (SELECT 1 FROM users WHERE name_key = @key AND mfa_required = @on) OR EXISTS (" +
            "SELECT 1 FROM users u JOIN group_members m ON m.user_id = u.id JOIN groups g ON g.id = m.group_id " +
            "WHERE u.name_key = @key AND g.mfa_required = @on);",
            c => c.With("key", AccountName.NormalizeUserName(userName)).With("on", _database.Flag(true)),
            cancellationToken).ConfigureAwait(false) is { } value && Convert.ToBoolean(value, CultureInfo.InvariantCulture);

    /// <summary>Whether the user is a member of the group (<c>rdpnla groups add-member</c>; names case-insensitive).</summary>
    public async Task<bool> IsGroupMemberAsync(string userName, string group, CancellationToken cancellationToken = default) =>
        await _database.ScalarAsync(
            "SELECT EXISTS (SELECT 1 FROM users u JOIN group_members m ON m.user_id = u.id JOIN groups g ON g.id = m.group_id " +
            "WHERE u.name_key = @key AND g.name_key = @group);",
            c => c.With("key", AccountName.NormalizeUserName(userName)).With("group", group.Trim().ToUpperInvariant()),
            cancellationToken).ConfigureAwait(false) is { } value && Convert.ToBoolean(value, CultureInfo.InvariantCulture);

    /// <summary>Sets the user's own requirement; false when there is no such user.</summary>
    public Task<bool> SetUserMfaRequiredAsync(string userName, bool required, CancellationToken cancellationToken = default) =>
        _database.ExecuteAsync("UPDATE users SET mfa_required = @value WHERE name_key = @key;",
            c => c.With("key", AccountName.NormalizeUserName(userName)).With("value", _database.Flag(required)), cancellationToken);

    /// <summary>Sets a group's requirement (every member); false when there is no such group.</summary>
    public Task<bool> SetGroupMfaRequiredAsync(string group, bool required, CancellationToken cancellationToken = default) =>
        _database.ExecuteAsync("UPDATE groups SET mfa_required = @value WHERE name_key = @key;",
            c => c.With("key", group.ToUpperInvariant()).With("value", _database.Flag(required)), cancellationToken);

    /// <summary>Whether <paramref name="ntHash"/> matches one of the user's <paramref name="count"/> most recent replaced passwords.</summary>
    public async Task<bool> IsInHistoryAsync(long userId, ReadOnlyMemory<byte> ntHash, int count, CancellationToken cancellationToken = default)
    {
        if (count <= 0)
        {
            return false;
        }

        List<(byte[] Salt, byte[] Digest)> rows = await _database.QueryAsync(
            "SELECT salt, digest FROM password_history WHERE user_id = @id ORDER BY id DESC LIMIT @count;",
            c => c.With("id", userId).With("count", count),
            r => ((byte[])r.GetValue(0), (byte[])r.GetValue(1)),
            cancellationToken).ConfigureAwait(false);
        bool found = false;
        foreach ((byte[] salt, byte[] digest) in rows)
        {
            found |= CryptographicOperations.FixedTimeEquals(Digest(salt, ntHash.Span), digest);
        }

        return found;
    }

    /// <summary>Records a replaced NT hash (as a salted digest) and keeps only the user's <paramref name="keep"/> most recent.</summary>
    public async Task RecordReplacedAsync(long userId, ReadOnlyMemory<byte> ntHash, int keep, CancellationToken cancellationToken = default)
    {
        ISqlSession session = await _database.OpenAsync(cancellationToken).ConfigureAwait(false);
        await using (session.ConfigureAwait(false))
        {
            DbTransaction transaction = await session.Connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                if (keep > 0)
                {
                    byte[] salt = RandomNumberGenerator.GetBytes(SaltSize);
                    await session.Statement("INSERT INTO password_history (user_id, salt, digest, set_at) VALUES (@id, @salt, @digest, @now);", transaction)
                        .With("id", userId).With("salt", salt).With("digest", Digest(salt, ntHash.Span)).With("now", _database.Time(_timeProvider.GetUtcNow()))
                        .ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                }

                await session.Statement(
                        "DELETE FROM password_history WHERE user_id = @id AND id NOT IN (SELECT id FROM password_history WHERE user_id = @id ORDER BY id DESC LIMIT @keep);",
                        transaction)
                    .With("id", userId).With("keep", Math.Max(0, keep))
                    .ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }

    /// <summary>The user's authenticator, or null.</summary>
    public async Task<StoredTotp?> GetTotpAsync(string userName, CancellationToken cancellationToken = default) =>
        (await _database.QueryAsync(
            "SELECT t.secret_sealed, t.confirmed, t.last_step FROM totp_secrets t JOIN users u ON u.id = t.user_id WHERE u.name_key = @key;",
            c => c.With("key", AccountName.NormalizeUserName(userName)),
            r => new StoredTotp((byte[])r.GetValue(0), r.Flag(1), r.GetInt64(2)),
            cancellationToken).ConfigureAwait(false)).SingleOrDefault();

    /// <summary>Stores a new, unconfirmed authenticator; false when the user has a confirmed one (or does not exist).</summary>
    public Task<bool> SetPendingTotpAsync(string userName, byte[] sealedSecret, CancellationToken cancellationToken = default) =>
        _database.ExecuteAsync(
            "INSERT INTO totp_secrets (user_id, secret_sealed, confirmed, last_step, created_at) " +
            "SELECT id, @secret, @off, 0, @now FROM users WHERE name_key = @key " +
            "ON CONFLICT (user_id) DO UPDATE SET secret_sealed = excluded.secret_sealed, created_at = excluded.created_at, last_step = 0 WHERE totp_secrets.confirmed = @off;",
            c => c.With("key", AccountName.NormalizeUserName(userName)).With("secret", sealedSecret).With("off", _database.Flag(false)).With("now", Now()),
            cancellationToken);

    /// <summary>
    /// Uses time step <paramref name="step"/> of the user's authenticator once: true only the first time a step at or
    /// after every step used before is presented (RFC 6238 §5.2: a verified OTP must not be accepted again).
    /// With <paramref name="confirm"/>, the unconfirmed authenticator becomes the confirmed one.
    /// </summary>
    public Task<bool> ConsumeStepAsync(string userName, long step, bool confirm, CancellationToken cancellationToken = default) =>
        _database.ExecuteAsync(
            confirm
                ? "UPDATE totp_secrets SET last_step = @step, confirmed = @on, confirmed_at = @now WHERE confirmed = @off AND last_step < @step AND user_id = (SELECT id FROM users WHERE name_key = @key);"
                : "UPDATE totp_secrets SET last_step = @step WHERE confirmed = @on AND last_step < @step AND user_id = (SELECT id FROM users WHERE name_key = @key);",
            c => c.With("key", AccountName.NormalizeUserName(userName)).With("step", step).With("now", Now())
                .With("on", _database.Flag(true)).With("off", _database.Flag(false)),
            cancellationToken);

    /// <summary>Forgets the user's authenticator (the user enrols again); false when there was none.</summary>
    public Task<bool> RemoveTotpAsync(string userName, CancellationToken cancellationToken = default) =>
        _database.ExecuteAsync(
            "DELETE FROM totp_secrets WHERE user_id = (SELECT id FROM users WHERE name_key = @key);",
            c => c.With("key", AccountName.NormalizeUserName(userName)),
            cancellationToken);

    private object Now() => _database.Time(_timeProvider.GetUtcNow());

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
