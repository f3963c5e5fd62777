namespace RdpNla.Server.Accounts;

/// <summary>
/// The local user store. User names are the user part only (no domain) and compare case-insensitively;
/// implementations keep the original spelling. Every write is atomic. <see cref="Storage.SqliteUserStore"/> is the
/// default; a network database can implement the same contract.
/// </summary>
public interface IUserStore
{
    /// <summary>The account, or null when there is no such user.</summary>
    Task<UserAccount?> FindAsync(string userName, CancellationToken cancellationToken = default);

    /// <summary>The account and its NT hash in one read, or null. The caller disposes the result to wipe the hash.</summary>
    Task<UserCredential?> FindCredentialAsync(string userName, CancellationToken cancellationToken = default);

    /// <summary>All users, ordered by name (case-insensitive).</summary>
    Task<IReadOnlyList<UserAccount>> ListAsync(CancellationToken cancellationToken = default);

    /// <summary>Creates a user with the given NT hash (16 bytes; the password itself is never stored).</summary>
    /// <exception cref="ArgumentException">The user name is not valid (<see cref="AccountName.ValidateUserName"/>) or the hash is not 16 bytes.</exception>
    /// <exception cref="UserAlreadyExistsException">A user with that name, in any letter case, exists.</exception>
    Task<UserAccount> AddAsync(string userName, ReadOnlyMemory<byte> ntHash, CancellationToken cancellationToken = default);

    /// <summary>
    /// Replaces the NT hash, sets the password-last-set time, clears the expired flag and sets the must-change flag to
    /// <paramref name="mustChangePassword"/>. Returns the updated account, or null when there is no such user.
    /// </summary>
    Task<UserAccount?> SetNtHashAsync(string userName, ReadOnlyMemory<byte> ntHash, bool mustChangePassword, CancellationToken cancellationToken = default);

    /// <summary>Deletes the user; false when there was no such user.</summary>
    Task<bool> RemoveAsync(string userName, CancellationToken cancellationToken = default);

    /// <summary>
    /// Reads the account, applies <paramref name="update"/> and writes the account-state fields back, atomically with
    /// respect to other writers (read-modify-write in one transaction). Identity, name, hash and timestamps other than
    /// the logon/failure/lock fields are not changed. Returns the stored result, or null when there is no such user.
    /// </summary>
    Task<UserAccount?> UpdateAsync(string userName, Func<UserAccount, UserAccount> update, CancellationToken cancellationToken = default);

    /// <summary>
    /// Step 1 of a logon attempt, one atomic step: applies <see cref="LockoutRules.Reserve"/> to the stored account and
    /// writes the reservation, returning the NT hash only when the attempt is admitted. For a name that matches no user
    /// it performs the same kind of write (on no account) so that response timing does not tell which users exist.
    /// Two racing calls never both see the state before the other's reservation.
    /// </summary>
    Task<AttemptReservation> ReserveAttemptAsync(string userName, LockoutRules rules, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>Step 2 after a wrong password, one atomic step: <see cref="LockoutRules.RecordFailure"/>. An unknown name performs the same kind of write.</summary>
    Task<AttemptRecord> RecordFailedAttemptAsync(string userName, LockoutRules rules, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>
    /// Step 2 after a correct password, one atomic step: <see cref="LockoutRules.RecordSuccess"/>, which re-checks the
    /// lock inside the write; <see cref="AttemptRecord.LockedOut"/> then means the logon must not succeed.
    /// </summary>
    Task<AttemptRecord> RecordSuccessfulAttemptAsync(string userName, DateTimeOffset now, CancellationToken cancellationToken = default);

    /// <summary>
    /// The write of a reservation or of a recorded failure (<paramref name="step"/>), on no account, as a store commits
    /// that step: for names that cannot be a local user (a foreign domain).
    /// </summary>
    Task WriteDecoyAttemptAsync(DecoyStep step, DateTimeOffset now, CancellationToken cancellationToken = default);
}

/// <summary>Which step of a logon attempt <see cref="IUserStore.WriteDecoyAttemptAsync"/> stands in for.</summary>
public enum DecoyStep
{
    /// <summary>Step 1, <see cref="IUserStore.ReserveAttemptAsync"/>.</summary>
    Reservation,

    /// <summary>Step 2 after a wrong password, <see cref="IUserStore.RecordFailedAttemptAsync"/>.</summary>
    Failure,
}

/// <summary>Thrown by <see cref="IUserStore.AddAsync"/> when the name is taken.</summary>
public sealed class UserAlreadyExistsException : InvalidOperationException
{
    public UserAlreadyExistsException()
        : this(string.Empty)
    {
    }

    public UserAlreadyExistsException(string userName)
        : base($"A user named '{userName}' already exists.")
    {
        UserName = userName;
    }

    public UserAlreadyExistsException(string message, Exception innerException)
        : base(message, innerException)
    {
        UserName = string.Empty;
    }

    /// <summary>The name that was asked for.</summary>
    public string UserName { get; }
}
