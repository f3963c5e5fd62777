namespace RdpNla.Server.Gateway;

/// <summary>Where an authenticated user is relayed, and why there.</summary>
internal sealed record GatewayPlan(BackendAddress Backend, string Source);

/// <summary>The authenticated client connection handed over by the front door.</summary>
internal sealed record FrontLeg(
    long ConnectionId,
    IPEndPoint Remote,
    Socket Socket,
    SslStream Tls,
    RelayBufferingStream Transport,
    SecurityProtocols RequestedProtocols,
    SecurityProtocols SelectedProtocol,
    string UserName,
    string Account,
    ActiveDirectory.DomainIdentity? Domain = null);

/// <summary>
/// The front door's hook into the gateway: finds the backend of an authenticated user (<see cref="PlanAsync"/>, no
/// connection opened) and relays the session (<see cref="RelayAsync"/>).
/// </summary>
internal sealed class GatewayRelay(GatewayOptions options, GatewayStore store, Func<GatewayKey> key, ILogger logger, TimeProvider timeProvider, IRandomSource random, Metrics.GatewayMetrics metrics)
{
    private readonly GatewayOptions _options = options;
    private readonly GatewayStore _store = store;
    private readonly Func<GatewayKey> _key = key;
    private readonly ILogger _logger = logger;
    private readonly TimeProvider _timeProvider = timeProvider;
    private readonly BackendConnector _connector = new(options, store, logger, timeProvider, random);

    public GatewayOptions Options => _options;

    /// <summary>The sessions relayed by this instance now (the portal's admin page).</summary>
    public LiveSessions Live { get; } = new();

    /// <summary>
    /// The user's backend. A local user: their own, else their first group's (by name) with one, else the default. A
    /// domain user (<paramref name="domain"/>, docs/active-directory.md): the first domain group (by name) among their
    /// SIDs with a backend, else the default; local users' settings never apply to a domain user of the same name.
    /// Null when none.
    /// </summary>
    public async Task<GatewayPlan?> PlanAsync(string userName, ActiveDirectory.DomainIdentity? domain, CancellationToken cancellationToken)
    {
        BackendAddress? address;
        if (domain is not null)
        {
            if (await _store.GetDomainGroupBackendAsync(domain.Sids, cancellationToken).ConfigureAwait(false) is { } domainGroup && BackendAddress.TryParse(domainGroup.Backend, out address, out _))
            {
                return new GatewayPlan(address, $"domain group {domainGroup.Name}");
            }
        }
        else
        {
            (string? own, (string Group, string Backend)? group) = await _store.GetBackendsAsync(userName, cancellationToken).ConfigureAwait(false);
            if (own is not null && BackendAddress.TryParse(own, out address, out _))
            {
                return new GatewayPlan(address, "user");
            }

            if (group is { } first && BackendAddress.TryParse(first.Backend, out address, out _))
            {
                return new GatewayPlan(address, $"group {first.Group}");
            }
        }

        return BackendAddress.TryParse(_options.DefaultBackend, out address, out _) ? new GatewayPlan(address, "default") : null;
    }

