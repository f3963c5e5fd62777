using System.Globalization;
using System.Text.RegularExpressions;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging.Testing;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;
using RdpNla.Protocol;
using RdpNla.Protocol.Ntlm;
using RdpNla.Server.Accounts;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Accounts;

public class AccountPolicyTests : IAsyncLifetime
{
    private static readonly LocalDomainNames s_local = new("rdpgw01", "rdpgw01.corp.example", "LAB");
    private readonly TempDirectory _directory = new();
    private readonly FakeTimeProvider _time = new(new DateTimeOffset(2026, 3, 1, 8, 0, 0, TimeSpan.Zero));
    private readonly FakeLogger<AccountPolicy> _logger = new();
    private RdpNlaDatabase _database = null!;

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    private static readonly AccountName s_alice = AccountName.Parse("alice");

    public async ValueTask InitializeAsync()
    {
        _database = await RdpNlaDatabase.OpenAsync(_directory.DatabasePath, _time, Ct);
        await _database.Users.AddAsync("Alice", NtlmCrypto.NtOwfV1("pw"), Ct);
    }

    public async ValueTask DisposeAsync()
    {
        await _database.DisposeAsync();
        _directory.Dispose();
    }

    private AccountPolicy CreatePolicy(int threshold = 3, int windowMinutes = 10, int durationMinutes = 30, TimeSpan? admissionWait = null, int admissionWaiters = 32) =>
        new(_database.Users, s_local, Options.Create(new AccountPolicyOptions
        {
            LockoutThreshold = threshold,
            LockoutWindow = TimeSpan.FromMinutes(windowMinutes),
            LockoutDuration = TimeSpan.FromMinutes(durationMinutes),
            LockoutAdmissionWait = admissionWait ?? TimeSpan.FromSeconds(2),
            LockoutAdmissionWaiters = admissionWaiters,
        }), _time, _logger);

    // Admits `count` attempts of alice and keeps them in progress (their hashes wiped at once).
    private static async Task ReserveAsync(AccountPolicy policy, int count)
    {
        for (int i = 0; i < count; i++)
        {
            using PreVerification check = await policy.CheckBeforeVerificationAsync(s_alice, Ct);
            Assert.Equal(PreVerificationResult.Proceed, check.Result);
        }
    }

    // With `inProgress` attempts of alice admitted and not recorded (the threshold), starts one more and checks it waits.
    private static async Task<Task<PreVerification>> StartWaitingAttemptAsync(AccountPolicy policy, int inProgress, CancellationToken cancellationToken)
    {
        await ReserveAsync(policy, inProgress);
        Task<PreVerification> waiting = policy.CheckBeforeVerificationAsync(s_alice, cancellationToken);
        Assert.False(waiting.IsCompleted);
        Assert.Equal(1, policy.AttemptsWaiting("ALICE"));
        return waiting;
    }

    private async Task<PreVerificationResult> CheckAsync(AccountPolicy policy, AccountName? name = null)
    {
        using PreVerification check = await policy.CheckBeforeVerificationAsync(name ?? s_alice, Ct);
        return check.Result;
    }

    [Fact]
    public async Task CheckBeforeVerificationAsync_KnownUser_ProceedsWithStoredHashAndSuccess()
    {
        AccountPolicy policy = CreatePolicy();

        using PreVerification check = await policy.CheckBeforeVerificationAsync(AccountName.FromCredentials("ALICE", "rdpgw01"), Ct);

        Assert.Equal(PreVerificationResult.Proceed, check.Result);
        Assert.Equal(NtlmCrypto.NtOwfV1("pw"), check.NtHash.ToArray());
        Assert.Equal(NtStatus.Success, check.StatusIfPasswordCorrect);
        Assert.Equal(NtStatus.LogonFailure, check.StatusIfPasswordWrong);
        Assert.Equal("Alice", check.Account!.UserName);
        Assert.True(check.NeedsPasswordVerification);
    }

