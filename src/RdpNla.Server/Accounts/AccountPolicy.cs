namespace RdpNla.Server.Accounts;

/// <summary>
/// Applies account policy for the front door, answering its two questions around NTLMv2 password verification.
/// </summary>
/// <remarks>
/// <para><b>What the peer learns, and when</b> (the decision, modelled on what Windows does):</para>
/// <list type="bullet">
/// <item>An unknown user and a wrong password are indistinguishable: both get STATUS_LOGON_FAILURE, and for an unknown
/// user <see cref="CheckBeforeVerificationAsync"/> hands out a random decoy hash so the caller does the same
/// verification work.</item>
/// <item>Lockout is reported always, whatever the password: STATUS_ACCOUNT_LOCKED_OUT (Windows does the same; the
/// state is public to anyone who can trip it anyway).</item>
/// <item>Account state — disabled, password must change, password expired — is revealed only after a correct password
/// (in that order of precedence), so a guesser cannot enumerate accounts or their state.</item>
/// <item>The remote-logon right (<see cref="UserAccount.RemoteLogonDenied"/>) is not a status here: the user
/// authenticates and the front door refuses the connection after CredSSP.</item>
/// </list>
/// <para><b>Lockout counting</b> is atomic: each attempt is reserved before its password is verified
/// (<see cref="LockoutRules"/>), so at most <see cref="AccountPolicyOptions.LockoutThreshold"/> verifications happen in
/// a lockout window however many connections race. An attempt that finds the remaining places held by attempts in
/// progress waits for one of them to be recorded (<see cref="AccountPolicyOptions.LockoutAdmissionWait"/>, at most
/// <see cref="AccountPolicyOptions.LockoutAdmissionWaiters"/> attempts per account), so that concurrent correct passwords
/// are not refused: Windows never refuses a correct password of an account that is not locked out. The counting follows
/// Windows: each wrong password increments the counter unless
/// <see cref="AccountPolicyOptions.LockoutWindow"/> has passed since the previous wrong password, in which case the
/// counter restarts at 1. Reaching <see cref="AccountPolicyOptions.LockoutThreshold"/> locks the account for
/// <see cref="AccountPolicyOptions.LockoutDuration"/>. A correct password resets the counter. Failures while locked are
/// not counted and do not extend the lock.</para>
/// </remarks>
public sealed partial class AccountPolicy
{
    private readonly IUserStore _store;
    private readonly LocalDomainNames _localNames;
    private readonly AccountPolicyOptions _options;
    private readonly TimeProvider _timeProvider;
    private readonly ILogger _logger;
    private readonly AdmissionWaits _waits = new();

    public AccountPolicy(IUserStore store, LocalDomainNames localNames, IOptions<AccountPolicyOptions> options, TimeProvider timeProvider, ILogger<AccountPolicy>? logger = null)
    {
        ArgumentNullException.ThrowIfNull(store);
        ArgumentNullException.ThrowIfNull(localNames);
        ArgumentNullException.ThrowIfNull(options);
        ArgumentNullException.ThrowIfNull(timeProvider);
        _store = store;
        _localNames = localNames;
        _options = options.Value;
        _timeProvider = timeProvider;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        Rules = new LockoutRules(_options.LockoutThreshold, _options.LockoutWindow, _options.LockoutDuration, ReservationLifetime);
    }

    /// <summary>
    /// How long an attempt's reservation counts when its outcome is never recorded (the server stopped or its store
    /// failed mid-attempt). Recording takes milliseconds; this only bounds how long a lost reservation holds a slot.
    /// </summary>
    public static readonly TimeSpan ReservationLifetime = TimeSpan.FromMinutes(1);

    /// <summary>The policy in force.</summary>
    public AccountPolicyOptions Options => _options;

    /// <summary>The lockout arithmetic the store applies atomically.</summary>
    public LockoutRules Rules { get; }

    /// <summary>
    /// Before password verification: reserves the attempt atomically (<see cref="IUserStore.ReserveAttemptAsync"/>) and
    /// says whether the user is known and may try, and which hash and final status apply. Every admitted attempt must
    /// be followed by <see cref="RecordFailureAsync"/> or <see cref="RecordSuccessAsync"/>. When attempts in progress
    /// hold the remaining places under the threshold, it waits for one of them to be recorded (see
    /// <see cref="AccountPolicyOptions.LockoutAdmissionWait"/>).
    /// </summary>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> ended the call, also while waiting.</exception>
    public Task<PreVerification> CheckBeforeVerificationAsync(AccountName name, CancellationToken cancellationToken = default) =>
        CheckRunningStepsAsync(name, static (step, ct) => step(ct), cancellationToken);

