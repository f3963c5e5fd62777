using static RdpNla.Diagnosis.Catalogue.CatalogueText;

namespace RdpNla.Diagnosis.Catalogue;

/// <summary>
/// A DWORD registry value a fix changes, and the Group Policy setting that sets it: one change, written the three
/// ways the catalogue gives (reg.exe, Group Policy, PowerShell).
/// </summary>
/// <param name="Key">The key for reg.exe (<c>HKLM\...</c>).</param>
/// <param name="KeyPs">The same key for PowerShell (<c>HKLM:\...</c>).</param>
/// <param name="Name">The value's name.</param>
/// <param name="Policy">The Group Policy path and setting, up to the choice (e.g. <c>... = </c>).</param>
internal sealed record RegistryDword(string Key, string KeyPs, string Name, string Policy)
{
    /// <summary><c>reg add</c> of <paramref name="data"/>.</summary>
    public FixStep Reg(int data) => CatalogueText.Reg(string.Create(CultureInfo.InvariantCulture, $"reg add \"{Key}\" /v {Name} /t REG_DWORD /d {data} /f"));

    /// <summary><c>Set-ItemProperty</c> of <paramref name="data"/>; <paramref name="createKey"/> creates the key first when it is missing.</summary>
    public FixStep Ps(int data, bool createKey = false) => CatalogueText.Ps((createKey ? NewKeyPs(KeyPs) : string.Empty) + SetItemProperty(data));

    /// <summary>One PowerShell line that sets several values: each <c>Set-ItemProperty</c>, separated by <c>; </c>.</summary>
    public static FixStep Ps(params (RegistryDword Value, int Data)[] values) =>
        CatalogueText.Ps(string.Join("; ", values.Select(v => v.Value.SetItemProperty(v.Data))));

    /// <summary>The Group Policy setting with its <paramref name="choice"/>.</summary>
    public FixStep Gpo(string choice) => CatalogueText.Gpo(Policy + choice);

    /// <summary>The three ways of setting <paramref name="data"/>: reg.exe, Group Policy (<paramref name="choice"/>), PowerShell.</summary>
    public FixStep[] Set(int data, string choice, bool createKey = false) => [Reg(data), Gpo(choice), Ps(data, createKey)];

    /// <summary>Setting <paramref name="data"/> on the computer itself, without Group Policy: reg.exe, PowerShell.</summary>
    public FixStep[] SetLocally(int data) => [Reg(data), Ps(data)];

    private string SetItemProperty(int data) => string.Create(CultureInfo.InvariantCulture, $"Set-ItemProperty -Path '{KeyPs}' -Name {Name} -Value {data} -Type DWord");
}

/// <summary>
/// The fix steps several causes share, by name: the causes of <see cref="CauseCatalogue"/> refer to them with
/// <see cref="Use"/> instead of repeating them. A test checks that every name used is here and every entry is used.
/// </summary>
internal static class NamedFixes
{
    /// <summary>RDP-Tcp <c>UserAuthentication</c> (NLA required or not).</summary>
    public static RegistryDword UserAuthentication { get; } = new(RdpTcpKey, RdpTcpKeyPs, "UserAuthentication", GpoSecurity + "Require user authentication for remote connections by using Network Level Authentication = ");

    /// <summary>RDP-Tcp <c>SecurityLayer</c> (0 RDP, 1 Negotiate, 2 TLS).</summary>
    public static RegistryDword SecurityLayer { get; } = new(RdpTcpKey, RdpTcpKeyPs, "SecurityLayer", GpoSecurity + "Require use of specific security layer for remote (RDP) connections = ");

    /// <summary>CredSSP <c>AllowEncryptionOracle</c> (0 Force Updated Clients, 1 Mitigated, 2 Vulnerable).</summary>
    public static RegistryDword AllowEncryptionOracle { get; } = new(CredSspKey, CredSspKeyPs, "AllowEncryptionOracle", GpoOracle + " = Enabled, Protection Level: ");

    /// <summary>MSV1_0 <c>RestrictReceivingNTLMTraffic</c> (0 allow all, 1 deny all domain accounts, 2 deny all accounts).</summary>
    public static RegistryDword RestrictReceivingNtlm { get; } = new(LsaKey + @"\MSV1_0", LsaKeyPs + @"\MSV1_0", "RestrictReceivingNTLMTraffic", "Computer Configuration > Windows Settings > Security Settings > Local Policies > Security Options > Network security: Restrict NTLM: Incoming NTLM traffic = ");

