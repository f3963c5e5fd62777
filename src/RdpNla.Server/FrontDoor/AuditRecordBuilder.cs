using System.Data.Common;
using System.Globalization;
using System.Net;
using RdpNla.Protocol;
using RdpNla.Protocol.Rdp;
using RdpNla.Server.Audit;

namespace RdpNla.Server.FrontDoor;

/// <summary>Collects what a connection learned and writes exactly one audit row for it.</summary>
internal sealed class AuditRecordBuilder
{

    private readonly TimeProvider _timeProvider;
    private bool _written;

    public AuditRecordBuilder(IPEndPoint client, TimeProvider timeProvider)
    {
        Client = client;
        _timeProvider = timeProvider;
    }

    /// <summary>The client's address: the TCP peer, or the one a trusted proxy's PROXY header gave.</summary>
    public IPEndPoint Client { get; set; }

    public long ConnectionId { get; set; }

    public SecurityProtocols? RequestedProtocols { get; set; }

    public SecurityProtocols? SelectedProtocol { get; set; }

    public string? UserName { get; set; }

    public string? DomainName { get; set; }

    public int? CredSspVersion { get; set; }

    /// <summary>Writes the row; false when one was already written for this connection.</summary>
    public async Task<bool> WriteAsync(FrontDoorContext context, AuditOutcome outcome, NtStatus? status, string reason)
    {
        if (_written)
        {
            return false;
        }

        _written = true;
        var entry = new AuditEntry
        {
            Time = _timeProvider.GetUtcNow(),
            ClientAddress = AuditEntry.NormalizeAddress(Client.Address),
            ClientPort = Client.Port,
            UserName = UserName,
            Domain = DomainName,
            CredSspVersion = CredSspVersion,
            SecurityProtocol = SelectedProtocol is { } selected ? SecurityProtocolNames.Name(selected) : null,
            Outcome = outcome,
            Status = status,
            Reason = reason,
            ConnectionId = ConnectionId.ToString(CultureInfo.InvariantCulture),
            InstanceName = context.Options.EffectiveInstanceName,
        };
        try
        {
            await context.AuditLog.AppendAsync(entry, CancellationToken.None).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is DbException or IOException or InvalidOperationException)
        {
            FrontDoorLog.AuditFailed(context.Logger, ex.Message);
        }

        return true;
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
