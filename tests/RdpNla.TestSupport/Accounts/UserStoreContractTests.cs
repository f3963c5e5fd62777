using RdpNla.Protocol.Ntlm;
using RdpNla.Server.Accounts;
using RdpNla.Tests.Support;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Accounts;

/// <summary>
/// What every <see cref="IUserStore"/> must do with logon attempts, whatever its database: a store's test class
/// inherits this and supplies the store. The races run real parallel calls against the real database.
/// </summary>
public abstract class UserStoreContractTests : IAsyncLifetime
{
    protected const int Threshold = 5;

    protected static readonly DateTimeOffset Now = new(2026, 3, 1, 8, 0, 0, TimeSpan.Zero);

    protected static readonly LockoutRules Rules = new(Threshold, TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(15), TimeSpan.FromMinutes(1));

    private static readonly byte[] s_hash = NtlmCrypto.NtOwfV1("Passw0rd!");

    protected static CancellationToken Ct => TestContext.Current.CancellationToken;

    protected IUserStore Store { get; private set; } = null!;

    /// <summary>A new, empty store.</summary>
    protected abstract Task<IUserStore> CreateStoreAsync();

    /// <summary>Releases the store.</summary>
    protected abstract ValueTask DisposeStoreAsync();

    public async ValueTask InitializeAsync()
    {
        Store = await CreateStoreAsync();
        await Store.AddAsync("alice", s_hash, Ct);
    }

    public ValueTask DisposeAsync()
    {
        GC.SuppressFinalize(this);
        return DisposeStoreAsync();
    }

    private enum Answer
    {
        LogonFailure,
        LockedOut,
        Success,
    }

    // One attempt as the front door makes it: reserve, verify (the outcome is given), record. afterReserve runs between
    // the reservation and the record, where the front door verifies the password.
    private async Task<Answer> AttemptAsync(bool rightPassword, Func<Task>? afterReserve = null)
    {
        using AttemptReservation reservation = await Store.ReserveAttemptAsync("alice", Rules, Now, Ct);
        if (afterReserve is not null)
        {
            await afterReserve();
        }

        if (reservation.Admission != AttemptAdmission.Admitted)
        {
            return Answer.LockedOut;
        }

        if (rightPassword)
        {
            AttemptRecord success = await Store.RecordSuccessfulAttemptAsync("alice", Now, Ct);
            return success.LockedOut ? Answer.LockedOut : Answer.Success;
        }

        await Store.RecordFailedAttemptAsync("alice", Rules, Now, Ct);
        return Answer.LogonFailure;
    }

