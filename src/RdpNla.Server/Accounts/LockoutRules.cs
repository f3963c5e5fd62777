namespace RdpNla.Server.Accounts;

/// <summary>
/// The lockout arithmetic of one logon attempt, as pure functions of an account's stored state, for a store to apply
/// inside its atomic steps (<see cref="IUserStore.ReserveAttemptAsync"/>, <see cref="IUserStore.RecordFailedAttemptAsync"/>,
/// <see cref="IUserStore.RecordSuccessfulAttemptAsync"/>). A store that can express them in one statement (e.g.
/// <c>UPDATE ... WHERE ... RETURNING</c> in PostgreSQL) may do so; the contract tests hold it to the same results.
/// </summary>
/// <remarks>
/// Counting follows Windows (see <see cref="AccountPolicy"/>); on top of it every attempt is <em>reserved</em> before
/// the password is verified: an attempt is admitted only while the wrong passwords counted in the window plus the
/// attempts already admitted and not yet recorded stay below <see cref="Threshold"/>. So at most
/// <see cref="Threshold"/> verifications happen in a lockout window, however many connections race. A reservation
/// not recorded within <see cref="ReservationLifetime"/> (the server stopped mid-attempt) no longer counts.
/// </remarks>
/// <param name="Threshold">Wrong passwords that lock the account; 0 = never lock (attempts are still reserved and recorded).</param>
/// <param name="Window">The counter restarts when this much time has passed since the last wrong password.</param>
/// <param name="Duration">How long the account stays locked.</param>
/// <param name="ReservationLifetime">How long an unrecorded reservation counts.</param>
public sealed record LockoutRules(int Threshold, TimeSpan Window, TimeSpan Duration, TimeSpan ReservationLifetime)
{
    /// <summary>Attempts admitted and not yet recorded at <paramref name="now"/>.</summary>
    public static int AttemptsInProgress(UserAccount account, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(account);
        return account.AttemptsInProgressUntil is { } until && until > now ? Math.Max(0, account.AttemptsInProgress) : 0;
    }

    /// <summary>Wrong passwords that still count toward the threshold at <paramref name="now"/> (the window and an expired lock restart the count).</summary>
    public int CountedFailures(UserAccount account, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(account);
        if (account.IsLockedOut(now))
        {
            return account.FailedLogonCount;
        }

        bool lockExpired = account.LockedUntil is not null;
        bool windowPassed = account.LastFailedLogon is not { } last || now - last >= Window;
        return lockExpired || windowPassed ? 0 : account.FailedLogonCount;
    }

    /// <summary>Step 1: admit the attempt (and the state to write), or say why not.</summary>
    public (AttemptAdmission Admission, UserAccount State) Reserve(UserAccount account, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(account);
        if (account.IsLockedOut(now))
        {
            return (AttemptAdmission.LockedOut, account);
        }

        int inProgress = AttemptsInProgress(account, now);
        if (Threshold > 0 && CountedFailures(account, now) + inProgress >= Threshold)
        {
            return (AttemptAdmission.ThresholdInProgress, account);
        }

        return (AttemptAdmission.Admitted, account with
        {
            AttemptsInProgress = inProgress + 1,
            AttemptsInProgressUntil = now + ReservationLifetime,
        });
    }

    /// <summary>Step 2 after a wrong password: release the reservation, count the failure, lock at the threshold.</summary>
    public UserAccount RecordFailure(UserAccount account, DateTimeOffset now, out bool lockedNow)
    {
        ArgumentNullException.ThrowIfNull(account);
        lockedNow = false;
        UserAccount released = Release(account, now);
        if (Threshold <= 0 || released.IsLockedOut(now))
        {
            // Failures while locked are not counted and do not extend the lock.
            return released;
        }

        int count = CountedFailures(released, now) + 1;
        DateTimeOffset? lockedUntil = null;
        if (count >= Threshold)
        {
            lockedUntil = now + Duration;
            lockedNow = true;
        }

        return released with { FailedLogonCount = count, LastFailedLogon = now, LockedUntil = lockedUntil };
    }

    /// <summary>
    /// Step 2 after a correct password: release the reservation and, unless the account is locked out by now (an
    /// administrator, or a store that lost a reservation), reset the counter and record the logon.
    /// </summary>
    public static UserAccount RecordSuccess(UserAccount account, DateTimeOffset now, out bool lockedOut)
    {
        ArgumentNullException.ThrowIfNull(account);
        UserAccount released = Release(account, now);
        lockedOut = released.IsLockedOut(now);
        return lockedOut
            ? released
            : released with { FailedLogonCount = 0, LastFailedLogon = null, LockedUntil = null, LastLogon = now };
    }

    private static UserAccount Release(UserAccount account, DateTimeOffset now)
    {
        int remaining = Math.Max(0, AttemptsInProgress(account, now) - 1);
        return account with
        {
            AttemptsInProgress = remaining,
            AttemptsInProgressUntil = remaining == 0 ? null : account.AttemptsInProgressUntil,
        };
    }
}

/// <summary>What <see cref="LockoutRules.Reserve"/> decided.</summary>
public enum AttemptAdmission
{
    /// <summary>No such user (the store did the same write anyway).</summary>
    UnknownUser,

    /// <summary>Reserved: verify the password, then record the outcome.</summary>
    Admitted,

    /// <summary>The account is locked out.</summary>
    LockedOut,

    /// <summary>Counted failures plus attempts in progress reach the threshold: no further verification in this window.</summary>
    ThresholdInProgress,
}

/// <summary>The result of <see cref="IUserStore.ReserveAttemptAsync"/>. Dispose it to wipe the hash.</summary>
public sealed class AttemptReservation : IDisposable
{
    public AttemptReservation(AttemptAdmission admission, UserAccount? account, UserCredential? credential)
    {
        Admission = admission;
        Account = account;
        Credential = credential;
    }

    /// <summary>Whether the attempt may go on to password verification.</summary>
    public AttemptAdmission Admission { get; }

    /// <summary>The account state after the step; null for an unknown user.</summary>
    public UserAccount? Account { get; }

    /// <summary>The account and its NT hash, only when <see cref="Admission"/> is <see cref="AttemptAdmission.Admitted"/>.</summary>
    public UserCredential? Credential { get; }

    public void Dispose() => Credential?.Dispose();
}

/// <summary>The result of <see cref="IUserStore.RecordFailedAttemptAsync"/> or <see cref="IUserStore.RecordSuccessfulAttemptAsync"/>.</summary>
/// <param name="Account">The stored account after the step; null when there is no such user.</param>
/// <param name="LockedOut">The account is locked out after the step (for a success: the logon must be refused with STATUS_ACCOUNT_LOCKED_OUT).</param>
/// <param name="LockedNow">A failure reached the threshold and locked the account.</param>
public readonly record struct AttemptRecord(UserAccount? Account, bool LockedOut, bool LockedNow);
