using System.Diagnostics;
using Microsoft.Data.Sqlite;
using Microsoft.Extensions.Time.Testing;
using RdpNla.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Protocol.Rdp;
using RdpNla.Server.Accounts;
using RdpNla.Server.Audit;
using RdpNla.Server.FrontDoor;

namespace RdpNla.Tests.FrontDoor;

/// <summary>The front door and its account database: atomic lockout, the verified password on record before the server's proof, store faults.</summary>
public class FrontDoorAccountStoreTests
{
    private const string Password = "Passw0rd!";
    private const SecurityProtocols Nla = SecurityProtocols.Ssl | SecurityProtocols.Hybrid;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static async Task<TestFrontDoor> StartAsync(Action<FrontDoorLimits>? limits = null, TimeProvider? timeProvider = null)
    {
        TestFrontDoor door = await TestFrontDoor.StartAsync(
            o =>
            {
                o.Limits.PenaltiesEnabled = false;
                o.Limits.MaxUnauthenticatedConnectionsPerAddress = 128;
                o.Limits.HandshakeTimeout = TimeSpan.FromSeconds(60);
                limits?.Invoke(o.Limits);
            },
            timeProvider: timeProvider);
        await door.AddUserAsync("alice", Password);
        return door;
    }

    private static async Task WaitForLogAsync(TestFrontDoor door, string text)
    {
        for (int i = 0; i < 400 && !door.LogText.Contains(text, StringComparison.Ordinal); i++)
        {
            await Task.Delay(25, Ct);
        }

        Assert.Contains(text, door.LogText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_64ParallelWrongPasswords_ExactlyThresholdLogonFailuresThenLockedOut()
    {
        await using TestFrontDoor door = await StartAsync();

        TestRdpOutcome[] outcomes = await Task.WhenAll(Enumerable.Range(0, 64).Select(_ =>
            Task.Run(() => TestRdpClient.ConnectAsync(door.Port, Nla, "alice", "wrong", cancellationToken: Ct), Ct)));

        IReadOnlyList<AuditEntry> rows = await door.WaitForAuditAsync(64);
        int threshold = new AccountPolicyOptions().LockoutThreshold;
        Assert.Equal(threshold, outcomes.Count(o => o.ServerErrorCode == NtStatus.LogonFailure));
        Assert.Equal(64 - threshold, outcomes.Count(o => o.ServerErrorCode == NtStatus.AccountLockedOut));
        Assert.Equal(threshold, rows.Count(r => r.Status == NtStatus.LogonFailure));
        Assert.Equal(64 - threshold, rows.Count(r => r.Status == NtStatus.AccountLockedOut));
        Assert.Equal(NtStatus.AccountLockedOut, (await TestRdpClient.ConnectAsync(door.Port, Nla, "alice", Password, cancellationToken: Ct)).ServerErrorCode);
    }

    [Fact]
    public async Task Connect_16ParallelCorrectPasswordsOfOneUser_AllSucceedWaitingForAdmission()
    {
        // Threshold 2: sixteen logons at once keep more than two in progress most of the time, as a service account
        // opening many sessions together does with the default threshold.
        await using TestFrontDoor door = await TestFrontDoor.StartAsync(
            o =>
            {
                o.Limits.PenaltiesEnabled = false;
                o.Limits.MaxUnauthenticatedConnectionsPerAddress = 128;
                o.Limits.HandshakeTimeout = TimeSpan.FromSeconds(60);
            },
            new AccountPolicyOptions { LockoutThreshold = 2, LockoutAdmissionWait = TimeSpan.FromSeconds(30) });
        await door.AddUserAsync("alice", Password);

        // The first round meets the threshold held for certain: two attempts in progress reserved through the store
        // (as another instance's would be), released only once all sixteen logons have tried to reserve and so wait.
        var held = new LockoutRules(2, TimeSpan.FromMinutes(30), TimeSpan.FromMinutes(30), TimeSpan.FromMinutes(5));
        for (int i = 0; i < 2; i++)
        {
            using AttemptReservation reservation = await door.Database.Users.ReserveAttemptAsync("alice", held, DateTimeOffset.UtcNow, Ct);
            Assert.Equal(AttemptAdmission.Admitted, reservation.Admission);
        }

        var outcomes = new List<TestRdpOutcome>();
        for (int round = 0; round < 4; round++)
        {
            Task<TestRdpOutcome[]> logons = Task.WhenAll(Enumerable.Range(0, 16).Select(_ =>
                Task.Run(() => TestRdpClient.ConnectAsync(door.Port, Nla, "alice", Password, cancellationToken: Ct), Ct)));
            if (round == 0)
            {
                for (int i = 0; i < 2400 && CountOf(door.LogText, "Waiting on the account database: the account lookup") < 16; i++)
                {
                    await Task.Delay(25, Ct);
                }

                Assert.False(logons.IsCompleted, "the logons ended while two attempts in progress held the threshold");
                for (int i = 0; i < 2; i++)
                {
                    await door.Database.Users.RecordSuccessfulAttemptAsync("alice", DateTimeOffset.UtcNow, Ct);
                }
            }

            outcomes.AddRange(await logons);
        }

        Assert.All(outcomes, o => Assert.True(o.CredSspStatus == NlaStatus.Completed && o.ServerErrorCode is null, $"{o.CredSspStatus} {o.ServerErrorCode} {o.Error}"));
        IReadOnlyList<AuditEntry> rows = await door.WaitForAuditAsync(64);
        Assert.Equal(64, rows.Count(r => r.Outcome == AuditOutcome.Success));
        // The attempts did contend: some waited for admission (and none was refused).
        int waited = CountOf(door.LogText, "for attempts in progress (LockoutAdmissionWait): Admitted");
        Assert.True(waited > 0, "no attempt had to wait: the test did not reach the contention it is about");
        Assert.Equal(0, CountOf(door.LogText, "for attempts in progress (LockoutAdmissionWait): ThresholdInProgress"));
        UserAccount alice = (await door.Database.Users.FindAsync("alice", Ct))!;
        Assert.Equal(0, LockoutRules.AttemptsInProgress(alice, DateTimeOffset.UtcNow));
        TestContext.Current.TestOutputHelper?.WriteLine($"{waited} of 64 logons waited for admission");
    }

    private static int CountOf(string text, string value)
    {
        int count = 0;
        for (int at = text.IndexOf(value, StringComparison.Ordinal); at >= 0; at = text.IndexOf(value, at + value.Length, StringComparison.Ordinal))
        {
            count++;
        }

        return count;
    }

    [Fact]
    public async Task Connect_ClientClosesRightAfterTheServersProof_VerifiedPasswordWasAuditedBeforeTheProof()
    {
        await using TestFrontDoor door = await StartAsync();
        IReadOnlyList<AuditEntry> whenProofArrived = [];

        TestRdpOutcome outcome = await TestRdpClient.ConnectAsync(
            door.Port, Nla, "alice", Password, onServerProof: async () => whenProofArrived = await door.AuditAsync(), cancellationToken: Ct);

        Assert.Equal(NlaStatus.ContinueNeeded, outcome.CredSspStatus);
        AuditEntry verified = Assert.Single(whenProofArrived);
        Assert.Equal((AuditOutcome.Success, NtStatus.Success, "authenticated with NTLM; password verified", "alice"), (verified.Outcome, verified.Status, verified.Reason, verified.UserName));
        IReadOnlyList<AuditEntry> rows = await door.WaitForAuditAsync(2);
        Assert.Equal(2, rows.Count);
        Assert.Equal(AuditOutcome.Error, rows[1].Outcome);
        Assert.Contains("client closed the connection", rows[1].Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_UserTableRefusesWrites_FailsWithInternalDbErrorAuditsTheErrorAndKeepsServing()
    {
        await using TestFrontDoor door = await StartAsync();
        await ExecuteAsync(door, """
            CREATE TRIGGER users_read_only BEFORE UPDATE ON users BEGIN SELECT RAISE(ABORT, 'attempt to write a readonly database'); END;
            CREATE TRIGGER decoy_read_only BEFORE UPDATE ON attempt_decoy BEGIN SELECT RAISE(ABORT, 'attempt to write a readonly database'); END;
            """);

        TestRdpOutcome right = await TestRdpClient.ConnectAsync(door.Port, Nla, "alice", Password, cancellationToken: Ct);
        TestRdpOutcome unknown = await TestRdpClient.ConnectAsync(door.Port, Nla, "nobody", Password, cancellationToken: Ct);
        await ExecuteAsync(door, "DROP TRIGGER users_read_only; DROP TRIGGER decoy_read_only;");
        TestRdpOutcome after = await TestRdpClient.ConnectAsync(door.Port, Nla, "alice", Password, cancellationToken: Ct);

        Assert.Equal(NtStatus.InternalDbError, right.ServerErrorCode);
        Assert.Equal(NtStatus.InternalDbError, unknown.ServerErrorCode);
        Assert.Equal(NlaStatus.Completed, after.CredSspStatus);
        IReadOnlyList<AuditEntry> rows = await door.WaitForAuditAsync(3);
        Assert.All(rows.Take(2), r => Assert.Equal((AuditOutcome.Error, NtStatus.InternalDbError), (r.Outcome, r.Status)));
        Assert.Contains("account database failed during the account lookup", rows[0].Reason, StringComparison.Ordinal);
        Assert.Equal(AuditOutcome.Success, rows[2].Outcome);
        Assert.Contains("The account database failed during the account lookup (SqliteException", door.LogText, StringComparison.Ordinal);
        Assert.Equal(0, (await door.Database.Users.FindAsync("alice", Ct))!.FailedLogonCount);
    }

    [Fact]
    public async Task Connect_AuditTableRefusesWrites_VerifiedPasswordIsNotLetThroughUnrecorded()
    {
        await using TestFrontDoor door = await StartAsync();
        await ExecuteAsync(door, "CREATE TRIGGER audit_read_only BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'attempt to write a readonly database'); END;");

        TestRdpOutcome outcome = await TestRdpClient.ConnectAsync(door.Port, Nla, "alice", Password, cancellationToken: Ct);

        Assert.Equal(NtStatus.InternalDbError, outcome.ServerErrorCode);
        Assert.Contains("Writing the audit record failed: SqliteException", door.LogText, StringComparison.Ordinal);
        Assert.Contains("the logon fails with STATUS_INTERNAL_DB_ERROR", door.LogText, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_AuditTableRefusesWritesAfterTheWrongPasswordWasCounted_FailsWithInternalDbErrorNotLogonFailure()
    {
        await using TestFrontDoor door = await StartAsync();
        await ExecuteAsync(door, "CREATE TRIGGER audit_refuses BEFORE INSERT ON audit BEGIN SELECT RAISE(ABORT, 'audit refused by the test'); END;");

        var fault = Stopwatch.StartNew();
        TestRdpOutcome[] wrong = [
            await TestRdpClient.ConnectAsync(door.Port, Nla, "alice", "wrong-1", cancellationToken: Ct),
            await TestRdpClient.ConnectAsync(door.Port, Nla, "alice", "wrong-2", cancellationToken: Ct),
        ];
        TimeSpan faultLength = fault.Elapsed;
        int counted = (await door.Database.Users.FindAsync("alice", Ct))!.FailedLogonCount;
        // A refused attempt's error row is written after its client has the answer: wait for both connections to end,
        // so that none of their writes meets the table after the trigger is gone.
        for (int i = 0; i < 400 && door.Host.Server.ActiveConnections > 0; i++)
        {
            await Task.Delay(25, Ct);
        }

        Assert.Equal(0, door.Host.Server.ActiveConnections);
        string faultLog = door.LogText;
        await ExecuteAsync(door, "DROP TRIGGER audit_refuses;");
        TestRdpOutcome after = await TestRdpClient.ConnectAsync(door.Port, Nla, "alice", Password, cancellationToken: Ct);

        // The wrong passwords were counted, but no row says so: the client is told the server's fault, not a refusal.
        Assert.All(wrong, w => Assert.Equal(NtStatus.InternalDbError, w.ServerErrorCode));
        Assert.Equal(2, counted);
        // Each logon fails two writes (its failure row, then its error row); the lines stay within the bound.
        Assert.InRange(faultLog.Split("Writing the audit record failed: SqliteException").Length - 1, 1, 1 + (int)(faultLength.TotalSeconds / 10));
        Assert.Contains("audit refused by the test", faultLog, StringComparison.Ordinal);
        Assert.DoesNotContain("The account database failed during", faultLog, StringComparison.Ordinal);
        Assert.DoesNotContain("The account database answers again", faultLog, StringComparison.Ordinal);
        Assert.Equal(NlaStatus.Completed, after.CredSspStatus);
        Assert.Equal(AuditOutcome.Success, Assert.Single(await door.WaitForAuditAsync(1)).Outcome);
    }

    [Fact]
    public async Task Connect_DatabaseLockedByAnotherProcessBeyondStoreTimeout_FailsAsBusyWithoutBlamingTheClientAndKeepsServing()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using TestFrontDoor door = await StartAsync(l => l.StoreTimeout = TimeSpan.FromSeconds(30), clock);
        await using (DatabaseLocker locker = await DatabaseLocker.LockAsync(door.Database.FilePath))
        {
            Task<TestRdpOutcome> locked = TestRdpClient.ConnectAsync(door.Port, Nla, "alice", Password, cancellationToken: Ct);
            await WaitForLogAsync(door, "Waiting on the account database: the account lookup");
            clock.Advance(TimeSpan.FromSeconds(31));

            Assert.Equal(NtStatus.InternalDbError, (await locked).ServerErrorCode);
        }

        TestRdpOutcome after = await TestRdpClient.ConnectAsync(door.Port, Nla, "alice", Password, cancellationToken: Ct);

        Assert.Equal(NlaStatus.Completed, after.CredSspStatus);
        Assert.Contains("account database busy", door.LogText, StringComparison.Ordinal);
        Assert.DoesNotContain("Limits:MinDataRate", door.LogText, StringComparison.Ordinal);
        Assert.DoesNotContain("Deadline of", door.LogText, StringComparison.Ordinal);
        IReadOnlyList<AuditEntry> rows = await door.WaitForAuditAsync(2);
        AuditEntry busy = Assert.Single(rows, r => r.Outcome == AuditOutcome.Error);
        Assert.Equal(NtStatus.InternalDbError, busy.Status);
        Assert.StartsWith("account database busy", busy.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_DatabaseLockedWhileTheClientsDeadlinesPass_TheWaitIsTheServersAndTheLogonSucceeds()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        await using TestFrontDoor door = await StartAsync(
            l =>
            {
                l.StoreTimeout = TimeSpan.FromMinutes(10);
                l.HandshakeTimeout = TimeSpan.FromSeconds(20);
                l.MinDataRate = 240;
                l.MinDataRateGracePeriod = TimeSpan.FromSeconds(5);
            },
            clock);
        Task<TestRdpOutcome> logon;
        await using (DatabaseLocker locker = await DatabaseLocker.LockAsync(door.Database.FilePath))
        {
            logon = TestRdpClient.ConnectAsync(door.Port, Nla, "alice", Password, cancellationToken: Ct);
            await WaitForLogAsync(door, "Waiting on the account database: the account lookup");

            // Far past the handshake deadline, and about 1 KB in 60 s is far below 240 bytes/s: both would end the
            // connection if the server's own wait counted against the client.
            clock.Advance(TimeSpan.FromSeconds(60));
        }

        Assert.Equal(NlaStatus.Completed, (await logon).CredSspStatus);
        Assert.DoesNotContain("Limits:MinDataRate", door.LogText, StringComparison.Ordinal);
        Assert.DoesNotContain("Deadline of", door.LogText, StringComparison.Ordinal);
        Assert.Equal(AuditOutcome.Success, Assert.Single(await door.WaitForAuditAsync(1)).Outcome);
    }

    private static async Task ExecuteAsync(TestFrontDoor door, string sql)
    {
        await using var connection = new SqliteConnection($"Data Source={door.Database.FilePath};Pooling=False");
        await connection.OpenAsync(Ct);
        await using SqliteCommand command = connection.CreateCommand();
        command.CommandText = sql;
        await command.ExecuteNonQueryAsync(Ct);
    }

    /// <summary>Another process (python3's sqlite3) holding the database's write lock until disposed.</summary>
    private sealed class DatabaseLocker : IAsyncDisposable
    {
        private readonly Process _process;

        private DatabaseLocker(Process process) => _process = process;

        public static async Task<DatabaseLocker> LockAsync(string path)
        {
            var start = new ProcessStartInfo(Peers.Require("python3"))
            {
                RedirectStandardInput = true,
                RedirectStandardOutput = true,
                UseShellExecute = false,
            };
            start.ArgumentList.Add("-c");
            start.ArgumentList.Add(
                "import sqlite3, sys\n" +
                "c = sqlite3.connect(sys.argv[1], isolation_level=None)\n" +
                "c.execute('BEGIN EXCLUSIVE')\n" +
                "print('locked', flush=True)\n" +
                "sys.stdin.readline()\n" +
                "c.execute('COMMIT')\n");
            start.ArgumentList.Add(path);
            Process process = Process.Start(start)!;
            string? line = await process.StandardOutput.ReadLineAsync(Ct);
            Assert.Equal("locked", line);
            return new DatabaseLocker(process);
        }

        public async ValueTask DisposeAsync()
        {
            await _process.StandardInput.WriteLineAsync();
            await _process.StandardInput.FlushAsync(Ct);
            await _process.WaitForExitAsync(Ct);
            _process.Dispose();
        }
    }
}
