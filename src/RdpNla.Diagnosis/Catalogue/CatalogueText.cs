namespace RdpNla.Diagnosis.Catalogue;

/// <summary>Registry paths, Group Policy paths and step builders shared by the catalogue entries.</summary>
internal static class CatalogueText
{
    // The keys doctor reads (MachineFacts, HKEY_LOCAL_MACHINE\...) as the fixes write them: HKLM\... for reg.exe,
    // HKLM:\... for PowerShell. One definition of each path.
    public static readonly string RdpTcpKey = RegExe(MachineFacts.RdpTcpKey);
    public static readonly string RdpTcpKeyPs = PowerShell(MachineFacts.RdpTcpKey);
    public static readonly string TsPolicyKey = RegExe(MachineFacts.TsPolicyKey);
    public static readonly string CredSspKey = RegExe(MachineFacts.CredSspKey);
    public static readonly string CredSspKeyPs = PowerShell(MachineFacts.CredSspKey);
    public static readonly string LsaKey = RegExe(MachineFacts.LsaKey);
    public static readonly string LsaKeyPs = PowerShell(MachineFacts.LsaKey);
    public static readonly string SecurityProvidersKey = RegExe(MachineFacts.SecurityProvidersKey);
    public static readonly string SecurityProvidersKeyPs = PowerShell(MachineFacts.SecurityProvidersKey);
    public static readonly string SchannelKey = SecurityProvidersKey + @"\SCHANNEL\Protocols";
    public static readonly string SchannelKeyPs = SecurityProvidersKeyPs + @"\SCHANNEL\Protocols";

    public const string GpoSecurity = "Computer Configuration > Administrative Templates > Windows Components > Remote Desktop Services > Remote Desktop Session Host > Security > ";
    public const string GpoConnections = "Computer Configuration > Administrative Templates > Windows Components > Remote Desktop Services > Remote Desktop Session Host > Connections > ";
    public const string GpoOracle = "Computer Configuration > Administrative Templates > System > Credentials Delegation > Encryption Oracle Remediation";

    public const string MstscNotInSources = "usual mstsc wording; no public source ties it to this cause";

    public const string CantConnectMessage = "Remote Desktop can't connect to the remote computer for one of these reasons: 1) Remote access to the server is not enabled 2) The remote computer is turned off 3) The remote computer is not available on the network. Make sure the remote computer is turned on and connected to the network, and that remote access is enabled.";

    public static FixStep Reg(string text) => new(FixStepKind.Registry, text);

    public static FixStep Gpo(string text) => new(FixStepKind.GroupPolicy, text);

    public static FixStep Ps(string text) => new(FixStepKind.PowerShell, text);

    public static FixStep Cmd(string text) => new(FixStepKind.Command, text);

    public static FixStep Rdpnla(string text) => new(FixStepKind.RdpNla, text);

    public static FixStep Note(string text) => new(FixStepKind.Note, text);

    private static string RegExe(string key) => @"HKLM\" + WithoutRoot(key);

    private static string PowerShell(string key) => @"HKLM:\" + WithoutRoot(key);

    private static string WithoutRoot(string key) => key[(key.IndexOf('\\', StringComparison.Ordinal) + 1)..];

    /// <summary>Creates a key only when it is missing (New-Item -Force on an existing registry key would empty it).</summary>
    public static string NewKeyPs(string key) => $"if (-not (Test-Path '{key}')) {{ New-Item -Path '{key}' -Force | Out-Null }}; ";
}
