namespace RdpNla.Server.Portal;

/// <summary>
/// The outcome of one portal request: 2xx on success, 4xx with a stable machine-readable <see cref="Error"/> (the JSON
/// <c>error</c>, documented in docs/portal.md) and a sentence for people.
/// </summary>
public sealed record PortalOutcome(int StatusCode, string? Error, string Message)
{
    public bool Succeeded => StatusCode is >= 200 and < 300;

    public static PortalOutcome Ok(string message) => new(200, null, message);

    public static PortalOutcome Refused(int statusCode, string error, string message) => new(statusCode, error, message);
}

/// <summary>
/// What the portal does for users (docs/portal.md): change a password by proving the old one (also when it expired or
/// must change; a domain user's at a domain controller), enrol a TOTP authenticator, and approve held connections with a current code. Every wrong
/// password or code counts toward lockout exactly as a failed logon does (<see cref="AccountPolicy.RecordFailureAsync"/>);
/// every outcome is audited.
/// </summary>
public sealed partial class SelfService(
    AccountPolicy policy,
    LocalDomainNames localNames,
    IUserStore users,
    SelfServiceStore store,
    IAuditLog audit,
    PortalOptions portal,
    MfaOptions mfa,
    ConnectionApprovals approvals,
    Func<GatewayKey> key,
    TimeProvider timeProvider,
    ILogger logger)
{
    private const int SecretSize = 20;
    private readonly AccountPolicy _policy = policy;
    private readonly LocalDomainNames _localNames = localNames;
    private readonly IUserStore _users = users;
    private readonly SelfServiceStore _store = store;
    private readonly IAuditLog _audit = audit;
    private readonly PortalOptions _portal = portal;
    private readonly MfaOptions _mfa = mfa;
    private readonly Func<GatewayKey> _key = key;
    private readonly TimeProvider _timeProvider = timeProvider;
    private readonly ILogger _logger = logger;
    private readonly AttemptWindow _codeAttempts = new(timeProvider, () => mfa.MaxCodeAttemptsPerMinute);
    private readonly AttemptWindow _adminAttempts = new(timeProvider, () => portal.AdminAttemptsPerMinute);
    private long _requestCount;

    /// <summary>The connections held for approval.</summary>
    public ConnectionApprovals Approvals { get; } = approvals;

    /// <summary>
    /// The domain of the front door's domain logons (<c>--ntlm-passthrough winbind</c>), or null: its users change their
    /// password at a domain controller.
    /// </summary>
    internal ActiveDirectory.DomainLogons? Domain { get; init; }

    /// <summary>The NetBIOS name of <see cref="Domain"/>, for the pages; null without domain logons.</summary>
    public string? DomainName => Domain?.NetBiosDomain;

    /// <summary>The password policy in force.</summary>
    public PasswordPolicyOptions PasswordPolicy => _portal.Password;

    /// <summary>
    /// Sets a new password after proving the old one. Works for a user whose password expired or must change; clears
    /// both flags. Refused: wrong old password (counted toward lockout), locked out, disabled, policy.
    /// </summary>
    public async Task<PortalOutcome> ChangePasswordAsync(string? user, string? oldPassword, string? newPassword, IPEndPoint? client, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(user) || oldPassword is null || string.IsNullOrEmpty(newPassword))
        {
            return PortalOutcome.Refused(400, "invalid-request", "give user, oldPassword and newPassword");
        }

        if (Domain is { } domain && domain.TryDomainUser(user, out string domainUser))
        {
            return await ChangeDomainPasswordAsync(domain, user, domainUser, oldPassword, newPassword, client).ConfigureAwait(false);
        }

        (PortalOutcome? refusal, UserAccount? account, byte[]? oldHash) = await VerifyPasswordAsync(user, oldPassword, allowChangeRequired: true, "password change", client, cancellationToken).ConfigureAwait(false);
        if (refusal is not null)
        {
            return refusal;
        }

        try
        {
            if (CheckPolicy(account!.UserName, newPassword) is { } problem)
            {
                await AuditAsync(user, client, AuditOutcome.Refused, NtStatus.PasswordRestriction, $"password change refused: {problem}").ConfigureAwait(false);
                return PortalOutcome.Refused(422, "password-policy", problem);
            }

            byte[] newHash = NtlmCrypto.NtOwfV1(newPassword);
            try
            {
                int history = _portal.Password.History;
                bool reused = history > 0 && (CryptographicOperations.FixedTimeEquals(newHash, oldHash!)
                    || await _store.IsInHistoryAsync(account.Id, newHash, history - 1, cancellationToken).ConfigureAwait(false));
                if (reused)
                {
                    string problem2 = $"the new password is one of the last {history} passwords of this account (Portal:Password:History)";
                    await AuditAsync(user, client, AuditOutcome.Refused, NtStatus.PasswordRestriction, $"password change refused: {problem2}").ConfigureAwait(false);
                    return PortalOutcome.Refused(422, "password-policy", problem2);
                }

                if (await _users.SetNtHashAsync(account.UserName, newHash, mustChangePassword: false, cancellationToken).ConfigureAwait(false) is null)
                {
                    return PortalOutcome.Refused(404, "wrong-credentials", "unknown user or wrong password");
                }

                await _store.RecordReplacedAsync(account.Id, oldHash!, Math.Max(0, history - 1), cancellationToken).ConfigureAwait(false);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(newHash);
            }
        }
        finally
        {
            CryptographicOperations.ZeroMemory(oldHash);
        }

        LogPasswordChanged(_logger, account.UserName, client?.ToString() ?? "-");
        await AuditAsync(account.UserName, client, AuditOutcome.Success, NtStatus.Success, "password changed").ConfigureAwait(false);
        return PortalOutcome.Ok($"The password of {account.UserName} was changed.");
    }

    /// <summary>
    /// TOTP enrolment. Without <paramref name="code"/>: proves the password and returns a new secret's otpauth URI
    /// (replacing an unconfirmed one). With <paramref name="code"/>: confirms the unconfirmed authenticator with its
    /// first code. A user with a confirmed authenticator is refused (an administrator resets it with
    /// <c>rdpnla users reset-mfa</c>), so a stolen password alone cannot replace it.
    /// </summary>
    public async Task<(PortalOutcome Outcome, string? OtpAuthUri)> EnrolTotpAsync(string? user, string? password, string? code, IPEndPoint? client, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(user) || password is null)
        {
            return (PortalOutcome.Refused(400, "invalid-request", "give user and password (and code to confirm)"), null);
        }

        (PortalOutcome? refusal, UserAccount? account, byte[]? hash) = await VerifyPasswordAsync(user, password, allowChangeRequired: false, "authenticator enrolment", client, cancellationToken).ConfigureAwait(false);
        CryptographicOperations.ZeroMemory(hash);
        if (refusal is not null)
        {
            return (refusal, null);
        }

        StoredTotp? stored = await _store.GetTotpAsync(account!.UserName, cancellationToken).ConfigureAwait(false);
        if (stored is { Confirmed: true })
        {
            await AuditAsync(account.UserName, client, AuditOutcome.Refused, null, "authenticator enrolment refused: one is enrolled already").ConfigureAwait(false);
            return (PortalOutcome.Refused(409, "already-enrolled", $"{account.UserName} has an authenticator already; an administrator can remove it (reset the user's second factor)"), null);
        }

        if (string.IsNullOrEmpty(code))
        {
            byte[] secret = RandomNumberGenerator.GetBytes(SecretSize);
            try
            {
                byte[] sealedSecret = _key().Seal(secret, SealContext(account.UserName));
                await _store.SetPendingTotpAsync(account.UserName, sealedSecret, cancellationToken).ConfigureAwait(false);
                await AuditAsync(account.UserName, client, AuditOutcome.Success, null, "authenticator enrolment started").ConfigureAwait(false);
                return (PortalOutcome.Ok("Scan the code with an authenticator app, then confirm with the code it shows."), Totp.OtpAuthUri(_mfa.Issuer, account.UserName, secret, Totp.DefaultStep));
            }
            finally
            {
                CryptographicOperations.ZeroMemory(secret);
            }
        }

        if (stored is null)
        {
            return (PortalOutcome.Refused(409, "not-enrolled", "start the enrolment first (without a code)"), null);
        }

        PortalOutcome checkedCode = await CheckCodeAsync(account, stored, code, confirm: true, client, "authenticator confirmation", cancellationToken).ConfigureAwait(false);
        if (!checkedCode.Succeeded)
        {
            return (checkedCode, null);
        }

        LogEnrolled(_logger, account.UserName);
        await AuditAsync(account.UserName, client, AuditOutcome.Success, NtStatus.Success, "authenticator enrolled").ConfigureAwait(false);
        return (PortalOutcome.Ok($"The authenticator of {account.UserName} is enrolled."), null);
    }

    /// <summary>
    /// Approves the user's oldest held connection with a current code. A wrong code denies that connection, counts
    /// toward lockout and is audited; a code is accepted once.
    /// </summary>
    public async Task<(PortalOutcome Outcome, PendingConnection? Connection)> ApproveAsync(string? user, string? code, IPEndPoint? client, CancellationToken cancellationToken)
    {
        if (string.IsNullOrEmpty(user) || string.IsNullOrEmpty(code))
        {
            return (PortalOutcome.Refused(400, "invalid-request", "give user and code"), null);
        }

        if (!AccountName.TryParse(user, out AccountName name, out _) || !name.IsLocalTo(_localNames)
            || await _users.FindAsync(name.UserName, cancellationToken).ConfigureAwait(false) is not { } account)
        {
            return (PortalOutcome.Refused(404, "no-pending-connection", "no connection of this user waits for approval"), null);
        }

        if (Approvals.Pending(account.UserName).Count == 0)
        {
            return (PortalOutcome.Refused(404, "no-pending-connection", "no connection of this user waits for approval"), null);
        }

        StoredTotp? stored = await _store.GetTotpAsync(account.UserName, cancellationToken).ConfigureAwait(false);
        if (stored is not { Confirmed: true })
        {
            return (PortalOutcome.Refused(409, "not-enrolled", "this user has no authenticator; enrol one first"), null);
        }

        PortalOutcome outcome = await CheckCodeAsync(account, stored, code, confirm: false, client, "connection approval", cancellationToken).ConfigureAwait(false);
        if (!outcome.Succeeded)
        {
            if (outcome.Error is "wrong-code" && Approvals.ResolveOldest(account.UserName, approve: false) is { } denied)
            {
                LogDenied(_logger, account.UserName, denied.ConnectionId, denied.Client.ToString());
                await AuditAsync(account.UserName, client, AuditOutcome.Failure, NtStatus.LogonFailure, $"connection {denied.ConnectionId} from {denied.Client} denied: wrong code").ConfigureAwait(false);
            }

            return (outcome, null);
        }

        if (Approvals.ResolveOldest(account.UserName, approve: true) is not { } approved)
        {
            return (PortalOutcome.Refused(404, "no-pending-connection", "the connection ended or timed out before the approval"), null);
        }

        LogApproved(_logger, account.UserName, approved.ConnectionId, approved.Client.ToString());
        await AuditAsync(account.UserName, client, AuditOutcome.Success, NtStatus.Success, $"connection {approved.ConnectionId} from {approved.Client} approved").ConfigureAwait(false);
        return (PortalOutcome.Ok($"Approved the connection from {approved.Client.Address} to {approved.Backend}."), approved);
    }

    /// <summary>
    /// A domain user's password change, done by the DC (docs/active-directory.md): the DC proves the old password, applies
    /// its own policy and counts a wrong old password toward its own lockout; nothing about the user is stored here.
    /// When neither winbind nor a DC answers the change fails closed.
    /// </summary>
    private async Task<PortalOutcome> ChangeDomainPasswordAsync(ActiveDirectory.DomainLogons domain, string user, string userName, string oldPassword, string newPassword, IPEndPoint? client)
    {
        string account = $"{domain.NetBiosDomain}\\{userName}";
        ActiveDirectory.WinbindPasswordChange answer;
        string detail;
        try
        {
            answer = await domain.ChangePasswordAsync(userName, oldPassword, newPassword).ConfigureAwait(false);
            detail = $"winbind: {answer.Error}";
        }
        catch (InvalidOperationException ex)
        {
            // libwbclient missing or the winbind thread gone: fail closed like an unreachable DC.
            answer = new ActiveDirectory.WinbindPasswordChange(ActiveDirectory.WbcErr.WinbindNotAvailable, NtStatus.NoLogonServers, ActiveDirectory.PasswordRejectReason.None, 0, 0);
            detail = ex.Message;
        }

        (PortalOutcome outcome, AuditOutcome audit, string reason) = answer.Status switch
        {
            NtStatus.Success => (PortalOutcome.Ok($"The password of {account} was changed at the domain controller."), AuditOutcome.Success, "password changed at the domain controller"),
            NtStatus.WrongPassword or NtStatus.LogonFailure or NtStatus.NoSuchUser =>
                (PortalOutcome.Refused(401, "wrong-credentials", "unknown user or wrong password"), AuditOutcome.Failure, $"password change: the domain controller refused the old password ({NtStatusText.Name(answer.Status)})"),
            NtStatus.AccountLockedOut =>
                (PortalOutcome.Refused(403, "locked-out", "the account is locked out at the domain controller; try again later or ask an administrator"), AuditOutcome.Failure, "password change: account locked out at the domain controller"),
            NtStatus.AccountDisabled =>
                (PortalOutcome.Refused(403, "account-disabled", "the account is disabled"), AuditOutcome.Refused, "password change: account disabled at the domain controller"),
            NtStatus.PasswordRestriction => (PortalOutcome.Refused(422, "password-policy", DomainPolicyProblem(answer)), AuditOutcome.Refused, $"password change refused by the domain controller: {DomainPolicyProblem(answer)}"),
            NtStatus.NoLogonServers or NtStatus.InternalDbError => (PortalOutcome.Refused(503, "domain-unavailable", "no domain controller answered; the password was not changed, try again later"), AuditOutcome.Failure, $"password change: no domain controller answered ({detail})"),
            _ => (PortalOutcome.Refused(403, "change-refused", $"the domain controller refused the change: {NtStatusText.Describe(answer.Status)}"), AuditOutcome.Refused, $"password change refused by the domain controller ({NtStatusText.Name(answer.Status)})"),
        };

        if (outcome.Succeeded)
        {
            LogPasswordChanged(_logger, account, client?.ToString() ?? "-");
        }
        else if (outcome.Error == "domain-unavailable")
        {
            LogDomainUnavailable(_logger, account, detail);
        }

        await AuditAsync(user, client, audit, answer.Status, reason).ConfigureAwait(false);
        return outcome;
    }

    /// <summary>The DC's reason for refusing a new password, in words, with the domain policy's numbers when it sent them.</summary>
    private static string DomainPolicyProblem(ActiveDirectory.WinbindPasswordChange answer) => answer.Reason switch
    {
        ActiveDirectory.PasswordRejectReason.TooShort => answer.MinLength > 0 ? $"the new password has fewer than {answer.MinLength} characters (the domain's policy)" : "the new password is too short (the domain's policy)",
        ActiveDirectory.PasswordRejectReason.TooLong => "the new password is too long (the domain's policy)",
        ActiveDirectory.PasswordRejectReason.InHistory => answer.History > 0 ? $"the new password is one of the last {answer.History} passwords of this account (the domain's policy)" : "the new password was used before (the domain's policy)",
        ActiveDirectory.PasswordRejectReason.UserNameInPassword => "the new password contains the user name (the domain's policy)",
        ActiveDirectory.PasswordRejectReason.FullNameInPassword => "the new password contains the user's full name (the domain's policy)",
        ActiveDirectory.PasswordRejectReason.NotComplex => "the new password needs characters of three of these kinds: upper case, lower case, digits, others (the domain's policy)",
        ActiveDirectory.PasswordRejectReason.FailedByFilter => "the domain's password filter refused the new password",
        _ => "the domain controller refused the new password (its policy: length, complexity, history or minimum password age)",
    };

    /// <summary>The password policy's objection to <paramref name="password"/>, or null.</summary>
    public string? CheckPolicy(string userName, string password)
    {
        ArgumentNullException.ThrowIfNull(userName);
        ArgumentNullException.ThrowIfNull(password);
        PasswordPolicyOptions policy = _portal.Password;
        if (password.Length < policy.MinLength)
        {
            return $"the new password has fewer than {policy.MinLength} characters (Portal:Password:MinLength)";
        }

        if (password.Length > policy.MaxLength)
        {
            return $"the new password has more than {policy.MaxLength} characters (Portal:Password:MaxLength)";
        }

        if (policy.RequireComplexity)
        {
            // The Windows "Password must meet complexity requirements" rules: three of four character categories, and
            // not the account name (Microsoft Learn, "Password must meet complexity requirements").
            int categories = (password.Any(char.IsUpper) ? 1 : 0) + (password.Any(char.IsLower) ? 1 : 0)
                + (password.Any(char.IsDigit) ? 1 : 0) + (password.Any(c => !char.IsLetterOrDigit(c)) ? 1 : 0);
            if (categories < 3)
            {
                return "the new password needs characters of three of these kinds: upper case, lower case, digits, others (Portal:Password:RequireComplexity)";
            }

            if (userName.Length >= 3 && password.Contains(userName, StringComparison.OrdinalIgnoreCase))
            {
                return "the new password contains the user name (Portal:Password:RequireComplexity)";
            }
        }

        return null;
    }

    /// <summary>
    /// A user name the portal takes: one an account can have (AccountName's rules: no control character, ...), at most
    /// a user and a domain name long. Anything else is answered 400, "the user name is not valid".
    /// </summary>
    internal static bool TryParseUserName(string user, out AccountName name)
    {
        name = default;
        return user.Length <= AccountName.MaxUserNameLength + AccountName.MaxDomainLength + 1 && AccountName.TryParse(user, out name, out _);
    }

    private async Task<(PortalOutcome? Refusal, UserAccount? Account, byte[]? NtHash)> VerifyPasswordAsync(
        string user, string password, bool allowChangeRequired, string purpose, IPEndPoint? client, CancellationToken cancellationToken)
    {
        var wrong = PortalOutcome.Refused(401, "wrong-credentials", "unknown user or wrong password");
        if (!TryParseUserName(user, out AccountName name))
        {
            return (PortalOutcome.Refused(400, "invalid-request", "the user name is not valid"), null, null);
        }

        using PreVerification check = await _policy.CheckBeforeVerificationAsync(name, cancellationToken).ConfigureAwait(false);
        byte[] typed = NtlmCrypto.NtOwfV1(password);
        if (check.Result == PreVerificationResult.LockedOut)
        {
            CryptographicOperations.ZeroMemory(typed);
            await AuditAsync(user, client, AuditOutcome.Failure, NtStatus.AccountLockedOut, $"{purpose}: {check.Reason}").ConfigureAwait(false);
            return (PortalOutcome.Refused(403, "locked-out", "the account is locked out; try again later or ask an administrator"), null, null);
        }

        bool correct = check.Result == PreVerificationResult.Proceed && CryptographicOperations.FixedTimeEquals(typed, check.NtHash);
        if (!correct)
        {
            CryptographicOperations.ZeroMemory(typed);
            FailedLogonResult failure = await _policy.RecordFailureAsync(name, cancellationToken).ConfigureAwait(false);
            string detail = check.Result == PreVerificationResult.Proceed ? "wrong password" : check.Reason;
            await AuditAsync(user, client, AuditOutcome.Failure, NtStatus.LogonFailure, $"{purpose}: {detail}{(failure.LockedNow ? "; account locked out" : string.Empty)}").ConfigureAwait(false);
            return (wrong, null, null);
        }

        UserAccount account = check.Account!;

        // The password is right: the attempt's reservation is released, and the lock re-checked in the same store step.
        if (!await _policy.RecordSuccessAsync(name, cancellationToken).ConfigureAwait(false))
        {
            CryptographicOperations.ZeroMemory(typed);
            await AuditAsync(user, client, AuditOutcome.Failure, NtStatus.AccountLockedOut, $"{purpose}: account locked out").ConfigureAwait(false);
            return (PortalOutcome.Refused(403, "locked-out", "the account is locked out; try again later or ask an administrator"), null, null);
        }

        NtStatus status = check.StatusIfPasswordCorrect;
        if (status == NtStatus.AccountDisabled
            || (!allowChangeRequired && status is NtStatus.PasswordMustChange or NtStatus.PasswordExpired))
        {
            CryptographicOperations.ZeroMemory(typed);
            await AuditAsync(account.UserName, client, AuditOutcome.Refused, status, $"{purpose}: {check.Reason}").ConfigureAwait(false);
            return status == NtStatus.AccountDisabled
                ? (PortalOutcome.Refused(403, "account-disabled", "the account is disabled"), null, null)
                : (PortalOutcome.Refused(403, "password-change-required", "change the password first"), null, null);
        }

        return (null, account, typed);
    }

    private async Task<PortalOutcome> CheckCodeAsync(UserAccount account, StoredTotp stored, string code, bool confirm, IPEndPoint? client, string purpose, CancellationToken cancellationToken)
    {
        if (!_codeAttempts.TryCount(account.UserKey))
        {
            await AuditAsync(account.UserName, client, AuditOutcome.Refused, null, $"{purpose}: too many code attempts").ConfigureAwait(false);
            return PortalOutcome.Refused(429, "rate-limited", $"more than {_mfa.MaxCodeAttemptsPerMinute} code attempts in a minute; wait and try again (Mfa:MaxCodeAttemptsPerMinute)");
        }

        // A code check is a verification like a password check: it reserves an attempt first (AccountPolicy), so the
        // lockout threshold bounds codes and passwords together, and recording its outcome releases this reservation,
        // never the one of a logon in flight.
        AccountName name = AccountName.Parse(account.UserName);
        using (PreVerification check = await _policy.CheckBeforeVerificationAsync(name, cancellationToken).ConfigureAwait(false))
        {
            if (check.Result == PreVerificationResult.LockedOut)
            {
                await AuditAsync(account.UserName, client, AuditOutcome.Failure, NtStatus.AccountLockedOut, $"{purpose}: {check.Reason}").ConfigureAwait(false);
                return PortalOutcome.Refused(403, "locked-out", "the account is locked out; try again later or ask an administrator");
            }
        }

        DateTimeOffset now = _timeProvider.GetUtcNow();
        byte[] secret = _key().Open(stored.SealedSecret, SealContext(account.UserName));
        long? step;
        try
        {
            step = Totp.Match(secret, code.Trim(), now, Totp.DefaultStep);
        }
        finally
        {
            CryptographicOperations.ZeroMemory(secret);
        }

        string? failure = step is null ? "wrong code"
            : step <= stored.LastStep || !await _store.ConsumeStepAsync(account.UserName, step.Value, confirm, cancellationToken).ConfigureAwait(false) ? "code already used"
            : null;
        if (failure is null)
        {
            if (!await _policy.RecordSuccessAsync(name, cancellationToken).ConfigureAwait(false))
            {
                await AuditAsync(account.UserName, client, AuditOutcome.Failure, NtStatus.AccountLockedOut, $"{purpose}: account locked out").ConfigureAwait(false);
                return PortalOutcome.Refused(403, "locked-out", "the account is locked out; try again later or ask an administrator");
            }

            return PortalOutcome.Ok("code accepted");
        }

        FailedLogonResult counted = await _policy.RecordFailureAsync(name, cancellationToken).ConfigureAwait(false);
        await AuditAsync(account.UserName, client, AuditOutcome.Failure, NtStatus.LogonFailure, $"{purpose}: {failure}{(counted.LockedNow ? "; account locked out" : string.Empty)}").ConfigureAwait(false);
        return PortalOutcome.Refused(401, "wrong-code", failure == "wrong code" ? "the code is wrong or not current" : "the code was used already; wait for the next one");
    }

    /// <summary>The associated data binding a sealed TOTP secret to its user (user names cannot contain NUL).</summary>
    internal static TotpSecretBinding SealContext(string userName) => new(AccountName.NormalizeUserName(userName));

    private async Task AuditAsync(string user, IPEndPoint? client, AuditOutcome outcome, NtStatus? status, string reason)
    {
        var entry = new AuditEntry
        {
            Time = _timeProvider.GetUtcNow(),
            ClientAddress = client is null ? null : AuditEntry.NormalizeAddress(client.Address),
            ClientPort = client?.Port,
            UserName = user.Length > 256 ? user[..256] : user,
            SecurityProtocol = "PORTAL",
            Outcome = outcome,
            Status = status,
            Reason = "portal " + reason,
            ConnectionId = "portal-" + Interlocked.Increment(ref _requestCount).ToString(System.Globalization.CultureInfo.InvariantCulture),
            InstanceName = InstanceName,
        };
        await _audit.AppendAsync(entry, CancellationToken.None).ConfigureAwait(false);
    }

    // EventId range 4600-4699: the self-service portal.
    [LoggerMessage(EventId = 4600, Level = LogLevel.Information, Message = "Portal: password of {UserName} changed (from {Client})")]
    private static partial void LogPasswordChanged(ILogger logger, string userName, string client);

    [LoggerMessage(EventId = 4601, Level = LogLevel.Information, Message = "Portal: authenticator of {UserName} enrolled")]
    private static partial void LogEnrolled(ILogger logger, string userName);

    [LoggerMessage(EventId = 4602, Level = LogLevel.Information, Message = "Portal: {UserName} approved connection {ConnectionId} from {Client}")]
    private static partial void LogApproved(ILogger logger, string userName, long connectionId, string client);

    [LoggerMessage(EventId = 4603, Level = LogLevel.Warning, Message = "Portal: a wrong code denied connection {ConnectionId} of {UserName} from {Client}")]
    private static partial void LogDenied(ILogger logger, string userName, long connectionId, string client);

    [LoggerMessage(EventId = 4604, Level = LogLevel.Error, Message = "Portal: no domain controller answered the password change of {Account} ({Detail}); the password was not changed")]
    private static partial void LogDomainUnavailable(ILogger logger, string account, string detail);
}
