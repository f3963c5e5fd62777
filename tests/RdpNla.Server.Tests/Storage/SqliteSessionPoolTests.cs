using System.Data;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using RdpNla.Protocol.Ntlm;
using RdpNla.Server.Storage;
using RdpNla.Tests.Accounts;

namespace RdpNla.Tests.Storage;

/// <summary>The pool of <see cref="RdpNlaDatabase"/>: connections lent and given back with their prepared statements.</summary>
public sealed class SqliteSessionPoolTests : IDisposable
{
    private const string CountUsers = "SELECT count(*) FROM users;";
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private Task<RdpNlaDatabase> OpenAsync() =>
        RdpNlaDatabase.OpenAsync(_directory.DatabasePath, new FakeTimeProvider(new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero)), Ct);

    [Fact]
    public async Task Session_GivenBackAndLentAgain_KeepsItsConnectionAndPreparedStatement()
    {
        await using RdpNlaDatabase database = await OpenAsync();
        SqliteConnection firstConnection;
        SqliteCommand firstStatement;
        await using (SqliteSession first = await database.OpenSessionAsync(Ct))
        {
            firstConnection = first.Connection;
            firstStatement = first.Statement(CountUsers);
            Assert.Equal(0L, (long)(await firstStatement.ExecuteScalarAsync(Ct))!);
        }

        await database.Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw"), Ct);

        await using SqliteSession again = await database.OpenSessionAsync(Ct);
        SqliteCommand statement = again.Statement(CountUsers);

        Assert.Same(firstConnection, again.Connection);
        Assert.Same(firstStatement, statement);
        Assert.Equal(1L, (long)(await statement.ExecuteScalarAsync(Ct))!);
    }

    [Fact]
    public async Task OpenSession_PrefersAnIdleConnectionAlreadySetToTheDurabilityAsked()
    {
        await using RdpNlaDatabase database = await OpenAsync();
        SqliteSession normal = await database.OpenSessionAsync(Ct, CommitDurability.SurvivesProcessCrash);
        SqliteSession full = await database.OpenSessionAsync(Ct);
        await normal.DisposeAsync();
        await full.DisposeAsync();

        SqliteSession lentNormal = await database.OpenSessionAsync(Ct, CommitDurability.SurvivesProcessCrash);
        SqliteSession lentFull = await database.OpenSessionAsync(Ct);

        Assert.Same(normal, lentNormal);
        Assert.Same(full, lentFull);
        await lentNormal.DisposeAsync();
        await lentFull.DisposeAsync();
        Assert.Equal(2, database.IdleSessionCount);
    }

    [Fact]
    public async Task Session_DisposedTwice_IsInThePoolOnce()
    {
        await using RdpNlaDatabase database = await OpenAsync();
        SqliteSession session = await database.OpenSessionAsync(Ct);

        await session.DisposeAsync();
        await session.DisposeAsync();

        Assert.Equal(1, database.IdleSessionCount);
        await using SqliteSession first = await database.OpenSessionAsync(Ct);
        await using SqliteSession second = await database.OpenSessionAsync(Ct);
        Assert.NotSame(first.Connection, second.Connection);
    }

    [Fact]
    public async Task Session_GivenBackInsideATransaction_IsClosedAndTheWriteRolledBack()
    {
        await using RdpNlaDatabase database = await OpenAsync();
        SqliteSession session = await database.OpenSessionAsync(Ct);
        SqliteTransaction transaction = session.Connection.BeginTransaction(deferred: false);
        SqliteCommand insert = session.Statement(
            "INSERT INTO users (name, name_key, nt_hash, password_last_set, created_at, updated_at) VALUES ('bob', 'BOB', zeroblob(16), 'x', 'x', 'x');",
            transaction);
        Assert.Equal(1, await insert.ExecuteNonQueryAsync(Ct));

        await session.DisposeAsync();

        Assert.Equal(ConnectionState.Closed, session.Connection.State);
        Assert.Equal(0, database.IdleSessionCount);
        Assert.Null(await database.Users.FindAsync("bob", Ct));
    }

    [Fact]
    public async Task Dispose_ClosesTheIdleConnections_SoSqliteCheckpointsAndRemovesTheLog()
    {
        RdpNlaDatabase database = await OpenAsync();
        await database.Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw"), Ct);
        SqliteSession session = await database.OpenSessionAsync(Ct);
        await session.DisposeAsync();
        Assert.Equal(ConnectionState.Open, session.Connection.State);
        Assert.True(File.Exists(_directory.DatabasePath + "-wal"));

        await database.DisposeAsync();

        // https://www.sqlite.org/wal.html#the_wal_file: the last connection to close checkpoints and deletes the log.
        Assert.Equal(ConnectionState.Closed, session.Connection.State);
        Assert.False(File.Exists(_directory.DatabasePath + "-wal"));
        await Assert.ThrowsAsync<ObjectDisposedException>(() => database.OpenSessionAsync(Ct));
    }

    [Fact]
    public async Task Session_LentWhenTheDatabaseIsDisposed_IsClosedWhenGivenBack()
    {
        RdpNlaDatabase database = await OpenAsync();
        SqliteSession session = await database.OpenSessionAsync(Ct);

        await database.DisposeAsync();
        Assert.Equal(ConnectionState.Open, session.Connection.State);
        await session.DisposeAsync();

        Assert.Equal(ConnectionState.Closed, session.Connection.State);
        Assert.Equal(0, database.IdleSessionCount);
    }
}