    [Fact]
    public async Task CheckBeforeVerificationAsync_Dispose_WipesHash()
    {
        PreVerification check = await CreatePolicy().CheckBeforeVerificationAsync(s_alice, Ct);

        check.Dispose();

        Assert.True(check.NtHash.IsEmpty);
    }

    [Theory]
    [InlineData("bob", "")]
    [InlineData("alice", "CORP")]
    [InlineData("alice@corp.net", "")]
    public async Task CheckBeforeVerificationAsync_UnknownUserOrForeignDomain_LogonFailureWithDecoyHash(string user, string domain)
    {
        using PreVerification check = await CreatePolicy().CheckBeforeVerificationAsync(AccountName.FromCredentials(user, domain), Ct);

        Assert.Equal(PreVerificationResult.UnknownUser, check.Result);
        Assert.Equal(16, check.NtHash.Length);
        Assert.NotEqual(NtlmCrypto.NtOwfV1("pw"), check.NtHash.ToArray());
        Assert.Equal(NtStatus.LogonFailure, check.StatusIfPasswordCorrect);
        Assert.Equal(NtStatus.LogonFailure, check.StatusIfPasswordWrong);
        Assert.True(check.NeedsPasswordVerification);
        Assert.Null(check.Account);
    }

    [Fact]
    public async Task CheckBeforeVerificationAsync_UnknownUser_DecoyDiffersEachTime()
    {
        AccountPolicy policy = CreatePolicy();
        using PreVerification first = await policy.CheckBeforeVerificationAsync(AccountName.Parse("bob"), Ct);
        using PreVerification second = await policy.CheckBeforeVerificationAsync(AccountName.Parse("bob"), Ct);

        Assert.NotEqual(first.NtHash.ToArray(), second.NtHash.ToArray());
    }

    [Theory]
    [InlineData(true, false, false, NtStatus.AccountDisabled)]
    [InlineData(false, true, false, NtStatus.PasswordExpired)]
    [InlineData(false, false, true, NtStatus.PasswordMustChange)]
    [InlineData(true, true, true, NtStatus.AccountDisabled)]
    [InlineData(false, true, true, NtStatus.PasswordMustChange)]
    public async Task CheckBeforeVerificationAsync_AccountState_RevealedOnlyIfPasswordCorrect(bool disabled, bool expired, bool mustChange, NtStatus expected)
    {
        await _database.Users.UpdateAsync("alice", a => a with { Disabled = disabled, PasswordExpired = expired, MustChangePassword = mustChange }, Ct);

        using PreVerification check = await CreatePolicy().CheckBeforeVerificationAsync(s_alice, Ct);

        Assert.Equal(PreVerificationResult.Proceed, check.Result);
        Assert.Equal(expected, check.StatusIfPasswordCorrect);
        Assert.Equal(NtStatus.LogonFailure, check.StatusIfPasswordWrong);
    }

    [Fact]
    public async Task CheckBeforeVerificationAsync_RemoteLogonDenied_ProceedsAndExposesFlag()
    {
        await _database.Users.UpdateAsync("alice", a => a with { RemoteLogonDenied = true }, Ct);

        using PreVerification check = await CreatePolicy().CheckBeforeVerificationAsync(s_alice, Ct);

        Assert.Equal(NtStatus.Success, check.StatusIfPasswordCorrect);
        Assert.False(check.Account!.RemoteLogonAllowed);
    }

