using Microsoft.Data.Sqlite;

namespace RdpNla.Server.Storage;

/// <summary>One statement on its own pooled connection (a single statement is its own transaction).</summary>
internal static class SqliteStatements
{
    /// <summary>Runs <paramref name="sql"/>; true when it changed at least one row.</summary>
    public static async Task<bool> ExecuteAsync(this RdpNlaDatabase database, string sql, Action<SqliteCommand> bind, CancellationToken cancellationToken)
    {
        SqliteConnection connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = sql;
            bind(command);
            return await command.ExecuteNonQueryAsync(cancellationToken).ConfigureAwait(false) > 0;
        }
    }

    /// <summary>The first column of the first row of <paramref name="sql"/>, or null (also for SQL NULL).</summary>
    public static async Task<object?> ScalarAsync(this RdpNlaDatabase database, string sql, Action<SqliteCommand> bind, CancellationToken cancellationToken)
    {
        SqliteConnection connection = await database.OpenConnectionAsync(cancellationToken).ConfigureAwait(false);
        await using (connection.ConfigureAwait(false))
        {
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = sql;
            bind(command);
            object? value = await command.ExecuteScalarAsync(cancellationToken).ConfigureAwait(false);
            return value is DBNull ? null : value;
        }
    }
}
