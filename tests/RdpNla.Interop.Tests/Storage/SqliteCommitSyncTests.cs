using System.Text.Json;
using Microsoft.Data.Sqlite;
using RdpNla.Tests.Accounts;
using RdpNla.Tests.Client;
using RdpNla.Tests.Support;

namespace RdpNla.Tests.Storage;

/// <summary>
/// How often a logon waits for the disk with the SQLite store, counted by strace on a real <c>rdpnla serve</c>: a
/// correct password once (its audit row); a wrong password, a name that matches no user and a foreign domain twice each
/// (the counted failure, or its decoy, and the audit row). The reservation and the recorded success are committed
/// without a sync (<c>SqliteUserStore</c>, docs/hardening.md).
/// </summary>
public sealed class SqliteCommitSyncTests : IAsyncDisposable
{
    private const string Password = "Passw0rd!";
    private static readonly TimeSpan AuditWait = TimeSpan.FromSeconds(20);
    private readonly TempDirectory _directory = new();
    private ServeProcess? _server;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Logon_CorrectPasswordSyncsOnce_WrongPasswordUnknownUserAndForeignDomainSyncTwice()
    {
        string strace = Peers.Require("strace");
        string trace = Path.Combine(_directory.Path, "fsync.trace");
        string config = Path.Combine(_directory.Path, "settings.json");
        await File.WriteAllTextAsync(config, """{ "LockoutThreshold": 0, "Limits": { "MaxConnectionRatePerAddress": 0, "PenaltiesEnabled": false } }""", Ct);
        await ServeProcess.AddUserAsync(_directory.Path, "alice", Password);
        _server = await ServeProcess.StartUnderAsync(
            [strace, "--follow-forks", "--quiet=all", "--trace=fsync,fdatasync", "--decode-fds=path", "--output=" + trace],
            _directory.Path,
            config,
            null,
            "--domain",
            "RDPNLA");

        // The first write of a fresh write-ahead log also syncs the log's header and the folder that holds it.
        await LogonAsync("alice", Password, "success");

        int[] syncs =
        [
            await SyncsOfLogonAsync("alice", Password, "success"),
            await SyncsOfLogonAsync("alice", "wrong", "failure"),
            await SyncsOfLogonAsync("nobody", "wrong", "failure"),
            await SyncsOfLogonAsync(@"OTHER\alice", Password, "failure"),
            await SyncsOfLogonAsync("alice", Password, "success"),
        ];

        Assert.True(syncs.SequenceEqual([1, 2, 2, 2, 1]), $"syncs per logon: {string.Join(", ", syncs)}\n{File.ReadAllText(trace)}");

        async Task<int> SyncsOfLogonAsync(string user, string password, string result)
        {
            int before = CountSyncs(trace);
            await LogonAsync(user, password, result);
            return CountSyncs(trace) - before;
        }
    }

    /// <summary>
    /// A logon through the CLI, then the wait for its audit row, the last write of a logon: SQLite syncs the log before
    /// it makes a commit visible (https://www.sqlite.org/wal.html), so every sync of the logon is traced by then.
    /// </summary>
    private async Task LogonAsync(string user, string password, string result)
    {
        long rows = await AuditRowsAsync();
        (CliResult login, JsonElement json) = await ClientCli.LoginJsonAsync(_server!.Address, user, password);
        Assert.True(json.Str("result") == result, $"{login.Output}\n{login.Error}\n{_server.Output}");
        var waited = System.Diagnostics.Stopwatch.StartNew();
        while (await AuditRowsAsync() <= rows)
        {
            Assert.True(waited.Elapsed < AuditWait, $"no audit row for {user} within {AuditWait.TotalSeconds} s:\n{_server.Output}");
            await Task.Delay(20, Ct);
        }
    }

    private async Task<long> AuditRowsAsync()
    {
        // Read-only and outside the server's pool: this connection writes nothing, and it is not traced.
        await using var connection = new SqliteConnection($"Data Source={_directory.DatabasePath};Mode=ReadOnly;Pooling=False");
        await connection.OpenAsync(Ct);
        await using SqliteCommand count = connection.CreateCommand();
        count.CommandText = "SELECT count(*) FROM audit;";
        return (long)(await count.ExecuteScalarAsync(Ct))!;
    }

    private static int CountSyncs(string trace) =>
        File.ReadLines(trace).Count(line => line.Contains("fsync(", StringComparison.Ordinal) || line.Contains("fdatasync(", StringComparison.Ordinal));

    public async ValueTask DisposeAsync()
    {
        if (_server is not null)
        {
            await _server.DisposeAsync();
        }

        _directory.Dispose();
    }
}