    [Fact]
    public async Task RecordFailureAsync_ThresholdWithinWindow_LocksOut()
    {
        AccountPolicy policy = CreatePolicy(threshold: 3, windowMinutes: 10, durationMinutes: 30);

        FailedLogonResult first = await policy.RecordFailureAsync(s_alice, Ct);
        _time.Advance(TimeSpan.FromMinutes(4));
        FailedLogonResult second = await policy.RecordFailureAsync(s_alice, Ct);
        Assert.Equal(PreVerificationResult.Proceed, await CheckAsync(policy));
        _time.Advance(TimeSpan.FromMinutes(4));
        FailedLogonResult third = await policy.RecordFailureAsync(s_alice, Ct);

        Assert.Equal((1, false), (first.FailedLogonCount, first.LockedNow));
        Assert.Equal((2, false), (second.FailedLogonCount, second.LockedNow));
        Assert.Equal((3, true), (third.FailedLogonCount, third.LockedNow));
        Assert.Equal(_time.GetUtcNow().AddMinutes(30), third.LockedUntil);
        using PreVerification check = await policy.CheckBeforeVerificationAsync(s_alice, Ct);
        Assert.Equal(PreVerificationResult.LockedOut, check.Result);
        Assert.Equal(NtStatus.AccountLockedOut, check.StatusIfPasswordCorrect);
        Assert.Equal(NtStatus.AccountLockedOut, check.StatusIfPasswordWrong);
        Assert.False(check.NeedsPasswordVerification);
        Assert.NotEqual(NtlmCrypto.NtOwfV1("pw"), check.NtHash.ToArray());
        Assert.Contains(_logger.Collector.GetSnapshot(), r => r.Id.Id == 4100 && r.Message.Contains("Alice", StringComparison.Ordinal));
    }

    [Fact]
    public async Task RecordFailureAsync_FailuresSpreadBeyondWindow_NeverLocks()
    {
        AccountPolicy policy = CreatePolicy(threshold: 3, windowMinutes: 10);

        for (int i = 0; i < 6; i++)
        {
            FailedLogonResult result = await policy.RecordFailureAsync(s_alice, Ct);
            Assert.Equal(1, result.FailedLogonCount);
            Assert.False(result.LockedNow);
            _time.Advance(TimeSpan.FromMinutes(10));
        }

        Assert.Equal(PreVerificationResult.Proceed, await CheckAsync(policy));
    }

    [Fact]
    public async Task CheckBeforeVerificationAsync_LockoutDurationPassed_ReleasesAndCountsAfresh()
    {
        AccountPolicy policy = CreatePolicy(threshold: 2, windowMinutes: 10, durationMinutes: 30);
        await policy.RecordFailureAsync(s_alice, Ct);
        await policy.RecordFailureAsync(s_alice, Ct);

        _time.Advance(TimeSpan.FromMinutes(30) - TimeSpan.FromTicks(1));
        Assert.Equal(PreVerificationResult.LockedOut, await CheckAsync(policy));
        _time.Advance(TimeSpan.FromTicks(1));
        Assert.Equal(PreVerificationResult.Proceed, await CheckAsync(policy));

        FailedLogonResult afterRelease = await policy.RecordFailureAsync(s_alice, Ct);
        Assert.Equal(1, afterRelease.FailedLogonCount);
        Assert.False(afterRelease.LockedNow);
    }

    [Fact]
    public async Task RecordFailureAsync_WhileLocked_DoesNotExtendLock()
    {
        AccountPolicy policy = CreatePolicy(threshold: 1, durationMinutes: 30);
        FailedLogonResult locked = await policy.RecordFailureAsync(s_alice, Ct);
        _time.Advance(TimeSpan.FromMinutes(20));

        FailedLogonResult again = await policy.RecordFailureAsync(s_alice, Ct);

        Assert.False(again.LockedNow);
        Assert.Equal(locked.LockedUntil, again.LockedUntil);
    }

    [Fact]
    public async Task RecordSuccessAsync_AfterFailures_ResetsCounter()
    {
        AccountPolicy policy = CreatePolicy(threshold: 3);
        await policy.RecordFailureAsync(s_alice, Ct);
        await policy.RecordFailureAsync(s_alice, Ct);

        await policy.RecordSuccessAsync(s_alice, cancellationToken: Ct);
        FailedLogonResult next = await policy.RecordFailureAsync(s_alice, Ct);
        await policy.RecordFailureAsync(s_alice, Ct);

        Assert.Equal(1, next.FailedLogonCount);
        Assert.Equal(PreVerificationResult.Proceed, await CheckAsync(policy));
        UserAccount account = (await _database.Users.FindAsync("alice", Ct))!;
        Assert.Equal(2, account.FailedLogonCount);
    }

