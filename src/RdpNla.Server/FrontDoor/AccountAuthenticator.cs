using RdpNla.Protocol;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Ntlm;
using RdpNla.Server.Accounts;

namespace RdpNla.Server.FrontDoor;

/// <summary>
/// Connects one CredSSP exchange to the account policy: answers the context's lookup for the user and domain the
/// client sent, then records the outcome (a wrong password counts toward lockout; a correct one resets the count).
/// </summary>
internal sealed class AccountAuthenticator : IAsyncDisposable
{
    private readonly AccountPolicy _policy;
    private PreVerification? _preVerification;

    public AccountAuthenticator(AccountPolicy policy)
    {
        _policy = policy;
    }

    /// <summary>The store's spelling of the authenticated user's name (null until a correct password was recorded).</summary>
    public string? AuthenticatedUserName { get; private set; }

    /// <summary>True when the user authenticated but may not log on remotely (deny-logon).</summary>
    public bool RemoteLogonDenied { get; private set; }

    public async ValueTask<NtlmCredentialLookup> LookupAsync(string userName, string domainName, CancellationToken cancellationToken)
    {
        if (!AccountName.TryFromCredentials(userName, domainName, out AccountName name, out _))
        {
            return NtlmCredentialLookup.NotFound();
        }

        _preVerification = await _policy.CheckBeforeVerificationAsync(name, cancellationToken).ConfigureAwait(false);
        return _preVerification.Result switch
        {
            // Windows reports a lockout whatever the password (AccountPolicy remarks).
            PreVerificationResult.LockedOut => NtlmCredentialLookup.Denied(NtStatus.AccountLockedOut),
            PreVerificationResult.UnknownUser => NtlmCredentialLookup.NotFound(),
            _ => NtlmCredentialLookup.Found(_preVerification.NtHash, _preVerification.StatusIfPasswordCorrect),
        };
    }

    /// <summary>Counts a wrong password toward lockout, or resets the count; returns true when this attempt locked the account.</summary>
    public async Task<bool> RecordOutcomeAsync(CredSspServerContext context, CancellationToken cancellationToken)
    {
        if (_preVerification is not { Result: PreVerificationResult.Proceed } verification)
        {
            return false;
        }

        if (context.PasswordVerified)
        {
            await _policy.RecordSuccessAsync(verification.Name, verification.Account, cancellationToken).ConfigureAwait(false);
            RemoteLogonDenied = verification.Account?.RemoteLogonDenied == true;
            AuthenticatedUserName = verification.Account?.UserName ?? verification.Name.UserName;
            return false;
        }

        FailedLogonResult result = await _policy.RecordFailureAsync(verification.Name, cancellationToken).ConfigureAwait(false);
        return result.LockedNow;
    }

    public ValueTask DisposeAsync()
    {
        _preVerification?.Dispose();
        return ValueTask.CompletedTask;
    }
}