    /// <summary>
    /// <see cref="CheckBeforeVerificationAsync"/> with each store step run by
    /// <paramref name="runStep"/> (the front door bounds and times each one, <c>Limits:StoreTimeout</c>); a wait for
    /// admission runs between the steps, on the caller's clocks.
    /// </summary>
    internal async Task<PreVerification> CheckRunningStepsAsync(AccountName name, Func<Func<CancellationToken, Task<AttemptReservation>>, CancellationToken, Task<AttemptReservation>> runStep, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(runStep);
        if (!name.IsLocalTo(_localNames))
        {
            // The same write as for a user, so the time taken does not tell a foreign domain from a user.
            DateTimeOffset decoyTime = _timeProvider.GetUtcNow();
            using AttemptReservation decoy = await runStep(
                async ct =>
                {
                    await _store.WriteDecoyAttemptAsync(DecoyStep.Reservation, decoyTime, ct).ConfigureAwait(false);
                    return new AttemptReservation(AttemptAdmission.UnknownUser, null, null);
                },
                cancellationToken).ConfigureAwait(false);
            return PreVerification.Unknown(name, $"domain '{PrintableText.Escape(name.Domain)}' is not this server");
        }

        AdmissionWaits.Waiter? waiter = null;
        try
        {
            long waitStart = 0;
            TimeSpan retry = FirstAdmissionRetry;
            while (true)
            {
                // Taken before the reservation, so that a release between the two is not missed (the first time it is
                // taken after the refusal: a release in between is seen by the first retry).
                Task? released = waiter?.NextRelease;
                DateTimeOffset now = _timeProvider.GetUtcNow();
                using AttemptReservation reservation = await runStep(ct => _store.ReserveAttemptAsync(name.UserName, Rules, now, ct), cancellationToken).ConfigureAwait(false);
                if (reservation.Admission != AttemptAdmission.ThresholdInProgress)
                {
                    if (waiter is not null)
                    {
                        LogAdmissionWaited(_logger, name.UserName, _timeProvider.GetElapsedTime(waitStart).TotalMilliseconds, reservation.Admission);
                    }

                    return Answer(name, reservation);
                }

                UserAccount account = reservation.Account!;
                string reason = $"lockout threshold reached: {Rules.CountedFailures(account, now)} wrong passwords counted and {LockoutRules.AttemptsInProgress(account, now)} attempts in progress";
                if (waiter is null)
                {
                    if (_options.LockoutAdmissionWait <= TimeSpan.Zero || _options.LockoutAdmissionWaiters == 0)
                    {
                        // Waiting is off: refused at once.
                        return PreVerification.Locked(name, account, reason);
                    }

                    waiter = _waits.TryEnter(name.UserName, _options.LockoutAdmissionWaiters);
                    if (waiter is null)
                    {
                        return PreVerification.Locked(name, account, $"{reason}; not waiting: {_options.LockoutAdmissionWaiters} attempts of this account wait already (LockoutAdmissionWaiters)");
                    }

                    waitStart = _timeProvider.GetTimestamp();
                    released = waiter.NextRelease;
                }

                TimeSpan waited = _timeProvider.GetElapsedTime(waitStart);
                if (waited >= _options.LockoutAdmissionWait)
                {
                    LogAdmissionWaited(_logger, name.UserName, waited.TotalMilliseconds, reservation.Admission);
                    return PreVerification.Locked(name, account, $"{reason}; waited {waited.TotalMilliseconds:0} ms for one to finish (LockoutAdmissionWait {_options.LockoutAdmissionWait})");
                }

                await WaitForReleaseAsync(released!, Min(retry, _options.LockoutAdmissionWait - waited), cancellationToken).ConfigureAwait(false);
                retry = Min(retry * 2, LastAdmissionRetry);
            }
        }
        finally
        {
            waiter?.Dispose();
        }
    }

    /// <summary>How many attempts of <paramref name="userName"/> wait for admission in this process now.</summary>
    public int AttemptsWaiting(string userName) => _waits.Waiting(userName);

    /// <summary>
    /// The first pause before a waiting attempt retries without a release seen in this process (an instance sharing the
    /// store may have recorded an attempt); it doubles up to <see cref="LastAdmissionRetry"/>.
    /// </summary>
    internal static readonly TimeSpan FirstAdmissionRetry = TimeSpan.FromMilliseconds(25);

