using System.Net;
using Microsoft.Data.Sqlite;
using RdpNla.Server.Audit;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Accounts;

/// <summary>What is specific to the SQLite audit table; the log's contract is in Storage/StoreContractTests.</summary>
public class SqliteAuditLogTests : IDisposable
{
    private readonly TempDirectory _directory = new();

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public void Dispose()
    {
        _directory.Dispose();
        GC.SuppressFinalize(this);
    }

    [Fact]
    public async Task OpenAsync_Version2DatabaseWithAuditRows_AddsInstanceNameAndKeepsRows()
    {
        using (var connection = new SqliteConnection($"Data Source={_directory.DatabasePath};Pooling=False"))
        {
            await connection.OpenAsync(Ct);
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = SchemaMigrations.Scripts[0] + SchemaMigrations.Scripts[1] + "PRAGMA user_version = 2;" +
                "INSERT INTO audit (time, outcome, reason, connection_id) VALUES ('2026-03-01T08:00:00.0000000Z', 'error', 'old row', 'c1');";
            await command.ExecuteNonQueryAsync(Ct);
        }

        await using RdpNlaDatabase database = await RdpNlaDatabase.OpenAsync(_directory.DatabasePath, TimeProvider.System, Ct);

        Assert.Equal(SchemaMigrations.LatestVersion, database.SchemaVersion);
        AuditEntry old = Assert.Single(await database.Audit.QueryAsync(new AuditQuery(), Ct));
        Assert.Equal("old row", old.Reason);
        Assert.Null(old.InstanceName);
        await database.Audit.AppendAsync(old with { Id = 0, ConnectionId = "c2", InstanceName = "gw-a" }, Ct);
        Assert.Equal(["gw-a", null], (await database.Audit.QueryAsync(new AuditQuery(), Ct)).Select(e => e.InstanceName));
    }

    [Fact]
    public void NormalizeAddress_MappedIpv4_IsPlainIpv4()
    {
        Assert.Equal("10.1.2.3", AuditEntry.NormalizeAddress(IPAddress.Parse("::ffff:10.1.2.3")));
        Assert.Equal("2001:db8::1", AuditEntry.NormalizeAddress("2001:DB8:0::1"));
        Assert.Equal("not-an-ip", AuditEntry.NormalizeAddress(" not-an-ip "));
    }
}