    /// <summary>
    /// Relays one authenticated session until either end closes, a limit passes, or the server drains.
    /// <paramref name="handshake"/> (the front CredSSP context, holding the delegated password and the NTLM session
    /// keys) is disposed as soon as the credentials to inject are copied out, not hours later when the session ends.
    /// </summary>
    public async Task RelayAsync(FrontLeg front, GatewayPlan plan, TsPasswordCreds? delegated, IDisposable handshake, CancellationToken stopping)
    {
        BackendCredentials? credentials;
        string noCredentials = "no credentials to inject (the client delegated none and no mapped credentials are stored)";
        try
        {
            credentials = await ResolveCredentialsAsync(front, plan, delegated, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is CryptographicException or InvalidOperationException)
        {
            credentials = null;
            noCredentials = $"the mapped password cannot be opened ({ex.Message})";
            GatewayLog.NoCredentials(_logger, front.Account, noCredentials);
        }
        finally
        {
            handshake.Dispose();
        }

        if (credentials is null)
        {
            var started = _timeProvider.GetUtcNow();
            bool denied = await DenyEarlyAuthorizationAsync(front, _logger).ConfigureAwait(false);
            await CloseClientAsync(front).ConfigureAwait(false);
            await AuditAsync(new GatewaySessionRecord
            {
                ConnectionId = front.ConnectionId.ToString(System.Globalization.CultureInfo.InvariantCulture),
                UserName = front.UserName,
                ClientAddress = AuditEntry.NormalizeAddress(front.Remote.Address),
                ClientPort = front.Remote.Port,
                Backend = plan.Backend.ToString(),
                FrontProtocol = SecurityProtocolNames(front.SelectedProtocol),
                Started = started,
                Ended = _timeProvider.GetUtcNow(),
                Outcome = "no-credentials",
                Reason = noCredentials + (denied ? "; the client was sent AUTHZ_ACCESS_DENIED" : string.Empty),
            }).ConfigureAwait(false);
            return;
        }

        using (credentials)
        {
            GatewayLog.Relaying(_logger, front.Account, plan.Backend.ToString(), plan.Source, credentials.Mode, credentials.Account);
            var session = new GatewaySession(this, front, plan, credentials);
            GatewaySessionRecord record = await session.RunAsync(_connector, stopping).ConfigureAwait(false);
            await AuditAsync(record).ConfigureAwait(false);
        }
    }

    internal ILogger Logger => _logger;

    /// <summary>The gateway's instruments.</summary>
    internal Metrics.GatewayMetrics Metrics { get; } = metrics;

    internal TimeProvider TimeProvider => _timeProvider;

    internal static string SecurityProtocolNames(SecurityProtocols protocol) => Storage.SecurityProtocolNames.Name(protocol);

    private async Task<BackendCredentials?> ResolveCredentialsAsync(FrontLeg front, GatewayPlan plan, TsPasswordCreds? delegated, CancellationToken cancellationToken)
    {
        // A domain user's mapped credentials are keyed by the account (NETBIOS\USER), never by a local user row.
        string owner = front.Domain?.AccountKey ?? front.UserName;
        MappedCredential? stored = front.Domain is { } domain
            ? await _store.GetDomainMappedCredentialAsync(domain.AccountKey, cancellationToken).ConfigureAwait(false)
            : await _store.GetMappedCredentialAsync(front.UserName, cancellationToken).ConfigureAwait(false);
        if (stored is { } mapped)
        {
            GatewayKey key = _key();
            string backend = plan.Backend.ToString();
            byte[] password;
            try
            {
                // Bound to the backend the user is relayed to now: a backend changed in the store does not receive them.
                password = GatewayStore.OpenPassword(mapped, owner, backend, key);
            }
            catch (CryptographicException ex) when (mapped.Backend is { } sealedFor && !string.Equals(sealedFor, backend, StringComparison.OrdinalIgnoreCase))
            {
                throw new CryptographicException($"they were set for backend {sealedFor}, not {backend} ({ex.Message}); set them again for this backend", ex);
            }

            return new BackendCredentials(mapped.BackendDomain, mapped.BackendUser, password, "mapped");
        }

        if (delegated is null || delegated.UserName.Length == 0)
        {
            GatewayLog.NoCredentials(_logger, front.Account, "the client delegated no password credentials and no mapped credentials are stored");
            return null;
        }

        // Pass-through: the user name the client typed (without the front door's domain) and its password.
        return new BackendCredentials(_options.PassThroughDomain ?? string.Empty, front.UserName, delegated.PasswordUtf16.ToArray(), "pass-through");
    }

    /// <summary>
    /// Tells a HYBRID_EX client, still waiting for its Early User Authorization Result, that it gets no session
    /// (AUTHZ_ACCESS_DENIED, MS-RDPBCGR §2.2.10.2) rather than dropping it after a logon that looked successful.
    /// True when sent; false for other clients or when the client is gone.
    /// </summary>
    internal static async Task<bool> DenyEarlyAuthorizationAsync(FrontLeg front, ILogger logger)
    {
        if (front.SelectedProtocol != SecurityProtocols.HybridEx)
        {
            return false;
        }

        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await front.Tls.WriteAsync(EarlyUserAuthorizationResult.AccessDenied.Encode(), timeout.Token).ConfigureAwait(false);
            GatewayLog.EarlyUserAuthorizationSent(logger, "AUTHZ_ACCESS_DENIED", "not connected");
            return true;
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            return false;
        }
    }

    internal static async Task CloseClientAsync(FrontLeg front)
    {
        try
        {
            using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(2));
            await GatewaySession.ShutdownTlsAsync(front.Tls, front.Transport).WaitAsync(timeout.Token).ConfigureAwait(false);
            front.Socket.Shutdown(SocketShutdown.Send);
        }
        catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or OperationCanceledException or InvalidOperationException)
        {
            // The client is gone already.
        }
    }

    private async Task AuditAsync(GatewaySessionRecord record)
    {
        try
        {
            await _store.AppendSessionAsync(record, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is System.Data.Common.DbException or IOException or InvalidOperationException or TimeoutException)
        {
            GatewayLog.AuditFailed(_logger, ex.Message);
        }
    }
}
