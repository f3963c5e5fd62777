using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using RdpNla.Protocol.Ntlm;
using RdpNla.Server.Accounts;
using RdpNla.Server.Audit;
using RdpNla.Server.FrontDoor;
using RdpNla.Server.Hosting;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Support;

/// <summary>An in-process <c>rdpnla serve</c> on a loopback port chosen by the OS, with its own data folder and captured logs.</summary>
public sealed class TestFrontDoor : IAsyncDisposable
{
    public const string ComputerName = "FRONTDOOR";
    public const string Domain = "LAB";

    private readonly FakeLoggerProvider _logs;
    private readonly ILoggerFactory _loggerFactory;

    private TestFrontDoor(FrontDoorHost host, RdpNlaDatabase database, FakeLoggerProvider logs, ILoggerFactory loggerFactory, string dataDirectory)
    {
        Host = host;
        Database = database;
        _logs = logs;
        _loggerFactory = loggerFactory;
        DataDirectory = dataDirectory;
    }

    public FrontDoorHost Host { get; }

    /// <summary>A second connection to the front door's database, for setting up users and reading the audit log.</summary>
    public RdpNlaDatabase Database { get; }

    public string DataDirectory { get; }

    public int Port => Host.Server.LocalEndPoints[0].Port;

    public string Address => $"127.0.0.1:{Port}";

    public IReadOnlyList<FakeLogRecord> LogRecords => _logs.Collector.GetSnapshot();

    public string LogText => string.Join(Environment.NewLine, LogRecords.Select(r => $"{r.Level} {r.Message}"));

    /// <summary>
    /// <see cref="StartAsync"/> with the Prometheus endpoint on a free loopback port, returned. The port comes from
    /// bind(0) before the endpoint binds it; when another test process was handed the same port first, the start fails
    /// with a <see cref="ListenFailedException"/> for MetricsListen and is tried again on another port.
    /// </summary>
    public static async Task<(TestFrontDoor Door, int MetricsPort)> StartWithMetricsAsync(Action<FrontDoorOptions>? configure = null)
    {
        for (int attempt = 1; ; attempt++)
        {
            int port = PeerPorts.GetFreePort();
            try
            {
                TestFrontDoor door = await StartAsync(o =>
                {
                    configure?.Invoke(o);
                    o.MetricsListen = $"127.0.0.1:{port}";
                });
                return (door, port);
            }
            catch (ListenFailedException ex) when (ex.Setting == nameof(FrontDoorOptions.MetricsListen) && attempt < 3)
            {
            }
        }
    }

    public static async Task<TestFrontDoor> StartAsync(Action<FrontDoorOptions>? configure = null, AccountPolicyOptions? policy = null, TimeProvider? timeProvider = null)
    {
        string dataDirectory = Path.Combine(Path.GetTempPath(), "rdpnla-tests", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(dataDirectory);
        var options = new FrontDoorOptions
        {
            Listen = ["127.0.0.1:0"],
            DataDirectory = dataDirectory,
            ComputerName = ComputerName,
            DomainName = Domain,
        };
        configure?.Invoke(options);
        var logs = new FakeLoggerProvider(new FakeLogCollector(Microsoft.Extensions.Options.Options.Create(new FakeLogCollectorOptions())));
        ILoggerFactory loggerFactory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(logs));
        FrontDoorHost host;
        try
        {
            host = await FrontDoorHost.StartAsync(options, policy ?? new AccountPolicyOptions(), loggerFactory, timeProvider ?? TimeProvider.System, CancellationToken.None);
        }
        catch
        {
            // A start that fails (a test expecting it, or a metrics port taken, tried again) leaves no folder behind.
            loggerFactory.Dispose();
            Directory.Delete(dataDirectory, recursive: true);
            throw;
        }

        RdpNlaDatabase database = await RdpNlaDatabase.OpenAsync(Server.Storage.DataDirectory.GetDatabasePath(dataDirectory), timeProvider);
        return new TestFrontDoor(host, database, logs, loggerFactory, dataDirectory);
    }

    public async Task AddUserAsync(string name, string password, Func<UserAccount, UserAccount>? modify = null)
    {
        await Database.Users.AddAsync(name, NtlmCrypto.NtOwfV1(password));
        if (modify is not null)
        {
            await Database.Users.UpdateAsync(name, modify);
        }
    }

    /// <summary>The audit rows, oldest first.</summary>
    public async Task<IReadOnlyList<AuditEntry>> AuditAsync()
    {
        IReadOnlyList<AuditEntry> rows = await Database.Audit.QueryAsync(new AuditQuery { Limit = 10_000 });
        return rows.Reverse().ToList();
    }

    /// <summary>Waits until the audit log has at least <paramref name="count"/> rows (the server writes them as connections end).</summary>
    public async Task<IReadOnlyList<AuditEntry>> WaitForAuditAsync(int count)
    {
        for (int i = 0; i < 200; i++)
        {
            IReadOnlyList<AuditEntry> rows = await AuditAsync();
            if (rows.Count >= count)
            {
                return rows;
            }

            await Task.Delay(25);
        }

        return await AuditAsync();
    }

    /// <summary>The newest audit row of <paramref name="user"/>, waiting for it (the server writes it as the connection ends).</summary>
    public async Task<AuditEntry> LastAuditForAsync(string user)
    {
        for (int i = 0; i < 200; i++)
        {
            IReadOnlyList<AuditEntry> rows = await Database.Audit.QueryAsync(new AuditQuery { UserName = user, Limit = 1 });
            if (rows.Count > 0)
            {
                return rows[0];
            }

            await Task.Delay(25);
        }

        throw new InvalidOperationException($"no audit row for {user}\n{LogText}");
    }

    /// <summary>
    /// Waits for the gateway session row of <paramref name="user"/> newer than <paramref name="afterId"/> (the server
    /// writes it as the session ends) and returns it.
    /// </summary>
    public async Task<Server.Gateway.GatewaySessionRecord> WaitForGatewaySessionAsync(string user, long afterId = 0)
    {
        for (int i = 0; i < 200; i++)
        {
            IReadOnlyList<Server.Gateway.GatewaySessionRecord> rows = await Database.Gateway.ListSessionsAsync(user, 1);
            if (rows.Count > 0 && rows[0].Id > afterId)
            {
                return rows[0];
            }

            await Task.Delay(50);
        }

        throw new InvalidOperationException($"no gateway session row for {user}\n{LogText}");
    }

    public async ValueTask DisposeAsync()
    {
        await Host.DisposeAsync();
        await Database.DisposeAsync();
        _loggerFactory.Dispose();
        try
        {
            Directory.Delete(DataDirectory, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}
