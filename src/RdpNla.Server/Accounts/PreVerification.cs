namespace RdpNla.Server.Accounts;

/// <summary>What <see cref="AccountPolicy.CheckBeforeVerificationAsync"/> found.</summary>
public enum PreVerificationResult
{
    /// <summary>No such user in the local store, or a domain that is not this server. Verify against <see cref="PreVerification.NtHash"/> anyway (a random decoy) and report STATUS_LOGON_FAILURE.</summary>
    UnknownUser,

    /// <summary>The account is locked out: report STATUS_ACCOUNT_LOCKED_OUT whatever the password.</summary>
    LockedOut,

    /// <summary>Verify the password with <see cref="PreVerification.NtHash"/>; on success apply <see cref="PreVerification.StatusIfPasswordCorrect"/>.</summary>
    Proceed,
}

/// <summary>
/// The answer to "may this user try, and with which NT hash?". Always carries a 16-byte hash (a random decoy when the
/// user is unknown or locked out) so that the caller can do identical work in every case. Dispose it to wipe the hash.
/// </summary>
public sealed class PreVerification : IDisposable
{
    private readonly byte[] _ntHash;
    private bool _disposed;

    private PreVerification(byte[] ntHash)
    {
        _ntHash = ntHash;
    }

    /// <summary>The outcome of the check.</summary>
    public required PreVerificationResult Result { get; init; }

    /// <summary>The name that was checked.</summary>
    public required AccountName Name { get; init; }

    /// <summary>The account, unless <see cref="Result"/> is <see cref="PreVerificationResult.UnknownUser"/>.</summary>
    public UserAccount? Account { get; init; }

    /// <summary>The NT hash to verify the client's NTLMv2 response with (a random decoy unless <see cref="Result"/> is <see cref="PreVerificationResult.Proceed"/>). Empty after dispose.</summary>
    public ReadOnlySpan<byte> NtHash => _disposed ? default : _ntHash;

    /// <summary>
    /// The status to send when the password verifies: STATUS_SUCCESS, STATUS_ACCOUNT_DISABLED, STATUS_PASSWORD_MUST_CHANGE
    /// or STATUS_PASSWORD_EXPIRED for <see cref="PreVerificationResult.Proceed"/>; STATUS_LOGON_FAILURE for an unknown
    /// user; STATUS_ACCOUNT_LOCKED_OUT when locked out.
    /// </summary>
    public required NtStatus StatusIfPasswordCorrect { get; init; }

    /// <summary>The status to send when the password does not verify: STATUS_ACCOUNT_LOCKED_OUT when locked out, else STATUS_LOGON_FAILURE.</summary>
    public NtStatus StatusIfPasswordWrong => Result == PreVerificationResult.LockedOut ? NtStatus.AccountLockedOut : NtStatus.LogonFailure;

    /// <summary>A specific reason for the log and audit trail (never for the peer): e.g. "no such user", "account disabled".</summary>
    public required string Reason { get; init; }

    /// <summary>Whether the caller needs to verify the password at all (false when locked out: the answer is lockout regardless).</summary>
    public bool NeedsPasswordVerification => Result != PreVerificationResult.LockedOut;

    internal static PreVerification Unknown(AccountName name, string reason) => new(Decoy())
    {
        Result = PreVerificationResult.UnknownUser,
        Name = name,
        StatusIfPasswordCorrect = NtStatus.LogonFailure,
        Reason = reason,
    };

    internal static PreVerification Locked(AccountName name, UserAccount account, string reason) => new(Decoy())
    {
        Result = PreVerificationResult.LockedOut,
        Name = name,
        Account = account,
        StatusIfPasswordCorrect = NtStatus.AccountLockedOut,
        Reason = reason,
    };

    internal static PreVerification Proceed(AccountName name, UserCredential credential, NtStatus statusIfPasswordCorrect, string reason) =>
        new(credential.NtHash.ToArray())
        {
            Result = PreVerificationResult.Proceed,
            Name = name,
            Account = credential.Account,
            StatusIfPasswordCorrect = statusIfPasswordCorrect,
            Reason = reason,
        };

    private static byte[] Decoy() => RandomNumberGenerator.GetBytes(NtlmCrypto.NtOwfSize);

    /// <summary>Zeroes the hash.</summary>
    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_ntHash);
        _disposed = true;
    }
}

/// <summary>What <see cref="AccountPolicy.RecordFailureAsync"/> did.</summary>
/// <param name="Known">False when the name matched no local user (nothing was recorded).</param>
/// <param name="FailedLogonCount">Wrong passwords counted in the current window.</param>
/// <param name="LockedUntil">Set when this failure locked the account (or it was already locked).</param>
/// <param name="LockedNow">True when this failure reached the threshold and locked the account.</param>
public readonly record struct FailedLogonResult(bool Known, int FailedLogonCount, DateTimeOffset? LockedUntil, bool LockedNow);