    [Fact]
    public async Task RecordSuccessAsync_KnownUser_RecordsLastLogon()
    {
        await CreatePolicy().RecordSuccessAsync(s_alice, cancellationToken: Ct);

        Assert.Equal(_time.GetUtcNow(), (await _database.Users.FindAsync("alice", Ct))!.LastLogon);
    }

    [Fact]
    public async Task CheckBeforeVerificationAsync_AttemptsInProgressReachThresholdWithoutWaiting_RefusesAsLockedOutUntilOneIsRecorded()
    {
        AccountPolicy policy = CreatePolicy(threshold: 3, admissionWait: TimeSpan.Zero);
        await policy.RecordFailureAsync(s_alice, Ct);

        // One failure counted and two attempts admitted: a third attempt would allow a fourth verification.
        using PreVerification first = await policy.CheckBeforeVerificationAsync(s_alice, Ct);
        using PreVerification second = await policy.CheckBeforeVerificationAsync(s_alice, Ct);
        using PreVerification third = await policy.CheckBeforeVerificationAsync(s_alice, Ct);

        Assert.Equal(PreVerificationResult.Proceed, first.Result);
        Assert.Equal(PreVerificationResult.Proceed, second.Result);
        Assert.Equal(PreVerificationResult.LockedOut, third.Result);
        Assert.Contains("attempts in progress", third.Reason, StringComparison.Ordinal);
        Assert.True(await policy.RecordSuccessAsync(s_alice, Ct));
        Assert.Equal(PreVerificationResult.Proceed, await CheckAsync(policy));
    }

    [Fact]
    public async Task CheckBeforeVerificationAsync_ReservationNeverRecorded_StopsCountingAfterItsLifetime()
    {
        AccountPolicy policy = CreatePolicy(threshold: 1, admissionWait: TimeSpan.Zero);
        Assert.Equal(PreVerificationResult.Proceed, await CheckAsync(policy));
        Assert.Equal(PreVerificationResult.LockedOut, await CheckAsync(policy));

        _time.Advance(AccountPolicy.ReservationLifetime);

        Assert.Equal(PreVerificationResult.Proceed, await CheckAsync(policy));
    }

    [Fact]
    public async Task CheckBeforeVerificationAsync_ThresholdHeldByAttemptsInProgress_WaitsAndIsAdmittedWhenOneSucceeds()
    {
        AccountPolicy policy = CreatePolicy(threshold: 3);

        Task<PreVerification> fourth = await StartWaitingAttemptAsync(policy, 3, Ct);

        // The clock stands still: only the recorded attempt can wake the waiting one.
        Assert.True(await policy.RecordSuccessAsync(s_alice, Ct));
        using PreVerification admitted = await fourth.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(PreVerificationResult.Proceed, admitted.Result);
        Assert.Equal(NtlmCrypto.NtOwfV1("pw"), admitted.NtHash.ToArray());
        Assert.Equal(0, policy.AttemptsWaiting("alice"));
        Assert.Equal(3, LockoutRules.AttemptsInProgress((await _database.Users.FindAsync("alice", Ct))!, _time.GetUtcNow()));
    }

