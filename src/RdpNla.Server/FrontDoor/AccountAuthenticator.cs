namespace RdpNla.Server.FrontDoor;

/// <summary>
/// Connects one CredSSP exchange to the account policy: reserves the attempt and answers the context's lookup for the
/// user and domain the client sent, records a verified password before the server proves itself, and records a
/// failure (a wrong password counts toward lockout). Every call to the database goes through <see cref="StoreWaits"/>;
/// a database fault is kept in <see cref="StoreFault"/> and answered with STATUS_INTERNAL_DB_ERROR.
/// </summary>
internal sealed class AccountAuthenticator : IAsyncDisposable
{
    private readonly AccountPolicy _policy;
    private readonly StoreWaits _store;
    private PreVerification? _preVerification;
    private bool _recorded;

    public AccountAuthenticator(AccountPolicy policy, StoreWaits store)
    {
        _policy = policy;
        _store = store;
    }

    /// <summary>The store's spelling of the authenticated user's name (null until a correct password was recorded).</summary>
    public string? AuthenticatedUserName { get; private set; }

    /// <summary>True when the user authenticated but may not log on remotely (deny-logon).</summary>
    public bool RemoteLogonDenied { get; private set; }

    /// <summary>The database fault that ended the attempt, if any (also set by the host when its audit write fails).</summary>
    public AccountStoreException? StoreFault { get; set; }

    public async ValueTask<NtlmCredentialLookup> LookupAsync(string userName, string domainName, CancellationToken cancellationToken)
    {
        if (!AccountName.TryFromCredentials(userName, domainName, out AccountName name, out _))
        {
            return NtlmCredentialLookup.NotFound();
        }

        try
        {
            // Each store step is bounded on its own; a wait for admission between them runs on the client's clocks.
            _preVerification = await _policy.CheckRunningStepsAsync(name, (step, ct) => _store.RunAsync("the account lookup", step, ct), cancellationToken).ConfigureAwait(false);
        }
        catch (AccountStoreException ex)
        {
            StoreFault = ex;
            _recorded = true;
            return NtlmCredentialLookup.Denied(NtStatus.InternalDbError);
        }

        return _preVerification.Result switch
        {
            // Windows reports a lockout whatever the password (AccountPolicy remarks).
            PreVerificationResult.LockedOut => NtlmCredentialLookup.Denied(NtStatus.AccountLockedOut),
            PreVerificationResult.UnknownUser => NtlmCredentialLookup.NotFound(),
            _ => NtlmCredentialLookup.Found(_preVerification.NtHash, _preVerification.StatusIfPasswordCorrect),
        };
    }

    /// <summary>
    /// The password verified (<see cref="NlaStatus.LogonRecordNeeded"/>): records the logon, re-checking the lock in
    /// the same atomic step. Returns STATUS_SUCCESS, STATUS_ACCOUNT_LOCKED_OUT, or STATUS_INTERNAL_DB_ERROR.
    /// </summary>
    public async ValueTask<NtStatus> RecordVerifiedAsync(CancellationToken cancellationToken)
    {
        _recorded = true;
        if (_preVerification is not { Result: PreVerificationResult.Proceed } verification)
        {
            return NtStatus.LogonFailure;
        }

        bool allowed;
        try
        {
            allowed = await _store.RunAsync("recording the logon", ct => _policy.RecordSuccessAsync(verification.Name, ct), cancellationToken).ConfigureAwait(false);
        }
        catch (AccountStoreException ex)
        {
            StoreFault = ex;
            return NtStatus.InternalDbError;
        }

        if (!allowed)
        {
            return NtStatus.AccountLockedOut;
        }

        RemoteLogonDenied = verification.Account?.RemoteLogonDenied == true;
        AuthenticatedUserName = verification.Account?.UserName ?? verification.Name.UserName;
        return NtStatus.Success;
    }

    /// <summary>
    /// After a failed exchange: counts a wrong password toward lockout (an unknown user costs the same write), or
    /// releases the reservation of a correct password refused for the account's state. Returns true when this attempt
    /// locked the account.
    /// </summary>
    /// <exception cref="AccountStoreException">The database failed (also kept in <see cref="StoreFault"/>).</exception>
    public async Task<bool> RecordOutcomeAsync(CredSspServerContext context, CancellationToken cancellationToken)
    {
        if (_recorded || _preVerification is not { } verification || verification.Result == PreVerificationResult.LockedOut)
        {
            return false;
        }

        _recorded = true;
        try
        {
            if (verification.Result == PreVerificationResult.Proceed && context.PasswordVerified)
            {
                await _store.RunAsync("recording the logon", ct => _policy.RecordSuccessAsync(verification.Name, ct), cancellationToken).ConfigureAwait(false);
                return false;
            }

            FailedLogonResult result = await _store.RunAsync("recording the failed logon", ct => _policy.RecordFailureAsync(verification.Name, ct), cancellationToken).ConfigureAwait(false);
            return result.LockedNow;
        }
        catch (AccountStoreException ex)
        {
            StoreFault = ex;
            throw;
        }
    }

    public ValueTask DisposeAsync()
    {
        _preVerification?.Dispose();
        return ValueTask.CompletedTask;
    }
}
