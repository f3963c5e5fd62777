namespace RdpNla.Diagnosis.Model;

/// <summary>What the client can do with CredSSP.</summary>
public enum ClientCredSsp
{
    /// <summary>No CredSSP: requests PROTOCOL_SSL only, like Windows XP SP3 without tspkg/credssp.dll.</summary>
    None,

    /// <summary>CredSSP without the CVE-2018-0886 fix (version 4 by default; Windows XP SP3 with CredSSP enabled speaks 2).</summary>
    Unpatched,

    /// <summary>CredSSP with the fix (version 6), applying its AllowEncryptionOracle.</summary>
    Patched,
}

/// <summary>The state of the account the user logs on with, and what the user types.</summary>
internal enum AccountState
{
    /// <summary>Right password, account in good standing, allowed to log on remotely.</summary>
    Ok,

    /// <summary>Wrong password, or an unknown user (Windows answers both with STATUS_LOGON_FAILURE).</summary>
    WrongPassword,

    /// <summary>Locked out (reported whatever the password).</summary>
    LockedOut,

    /// <summary>Disabled, right password.</summary>
    Disabled,

    /// <summary>Password expired, right password.</summary>
    PasswordExpired,

    /// <summary>"User must change password at next logon", right password.</summary>
    MustChangePassword,

    /// <summary>Right password, but no right to log on remotely.</summary>
    RemoteLogonDenied,
}

/// <summary>The server side of a connection: the registry values that matter, and whether the server has the CredSSP fix.</summary>
/// <param name="SecurityLayer">RDP-Tcp SecurityLayer 0/1/2.</param>
/// <param name="UserAuthentication">RDP-Tcp UserAuthentication = 1 (require NLA).</param>
/// <param name="MaxCredSspVersion">The CredSSP version the server speaks: 2–4 without the CVE-2018-0886 fix, 5–6 with it.</param>
/// <param name="AllowEncryptionOracle">CredSSP AllowEncryptionOracle (used only when the server has the fix).</param>
public sealed record ServerSettings(
    SecurityLayer SecurityLayer,
    bool UserAuthentication,
    int MaxCredSspVersion,
    EncryptionOraclePolicy AllowEncryptionOracle)
{
    /// <summary>Windows defaults: Negotiate, NLA required, CredSSP 6, Mitigated.</summary>
    public static ServerSettings WindowsDefault { get; } = new(SecurityLayer.Negotiate, true, CredSspVersion.Latest, EncryptionOraclePolicy.Mitigated);

    /// <summary>Whether the server has the CVE-2018-0886 fix.</summary>
    public bool Patched => MaxCredSspVersion >= CredSspVersion.FirstPatched;

    public override string ToString() => string.Create(CultureInfo.InvariantCulture,
        $"SecurityLayer={(int)SecurityLayer} UserAuthentication={(UserAuthentication ? 1 : 0)} CredSSP={MaxCredSspVersion} AllowEncryptionOracle={(int)AllowEncryptionOracle}");
}

/// <summary>The client side of a connection.</summary>
/// <param name="CredSsp">None, unpatched or patched CredSSP.</param>
/// <param name="AllowEncryptionOracle">CredSSP AllowEncryptionOracle (used only by a patched client).</param>
public sealed record ClientSettings(ClientCredSsp CredSsp, EncryptionOraclePolicy AllowEncryptionOracle)
{
    /// <summary>An up-to-date Windows client: patched CredSSP, Mitigated.</summary>
    public static ClientSettings WindowsDefault { get; } = new(ClientCredSsp.Patched, EncryptionOraclePolicy.Mitigated);

    /// <summary>The CredSSP version announced; null = 4 for unpatched, 6 for patched, 0 for none.</summary>
    public int? Version { get; init; }

    /// <summary>Whether the client requests PROTOCOL_HYBRID_EX with HYBRID (mstsc does: 0x0B).</summary>
    public bool RequestHybridEx { get; init; } = true;

    /// <summary>The CredSSP version the client speaks (0 = none).</summary>
    public int CredSspVersionSpoken => CredSsp switch
    {
        ClientCredSsp.None => 0,
        ClientCredSsp.Unpatched => Version ?? 4,
        _ => Version ?? CredSspVersion.Latest,
    };

    /// <summary>RDP_NEG_REQ.requestedProtocols: SSL only without CredSSP; SSL|HYBRID(|HYBRID_EX) with it.</summary>
    public SecurityProtocols RequestedProtocols => CredSsp == ClientCredSsp.None
        ? SecurityProtocols.Ssl
        : SecurityProtocols.Ssl | SecurityProtocols.Hybrid | (RequestHybridEx ? SecurityProtocols.HybridEx : 0);

    public override string ToString() => CredSsp switch
    {
        ClientCredSsp.None => "CredSSP=none",
        ClientCredSsp.Unpatched => string.Create(CultureInfo.InvariantCulture, $"CredSSP=unpatched(v{CredSspVersionSpoken})"),
        _ => string.Create(CultureInfo.InvariantCulture, $"CredSSP=patched(v{CredSspVersionSpoken}) AllowEncryptionOracle={(int)AllowEncryptionOracle}"),
    };
}

/// <summary>One cell of the outcome table.</summary>
internal sealed record ModelCell(ServerSettings Server, ClientSettings Client, AccountState Account)
{
    /// <summary>A compact key, e.g. <c>SL=1 UA=1 S=v6/AEO1 C=patched/AEO1 account=Ok</c>.</summary>
    public string Key => string.Create(CultureInfo.InvariantCulture,
        $"SL={(int)Server.SecurityLayer} UA={(Server.UserAuthentication ? 1 : 0)} S=v{Server.MaxCredSspVersion}/AEO{(int)Server.AllowEncryptionOracle} C={Client.CredSsp.ToString().ToLowerInvariant()}/AEO{(int)Client.AllowEncryptionOracle} account={Account}");
}
