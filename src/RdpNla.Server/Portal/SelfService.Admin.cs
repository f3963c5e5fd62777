namespace RdpNla.Server.Portal;

/// <summary>What an administrator asks of the admin page: credentials, and the filters of the audit rows.</summary>
public sealed record AdminRequest(string? User, string? Password, string? Code, string? FilterUser, string? Outcome, int? Limit);

/// <summary>What the admin page shows: the newest audit rows (of every instance sharing the store) and this instance's relayed sessions.</summary>
public sealed record AdminOverview(string Instance, DateTimeOffset At, IReadOnlyList<AuditEntry> Audit, IReadOnlyList<LiveSession> Sessions, int Limit, string? FilterUser, AuditOutcome? Outcome);

/// <summary>The read-only admin page (docs/portal.md): who may see it, and what it shows.</summary>
public sealed partial class SelfService
{
    private string? _adminGroupSid;

    /// <summary>The name of this instance (<c>--instance-name</c>), written into the portal's audit rows.</summary>
    public string InstanceName { get; init; } = Environment.MachineName;

    /// <summary>The sessions this instance relays now; null without a gateway.</summary>
    public LiveSessions? LiveSessions { get; init; }

    /// <summary>Whether the admin page is on (<see cref="PortalOptions.AdminGroup"/> set).</summary>
    public bool AdminEnabled => _portal.AdminEnabled;

    /// <summary>The most audit rows the admin page shows at once.</summary>
    public int AdminMaxRows => _portal.AdminMaxRows;

    /// <summary>
    /// The admin page's content for a member of <see cref="PortalOptions.AdminGroup"/> who proves the password (and a
    /// current code when an authenticator is enrolled). Refused: rate-limited (429, before any check), wrong credentials
    /// (401, counted toward lockout like a failed logon), not a member (403 <c>not-admin</c>), code missing or wrong. Every
    /// outcome is audited.
    /// </summary>
    public async Task<(PortalOutcome Outcome, AdminOverview? Overview)> AdminOverviewAsync(AdminRequest request, IPEndPoint? client, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (!AdminEnabled)
        {
            return (PortalOutcome.Refused(404, "not-found", "the admin page is off (Portal:AdminGroup)"), null);
        }

        if (string.IsNullOrEmpty(request.User) || request.Password is null)
        {
            return (PortalOutcome.Refused(400, "invalid-request", "give user and password (and code when you have an authenticator)"), null);
        }

        (PortalOutcome? invalid, AuditOutcome? outcomeFilter, int limit, string? userFilter) = ParseFilters(request);
        if (invalid is not null)
        {
            return (invalid, null);
        }

        string address = client is null ? "-" : AuditEntry.NormalizeAddress(client.Address);
        string userKey = AccountName.TryParse(request.User, out AccountName typed, out _) ? typed.UserKey : AccountName.NormalizeUserName(request.User);
        if (!_adminAttempts.TryCount("address:" + address) || !_adminAttempts.TryCount("user:" + userKey))
        {
            await AuditAsync(request.User, client, AuditOutcome.Refused, null, "admin page: too many attempts").ConfigureAwait(false);
            return (PortalOutcome.Refused(429, "rate-limited", $"more than {_adminAttempts.Limit} admin page requests in a minute from this address or for this user; wait and try again (Portal:AdminAttemptsPerMinute)"), null);
        }

        (PortalOutcome? refusal, string? admin) = Domain is { } domain && domain.TryDomainUser(request.User, out string domainUser)
            ? await DomainAdminAsync(domain, request.User, domainUser, request.Password, client, address).ConfigureAwait(false)
            : await LocalAdminAsync(request.User, request.Password, request.Code, client, address, cancellationToken).ConfigureAwait(false);
        if (refusal is not null)
        {
            return (refusal, null);
        }

        IReadOnlyList<AuditEntry> rows = await _audit.QueryAsync(new AuditQuery { UserName = userFilter, Outcome = outcomeFilter, Limit = limit }, cancellationToken).ConfigureAwait(false);
        IReadOnlyList<LiveSession> sessions = LiveSessions?.Snapshot() ?? [];
        LogAdminViewed(_logger, admin!, address, rows.Count, sessions.Count);
        string filters = (userFilter is null ? string.Empty : $", user {userFilter}") + (outcomeFilter is { } o ? $", outcome {SqliteAuditLog.OutcomeText(o)}" : string.Empty);
        await AuditAsync(admin!, client, AuditOutcome.Success, NtStatus.Success, $"admin page viewed ({rows.Count} audit rows{filters}; {sessions.Count} live sessions)").ConfigureAwait(false);
        return (PortalOutcome.Ok($"{rows.Count} audit rows, {sessions.Count} live sessions"), new AdminOverview(InstanceName, _timeProvider.GetUtcNow(), rows, sessions, limit, userFilter, outcomeFilter));
    }

