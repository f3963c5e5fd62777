using System.Security.Cryptography;
using Microsoft.Data.Sqlite;
using Npgsql;
using NpgsqlTypes;
using RdpNla.Server.Accounts;

namespace RdpNla.Server.Storage.Postgres;

/// <summary>What <see cref="StoreCopy.CopyAsync"/> copied.</summary>
public sealed record StoreCopyResult(int Users, long AuditRows);

/// <summary>
/// <c>rdpnla store copy</c>: copies the users (with their NT hashes and account state) and the audit trail of an SQLite
/// database into an empty PostgreSQL store, in one transaction, so that an existing installation can move to a
/// shared store (docs/high-availability.md). The gateway's tables are not copied: they stay in SQLite.
/// </summary>
public static class StoreCopy
{
    private const int AuditPage = 5000;

    /// <summary>Copies everything; the target must hold no users and no audit rows.</summary>
    /// <exception cref="InvalidOperationException">The target is not empty.</exception>
    public static async Task<StoreCopyResult> CopyAsync(RdpNlaDatabase source, PostgresDatabase target, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(target);
        NpgsqlConnection connection = await target.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            NpgsqlTransaction transaction = await connection.BeginTransactionAsync(cancellationToken).ConfigureAwait(false);
            await using (transaction.ConfigureAwait(false))
            {
                // EXCLUSIVE: running instances may still read, but nobody writes until the copy commits.
                using (var check = new NpgsqlCommand(
                    "LOCK TABLE users, audit IN EXCLUSIVE MODE; SELECT (SELECT count(*) FROM users) + (SELECT count(*) FROM audit);", connection, transaction))
                {
                    long existing = (long)(await check.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false))!;
                    if (existing > 0)
                    {
                        throw new InvalidOperationException(
                            $"the PostgreSQL store {target.Location.Description} already holds users or audit rows; copy into an empty database");
                    }
                }

                int users = await CopyUsersAsync(source, connection, cancellationToken).ConfigureAwait(false);
                long audit = await CopyAuditAsync(source, connection, cancellationToken).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return new StoreCopyResult(users, audit);
            }
        }
    }

    private static async Task<int> CopyUsersAsync(RdpNlaDatabase source, NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        IReadOnlyList<UserAccount> accounts = await source.Users.ListAsync(cancellationToken).ConfigureAwait(false);
        NpgsqlBinaryImporter importer = await connection.BeginBinaryImportAsync(
            "COPY users (name, name_key, nt_hash, disabled, locked_until, failed_count, last_failed_at, last_logon_at, " +
            "password_last_set, password_expired, must_change_password, deny_remote_logon, created_at, updated_at) FROM STDIN (FORMAT BINARY)",
            cancellationToken).ConfigureAwait(false);
        await using (importer.ConfigureAwait(false))
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

            await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
            return count;
        }
    }

    private static async Task<long> CopyAuditAsync(RdpNlaDatabase source, NpgsqlConnection connection, CancellationToken cancellationToken)
    {
        NpgsqlBinaryImporter importer = await connection.BeginBinaryImportAsync(
            "COPY audit (time, instance_name, client_address, client_port, user_name, domain, user_key, credssp_version, " +
            "security_protocol, outcome, nt_status, nt_status_name, reason, connection_id) FROM STDIN (FORMAT BINARY)",
            cancellationToken).ConfigureAwait(false);
        await using (importer.ConfigureAwait(false))
        {
            long count = 0;
            long after = 0;
            SqliteConnection sqlite = await source.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
            await using (sqlite.ConfigureAwait(false))
            {
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
                            await WriteTextAsync(importer, reader, 2, cancellationToken).ConfigureAwait(false);
                            await WriteTextAsync(importer, reader, 3, cancellationToken).ConfigureAwait(false);
                            await WriteIntegerAsync(importer, reader, 4, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                            await WriteTextAsync(importer, reader, 5, cancellationToken).ConfigureAwait(false);
                            await WriteTextAsync(importer, reader, 6, cancellationToken).ConfigureAwait(false);
                            await WriteTextAsync(importer, reader, 7, cancellationToken).ConfigureAwait(false);
                            await WriteIntegerAsync(importer, reader, 8, NpgsqlDbType.Integer, cancellationToken).ConfigureAwait(false);
                            await WriteTextAsync(importer, reader, 9, cancellationToken).ConfigureAwait(false);
                            await WriteTextAsync(importer, reader, 10, cancellationToken).ConfigureAwait(false);
                            await WriteIntegerAsync(importer, reader, 11, NpgsqlDbType.Bigint, cancellationToken).ConfigureAwait(false);
                            await WriteTextAsync(importer, reader, 12, cancellationToken).ConfigureAwait(false);
                            await WriteTextAsync(importer, reader, 13, cancellationToken).ConfigureAwait(false);
                            await WriteTextAsync(importer, reader, 14, cancellationToken).ConfigureAwait(false);
                        }
                    }

                    count += rows;
                    if (rows < AuditPage)
                    {
                        break;
                    }
                }
            }

            await importer.CompleteAsync(cancellationToken).ConfigureAwait(false);
            return count;
        }
    }

    private static Task WriteTimeAsync(NpgsqlBinaryImporter importer, DateTimeOffset? value, CancellationToken cancellationToken) =>
        value is { } v
            ? importer.WriteAsync(PostgresTime.ToDb(v), NpgsqlDbType.TimestampTz, cancellationToken)
            : importer.WriteNullAsync(cancellationToken);

    private static Task WriteTextAsync(NpgsqlBinaryImporter importer, SqliteDataReader reader, int ordinal, CancellationToken cancellationToken) =>
        reader.IsDBNull(ordinal)
            ? importer.WriteNullAsync(cancellationToken)
            : importer.WriteAsync(reader.GetString(ordinal), NpgsqlDbType.Text, cancellationToken);

    private static Task WriteIntegerAsync(NpgsqlBinaryImporter importer, SqliteDataReader reader, int ordinal, NpgsqlDbType type, CancellationToken cancellationToken)
    {
        if (reader.IsDBNull(ordinal))
        {
            return importer.WriteNullAsync(cancellationToken);
        }

        long value = reader.GetInt64(ordinal);
        return type == NpgsqlDbType.Integer
            ? importer.WriteAsync(checked((int)value), type, cancellationToken)
            : importer.WriteAsync(value, type, cancellationToken);
    }
}
