using System.Net.Security;
using System.Security.Cryptography.X509Certificates;
using Microsoft.Extensions.Logging;
using RdpNla.Protocol;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Ntlm;
using RdpNla.Server.Accounts;
using RdpNla.Server.Audit;
using RdpNla.Transport;

namespace RdpNla.Server.FrontDoor;

/// <summary>What every connection of one front door shares: settings, certificate, account policy, audit log.</summary>
internal sealed class FrontDoorContext
{
    private readonly byte[] _publicKey;

    public FrontDoorContext(
        FrontDoorOptions options,
        X509Certificate2 certificate,
        LocalDomainNames localNames,
        AccountPolicy accountPolicy,
        IAuditLog auditLog,
        ILogger logger,
        TimeProvider timeProvider,
        IRandomSource random,
        Gateway.GatewayRelay? gateway = null)
    {
        Gateway = gateway;
        Options = options;
        CertificateContext = SslStreamCertificateContext.Create(certificate, additionalCertificates: null, offline: true);
        // MS-CSSP §3.1.5 step 3: the binding covers the SubjectPublicKey BIT STRING contents (nla-protocol.md §3.6).
        _publicKey = certificate.GetPublicKey();
        LocalNames = localNames;
        AccountPolicy = accountPolicy;
        AuditLog = auditLog;
        Logger = logger;
        TimeProvider = timeProvider;
        Random = random;
    }

    public FrontDoorOptions Options { get; }

    public SslStreamCertificateContext CertificateContext { get; }

    public LocalDomainNames LocalNames { get; }

    public AccountPolicy AccountPolicy { get; }

    public IAuditLog AuditLog { get; }

    public ILogger Logger { get; }

    public TimeProvider TimeProvider { get; }

    public IRandomSource Random { get; }

    /// <summary>The relay to backends, or null when the gateway is not in use.</summary>
    public Gateway.GatewayRelay? Gateway { get; }

    public CredSspServerOptions CreateCredSspOptions() => new()
    {
        ServerPublicKey = _publicKey,
        MaxVersion = Options.MaxCredSspVersion,
        AllowEncryptionOracle = Options.AllowEncryptionOracle,
        Ntlm = new NtlmServerOptions
        {
            NbComputerName = LocalNames.NetBiosName,
            NbDomainName = Options.DomainName ?? LocalNames.DefaultDomain ?? LocalNames.NetBiosName,
            DnsComputerName = Options.DnsComputerName ?? LocalNames.DnsName ?? LocalNames.NetBiosName.ToLowerInvariant(),
            DnsDomainName = Options.DnsDomainName ?? LocalNames.DnsName ?? LocalNames.NetBiosName.ToLowerInvariant(),
            TimeProvider = TimeProvider,
            RandomSource = Random,
        },
    };

    public AccountAuthenticator CreateAccountAuthenticator() => new(AccountPolicy);
}