    private static readonly FrozenDictionary<string, FixStep[]> s_table = new Dictionary<string, FixStep[]>(StringComparer.Ordinal)
    {
        ["require-nla"] = UserAuthentication.Set(1, "Enabled"),
        ["stop-requiring-nla"] = UserAuthentication.Set(0, "Disabled"),
        ["require-nla-locally"] = UserAuthentication.SetLocally(1),
        ["stop-requiring-nla-locally"] = UserAuthentication.SetLocally(0),
        ["require-tls-and-nla"] =
        [
            SecurityLayer.Reg(2),
            UserAuthentication.Reg(1),
            SecurityLayer.Gpo("Enabled, Security Layer: SSL"),
            UserAuthentication.Gpo("Enabled"),
            RegistryDword.Ps((SecurityLayer, 2), (UserAuthentication, 1)),
        ],
        ["security-layer-negotiate"] = SecurityLayer.Set(1, "Enabled, Security Layer: Negotiate"),
        ["security-layer-tls"] = SecurityLayer.Set(2, "Enabled, Security Layer: SSL"),
        ["list-recent-updates"] = [Ps("Get-HotFix | Sort-Object InstalledOn -Descending | Select-Object -First 5")],
        ["reset-password"] =
        [
            Cmd("net user <user> *"),
            Ps("Set-LocalUser -Name <user> -Password (Read-Host -AsSecureString 'New password')"),
            Ps("Set-ADAccountPassword -Identity <user> -Reset"),
        ],
        ["enable-tls-1.2-client"] = Schannel("TLS 1.2", "Client", enabled: true),
        ["enable-tls-1.2-server"] = [.. Schannel("TLS 1.2", "Server", enabled: true), SchannelPs("TLS 1.2", "Server", enabled: true)],
        ["enable-tls-1.0-client"] = Schannel("TLS 1.0", "Client", enabled: true),
        ["disable-tls-1.0-client"] = Schannel("TLS 1.0", "Client", enabled: false),
        ["allow-incoming-ntlm"] = RestrictReceivingNtlm.Set(0, "Allow all", createKey: true),
        ["deny-incoming-ntlm"] = RestrictReceivingNtlm.Set(2, "Deny all accounts", createKey: true),
        ["open-rdp-firewall"] = [Cmd("netsh advfirewall firewall set rule group=\"remote desktop\" new enable=Yes")],
        ["query-rdp-port"] = [Reg("reg query \"" + RdpTcpKey + "\" /v PortNumber")],
        ["restart-computer"] = [Cmd("shutdown /r /t 0")],
        ["export-keytab"] = [Cmd("samba-tool domain exportkeytab rdpgw.keytab --principal=TERMSRV/<host>")],
        ["rdpnla-audit"] = [Rdpnla("rdpnla audit")],
        ["read-failed-logons"] = [Ps("Get-WinEvent -FilterHashtable @{LogName='Security'; Id=4625} -MaxEvents 10 | Format-List TimeCreated, Message")],
        ["rdpnla-set-password"] = [Rdpnla("rdpnla users set-password <user>")],
    }.ToFrozenDictionary(StringComparer.Ordinal);

    private static readonly HashSet<string> s_used = new(StringComparer.Ordinal);

    /// <summary>The name of every entry.</summary>
    public static IEnumerable<string> Names => s_table.Keys;

    /// <summary>The names <see cref="Use"/> was asked for so far (all of them once the catalogue is built).</summary>
    public static IReadOnlyCollection<string> Used
    {
        get
        {
            lock (s_used)
            {
                return [.. s_used];
            }
        }
    }

    /// <summary>The steps of the entry <paramref name="name"/>.</summary>
    /// <exception cref="KeyNotFoundException">No entry has that name.</exception>
    public static FixStep[] Use(string name)
    {
        lock (s_used)
        {
            s_used.Add(name);
        }

        return s_table.TryGetValue(name, out FixStep[]? steps)
            ? steps
            : throw new KeyNotFoundException($"The cause catalogue refers to the fix '{name}', which the table of named fixes does not have.");
    }

    /// <summary>A TLS version turned on or off for one side of SChannel (Enabled and DisabledByDefault).</summary>
    private static FixStep[] Schannel(string version, string side, bool enabled)
    {
        string key = $"{SchannelKey}\\{version}\\{side}";
        return
        [
            Reg($"reg add \"{key}\" /v Enabled /t REG_DWORD /d {(enabled ? "1" : "0")} /f"),
            Reg($"reg add \"{key}\" /v DisabledByDefault /t REG_DWORD /d {(enabled ? "0" : "1")} /f"),
        ];
    }

    /// <summary>The same as <see cref="Schannel"/> in one PowerShell line, creating the key when it is missing.</summary>
    private static FixStep SchannelPs(string version, string side, bool enabled)
    {
        string key = $"{SchannelKeyPs}\\{version}\\{side}";
        return Ps(NewKeyPs(key) + $"Set-ItemProperty -Path '{key}' -Name Enabled -Value {(enabled ? "1" : "0")} -Type DWord; Set-ItemProperty -Path '{key}' -Name DisabledByDefault -Value {(enabled ? "0" : "1")} -Type DWord");
    }
}
