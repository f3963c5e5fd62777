namespace RdpNla.Diagnosis.Model;

/// <summary>The predicted outcome of one connection.</summary>
internal sealed record PredictedOutcome
{
    /// <summary>The cause, or null for success (NLA completed and the session may start).</summary>
    public Cause? Cause { get; init; }

    /// <summary>Where the connection stops.</summary>
    public required ConnectionPhase Phase { get; init; }

    /// <summary>RDP_NEG_REQ.requestedProtocols.</summary>
    public required SecurityProtocols Requested { get; init; }

    /// <summary>RDP_NEG_RSP.selectedProtocol, or null when the server answered RDP_NEG_FAILURE.</summary>
    public SecurityProtocols? Selected { get; init; }

    /// <summary>RDP_NEG_FAILURE.failureCode, when the negotiation failed.</summary>
    public NegotiationFailureCode? FailureCode { get; init; }

    /// <summary>The TSRequest.version the server announces, when CredSSP ran.</summary>
    public int? ServerCredSspVersion { get; init; }

    /// <summary>The TSRequest.errorCode the server sends, when it sends one.</summary>
    public NtStatus? ErrorCode { get; init; }

    /// <summary>
    /// Whether the failure reaches the client as a status (errorCode or EUAR). False when the negotiated CredSSP
    /// version cannot carry errorCode (2 and 5): the server then just closes TLS and a client sees
    /// <see cref="Cause.AuthenticationFailed"/> (<see cref="ObservableCause"/>).
    /// </summary>
    public bool StatusDelivered { get; init; } = true;

    /// <summary>The Early User Authorization Result, when HYBRID_EX was selected and CredSSP succeeded.</summary>
    public uint? EarlyUserAuthorizationResult { get; init; }

    /// <summary>Why, step by step.</summary>
    public required IReadOnlyList<string> Reasoning { get; init; }

    /// <summary>Values for the catalogue entry's evidence template.</summary>
    public IReadOnlyDictionary<string, string> EvidenceValues { get; init; } = new Dictionary<string, string>();

    /// <summary>The cause as a client on the wire can tell it (account failures without errorCode become authentication-failed).</summary>
    public Cause? ObservableCause =>
        !StatusDelivered && Cause is { } cause && CauseCatalogue.Get(cause).Class is CauseClass.Credentials or CauseClass.AccountState
            ? Diagnosis.Cause.AuthenticationFailed
            : Cause;

    /// <summary>"success" or the cause id.</summary>
    public string Label => Cause is { } cause ? CauseCatalogue.Get(cause).Id : "success";

    /// <summary>The diagnosis doctor prints for this prediction.</summary>
    public DoctorReport ToReport(string mode, IReadOnlyList<string> notes, string? user = null, string? host = null)
    {
        var evidence = new List<string>();
        if (Cause is { } cause)
        {
            evidence.Add(Evidence.Fill(CauseCatalogue.Get(cause).EvidenceTemplate, EvidenceValues));
        }

        evidence.AddRange(Reasoning);
        return new DoctorReport { Cause = Cause, Phase = Phase, Evidence = evidence, Notes = notes, Mode = mode, User = user, Host = host };
    }
}