    [Fact]
    public async Task CheckBeforeVerificationAsync_AttemptsInProgressAreWrongPasswordsThatLock_WaiterRefusedAsLockedOut()
    {
        AccountPolicy policy = CreatePolicy(threshold: 3);
        Task<PreVerification> fourth = await StartWaitingAttemptAsync(policy, 3, Ct);

        for (int i = 0; i < 3; i++)
        {
            await policy.RecordFailureAsync(s_alice, Ct);
        }

        using PreVerification refused = await fourth.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(PreVerificationResult.LockedOut, refused.Result);
        Assert.Equal(NtStatus.AccountLockedOut, refused.StatusIfPasswordCorrect);
        Assert.StartsWith("account locked out until", refused.Reason, StringComparison.Ordinal);
        Assert.Equal(0, policy.AttemptsWaiting("alice"));
    }

    [Fact]
    public async Task CheckBeforeVerificationAsync_NothingRecordedWithinTheAdmissionWait_RefusedAfterItWithTheTimeWaited()
    {
        AccountPolicy policy = CreatePolicy(threshold: 2, admissionWait: TimeSpan.FromSeconds(2));
        DateTimeOffset start = _time.GetUtcNow();
        Task<PreVerification> third = await StartWaitingAttemptAsync(policy, 2, Ct);

        // The waiter retries on its own (an instance sharing the store may release); each retry is refused again.
        for (int i = 0; i < 1000 && !third.IsCompleted; i++)
        {
            _time.Advance(TimeSpan.FromMilliseconds(20));
            await Task.Delay(2, Ct);
        }

        using PreVerification refused = await third.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.True(_time.GetUtcNow() - start >= TimeSpan.FromSeconds(2), "the wait ended before LockoutAdmissionWait");
        Assert.Equal(PreVerificationResult.LockedOut, refused.Result);
        Match reason = Regex.Match(refused.Reason, @"^lockout threshold reached: 0 wrong passwords counted and 2 attempts in progress; waited (\d+) ms for one to finish \(LockoutAdmissionWait 00:00:02\)$");
        Assert.True(reason.Success, refused.Reason);
        Assert.InRange(int.Parse(reason.Groups[1].Value, CultureInfo.InvariantCulture), 2000, int.MaxValue);
        Assert.Equal(0, policy.AttemptsWaiting("alice"));
    }

    [Fact]
    public async Task CheckBeforeVerificationAsync_ReservationReleasedWithoutASignal_WaiterAdmittedByItsRetry()
    {
        // A record by another instance sharing the store wakes nothing here: the same store step through a second policy.
        AccountPolicy policy = CreatePolicy(threshold: 1);
        AccountPolicy otherInstance = CreatePolicy(threshold: 1);
        Task<PreVerification> second = await StartWaitingAttemptAsync(policy, 1, Ct);
        Assert.True(await otherInstance.RecordSuccessAsync(s_alice, Ct));
        Assert.False(second.IsCompleted);

        _time.Advance(AccountPolicy.FirstAdmissionRetry);

        using PreVerification admitted = await second.WaitAsync(TimeSpan.FromSeconds(30), Ct);
        Assert.Equal(PreVerificationResult.Proceed, admitted.Result);
    }

