namespace RdpNla.Server.Storage;

/// <summary>
/// The statement helpers of the SQLite stores: one statement on its own pooled connection (a single statement is its own
/// transaction), a write transaction, and a command in a transaction.
/// </summary>
internal static class SqliteStatements
{
    /// <summary>
    /// Runs <paramref name="body"/> in a transaction opened with BEGIN IMMEDIATE, which takes the write lock before the
    /// first read, so what is read and what is written are one atomic step; commits when it returns (as
    /// <paramref name="durability"/> says), rolls back when it throws.
    /// </summary>
    public static async Task<T> InWriteTransactionAsync<T>(
        this RdpNlaDatabase database,
        Func<SqliteConnection, SqliteTransaction, Task<T>> body,
        CancellationToken cancellationToken,
        CommitDurability durability = CommitDurability.SurvivesPowerLoss)
    {
        SqliteConnection connection = await database.OpenConnectionAsync(cancellationToken, durability).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            SqliteTransaction transaction = connection.BeginTransaction(deferred: false);
            await using (transaction.ConfigureAwait(false))
            {
                T result = await body(connection, transaction).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return result;
            }
        }
    }

    /// <summary>A command of <paramref name="sql"/> in <paramref name="transaction"/> (none: autocommit).</summary>
    public static SqliteCommand CreateCommand(this SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }
}
