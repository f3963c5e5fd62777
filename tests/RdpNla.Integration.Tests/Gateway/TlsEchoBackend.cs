using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using RdpNla.Integration.Tests.Support;
using RdpNla.Protocol.Rdp;
using RdpNla.Transport;

namespace RdpNla.Integration.Tests.Gateway;

/// <summary>
/// A TLS-only RDP backend reduced to what the gateway needs (X.224 selecting PROTOCOL_SSL, TLS, MCS connect, Client
/// Info) that then echoes every byte of the session until the gateway closes it.
/// </summary>
internal sealed class TlsEchoBackend : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Task _accepting;
    private int _accepted;

    public TlsEchoBackend()
    {
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public string Address => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    public int Accepted => Volatile.Read(ref _accepted);

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                TcpClient client = await _listener.AcceptTcpClientAsync();
                Interlocked.Increment(ref _accepted);
                _ = EchoAsync(client);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // stopped
        }
    }

    private static async Task EchoAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                (SslStream tls, ClientInfoPdu info) = await AcceptSessionAsync(client.GetStream());
                info.Dispose();
                await using var session = tls;
                byte[] buffer = new byte[16 * 1024];
                int n;
                while ((n = await session.ReadAsync(buffer)) > 0)
                {
                    await session.WriteAsync(buffer.AsMemory(0, n));
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or EndOfStreamException or AuthenticationException)
            {
                // the gateway closed the session
            }
        }
    }

    /// <summary>
    /// The backend side of the connection sequence as far as the gateway takes it: X.224 Connection Confirm selecting
    /// PROTOCOL_SSL, TLS, MCS Connect Response (clientRequestedProtocols SSL|HYBRID, what the gateway requested), and
    /// the Client Info PDU with the injected credentials. Then the stream is the session.
    /// </summary>
    public static async Task<(SslStream Tls, ClientInfoPdu Info)> AcceptSessionAsync(NetworkStream network)
    {
        _ = X224ConnectionRequest.Decode(await MessageFraming.ReadTpktFrameAsync(network, 1024, default));
        await network.WriteAsync(new X224ConnectionConfirm(new RdpNegResponse(RdpNegResponseFlags.None, SecurityProtocols.Ssl)).Encode());
        var tls = new SslStream(network);
        try
        {
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = TestCertificates.Server, EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13 });
            _ = McsConnectPdu.Decode(await MessageFraming.ReadTpktFrameAsync(tls, 65535, default));
            byte[] core = new byte[12];
            BitConverter.TryWriteBytes(core.AsSpan(0), GccBlockType.ServerCore);
            BitConverter.TryWriteBytes(core.AsSpan(2), (ushort)core.Length);
            BitConverter.TryWriteBytes(core.AsSpan(8), (uint)(SecurityProtocols.Ssl | SecurityProtocols.Hybrid));
            await tls.WriteAsync(McsConnectPdu.EncodeConnectResponse([core]));
            return (tls, ClientInfoPdu.Decode(await MessageFraming.ReadTpktFrameAsync(tls, 65535, default)));
        }
        catch
        {
            await tls.DisposeAsync();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _accepting;
    }
}
