using System.Globalization;
using Npgsql;

[assembly: AssemblyFixture(typeof(RdpNla.Tests.Support.PostgresServer))]

namespace RdpNla.Tests.Support;

/// <summary>
/// One PostgreSQL 15 server for the whole test run (Debian <c>postgresql</c>): <c>initdb</c> and <c>pg_ctl</c> in a
/// temp folder owned by the unprivileged <c>postgres</c> user (the tests may run as root, which PostgreSQL refuses),
/// listening on a free loopback port with its unix socket in that folder. Started lazily, so runs without
/// PostgreSQL tests never start it; stopped by its PID (postmaster.pid) at the end. Each test asks for a fresh
/// database with <see cref="CreateDatabaseAsync"/>.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    /// <summary>Where Debian installs the PostgreSQL 15 server programs.</summary>
    public const string BinDirectory = "/usr/lib/postgresql/15/bin";

    /// <summary>The superuser initdb creates (trust authentication on loopback, test use only).</summary>
    public const string SuperUser = "rdpnla_test";

    private readonly SemaphoreSlim _gate = new(1, 1);
    private string? _directory;
    private int _databases;

    /// <summary>The TCP port on 127.0.0.1, once started.</summary>
    public int Port { get; private set; }

    /// <summary>The postmaster's process id, once started.</summary>
    public int Pid { get; private set; }

    private string DataDirectory => Path.Combine(_directory!, "data");

    private string LogFile => Path.Combine(_directory!, "postgres.log");

    /// <summary>What the server wrote to its log so far (for failure messages).</summary>
    public string Log => _directory is not null && File.Exists(LogFile) ? File.ReadAllText(LogFile) : string.Empty;

    /// <summary>Starts the server on first use.</summary>
    public async Task EnsureStartedAsync()
    {
        await _gate.WaitAsync();
        try
        {
            if (_directory is null)
            {
                await InitializeAsync();
            }

            if (Pid == 0)
            {
                await StartServerAsync();
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>A new, empty database and a connection string for it (no password: trust on loopback).</summary>
    public async Task<string> CreateDatabaseAsync(string prefix = "rdpnla")
    {
        await EnsureStartedAsync();
        string name = string.Create(CultureInfo.InvariantCulture, $"{prefix}_{Interlocked.Increment(ref _databases)}_{Environment.ProcessId}");
        await using (var connection = new NpgsqlConnection(ConnectionString("postgres")))
        {
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\"", connection);
            await command.ExecuteNonQueryAsync();
        }

        return ConnectionString(name);
    }

    /// <summary>A connection string for <paramref name="database"/>; pooling off so a stopped server leaves no stale pool.</summary>
    public string ConnectionString(string database) =>
        $"Host=127.0.0.1;Port={Port};Username={SuperUser};Database={database};Timeout=5";

    /// <summary>Stops the server (fast shutdown, by PID): running tests see it unreachable until <see cref="EnsureStartedAsync"/>.</summary>
    public async Task StopAsync()
    {
        await _gate.WaitAsync();
        try
        {
            await StopServerAsync();
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task InitializeAsync()
    {
        string initdb = Path.Combine(BinDirectory, "initdb");
        Peers.Require(initdb);
        string directory = Directory.CreateTempSubdirectory("rdpnla-postgres-").FullName;
        if (Environment.UserName == "root")
        {
            ProcessResult chown = await ExternalProcess.RunAsync("chown", ["postgres:postgres", directory], null, TimeSpan.FromSeconds(10), CancellationToken.None);
            Assert.True(chown.ExitCode == 0, chown.Output);
        }

        _directory = directory;
        ProcessResult result = await RunAsPostgresAsync(
            initdb,
            ["-D", DataDirectory, "-U", SuperUser, "-A", "trust", "-E", "UTF8", "--locale=C", "--no-sync"],
            TimeSpan.FromSeconds(120));
        Assert.True(result.ExitCode == 0, $"initdb failed:\n{result.Output}");
    }

    private async Task StartServerAsync()
    {
        // A restart keeps the port, as a real server's address stays the same.
        if (Port == 0)
        {
            Port = PeerPorts.GetFreePort();
        }

        // fsync off: a test server on a shared machine; durability against a crash of rdpnla (not of PostgreSQL) is
        // what the tests check, and a committed row is visible to every session whatever fsync says.
        string options = string.Create(CultureInfo.InvariantCulture,
            $"-p {Port} -k {_directory} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200");
        ProcessResult result = await RunAsPostgresAsync(
            Path.Combine(BinDirectory, "pg_ctl"),
            ["-D", DataDirectory, "-l", LogFile, "-w", "-t", "60", "-o", options, "start"],
            TimeSpan.FromSeconds(90));
        Assert.True(result.ExitCode == 0, $"pg_ctl start failed:\n{result.Output}\n{Log}");
        string pidLine = (await File.ReadAllLinesAsync(Path.Combine(DataDirectory, "postmaster.pid")))[0];
        Pid = int.Parse(pidLine, CultureInfo.InvariantCulture);
    }

    private async Task StopServerAsync()
    {
        if (Pid == 0)
        {
            return;
        }

        NpgsqlConnection.ClearAllPools();
        // SIGINT is PostgreSQL's fast shutdown: sessions are ended, the server checkpoints and exits.
        await ExternalProcess.RunAsync("kill", ["-INT", Pid.ToString(CultureInfo.InvariantCulture)], null, TimeSpan.FromSeconds(5), CancellationToken.None);
        DateTime until = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (IsRunning(Pid) && DateTime.UtcNow < until)
        {
            await Task.Delay(50);
        }

        if (IsRunning(Pid))
        {
            await ExternalProcess.RunAsync("kill", ["-KILL", Pid.ToString(CultureInfo.InvariantCulture)], null, TimeSpan.FromSeconds(5), CancellationToken.None);
        }

        Pid = 0;
    }

    // A zombie still has a /proc entry; its state letter (after the last ')') is 'Z'.
    private static bool IsRunning(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            return stat[(stat.LastIndexOf(')') + 2)] != 'Z';
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    // PostgreSQL refuses to run as root; as another user the tests run it directly.
    private static Task<ProcessResult> RunAsPostgresAsync(string program, IEnumerable<string> arguments, TimeSpan timeout) =>
        Environment.UserName == "root"
            ? ExternalProcess.RunAsync("runuser", ["-u", "postgres", "--", program, .. arguments], null, timeout, CancellationToken.None)
            : ExternalProcess.RunAsync(program, arguments, null, timeout, CancellationToken.None);

    public async ValueTask DisposeAsync()
    {
        await StopServerAsync();
        if (_directory is not null)
        {
            try
            {
                Directory.Delete(_directory, recursive: true);
            }
            catch (IOException)
            {
                // Best effort: the folder is under the system temp folder.
            }
        }

        _gate.Dispose();
    }
}
