using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using RdpNla.Protocol;

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
/// <para><b>Lockout counting</b> follows Windows: each wrong password increments the counter unless
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
    }

    /// <summary>How stale <see cref="UserAccount.LastLogon"/> may get before a successful logon rewrites it.</summary>
    public static readonly TimeSpan LastLogonGranularity = TimeSpan.FromMinutes(1);

    /// <summary>The policy in force.</summary>
    public AccountPolicyOptions Options => _options;

    /// <summary>
    /// Before password verification: is the user known and not locked out, and which hash and final status apply?
    /// </summary>
    public async Task<PreVerification> CheckBeforeVerificationAsync(AccountName name, CancellationToken cancellationToken = default)
    {
        if (!name.IsLocalTo(_localNames))
        {
            // Do a lookup anyway so the time taken does not tell a foreign domain from an unknown user.
            using UserCredential? ignored = await _store.FindCredentialAsync(name.UserName, cancellationToken).ConfigureAwait(false);
            return PreVerification.Unknown(name, $"domain '{AccountName.Printable(name.Domain)}' is not this server");
        }

        UserCredential? credential = await _store.FindCredentialAsync(name.UserName, cancellationToken).ConfigureAwait(false);
        if (credential is null)
        {
            return PreVerification.Unknown(name, "no such user");
        }

        using (credential)
        {
            UserAccount account = credential.Account;
            DateTimeOffset now = _timeProvider.GetUtcNow();
            if (account.IsLockedOut(now))
            {
                return PreVerification.Locked(name, account, account.LockedUntil == DateTimeOffset.MaxValue
                    ? "account locked out until an administrator unlocks it"
                    : $"account locked out until {account.LockedUntil:O}");
            }

            (NtStatus status, string reason) = StatusIfPasswordCorrect(account);
            return PreVerification.Proceed(name, credential, status, reason);
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

    /// <summary>After a wrong password: count it and lock the account when the threshold is reached.</summary>
    public async Task<FailedLogonResult> RecordFailureAsync(AccountName name, CancellationToken cancellationToken = default)
    {
        if (!name.IsLocalTo(_localNames))
        {
            return default;
        }

        DateTimeOffset now = _timeProvider.GetUtcNow();
        bool lockedNow = false;
        UserAccount? updated = await _store.UpdateAsync(name.UserName, account =>
        {
            lockedNow = false;
            if (_options.LockoutThreshold <= 0 || account.IsLockedOut(now))
            {
                return account;
            }

            bool lockExpired = account.LockedUntil is not null;
            bool windowPassed = account.LastFailedLogon is not { } last || now - last >= _options.LockoutWindow;
            int count = lockExpired || windowPassed ? 1 : account.FailedLogonCount + 1;
            DateTimeOffset? lockedUntil = null;
            if (count >= _options.LockoutThreshold)
            {
                lockedUntil = now + _options.LockoutDuration;
                lockedNow = true;
            }

            return account with { FailedLogonCount = count, LastFailedLogon = now, LockedUntil = lockedUntil };
        }, cancellationToken).ConfigureAwait(false);

        if (updated is null)
        {
            return default;
        }

        if (lockedNow)
        {
            LogAccountLockedOut(_logger, updated.UserName, updated.FailedLogonCount, updated.LockedUntil);
        }

        return new FailedLogonResult(true, updated.FailedLogonCount, updated.IsLockedOut(now) ? updated.LockedUntil : null, lockedNow);
    }

    /// <summary>After a correct password: reset the failure counter and record the logon time.</summary>
    /// <param name="name">The account that authenticated.</param>
    /// <param name="knownState">
    /// The account as read just before the attempt, if the caller has it: when it has no failure to reset and its
    /// <see cref="UserAccount.LastLogon"/> is less than <see cref="LastLogonGranularity"/> old, nothing is written
    /// (Windows likewise updates lastLogonTimestamp only when it is older than its update interval), which saves a
    /// database write per logon under load.
    /// </param>
    /// <param name="cancellationToken">Cancels the write.</param>
    public async Task RecordSuccessAsync(AccountName name, UserAccount? knownState = null, CancellationToken cancellationToken = default)
    {
        if (!name.IsLocalTo(_localNames))
        {
            return;
        }

        DateTimeOffset now = _timeProvider.GetUtcNow();
        if (knownState is { FailedLogonCount: 0, LastFailedLogon: null, LockedUntil: null, LastLogon: { } last } && now - last < LastLogonGranularity && now >= last)
        {
            return;
        }

        await _store.UpdateAsync(name.UserName, account => account with
        {
            FailedLogonCount = 0,
            LastFailedLogon = null,
            LockedUntil = account.IsLockedOut(now) ? account.LockedUntil : null,
            LastLogon = now,
        }, cancellationToken).ConfigureAwait(false);
    }

    // EventId range 4100-4199: accounts.
    [LoggerMessage(EventId = 4100, Level = LogLevel.Warning, Message = "Account {UserName} locked out until {LockedUntil:O} after {FailedLogonCount} wrong passwords")]
    private static partial void LogAccountLockedOut(ILogger logger, string userName, int failedLogonCount, DateTimeOffset? lockedUntil);
}
