namespace RdpNla.Server.FrontDoor;

/// <summary>The second factor's hold of a connection whose password CredSSP has just proven (docs/portal.md).</summary>
internal sealed partial class FrontDoorConnection
{
    /// <summary>
    /// For a user who must use a second factor, holds the connection until the user approves it on the portal: before
    /// the Early User Authorization Result (HYBRID_EX) or before any backend is contacted (HYBRID). Refused or not
    /// approved in time: AUTHZ_ACCESS_DENIED (HYBRID_EX, MS-RDPBCGR §2.2.10.2) or the connection is closed, audited.
    /// Returns true when the connection may go on.
    /// </summary>
    private async Task<bool> PassSecondFactorAsync(SecurityProtocols selected, string userName, string account, CancellationToken cancellationToken)
    {
        // A domain user is keyed NETBIOS\USER, as the gateway keys its mapped credentials (docs/active-directory.md): its
        // bare name is the name of a local user, whose second factor is not the domain user's.
        string key = _domainUser?.AccountKey ?? userName;
        if (_context.SecondFactor is not { } gate || !await gate.IsRequiredAsync(key, cancellationToken).ConfigureAwait(false))
        {
            return true;
        }

        string backend = _context.Gateway is { } gateway && await gateway.PlanAsync(userName, _domainUser, cancellationToken).ConfigureAwait(false) is { } plan
            ? plan.Backend.ToString()
            : "(none: authentication only)";

        // The hold is the user's time, not the client's: the client is silent while it waits for the Early User
        // Authorization Result (or the server's reply to MCS Connect Initial), so neither the handshake deadline nor
        // the minimum data rate runs. The hold is bounded by Mfa:ApprovalTimeout instead.
        _phase = "second factor";
        _handshakeClock?.Pause();
        _guarded!.Enabled = false;
        (SecondFactorResult result, string reason) = await gate.HoldAsync(_audit.ConnectionId, key, _client, backend, _stopping).ConfigureAwait(false);

        // What is left of the handshake budget runs again; the minimum data rate stays off, as for any authenticated connection.
        _handshakeClock?.Resume();
        if (result == SecondFactorResult.Approved)
        {
            PortalLog.SecondFactorApproved(Logger, account, reason);
            return true;
        }

        string action = selected == SecurityProtocols.HybridEx ? "Early User Authorization Result AUTHZ_ACCESS_DENIED" : "connection closed";
        PortalLog.SecondFactorRefused(Logger, account, reason, action);
        await EndAsync(AuditOutcome.Refused, NtStatus.AccessDenied, $"{reason} ({action})", result == SecondFactorResult.Denied ? Limits.PenaltyAuthenticationFailure : TimeSpan.Zero).ConfigureAwait(false);

        // Only after this, with the refusal audited, does the client learn it (the security phase's failed step).
        return false;
    }
}