    /// <summary>A local account: its password (counted toward lockout), membership of the group, and its second factor.</summary>
    private async Task<(PortalOutcome? Refusal, string? Admin)> LocalAdminAsync(string user, string password, string? code, IPEndPoint? client, string address, CancellationToken cancellationToken)
    {
        (PortalOutcome? refusal, UserAccount? account, byte[]? hash) = await VerifyPasswordAsync(user, password, allowChangeRequired: false, "admin page", client, cancellationToken).ConfigureAwait(false);
        System.Security.Cryptography.CryptographicOperations.ZeroMemory(hash);
        if (refusal is not null)
        {
            return (refusal, null);
        }

        string group = _portal.AdminGroup!.Trim();
        if (!await _store.IsGroupMemberAsync(account!.UserName, group, cancellationToken).ConfigureAwait(false))
        {
            LogAdminRefused(_logger, account.UserName, address);
            await AuditAsync(account.UserName, client, AuditOutcome.Refused, NtStatus.AccessDenied, $"admin page refused: not a member of {group} (Portal:AdminGroup)").ConfigureAwait(false);
            return (PortalOutcome.Refused(403, "not-admin", $"{account.UserName} is not an administrator of this portal"), null);
        }

        StoredTotp? totp = await _store.GetTotpAsync(account.UserName, cancellationToken).ConfigureAwait(false);
        if (totp is { Confirmed: true })
        {
            if (string.IsNullOrWhiteSpace(code))
            {
                await AuditAsync(account.UserName, client, AuditOutcome.Refused, null, "admin page: code required (an authenticator is enrolled)").ConfigureAwait(false);
                return (PortalOutcome.Refused(401, "code-required", "enter the current code of your authenticator too"), null);
            }

            PortalOutcome checkedCode = await CheckCodeAsync(account, totp, code, confirm: false, client, "admin page", cancellationToken).ConfigureAwait(false);
            if (!checkedCode.Succeeded)
            {
                return (checkedCode, null);
            }
        }
        else if (await _store.IsMfaRequiredAsync(account.UserName, cancellationToken).ConfigureAwait(false))
        {
            await AuditAsync(account.UserName, client, AuditOutcome.Refused, NtStatus.AccessDenied, "admin page refused: a second factor is required and no authenticator is enrolled").ConfigureAwait(false);
            return (PortalOutcome.Refused(409, "not-enrolled", "a second factor is required of you and you have no authenticator; enrol one on /totp first"), null);
        }

        return (null, account.UserName);
    }

    /// <summary>
    /// A domain account (docs/active-directory.md): the DC proves the password (a wrong one counts in its badPwdCount and
    /// lockout policy) and gives the account's group SIDs, among which the admin group's SID must be. Domain accounts
    /// have no authenticator in this store, so no code is asked.
    /// </summary>
    private async Task<(PortalOutcome? Refusal, string? Admin)> DomainAdminAsync(ActiveDirectory.DomainLogons domain, string typed, string userName, string password, IPEndPoint? client, string address)
    {
        string account = $"{domain.NetBiosDomain}\\{userName}";
        ActiveDirectory.WinbindLogon logon;
        try
        {
            logon = await domain.VerifyPasswordAsync(userName, password, _timeProvider).ConfigureAwait(false);
        }
        catch (InvalidOperationException ex)
        {
            LogDomainUnavailable(_logger, account, ex.Message);
            await AuditAsync(typed, client, AuditOutcome.Failure, NtStatus.NoLogonServers, $"admin page: no domain controller answered ({ex.Message})").ConfigureAwait(false);
            return (PortalOutcome.Refused(503, "domain-unavailable", "no domain controller answered; try again later"), null);
        }

        using (logon)
        {
            NtStatus status = ActiveDirectory.DomainLogons.ClientStatus(logon.Status);
            (PortalOutcome? refusal, AuditOutcome audit) = status switch
            {
                NtStatus.Success => ((PortalOutcome?)null, AuditOutcome.Success),
                NtStatus.LogonFailure => (PortalOutcome.Refused(401, "wrong-credentials", "unknown user or wrong password"), AuditOutcome.Failure),
                NtStatus.AccountLockedOut => (PortalOutcome.Refused(403, "locked-out", "the account is locked out at the domain controller; try again later or ask an administrator"), AuditOutcome.Failure),
                NtStatus.AccountDisabled => (PortalOutcome.Refused(403, "account-disabled", "the account is disabled"), AuditOutcome.Refused),
                NtStatus.PasswordMustChange or NtStatus.PasswordExpired => (PortalOutcome.Refused(403, "password-change-required", "change the password first"), AuditOutcome.Refused),
                NtStatus.NoLogonServers or NtStatus.InternalDbError => (PortalOutcome.Refused(503, "domain-unavailable", "no domain controller answered; try again later"), AuditOutcome.Failure),
                _ => (PortalOutcome.Refused(403, "logon-refused", $"the domain controller refused the logon: {NtStatusText.Describe(status)}"), AuditOutcome.Refused),
            };
            if (refusal is not null)
            {
                await AuditAsync(typed, client, audit, status, $"admin page: the domain controller refused the logon ({NtStatusText.Name(logon.Status)})").ConfigureAwait(false);
                return (refusal, null);
            }

            string group = _portal.AdminGroup!.Trim();
            string? groupSid = await AdminGroupSidAsync(domain, group).ConfigureAwait(false);
            if (groupSid is null || !logon.Sids.Contains(groupSid, StringComparer.OrdinalIgnoreCase))
            {
                LogAdminRefused(_logger, account, address);
                await AuditAsync(typed, client, AuditOutcome.Refused, NtStatus.AccessDenied, $"admin page refused: not a member of {group} (Portal:AdminGroup)").ConfigureAwait(false);
                return (PortalOutcome.Refused(403, "not-admin", $"{account} is not an administrator of this portal"), null);
            }

            return (null, account);
        }
    }

