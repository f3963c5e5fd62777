using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography;
using RdpNla.Tests.Support;
using RdpNla.Protocol.Rdp;
using RdpNla.Server.Accounts;
using RdpNla.Server.Gateway;

namespace RdpNla.Tests.Gateway;

/// <summary>
/// The relay's byte pump, both directions at once, through a TLS backend that checks every byte: writes of every size
/// from 1 byte to several TLS records, so the batching (several records per send, reads of whatever is already
/// received, a read pending while a batch is written) is exercised at every boundary. What arrives must be exactly what
/// was sent, in order, and the audit must count it.
/// </summary>
public class GatewayRelayIntegrityTests
{
    private const string Password = GatewayTestClient.Password;
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(1, 24, false)] // about 24 MiB down, 1/8 of it up
    [InlineData(7, 1, false)]
    [InlineData(3, 8, true)] // through two gateways: the first one's backend leg is CredSSP with HYBRID_EX
    public async Task BothDirectionsAtOnce_EveryByteArrivesInOrder_AndIsCounted(int seed, int mebibytes, bool throughSecondGateway)
    {
        long down = mebibytes * 1024L * 1024, up = down / 8;
        await using var backend = new CheckingTlsBackend(seed, down, up);
        await using TestFrontDoor? second = throughSecondGateway ? await StartDoorAsync($"127.0.0.1:{backend.Port}", BackendSecurity.Tls) : null;
        await using TestFrontDoor door = await StartDoorAsync(second?.Address ?? $"127.0.0.1:{backend.Port}", throughSecondGateway ? BackendSecurity.Nla : BackendSecurity.Tls);

        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, door.Port, Ct);
        using SslStream tls = await GatewayTestClient.ConnectAsync(tcp.GetStream());
        Task<byte[]> received = ReadAndHashAsync(tls, down, Ct);
        await WritePatternAsync(tls, new Random(seed + 1), up, Ct);
        byte[] receivedHash = await received.WaitAsync(TimeSpan.FromSeconds(120), Ct);
        byte[] backendHash = await backend.ReceivedHash.WaitAsync(TimeSpan.FromSeconds(120), Ct);
        tls.Close();

        Assert.Equal(Convert.ToHexString(PatternHash(new Random(seed), down)), Convert.ToHexString(receivedHash));
        Assert.Equal(Convert.ToHexString(PatternHash(new Random(seed + 1), up)), Convert.ToHexString(backendHash));
        Assert.Equal("alice", backend.InjectedUser);
        GatewaySessionRecord session = await door.WaitForGatewaySessionAsync("alice");
        Assert.Equal(throughSecondGateway ? "HYBRID_EX" : "SSL", session.BackendProtocol);
        Assert.InRange(session.BytesToClient, down, down + 4096); // the MCS Connect Response is counted too
        Assert.InRange(session.BytesToBackend, up, up + 4096); // and the connection-phase frames
    }

    [Fact]
    public async Task HybridExBackend_DeniesRemoteLogon_TheGatewayLogsTheEarlyUserAuthorizationResultAndDisconnects()
    {
        await using var backend = new CheckingTlsBackend(1, 1024, 128);
        await using TestFrontDoor second = await StartDoorAsync($"127.0.0.1:{backend.Port}", BackendSecurity.Tls, u => u with { RemoteLogonDenied = true });
        await using TestFrontDoor door = await StartDoorAsync(second.Address, BackendSecurity.Nla);

        using var tcp = new TcpClient { NoDelay = true };
        await tcp.ConnectAsync(IPAddress.Loopback, door.Port, Ct);
        using SslStream tls = await GatewayTestClient.ConnectAsync(tcp.GetStream(), expectConnectResponse: false);

        GatewaySessionRecord session = await door.WaitForGatewaySessionAsync("alice");
        Assert.Equal("credentials-rejected", session.Outcome);
        Assert.Contains($"Backend {second.Address} rejected the injected credentials of alice: Early User Authorization Result AUTHZ_ACCESS_DENIED", door.LogText);
        Assert.Equal(0, await tls.ReadAsync(new byte[1], Ct)); // a clean disconnect: close_notify, then FIN
        Assert.False(backend.Connected);
    }

    private static async Task<TestFrontDoor> StartDoorAsync(string backend, BackendSecurity security, Func<UserAccount, UserAccount>? account = null)
    {
        TestFrontDoor door = await TestFrontDoor.StartAsync(o =>
        {
            o.Gateway.DefaultBackend = backend;
            o.Gateway.CertificateValidation = BackendCertificateValidation.None;
        });
        await door.Database.Gateway.SetBackendSecurityAsync(backend, security, Ct);
        await door.AddUserAsync("alice", Password, account);
        return door;
    }

    /// <summary>
    /// The pattern: <paramref name="total"/> bytes from <paramref name="random"/>, cut into writes of every size class
    /// (1 byte to 3 TLS records); the sizes depend only on the total. Each chunk is valid until the next is produced.
    /// </summary>
    private static IEnumerable<ReadOnlyMemory<byte>> PatternChunks(Random random, long total)
    {
        var sizes = new Random(unchecked((int)total));
        byte[] chunk = new byte[3 * 16384 + 100];
        for (long produced = 0; produced < total;)
        {
            int size = (int)Math.Min(total - produced, sizes.Next(4) switch { 0 => sizes.Next(1, 64), 1 => sizes.Next(64, 4096), 2 => sizes.Next(4096, 16385), _ => sizes.Next(16385, chunk.Length) });
            random.NextBytes(chunk.AsSpan(0, size));
            produced += size;
            yield return chunk.AsMemory(0, size);
        }
    }

    private static async Task WritePatternAsync(Stream stream, Random random, long total, CancellationToken cancellationToken)
    {
        foreach (ReadOnlyMemory<byte> chunk in PatternChunks(random, total))
        {
            await stream.WriteAsync(chunk, cancellationToken);
        }
    }

    private static byte[] PatternHash(Random random, long total)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        foreach (ReadOnlyMemory<byte> chunk in PatternChunks(random, total))
        {
            hash.AppendData(chunk.Span);
        }

        return hash.GetHashAndReset();
    }

    private static async Task<byte[]> ReadAndHashAsync(Stream stream, long total, CancellationToken cancellationToken)
    {
        using var hash = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        byte[] buffer = new byte[32 * 1024];
        for (long received = 0; received < total;)
        {
            int n = await stream.ReadAsync(buffer.AsMemory(0, (int)Math.Min(buffer.Length, total - received)), cancellationToken);
            if (n == 0)
            {
                throw new EndOfStreamException($"closed after {received} of {total} bytes");
            }

            hash.AppendData(buffer, 0, n);
            received += n;
        }

        return hash.GetHashAndReset();
    }

    /// <summary>
    /// A TLS-only RDP backend for one session: X.224 (PROTOCOL_SSL), TLS, MCS connect, Client Info; then it streams
    /// the pattern down while hashing what comes up.
    /// </summary>
    private sealed class CheckingTlsBackend : IAsyncDisposable
    {
        private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
        private readonly Task _session;
        private readonly TaskCompletionSource<byte[]> _receivedHash = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public CheckingTlsBackend(int seed, long down, long up)
        {
            _listener.Start();
            _session = ServeAsync(seed, down, up);
        }

        public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

        public Task<byte[]> ReceivedHash => _receivedHash.Task;

        public string? InjectedUser { get; private set; }

        /// <summary>Whether a connection was accepted at all.</summary>
        public bool Connected { get; private set; }

        private async Task ServeAsync(int seed, long down, long up)
        {
            try
            {
                using TcpClient client = await _listener.AcceptTcpClientAsync();
                Connected = true;
                client.NoDelay = true;
                (SslStream session, ClientInfoPdu info) = await TlsEchoBackend.AcceptSessionAsync(client.GetStream());
                await using SslStream tls = session;
                using (info)
                {
                    InjectedUser = info.UserName;
                }

                Task<byte[]> upward = ReadAndHashAsync(tls, up, CancellationToken.None);
                await WritePatternAsync(tls, new Random(seed), down, CancellationToken.None);
                _receivedHash.TrySetResult(await upward);
                _ = await tls.ReadAsync(new byte[1]); // hold the session open until the client closes
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or EndOfStreamException or AuthenticationException)
            {
                _receivedHash.TrySetException(ex);
            }
        }

        public async ValueTask DisposeAsync()
        {
            _listener.Stop();
            await Task.WhenAny(_session, Task.Delay(TimeSpan.FromSeconds(1)));
        }
    }
}
