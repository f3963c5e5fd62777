namespace RdpNla.Server.Storage;

/// <summary>
/// The decisions of the logon-attempt steps of <see cref="IUserStore"/>, on the row a store has read under its lock
/// (SQLite's write transaction, PostgreSQL's <c>SELECT ... FOR UPDATE</c>): what to answer, and the account state to
/// write back, or null when the store writes the decoy row instead (no such user) or nothing (a refused reservation).
/// </summary>
internal static class AttemptSteps
{
    /// <summary>Step 1 (<see cref="LockoutRules.Reserve"/>). The credential carries a copy of <paramref name="hash"/>.</summary>
    public static AttemptReservation Reserve(UserAccount? current, ReadOnlySpan<byte> hash, LockoutRules rules, DateTimeOffset now, out UserAccount? write)
    {
        write = null;
        if (current is null)
        {
            return new AttemptReservation(AttemptAdmission.UnknownUser, null, null);
        }

        (AttemptAdmission admission, UserAccount state) = rules.Reserve(current, now);
        if (admission != AttemptAdmission.Admitted)
        {
            return new AttemptReservation(admission, state, null);
        }

        write = state;
        return new AttemptReservation(admission, state, new UserCredential(state, hash.ToArray()));
    }

    /// <summary>
    /// Step 2: <see cref="LockoutRules.RecordFailure"/> when <paramref name="failureRules"/> is given (a wrong password),
    /// <see cref="LockoutRules.RecordSuccess"/> when it is null (a correct one).
    /// </summary>
    public static AttemptRecord Record(UserAccount? current, LockoutRules? failureRules, DateTimeOffset now, out UserAccount? write)
    {
        write = null;
        if (current is null)
        {
            return default;
        }

        bool lockedNow = false;
        UserAccount state = failureRules is not null
            ? failureRules.RecordFailure(current, now, out lockedNow)
            : LockoutRules.RecordSuccess(current, now, out _);
        write = state;
        return new AttemptRecord(state, state.IsLockedOut(now), lockedNow);
    }
}