    /// <summary>The longest pause between two retries of a waiting attempt.</summary>
    internal static readonly TimeSpan LastAdmissionRetry = TimeSpan.FromMilliseconds(200);

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    // Until a release of the account in this process, the pause, or the cancellation (which throws).
    private async Task WaitForReleaseAsync(Task released, TimeSpan pause, CancellationToken cancellationToken)
    {
        try
        {
            await released.WaitAsync(pause, _timeProvider, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // Time to retry: another instance may have released a reservation.
        }
    }

    private PreVerification Answer(AccountName name, AttemptReservation reservation)
    {
        switch (reservation.Admission)
        {
            case AttemptAdmission.Admitted:
                UserCredential credential = reservation.Credential!;
                (NtStatus status, string reason) = StatusIfPasswordCorrect(credential.Account);
                return PreVerification.Proceed(name, credential, status, reason);
            case AttemptAdmission.LockedOut:
                UserAccount locked = reservation.Account!;
                return PreVerification.Locked(name, locked, locked.LockedUntil == DateTimeOffset.MaxValue
                    ? "account locked out until an administrator unlocks it"
                    : $"account locked out until {locked.LockedUntil:O}");
            default:
                return PreVerification.Unknown(name, "no such user");
        }
    }

    /// <summary>
    /// The status a correct password leads to. Precedence: disabled, must change, expired. "Must change" comes before
    /// "expired" because Windows' must-change state (pwdLastSet = 0) makes any expiry moot.
    /// </summary>
    public static (NtStatus Status, string Reason) StatusIfPasswordCorrect(UserAccount account)
    {
        ArgumentNullException.ThrowIfNull(account);
        if (account.Disabled)
        {
            return (NtStatus.AccountDisabled, "account disabled");
        }

        if (account.MustChangePassword)
        {
            return (NtStatus.PasswordMustChange, "password must be changed");
        }

        if (account.PasswordExpired)
        {
            return (NtStatus.PasswordExpired, "password expired");
        }

        return (NtStatus.Success, "password verified");
    }

    /// <summary>
    /// After a wrong password (or an unknown user): releases the reservation, counts the failure and locks the account
    /// when the threshold is reached, in one atomic store step. An unknown name or foreign domain costs the same write.
    /// </summary>
    public async Task<FailedLogonResult> RecordFailureAsync(AccountName name, CancellationToken cancellationToken = default)
    {
        DateTimeOffset now = _timeProvider.GetUtcNow();
        if (!name.IsLocalTo(_localNames))
        {
            await _store.WriteDecoyAttemptAsync(DecoyStep.Failure, now, cancellationToken).ConfigureAwait(false);
            return default;
        }

        AttemptRecord record = await _store.RecordFailedAttemptAsync(name.UserName, Rules, now, cancellationToken).ConfigureAwait(false);
        _waits.Released(name.UserName);
        if (record.Account is not { } updated)
        {
            return default;
        }

        if (record.LockedNow)
        {
            LogAccountLockedOut(_logger, updated.UserName, updated.FailedLogonCount, updated.LockedUntil);
        }

        return new FailedLogonResult(true, updated.FailedLogonCount, record.LockedOut ? updated.LockedUntil : null, record.LockedNow);
    }

    /// <summary>
    /// After a correct password: releases the reservation and, in the same atomic step, re-checks the lock; unless the
    /// account is locked out by now, resets the failure counter and records the logon time.
    /// </summary>
    /// <returns>False when the account is locked out: the logon must be refused with STATUS_ACCOUNT_LOCKED_OUT.</returns>
    public async Task<bool> RecordSuccessAsync(AccountName name, CancellationToken cancellationToken = default)
    {
        if (!name.IsLocalTo(_localNames))
        {
            return true;
        }

        AttemptRecord record = await _store.RecordSuccessfulAttemptAsync(name.UserName, _timeProvider.GetUtcNow(), cancellationToken).ConfigureAwait(false);
        _waits.Released(name.UserName);
        return !record.LockedOut;
    }

    // EventId range 4100-4199: accounts.
    [LoggerMessage(EventId = 4100, Level = LogLevel.Warning, Message = "Account {UserName} locked out until {LockedUntil:O} after {FailedLogonCount} wrong passwords")]
    private static partial void LogAccountLockedOut(ILogger logger, string userName, int failedLogonCount, DateTimeOffset? lockedUntil);

    [LoggerMessage(EventId = 4101, Level = LogLevel.Debug, Message = "Logon attempt of {UserName} waited {WaitedMs:0} ms for attempts in progress (LockoutAdmissionWait): {Admission}")]
    private static partial void LogAdmissionWaited(ILogger logger, string userName, double waitedMs, AttemptAdmission admission);
}
