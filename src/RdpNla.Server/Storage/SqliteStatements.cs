namespace RdpNla.Server.Storage;

/// <summary>
/// The statement helpers of the SQLite stores: a write transaction on a session of the pool, and a command of its own in
/// a transaction.
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
        Func<SqliteSession, SqliteTransaction, Task<T>> body,
        CancellationToken cancellationToken,
        CommitDurability durability = CommitDurability.SurvivesPowerLoss)
    {
        SqliteSession session = await database.OpenSessionAsync(cancellationToken, durability).ConfigureAwait(false);
        await using (session.ConfigureAwait(false))
        {
            SqliteTransaction transaction = session.Connection.BeginTransaction(deferred: false);
            await using (transaction.ConfigureAwait(false))
            {
                T result = await body(session, transaction).ConfigureAwait(false);
                await transaction.CommitAsync(cancellationToken).ConfigureAwait(false);
                return result;
            }
        }
    }

    /// <summary>
    /// A new command of <paramref name="sql"/> in <paramref name="transaction"/> (none: autocommit), the caller's to
    /// dispose: for a statement that binds a secret, which is wiped when the command is disposed.
    /// </summary>
    public static SqliteCommand CreateCommand(this SqliteConnection connection, SqliteTransaction? transaction, string sql)
    {
        SqliteCommand command = connection.CreateCommand();
        command.Transaction = transaction;
        command.CommandText = sql;
        return command;
    }
}
