namespace RdpNla.Diagnosis.Catalogue;

/// <summary>Registry paths, Group Policy paths and step builders shared by the catalogue entries.</summary>
internal static class CatalogueText
{
    public const string RdpTcpKey = @"HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp";
    public const string RdpTcpKeyPs = @"HKLM:\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp";
    public const string TsPolicyKey = @"HKLM\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services";
    public const string CredSspKey = @"HKLM\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System\CredSSP\Parameters";
    public const string CredSspKeyPs = @"HKLM:\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System\CredSSP\Parameters";
    public const string LsaKey = @"HKLM\SYSTEM\CurrentControlSet\Control\Lsa";
    public const string LsaKeyPs = @"HKLM:\SYSTEM\CurrentControlSet\Control\Lsa";
    public const string SecurityProvidersKey = @"HKLM\SYSTEM\CurrentControlSet\Control\SecurityProviders";
    public const string SecurityProvidersKeyPs = @"HKLM:\SYSTEM\CurrentControlSet\Control\SecurityProviders";
    public const string SchannelKey = @"HKLM\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols";
    public const string SchannelKeyPs = @"HKLM:\SYSTEM\CurrentControlSet\Control\SecurityProviders\SCHANNEL\Protocols";

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

    /// <summary>Creates a key only when it is missing (New-Item -Force on an existing registry key would empty it).</summary>
    public static string NewKeyPs(string key) => $"if (-not (Test-Path '{key}')) {{ New-Item -Path '{key}' -Force | Out-Null }}; ";
}