/// <summary>
/// An independent model of what happens when a client connects to a Windows Remote Desktop server with NLA, written
/// from the documented Windows behaviour — deliberately not by calling the server's own negotiation code, so that
/// comparing it with handshakes against <c>rdpnla serve</c> tests both.
/// </summary>
/// <remarks>
/// <para>Sources and decisions (docs/interop.md; MS-RDPBCGR, MS-CSSP, KB4093492):</para>
/// <list type="number">
/// <item>#windows-security-layer table: UserAuthentication=1 on layer 1 or 2 → CredSSP required, RDP_NEG_FAILURE HYBRID_REQUIRED_BY_SERVER
/// to a client that does not offer HYBRID. Layer 0 with UA=1 is undocumented; decided: it behaves as UA=1 (NLA runs
/// over TLS, so requiring NLA overrides "RDP only").</item>
/// <item>#windows-security-layer: layer 0 with UA=0 answers RDP_NEG_RSP PROTOCOL_RDP to every request (undocumented for SSL/HYBRID;
/// decided as the table says). The client then runs Standard RDP Security: no TLS, no NLA → server-refuses-nla.
/// Against rdpnla serve the connection is closed right after the Connection Confirm.</item>
/// <item>#windows-security-layer: layers 1 and 2 with UA=0 select HYBRID_EX &gt; HYBRID &gt; SSL. A client without CredSSP requests SSL only
/// (XP SP3 without tspkg) and gets PROTOCOL_SSL: TLS without pre-authentication → no-nla-tls-only (rdpnla serve closes
/// after the TLS handshake).</item>
/// <item>#windows-security-layer (undocumented, decided): HYBRID_EX is selected whenever the client requests it with HYBRID (mstsc requests 0x0B).</item>
/// <item>#encryption-oracle: a patched server with AllowEncryptionOracle=0 refuses a client version below 5 on the client's first
/// TSRequest (before any credential), with errorCode STATUS_NOT_SUPPORTED when both versions carry errorCode
/// (MS-CSSP §3.1.5 step 4; not confirmed for Windows, which may just close). This check comes first in time.</item>
/// <item>#encryption-oracle: a patched client with AllowEncryptionOracle 0 or 1 refuses a server version below 5 on the server's first
/// TSRequest (the CHALLENGE), before sending credentials; with 2 it falls back. The KB4093492 matrix follows.</item>
/// <item>An unpatched client or server has no AllowEncryptionOracle: the value is ignored on that side.</item>
/// <item>#errorcode and the account rules: wrong password and unknown user → STATUS_LOGON_FAILURE; lockout is reported
/// whatever the password; disabled / must-change / expired only after a correct password; errorCode is sent only when
/// both versions are 3, 4 or ≥ 6, otherwise the server closes TLS without a status.</item>
/// <item>#early-user-authorization: no right to log on remotely → authenticated, then AUTHZ_ACCESS_DENIED in the Early User Authorization
/// Result (HYBRID_EX) or a disconnect after CredSSP (HYBRID).</item>
/// <item>TLS is assumed to succeed (the model has no TLS dimension); name, TCP and certificate causes are live-only.</item>
/// </list>
/// </remarks>
internal static class OutcomeModel
{
    /// <summary>The server SecurityLayer values of the outcome table.</summary>
    public static IReadOnlyList<SecurityLayer> SecurityLayers { get; } = [SecurityLayer.Rdp, SecurityLayer.Negotiate, SecurityLayer.Tls];

    /// <summary>The server CredSSP versions of the outcome table: 4 (no CVE-2018-0886 fix) and 6.</summary>
    public static IReadOnlyList<int> ServerVersions { get; } = [4, 6];

    /// <summary>AllowEncryptionOracle 0, 1, 2.</summary>
    public static IReadOnlyList<EncryptionOraclePolicy> OraclePolicies { get; } =
        [EncryptionOraclePolicy.ForceUpdatedClients, EncryptionOraclePolicy.Mitigated, EncryptionOraclePolicy.Vulnerable];

    /// <summary>Every combination of the outcome table (3 × 2 × 2 × 3 × 3 × 3 × 7 = 2268 cells), in a stable order.</summary>
    public static IEnumerable<ModelCell> EnumerateCells()
    {
        foreach (SecurityLayer layer in SecurityLayers)
        {
            foreach (bool ua in (bool[])[false, true])
            {
                foreach (int serverVersion in ServerVersions)
                {
                    foreach (EncryptionOraclePolicy serverPolicy in OraclePolicies)
                    {
                        foreach (ClientCredSsp credSsp in Enum.GetValues<ClientCredSsp>())
                        {
                            foreach (EncryptionOraclePolicy clientPolicy in OraclePolicies)
                            {
                                foreach (AccountState account in Enum.GetValues<AccountState>())
                                {
                                    yield return new ModelCell(
                                        new ServerSettings(layer, ua, serverVersion, serverPolicy),
                                        new ClientSettings(credSsp, clientPolicy),
                                        account);
                                }
                            }
                        }
                    }
                }
            }
        }
    }

    /// <summary>Predicts one cell.</summary>
    public static PredictedOutcome Predict(ModelCell cell)
    {
        ArgumentNullException.ThrowIfNull(cell);
        return Predict(cell.Server, cell.Client, cell.Account);
    }

