using System.Globalization;
using System.Net;
using Microsoft.Data.Sqlite;
using RdpNla.Protocol;
using RdpNla.Protocol.Rdp;
using RdpNla.Server.Audit;

namespace RdpNla.Server.FrontDoor;

/// <summary>Collects what a connection learned and writes exactly one audit row for it.</summary>
internal sealed class AuditRecordBuilder
{
    private readonly IPEndPoint _remote;
    private readonly TimeProvider _timeProvider;
    private bool _written;

    public AuditRecordBuilder(IPEndPoint remote, TimeProvider timeProvider)
    {
        _remote = remote;
        _timeProvider = timeProvider;
    }

    public long ConnectionId { get; set; }

    public SecurityProtocols? RequestedProtocols { get; set; }

    public SecurityProtocols? SelectedProtocol { get; set; }

    public string? UserName { get; set; }

    public string? DomainName { get; set; }

    public int? CredSspVersion { get; set; }

    public async Task WriteAsync(FrontDoorContext context, AuditOutcome outcome, NtStatus? status, string reason)
    {
        if (_written)
        {
            return;
        }

        _written = true;
        var entry = new AuditEntry
        {
            Time = _timeProvider.GetUtcNow(),
            ClientAddress = AuditEntry.NormalizeAddress(_remote.Address),
            ClientPort = _remote.Port,
            UserName = UserName,
            Domain = DomainName,
            CredSspVersion = CredSspVersion,
            SecurityProtocol = SelectedProtocol is { } selected ? SecurityProtocolNames.Name(selected) : null,
            Outcome = outcome,
            Status = status,
            Reason = reason,
            ConnectionId = ConnectionId.ToString(CultureInfo.InvariantCulture),
        };
        try
        {
            await context.AuditLog.AppendAsync(entry, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SqliteException or IOException or InvalidOperationException)
        {
            FrontDoorLog.AuditFailed(context.Logger, ex.Message);
        }
    }
}

/// <summary>The short names of security protocols used in logs and audit rows (MS-RDPBCGR §2.2.1.1.1 without the PROTOCOL_ prefix).</summary>
internal static class SecurityProtocolNames
{
    public static string Name(SecurityProtocols protocol) => protocol switch
    {
        SecurityProtocols.Rdp => "RDP",
        SecurityProtocols.Ssl => "SSL",
        SecurityProtocols.Hybrid => "HYBRID",
        SecurityProtocols.RdsTls => "RDSTLS",
        SecurityProtocols.HybridEx => "HYBRID_EX",
        SecurityProtocols.RdsAad => "RDSAAD",
        _ => protocol.ToString(),
    };
}