    /// <summary>The SID of the admin group when it names a domain group (<c>DOMAIN\group</c> or a SID), resolved once; null for a local group or one that does not resolve.</summary>
    private async Task<string?> AdminGroupSidAsync(ActiveDirectory.DomainLogons domain, string group)
    {
        if (!group.Contains('\\', StringComparison.Ordinal) && !ActiveDirectory.DirectoryOptions.IsSid(group))
        {
            return null;
        }

        if (_adminGroupSid is { } known)
        {
            return known;
        }

        try
        {
            return _adminGroupSid = await domain.GroupSidAsync(group).ConfigureAwait(false);
        }
        catch (InvalidOperationException ex)
        {
            LogAdminGroupUnresolved(_logger, group, ex.Message);
            return null;
        }
    }

    /// <summary>The filters of an admin request, checked: an outcome of the four, a user name of sane length, a limit within <see cref="PortalOptions.AdminMaxRows"/> (default: that bound).</summary>
    internal (PortalOutcome? Refusal, AuditOutcome? Outcome, int Limit, string? User) ParseFilters(AdminRequest request)
    {
        AuditOutcome? outcome = null;
        if (!string.IsNullOrWhiteSpace(request.Outcome))
        {
            if (!SqliteAuditLog.TryParseOutcome(request.Outcome.Trim(), out AuditOutcome parsed))
            {
                return (PortalOutcome.Refused(400, "invalid-request", "outcome is one of success, failure, refused, error (or empty for all)"), null, 0, null);
            }

            outcome = parsed;
        }

        int max = _portal.AdminMaxRows;
        int limit = request.Limit ?? max;
        if (limit < 1 || limit > max)
        {
            return (PortalOutcome.Refused(400, "invalid-request", $"limit is 1 to {max} rows (Portal:AdminMaxRows)"), null, 0, null);
        }

        string? user = string.IsNullOrWhiteSpace(request.FilterUser) ? null : request.FilterUser.Trim();
        if (user is { Length: > AccountName.MaxUserNameLength + AccountName.MaxDomainLength + 1 })
        {
            return (PortalOutcome.Refused(400, "invalid-request", "the user filter is too long"), null, 0, null);
        }

        return (null, outcome, limit, user);
    }

    [LoggerMessage(EventId = 4605, Level = LogLevel.Information, Message = "Portal: {UserName} opened the admin page from {Client} ({AuditRows} audit rows, {Sessions} live sessions)")]
    private static partial void LogAdminViewed(ILogger logger, string userName, string client, int auditRows, int sessions);

    [LoggerMessage(EventId = 4607, Level = LogLevel.Warning, Message = "Portal: Portal:AdminGroup '{Group}' does not resolve at the domain: {Problem}")]
    private static partial void LogAdminGroupUnresolved(ILogger logger, string group, string problem);

    [LoggerMessage(EventId = 4606, Level = LogLevel.Warning, Message = "Portal: {UserName} proved the password on the admin page from {Client} but is not a member of Portal:AdminGroup")]
    private static partial void LogAdminRefused(ILogger logger, string userName, string client);
}