    [Fact]
    public async Task CheckBeforeVerificationAsync_CancelledWhileWaiting_ThrowsAndReservesNothing()
    {
        AccountPolicy policy = CreatePolicy(threshold: 2);
        using var connection = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        Task<PreVerification> third = await StartWaitingAttemptAsync(policy, 2, connection.Token);

        await connection.CancelAsync();

        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => third.WaitAsync(TimeSpan.FromSeconds(30), Ct));
        Assert.Equal(0, policy.AttemptsWaiting("alice"));
        Assert.Equal(2, LockoutRules.AttemptsInProgress((await _database.Users.FindAsync("alice", Ct))!, _time.GetUtcNow()));
    }

    [Fact]
    public async Task CheckBeforeVerificationAsync_AdmissionWaitersAlreadyWaiting_NextRefusedAtOnce()
    {
        AccountPolicy policy = CreatePolicy(threshold: 1, admissionWaiters: 2);
        await ReserveAsync(policy, 1);
        using var waiters = CancellationTokenSource.CreateLinkedTokenSource(Ct);
        Task<PreVerification>[] waiting = [policy.CheckBeforeVerificationAsync(s_alice, waiters.Token), policy.CheckBeforeVerificationAsync(s_alice, waiters.Token)];
        Assert.Equal(2, policy.AttemptsWaiting("alice"));

        Task<PreVerification> third = policy.CheckBeforeVerificationAsync(s_alice, Ct);

        Assert.True(third.IsCompleted);
        using PreVerification refused = await third;
        Assert.Equal(PreVerificationResult.LockedOut, refused.Result);
        Assert.EndsWith("not waiting: 2 attempts of this account wait already (LockoutAdmissionWaiters)", refused.Reason, StringComparison.Ordinal);
        Assert.All(waiting, w => Assert.False(w.IsCompleted));
        await waiters.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => Task.WhenAll(waiting).WaitAsync(TimeSpan.FromSeconds(30), Ct));
        Assert.Equal(0, policy.AttemptsWaiting("alice"));
    }

    [Fact]
    public async Task RecordSuccessAsync_AccountLockedAfterTheReservation_RefusesAndKeepsTheLock()
    {
        AccountPolicy policy = CreatePolicy(threshold: 3);
        using PreVerification check = await policy.CheckBeforeVerificationAsync(s_alice, Ct);
        await _database.Users.UpdateAsync("alice", a => a with { LockedUntil = DateTimeOffset.MaxValue, FailedLogonCount = 3 }, Ct);

        Assert.False(await policy.RecordSuccessAsync(s_alice, Ct));

        UserAccount account = (await _database.Users.FindAsync("alice", Ct))!;
        Assert.Equal(DateTimeOffset.MaxValue, account.LockedUntil);
        Assert.Equal(3, account.FailedLogonCount);
        Assert.Null(account.LastLogon);
    }

    [Fact]
    public async Task RecordFailureAsync_ThresholdZero_NeverLocks()
    {
        AccountPolicy policy = CreatePolicy(threshold: 0);

        for (int i = 0; i < 20; i++)
        {
            await policy.RecordFailureAsync(s_alice, Ct);
        }

        Assert.Equal(PreVerificationResult.Proceed, await CheckAsync(policy));
    }

    [Fact]
    public async Task RecordFailureAsync_UnknownUserOrForeignDomain_RecordsNothing()
    {
        AccountPolicy policy = CreatePolicy(threshold: 1);

        Assert.False((await policy.RecordFailureAsync(AccountName.Parse("bob"), Ct)).Known);
        Assert.False((await policy.RecordFailureAsync(AccountName.Parse(@"CORP\alice"), Ct)).Known);
        Assert.Equal(PreVerificationResult.Proceed, await CheckAsync(policy));
    }

    [Fact]
    public async Task RecordFailureAsync_UpnAndDownLevelForms_CountForSameAccount()
    {
        AccountPolicy policy = CreatePolicy(threshold: 3);

        await policy.RecordFailureAsync(AccountName.FromCredentials("alice@rdpgw01.corp.example", ""), Ct);
        await policy.RecordFailureAsync(AccountName.FromCredentials("ALICE", "."), Ct);
        FailedLogonResult third = await policy.RecordFailureAsync(AccountName.FromCredentials("alice", "LAB"), Ct);

        Assert.True(third.LockedNow);
    }

    [Fact]
    public async Task CheckBeforeVerificationAsync_AdministrativeLock_ReportsLockedOut()
    {
        await _database.Users.UpdateAsync("alice", a => a with { LockedUntil = DateTimeOffset.MaxValue }, Ct);

        using PreVerification check = await CreatePolicy().CheckBeforeVerificationAsync(s_alice, Ct);

        Assert.Equal(PreVerificationResult.LockedOut, check.Result);
        Assert.Contains("administrator", check.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData(5, 15, 15, true)]
    [InlineData(0, 0, 0, true)]
    [InlineData(-1, 15, 15, false)]
    [InlineData(5, 30, 15, false)]
    [InlineData(5, 0, 15, false)]
    [InlineData(5, 15, 0, false)]
    public void Validate_Options_AcceptsOnlyConsistentPolicies(int threshold, int window, int duration, bool valid)
    {
        var options = new AccountPolicyOptions
        {
            LockoutThreshold = threshold,
            LockoutWindow = TimeSpan.FromMinutes(window),
            LockoutDuration = TimeSpan.FromMinutes(duration),
        };

        Assert.Equal(valid, new AccountPolicyOptionsValidator().Validate(null, options).Succeeded);
    }

    [Theory]
    [InlineData("00:00:02", 32, true)]
    [InlineData("00:00:00", 0, true)]
    [InlineData("00:01:00", 1, true)]
    [InlineData("-00:00:01", 32, false)]
    [InlineData("00:01:01", 32, false)]
    [InlineData("00:00:02", -1, false)]
    public void Validate_AdmissionWait_AcceptsZeroUpToAMinuteAndNoNegativeWaiters(string wait, int waiters, bool valid)
    {
        var options = new AccountPolicyOptions { LockoutAdmissionWait = TimeSpan.Parse(wait, CultureInfo.InvariantCulture), LockoutAdmissionWaiters = waiters };

        ValidateOptionsResult result = new AccountPolicyOptionsValidator().Validate(null, options);

        Assert.Equal(valid, result.Succeeded);
        if (!valid)
        {
            Assert.StartsWith(waiters < 0 ? "LockoutAdmissionWaiters is -1;" : $"LockoutAdmissionWait is {wait};", Assert.Single(result.Failures!), StringComparison.Ordinal);
        }
    }

    [Fact]
    public void Defaults_AreWindowsLikeFiveAttemptsFifteenMinutes()
    {
        var options = new AccountPolicyOptions();

        Assert.Equal(5, options.LockoutThreshold);
        Assert.Equal(TimeSpan.FromMinutes(15), options.LockoutWindow);
        Assert.Equal(TimeSpan.FromMinutes(15), options.LockoutDuration);
        Assert.Equal(TimeSpan.FromSeconds(2), options.LockoutAdmissionWait);
        Assert.Equal(32, options.LockoutAdmissionWaiters);
    }
}

public class AccountsServiceCollectionExtensionsTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    public void Dispose() => _directory.Dispose();

    [Fact]
    public async Task AddRdpNlaAccounts_Resolve_SharesOneDatabase()
    {
        var services = new ServiceCollection();
        services.AddLogging();
        services.AddRdpNlaAccounts(_directory.Path, "LAB");
        await using ServiceProvider provider = services.BuildServiceProvider();

        AccountPolicy policy = provider.GetRequiredService<AccountPolicy>();
        IUserStore store = provider.GetRequiredService<IUserStore>();
        await store.AddAsync("alice", NtlmCrypto.NtOwfV1("pw"), TestContext.Current.CancellationToken);

        using PreVerification check = await policy.CheckBeforeVerificationAsync(AccountName.FromCredentials("alice", "lab"), TestContext.Current.CancellationToken);
        Assert.Equal(PreVerificationResult.Proceed, check.Result);
        Assert.Equal(5, policy.Options.LockoutThreshold);
        Assert.True(File.Exists(_directory.DatabasePath));
    }

    [Fact]
    public async Task AddRdpNlaAccounts_InvalidOptions_FailValidation()
    {
        var services = new ServiceCollection();
        services.AddRdpNlaAccounts(_directory.Path).Configure(o => o.LockoutWindow = TimeSpan.FromHours(1));
        await using ServiceProvider provider = services.BuildServiceProvider();

        var ex = Assert.Throws<OptionsValidationException>(() =>
            provider.GetRequiredService<IOptions<AccountPolicyOptions>>().Value);
        Assert.Contains("LockoutWindow", ex.Message, StringComparison.Ordinal);
    }
}