    [Fact]
    public async Task ParallelWrongPasswords_64FromManyConnections_ExactlyThresholdFailuresThenLockedOut()
    {
        // Every attempt has passed its reservation before any records its outcome: the widest race there is.
        int reserved = 0;
        var allReserved = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        Task AfterReserve()
        {
            if (Interlocked.Increment(ref reserved) == 64)
            {
                allReserved.SetResult();
            }

            return allReserved.Task;
        }

        Answer[] answers = await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(() => AttemptAsync(rightPassword: false, AfterReserve), Ct)));

        Assert.Equal(Threshold, answers.Count(a => a == Answer.LogonFailure));
        Assert.Equal(64 - Threshold, answers.Count(a => a == Answer.LockedOut));
        UserAccount account = (await Store.FindAsync("alice", Ct))!;
        Assert.Equal(Threshold, account.FailedLogonCount);
        Assert.True(account.IsLockedOut(Now));
        Assert.Equal(0, LockoutRules.AttemptsInProgress(account, Now));
    }

    [Fact]
    public async Task RightPasswordRacingWrongOnes_NeverSucceedsOnceThresholdFailuresAreCounted()
    {
        for (int round = 0; round < 8; round++)
        {
            await Store.UpdateAsync("alice", a => a with { FailedLogonCount = 0, LastFailedLogon = null, LockedUntil = null }, Ct);
            Task<Answer>[] wrong = Enumerable.Range(0, 32).Select(_ => Task.Run(() => AttemptAsync(rightPassword: false), Ct)).ToArray();
            Answer right = await Task.Run(() => AttemptAsync(rightPassword: true), Ct);
            Answer[] answers = await Task.WhenAll(wrong);
            int failures = answers.Count(a => a == Answer.LogonFailure);

            // Refused: the wrong passwords alone were verified, exactly the threshold of them, and locked the account.
            // Succeeded: fewer than the threshold were counted before it, the count restarted, and at most a threshold
            // more were counted after it.
            UserAccount account = (await Store.FindAsync("alice", Ct))!;
            if (right == Answer.Success)
            {
                Assert.InRange(failures, 0, (2 * Threshold) - 1);
                Assert.InRange(account.FailedLogonCount, 0, Threshold);
            }
            else
            {
                Assert.Equal(Answer.LockedOut, right);
                Assert.Equal(Threshold, failures);
                Assert.True(account.IsLockedOut(Now));
                Assert.Equal(Threshold, account.FailedLogonCount);
            }
        }
    }

    [Fact]
    public async Task RecordSuccessfulAttempt_ThresholdCountedAfterTheReservation_IsRefusedAndKeepsTheLock()
    {
        using AttemptReservation reservation = await Store.ReserveAttemptAsync("alice", Rules, Now, Ct);
        Assert.Equal(AttemptAdmission.Admitted, reservation.Admission);
        await Store.UpdateAsync("alice", a => a with { FailedLogonCount = Threshold, LastFailedLogon = Now, LockedUntil = Now.AddMinutes(15) }, Ct);

        AttemptRecord record = await Store.RecordSuccessfulAttemptAsync("alice", Now, Ct);

        Assert.True(record.LockedOut);
        UserAccount account = (await Store.FindAsync("alice", Ct))!;
        Assert.Equal(Threshold, account.FailedLogonCount);
        Assert.Null(account.LastLogon);
        Assert.Equal(0, LockoutRules.AttemptsInProgress(account, Now));
    }

    [Fact]
    public async Task ReserveAttempt_AdmittedAttemptsFillTheThreshold_NextIsRefusedUntilOneIsRecorded()
    {
        List<AttemptReservation> admitted = [];
        for (int i = 0; i < Threshold; i++)
        {
            admitted.Add(await Store.ReserveAttemptAsync("alice", Rules, Now, Ct));
        }

        using AttemptReservation refused = await Store.ReserveAttemptAsync("alice", Rules, Now, Ct);
        Assert.All(admitted, r => Assert.Equal(AttemptAdmission.Admitted, r.Admission));
        Assert.All(admitted, r => Assert.Equal(s_hash, r.Credential!.NtHash.ToArray()));
        Assert.Equal(AttemptAdmission.ThresholdInProgress, refused.Admission);
        Assert.Null(refused.Credential);

        Assert.False((await Store.RecordSuccessfulAttemptAsync("alice", Now, Ct)).LockedOut);
        using AttemptReservation again = await Store.ReserveAttemptAsync("alice", Rules, Now, Ct);
        Assert.Equal(AttemptAdmission.Admitted, again.Admission);
        admitted.ForEach(r => r.Dispose());
    }

    [Fact]
    public async Task ReserveAttempt_NeverRecorded_StopsCountingAfterTheReservationLifetime()
    {
        for (int i = 0; i < Threshold; i++)
        {
            using AttemptReservation reservation = await Store.ReserveAttemptAsync("alice", Rules, Now, Ct);
        }

        using AttemptReservation during = await Store.ReserveAttemptAsync("alice", Rules, Now + Rules.ReservationLifetime - TimeSpan.FromTicks(1), Ct);
        using AttemptReservation after = await Store.ReserveAttemptAsync("alice", Rules, Now + Rules.ReservationLifetime, Ct);

        Assert.Equal(AttemptAdmission.ThresholdInProgress, during.Admission);
        Assert.Equal(AttemptAdmission.Admitted, after.Admission);
    }

    [Fact]
    public async Task Attempts_UnknownUser_AnsweredAsUnknownAndCreateNoUser()
    {
        using AttemptReservation reservation = await Store.ReserveAttemptAsync("nobody", Rules, Now, Ct);
        AttemptRecord failure = await Store.RecordFailedAttemptAsync("nobody", Rules, Now, Ct);
        AttemptRecord success = await Store.RecordSuccessfulAttemptAsync("nobody", Now, Ct);
        await Store.WriteDecoyAttemptAsync(DecoyStep.Reservation, Now, Ct);
        await Store.WriteDecoyAttemptAsync(DecoyStep.Failure, Now, Ct);

        Assert.Equal(AttemptAdmission.UnknownUser, reservation.Admission);
        Assert.Null(reservation.Credential);
        Assert.Null(failure.Account);
        Assert.Null(success.Account);
        Assert.Equal(["alice"], (await Store.ListAsync(Ct)).Select(a => a.UserName));
    }

    [Fact]
    public async Task Attempts_ThresholdZero_AdmitsEveryAttemptAndNeverLocks()
    {
        var never = Rules with { Threshold = 0 };
        for (int i = 0; i < 3 * Threshold; i++)
        {
            using AttemptReservation reservation = await Store.ReserveAttemptAsync("alice", never, Now, Ct);
            Assert.Equal(AttemptAdmission.Admitted, reservation.Admission);
            Assert.False((await Store.RecordFailedAttemptAsync("alice", never, Now, Ct)).LockedOut);
        }
    }
}
