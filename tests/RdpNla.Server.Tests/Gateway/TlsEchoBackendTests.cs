using System.Net;
using System.Net.Sockets;

namespace RdpNla.Tests.Gateway;

/// <summary>
/// The gateway tests' backend must stop cleanly whenever it is disposed: the gateway opens a backend leg for each
/// authenticated connection, so a leg can arrive just as a test ends, and an exception from the disposal would replace
/// whatever the test itself reported.
/// </summary>
public class TlsEchoBackendTests
{
    [Fact]
    public async Task DisposeAsync_AsConnectionsArrive_StopsWithoutThrowing()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;

        // Alternate between disposing before and after the accept completed: the race is the stop that comes between
        // one accept and the next (before the fix, "Not listening" within the first few dozen rounds).
        for (int round = 0; round < 500; round++)
        {
            var backend = new TlsEchoBackend();
            int port = int.Parse(backend.Address.Split(':')[1], System.Globalization.CultureInfo.InvariantCulture);
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port, ct);
            if (round % 2 == 1)
            {
                SpinWait.SpinUntil(() => backend.Accepted > 0, TimeSpan.FromSeconds(5));
            }

            await backend.DisposeAsync();
        }
    }
}
