using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Rdp;
using RdpNla.Server.Hosting;

namespace RdpNla.Server.FrontDoor;

/// <summary>
/// Everything <c>rdpnla serve</c> can be told, bound from the JSON file (<c>--config</c>), the <c>RDPNLA_</c>
/// environment variables and the command-line flags, in that order of precedence (last wins). Policy settings carry
/// the names of the Windows registry values they emulate.
/// </summary>
public sealed class FrontDoorOptions
{
    /// <summary>Endpoints to listen on, <c>address:port</c> or <c>[ipv6]:port</c>.</summary>
    public List<string> Listen { get; set; } = [];

    /// <summary>The folder of the user store, the audit log and the generated certificate.</summary>
    public string DataDirectory { get; set; } = "rdpnla";

    /// <summary>RDP-Tcp <c>SecurityLayer</c>: 0 Standard RDP Security, 1 Negotiate, 2 TLS.</summary>
    public SecurityLayer SecurityLayer { get; set; } = SecurityLayer.Tls;

    /// <summary>RDP-Tcp <c>UserAuthentication</c>: 1 requires Network Level Authentication (CredSSP).</summary>
    public int UserAuthentication { get; set; } = 1;

    /// <summary>CredSSP <c>AllowEncryptionOracle</c>: 0 Force Updated Clients, 1 Mitigated, 2 Vulnerable.</summary>
    public EncryptionOraclePolicy AllowEncryptionOracle { get; set; } = EncryptionOraclePolicy.Mitigated;

    /// <summary>The highest CredSSP version the server speaks (2–6); 2–4 emulate a server without the CVE-2018-0886 update.</summary>
    public int MaxCredSspVersion { get; set; } = CredSspVersion.Latest;

    /// <summary>The NetBIOS computer name sent in the NTLM CHALLENGE (default: the host name, upper case, 15 characters).</summary>
    public string? ComputerName { get; set; }

    /// <summary>The NetBIOS domain name (default: the computer name, as a workgroup server does). Also the default domain of user names.</summary>
    public string? DomainName { get; set; }

    /// <summary>The DNS computer name (default: the host name).</summary>
    public string? DnsComputerName { get; set; }

    /// <summary>The DNS domain name (default: the DNS computer name).</summary>
    public string? DnsDomainName { get; set; }

    public CertificateOptions Certificate { get; set; } = new();

    public FrontDoorLimits Limits { get; set; } = new();

    /// <summary>The gateway: where authenticated users are relayed (docs/gateway.md).</summary>
    public Gateway.GatewayOptions Gateway { get; set; } = new();

    public bool NlaRequired => UserAuthentication != 0;

    /// <summary>Checks every setting; returns one message per problem, each saying how to fix it.</summary>
    public IReadOnlyList<string> Validate()
    {
        var errors = new List<string>();
        if (!Enum.IsDefined(SecurityLayer))
        {
            errors.Add($"SecurityLayer must be 0 (RDP), 1 (Negotiate) or 2 (TLS); got {(int)SecurityLayer}.");
        }

        if (UserAuthentication is not (0 or 1))
        {
            errors.Add($"UserAuthentication must be 0 or 1; got {UserAuthentication}.");
        }

        if (!Enum.IsDefined(AllowEncryptionOracle))
        {
            errors.Add($"AllowEncryptionOracle must be 0 (Force Updated Clients), 1 (Mitigated) or 2 (Vulnerable); got {(int)AllowEncryptionOracle}.");
        }

        if (MaxCredSspVersion is < CredSspVersion.Minimum or > CredSspVersion.Latest)
        {
            errors.Add($"MaxCredSspVersion must be between 2 and 6; got {MaxCredSspVersion}.");
        }

        foreach (string endpoint in Listen)
        {
            if (!ListenEndpoint.TryParse(endpoint, out _, out string? problem))
            {
                errors.Add($"Listen '{endpoint}': {problem}");
            }
        }

        if (ComputerName is { Length: > 15 })
        {
            errors.Add($"ComputerName '{ComputerName}' is longer than the 15 characters a NetBIOS name allows.");
        }

        errors.AddRange(Limits.Validate());
        errors.AddRange(Gateway.Validate());
        return errors;
    }
}

/// <summary>Pre-authentication limits (modelled on Kestrel's limits object and OpenSSH's LoginGraceTime/MaxStartups).</summary>
public sealed class FrontDoorLimits
{
    /// <summary>The whole handshake (X.224, TLS, CredSSP) must finish within this time.</summary>
    public TimeSpan HandshakeTimeout { get; set; } = TimeSpan.FromSeconds(20);

    /// <summary>At most this many connections may be unauthenticated at once; more are closed at accept.</summary>
    public int MaxUnauthenticatedConnections { get; set; } = 512;

    /// <summary>At most this many unauthenticated connections from one IP address.</summary>
    public int MaxUnauthenticatedConnectionsPerAddress { get; set; } = 16;

    /// <summary>The largest TPKT frame or TSRequest accepted before authentication.</summary>
    public int MaxMessageSize { get; set; } = 64 * 1024;

    internal IEnumerable<string> Validate()
    {
        if (HandshakeTimeout <= TimeSpan.Zero)
        {
            yield return "Limits:HandshakeTimeout must be positive (e.g. 00:00:20).";
        }

        if (MaxUnauthenticatedConnections < 1)
        {
            yield return "Limits:MaxUnauthenticatedConnections must be at least 1.";
        }

        if (MaxUnauthenticatedConnectionsPerAddress < 1)
        {
            yield return "Limits:MaxUnauthenticatedConnectionsPerAddress must be at least 1.";
        }

        if (MaxMessageSize is < 1024 or > 1024 * 1024)
        {
            yield return "Limits:MaxMessageSize must be between 1024 and 1048576 bytes.";
        }
    }
}