    /// <summary>Predicts the outcome of <paramref name="client"/> connecting to <paramref name="server"/> as <paramref name="account"/>.</summary>
    public static PredictedOutcome Predict(ServerSettings server, ClientSettings client, AccountState account)
    {
        ArgumentNullException.ThrowIfNull(server);
        ArgumentNullException.ThrowIfNull(client);
        var why = new List<string>();
        var values = new Dictionary<string, string>(StringComparer.Ordinal);
        SecurityProtocols requested = client.RequestedProtocols;
        bool offersHybrid = (requested & SecurityProtocols.Hybrid) != 0;
        string serverSetting = Inv($"SecurityLayer={(int)server.SecurityLayer}, UserAuthentication={(server.UserAuthentication ? 1 : 0)}");
        values["requested"] = requested.Name();
        values["serverSetting"] = serverSetting;
        values["clientDetail"] = client.CredSsp == ClientCredSsp.None ? " (no CredSSP provider: XP SP3 without tspkg/credssp.dll requests PROTOCOL_SSL only)" : string.Empty;
        why.Add(Inv($"The client ({client}) requests {requested.Name()}; the server has {serverSetting}."));

        // 1. X.224 negotiation (docs/interop.md#windows-security-layer).
        SecurityProtocols selected;
        if (server.UserAuthentication)
        {
            if (server.SecurityLayer == SecurityLayer.Rdp)
            {
                why.Add("SecurityLayer 0 with UserAuthentication=1 is treated as requiring NLA (undocumented for Windows, see docs/interop.md#windows-security-layer; NLA needs TLS).");
            }

            if (!offersHybrid)
            {
                why.Add("NLA is required and the client does not offer PROTOCOL_HYBRID: RDP_NEG_FAILURE HYBRID_REQUIRED_BY_SERVER, connection closed.");
                return new PredictedOutcome
                {
                    Cause = Cause.NlaRequiredClientUnsupported, Phase = ConnectionPhase.Negotiation, Requested = requested,
                    FailureCode = NegotiationFailureCode.HybridRequiredByServer, Reasoning = why, EvidenceValues = values,
                };
            }

            selected = HybridChoice(requested);
        }
        else if (server.SecurityLayer == SecurityLayer.Rdp)
        {
            values["selected"] = SecurityProtocols.Rdp.Name();
            values["serverSetting"] = " (SecurityLayer=0)";
            why.Add("SecurityLayer 0 without NLA: the server selects PROTOCOL_RDP (Standard RDP Security) whatever is offered; no TLS, no NLA. A Windows server would show its logon screen; rdpnla serve closes the connection after the Connection Confirm.");
            return new PredictedOutcome
            {
                Cause = Cause.ServerRefusesNla, Phase = ConnectionPhase.Negotiation, Requested = requested,
                Selected = SecurityProtocols.Rdp, Reasoning = why, EvidenceValues = values,
            };
        }
        else if (offersHybrid)
        {
            selected = HybridChoice(requested);
        }
        else
        {
            values["selected"] = SecurityProtocols.Ssl.Name();
            values["serverSetting"] = Inv($" (UserAuthentication=0, SecurityLayer={(int)server.SecurityLayer})");
            why.Add("NLA is not required and the client does not offer it: the server selects PROTOCOL_SSL, TLS without pre-authentication. A Windows server would show its logon screen; rdpnla serve closes the connection after the TLS handshake.");
            return new PredictedOutcome
            {
                Cause = Cause.NoNlaTlsOnly, Phase = ConnectionPhase.Tls, Requested = requested,
                Selected = SecurityProtocols.Ssl, Reasoning = why, EvidenceValues = values,
            };
        }

        values["selected"] = selected.Name();
        why.Add($"The server selects {selected.Name()}; TLS, then CredSSP.");

        // 2. CredSSP versions (KB4093492, docs/interop.md#encryption-oracle).
        int clientVersion = client.CredSspVersionSpoken;
        int serverVersion = server.MaxCredSspVersion;
        bool errorCodeDelivered = CredSspVersion.SupportsErrorCode(serverVersion) && CredSspVersion.SupportsErrorCode(clientVersion);
        values["clientVersion"] = clientVersion.ToString(CultureInfo.InvariantCulture);
        values["serverVersion"] = serverVersion.ToString(CultureInfo.InvariantCulture);
        if (server.Patched && server.AllowEncryptionOracle == EncryptionOraclePolicy.ForceUpdatedClients && clientVersion < CredSspVersion.FirstPatched)
        {
            values["serverAnswer"] = errorCodeDelivered
                ? "errorCode STATUS_NOT_SUPPORTED (AllowEncryptionOracle=0, Force Updated Clients)"
                : "the connection closed right after the client's first TSRequest (AllowEncryptionOracle=0, Force Updated Clients; no errorCode at this version)";
            why.Add(Inv($"The server (CredSSP {serverVersion}, AllowEncryptionOracle=0 Force Updated Clients) refuses the client's version {clientVersion} on its first TSRequest, before any credential is checked."));
            return new PredictedOutcome
            {
                Cause = Cause.EncryptionOracleClientUnpatched, Phase = ConnectionPhase.CredSsp, Requested = requested, Selected = selected,
                ErrorCode = errorCodeDelivered ? NtStatus.NotSupported : null, StatusDelivered = errorCodeDelivered,
                Reasoning = why, EvidenceValues = values,
            };
        }

        if (client.CredSsp == ClientCredSsp.Patched && client.AllowEncryptionOracle != EncryptionOraclePolicy.Vulnerable && serverVersion < CredSspVersion.FirstPatched)
        {
            values["clientPolicy"] = Inv($"{(int)client.AllowEncryptionOracle} ({client.AllowEncryptionOracle})");
            why.Add(Inv($"The client (AllowEncryptionOracle={(int)client.AllowEncryptionOracle}) refuses the server's CredSSP version {serverVersion} on the server's first TSRequest, before sending credentials."));
            return new PredictedOutcome
            {
                Cause = Cause.EncryptionOracleServerUnpatched, Phase = ConnectionPhase.CredSsp, Requested = requested, Selected = selected,
                ServerCredSspVersion = serverVersion, Reasoning = why, EvidenceValues = values,
            };
        }

        if (Math.Min(clientVersion, serverVersion) < CredSspVersion.FirstPatched)
        {
            why.Add(Inv($"CredSSP runs at version {Math.Min(clientVersion, serverVersion)} with the public-key echo (no CVE-2018-0886 protection)."));
        }

        // 3. The account (AccountPolicy rules, docs/interop.md#errorcode).
        values["user"] = "the user";
        (Cause? cause, NtStatus status) = account switch
        {
            AccountState.WrongPassword => (Cause.WrongCredentials, NtStatus.LogonFailure),
            AccountState.LockedOut => (Cause.AccountLocked, NtStatus.AccountLockedOut),
            AccountState.Disabled => (Cause.AccountDisabled, NtStatus.AccountDisabled),
            AccountState.PasswordExpired => (Cause.PasswordExpired, NtStatus.PasswordExpired),
            AccountState.MustChangePassword => (Cause.PasswordMustChange, NtStatus.PasswordMustChange),
            _ => ((Cause?)null, NtStatus.Success),
        };
        if (cause is not null)
        {
            values["status"] = NtStatusText.Name(status);
            why.Add(errorCodeDelivered
                ? $"The server answers errorCode {NtStatusText.Name(status)}."
                : Inv($"The server fails with {NtStatusText.Name(status)} but CredSSP {Math.Min(clientVersion, serverVersion)} cannot carry errorCode: it closes TLS without a status."));
            values["stage"] = "after the NTLM AUTHENTICATE";
            return new PredictedOutcome
            {
                Cause = cause, Phase = ConnectionPhase.CredSsp, Requested = requested, Selected = selected, ServerCredSspVersion = serverVersion,
                ErrorCode = errorCodeDelivered ? status : null, StatusDelivered = errorCodeDelivered, Reasoning = why, EvidenceValues = values,
            };
        }

        if (account == AccountState.RemoteLogonDenied)
        {
            bool euar = selected == SecurityProtocols.HybridEx;
            values["authorization"] = euar
                ? "the Early User Authorization Result was AUTHZ_ACCESS_DENIED"
                : "the server closed the connection (PROTOCOL_HYBRID has no Early User Authorization Result)";
            why.Add("CredSSP succeeds; the user may not log on remotely: " + values["authorization"] + ".");
            return new PredictedOutcome
            {
                Cause = Cause.RemoteLogonDenied, Phase = ConnectionPhase.Authorization, Requested = requested, Selected = selected,
                ServerCredSspVersion = serverVersion, EarlyUserAuthorizationResult = euar ? Protocol.Rdp.EarlyUserAuthorizationResult.AuthzAccessDenied : null,
                Reasoning = why, EvidenceValues = values,
            };
        }

        why.Add(selected == SecurityProtocols.HybridEx
            ? "CredSSP succeeds and the Early User Authorization Result is AUTHZ_SUCCESS: the session starts."
            : "CredSSP succeeds: the session starts.");
        return new PredictedOutcome
        {
            Phase = ConnectionPhase.Session, Requested = requested, Selected = selected, ServerCredSspVersion = serverVersion,
            EarlyUserAuthorizationResult = selected == SecurityProtocols.HybridEx ? Protocol.Rdp.EarlyUserAuthorizationResult.AuthzSuccess : null,
            Reasoning = why, EvidenceValues = values,
        };
    }

    private static SecurityProtocols HybridChoice(SecurityProtocols requested) =>
        (requested & SecurityProtocols.HybridEx) != 0 ? SecurityProtocols.HybridEx : SecurityProtocols.Hybrid;

    private static string Inv(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);
}
