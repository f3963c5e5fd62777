namespace RdpNla.Diagnosis.Registry;

/// <summary>A value read from a .reg file, with where it was read.</summary>
public sealed record Fact<T>(T Value, string Where);

/// <summary>The operating system named by the export (HKLM\SOFTWARE\Microsoft\Windows NT\CurrentVersion), when present.</summary>
internal sealed record OsHint(string? ProductName, string? CurrentVersion, string? ServicePack, string? Build)
{
    /// <summary>Windows XP (NT 5.1).</summary>
    public bool IsWindowsXp => CurrentVersion == "5.1";

    public override string ToString() => string.Join(" ", new[] { ProductName, ServicePack, Build is null ? null : "build " + Build, CurrentVersion is null ? null : "(NT " + CurrentVersion + ")" }.Where(s => !string.IsNullOrEmpty(s)));
}

/// <summary>The values of one machine's export that decide NLA, each with its file and line.</summary>
internal sealed class MachineFacts
{
    /// <summary>RDP-Tcp listener key.</summary>
    public const string RdpTcpKey = @"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp";

    /// <summary>Terminal Server key (fDenyTSConnections).</summary>
    public const string TerminalServerKey = @"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Terminal Server";

    /// <summary>Group Policy key for Remote Desktop (overrides RDP-Tcp).</summary>
    public const string TsPolicyKey = @"HKEY_LOCAL_MACHINE\SOFTWARE\Policies\Microsoft\Windows NT\Terminal Services";

    /// <summary>CredSSP Encryption Oracle Remediation key.</summary>
    public const string CredSspKey = @"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows\CurrentVersion\Policies\System\CredSSP\Parameters";

    /// <summary>LSA key ("Security Packages").</summary>
    public const string LsaKey = @"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\Lsa";

    /// <summary>SecurityProviders key.</summary>
    public const string SecurityProvidersKey = @"HKEY_LOCAL_MACHINE\SYSTEM\CurrentControlSet\Control\SecurityProviders";

    /// <summary>OS version key.</summary>
    public const string CurrentVersionKey = @"HKEY_LOCAL_MACHINE\SOFTWARE\Microsoft\Windows NT\CurrentVersion";

    public Fact<int>? SecurityLayer { get; private init; }

    public Fact<int>? UserAuthentication { get; private init; }

    public Fact<int>? AllowEncryptionOracle { get; private init; }

    public Fact<int>? DenyTsConnections { get; private init; }

    public Fact<int>? PortNumber { get; private init; }

    public Fact<IReadOnlyList<string>>? SecurityPackages { get; private init; }

    public Fact<IReadOnlyList<string>>? SecurityProviders { get; private init; }

    public OsHint? Os { get; private init; }

    /// <summary>tspkg in Lsa "Security Packages"; null when the value is not in the export.</summary>
    public bool? TspkgPresent => SecurityPackages?.Value.Any(p => p.Trim().Equals("tspkg", StringComparison.OrdinalIgnoreCase));

    /// <summary>credssp.dll in SecurityProviders; null when the value is not in the export.</summary>
    public bool? CredSspProviderPresent => SecurityProviders?.Value.Any(p => p.Trim().Equals("credssp.dll", StringComparison.OrdinalIgnoreCase));

    /// <summary>Reads the facts of <paramref name="file"/>; the Group Policy values win over RDP-Tcp, as on Windows.</summary>
    public static MachineFacts Read(RegFile file)
    {
        ArgumentNullException.ThrowIfNull(file);
        string? product = file.Find(CurrentVersionKey, "ProductName")?.Text;
        string? version = file.Find(CurrentVersionKey, "CurrentVersion")?.Text;
        string? sp = file.Find(CurrentVersionKey, "CSDVersion")?.Text;
        string? build = file.Find(CurrentVersionKey, "CurrentBuild")?.Text ?? file.Find(CurrentVersionKey, "CurrentBuildNumber")?.Text;
        return new MachineFacts
        {
            SecurityLayer = Number(file, TsPolicyKey, "SecurityLayer") ?? Number(file, RdpTcpKey, "SecurityLayer"),
            UserAuthentication = Number(file, TsPolicyKey, "UserAuthentication") ?? Number(file, RdpTcpKey, "UserAuthentication"),
            AllowEncryptionOracle = Number(file, CredSspKey, "AllowEncryptionOracle"),
            DenyTsConnections = Number(file, TsPolicyKey, "fDenyTSConnections") ?? Number(file, TerminalServerKey, "fDenyTSConnections"),
            PortNumber = Number(file, RdpTcpKey, "PortNumber"),
            SecurityPackages = List(file, LsaKey, "Security Packages"),
            SecurityProviders = List(file, SecurityProvidersKey, "SecurityProviders"),
            Os = (product ?? version ?? sp ?? build) is null ? null : new OsHint(product, version, sp, build),
        };
    }

    /// <summary>
    /// Where <paramref name="name"/> is given as something else than a REG_DWORD (a string, a deletion) in one of the keys
    /// doctor reads it from, said so; null when it is absent or a number.
    /// </summary>
    public static string? NotADword(RegFile file, string name)
    {
        ArgumentNullException.ThrowIfNull(file);
        foreach (string key in (string[])[TsPolicyKey, RdpTcpKey, CredSspKey, TerminalServerKey])
        {
            RegValue? value = file.Find(key, name) ?? file.Values.LastOrDefault(v => v.Kind == RegValueKind.Delete && string.Equals(v.Name, name, StringComparison.OrdinalIgnoreCase) && RegFile.NormalizeKey(v.Key) == RegFile.NormalizeKey(key));
            if (value is { Number: null })
            {
                return value.Kind == RegValueKind.Delete ? Where(file, value) : $"{Where(file, value)}, which is not a REG_DWORD";
            }
        }

        return null;
    }

    private static Fact<int>? Number(RegFile file, string key, string name) =>
        file.Find(key, name) is { Number: { } number } value
            ? new Fact<int>(unchecked((int)number), Where(file, value))
            : null;

    private static Fact<IReadOnlyList<string>>? List(RegFile file, string key, string name)
    {
        RegValue? value = file.Find(key, name);
        IReadOnlyList<string>? items = value?.Kind switch
        {
            RegValueKind.MultiString => value.Strings,

            // SecurityProviders is one REG_SZ on Windows: "msapsspc.dll, schannel.dll, digest.dll, msnsspc.dll".
            RegValueKind.String or RegValueKind.ExpandString => value.Text!.Split([',', ' '], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
            _ => null,
        };
        return items is null ? null : new Fact<IReadOnlyList<string>>(items, Where(file, value!));
    }

    private static string Where(RegFile file, RegValue value) =>
        string.Create(CultureInfo.InvariantCulture, $"{value.File ?? file.Source} line {value.Line}: [{value.Key}] \"{value.Name ?? "@"}\" = {value.Display}");
}
