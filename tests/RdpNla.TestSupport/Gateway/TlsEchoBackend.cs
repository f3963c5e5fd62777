using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using RdpNla.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Protocol.Rdp;
using RdpNla.Transport;

namespace RdpNla.Tests.Gateway;

/// <summary>
/// A TLS-only RDP backend reduced to what the gateway needs (X.224 selecting PROTOCOL_SSL whatever was requested, TLS,
/// MCS connect, Client Info) that records the credentials of the Client Info PDU and any other frame the gateway sent
/// before it, then echoes every byte of the session until the gateway closes it.
/// While <see cref="ForwardTo"/> is set it is instead a relay to that real backend (which may select HYBRID or
/// HYBRID_EX); clearing it makes the same address answer SSL itself: the man in the middle of the backend network who
/// rewrites the Connection Confirm and terminates TLS to read the password.
/// </summary>
internal sealed class TlsEchoBackend : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Task _accepting;
    private int _accepted;

    public TlsEchoBackend()
    {
        _listener.Start();

        // Accepts until DisposeAsync stops the listener, also when the stop comes between one accept and the next (the
        // gateway opens a backend leg for each authenticated connection, and the last one can arrive as a test ends).
        _accepting = LoopbackPeers.AcceptForeverAsync(_listener, socket =>
        {
            Interlocked.Increment(ref _accepted);
            var client = new TcpClient { Client = socket };
            _ = ForwardTo is { } target ? RelayAsync(client, target) : EchoAsync(client);
        });
    }

    public string Address => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>The real backend new connections are relayed to byte for byte; null: answer them here.</summary>
    public string? ForwardTo { get; set; }

    /// <summary>The credentials read from Client Info PDUs, as "DOMAIN\user:password".</summary>
    public ConcurrentQueue<string> Captured { get; } = new();

    /// <summary>The frames after the MCS Connect Initial that were not a decodable Client Info PDU.</summary>
    public ConcurrentQueue<byte[]> OtherFrames { get; } = new();

    private static async Task RelayAsync(TcpClient client, string target)
    {
        using (client)
        using (var upstream = new TcpClient())
        {
            try
            {
                string[] parts = target.Split(':');
                await upstream.ConnectAsync(parts[0], int.Parse(parts[1], System.Globalization.CultureInfo.InvariantCulture));
                NetworkStream a = client.GetStream(), b = upstream.GetStream();
                await await Task.WhenAny(a.CopyToAsync(b), b.CopyToAsync(a));
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
            {
                // either side closed
            }
        }
    }

    private async Task EchoAsync(TcpClient client)
    {
        using (client)
        {
            try
            {
                (SslStream tls, ClientInfoPdu info) = await AcceptSessionAsync(client.GetStream(), OtherFrames.Enqueue);
                Captured.Enqueue($"{info.Domain}\\{info.UserName}:{Encoding.Unicode.GetString(info.PasswordUtf16)}");
                info.Dispose();
                await using var session = tls;
                byte[] buffer = new byte[16 * 1024];
                int n;
                while ((n = await session.ReadAsync(buffer)) > 0)
                {
                    await session.WriteAsync(buffer.AsMemory(0, n));
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or EndOfStreamException or AuthenticationException or NlaProtocolException)
            {
                // the gateway closed the session
            }
        }
    }

    /// <summary>
    /// The backend side of the connection sequence as far as the gateway takes it: X.224 Connection Confirm selecting
    /// PROTOCOL_SSL, TLS, MCS Connect Response (clientRequestedProtocols SSL|HYBRID, what the gateway requested), and
    /// the Client Info PDU with the injected credentials; frames before it that are not one go to
    /// <paramref name="otherFrame"/> (without it they are an error). Then the stream is the session.
    /// </summary>
    public static async Task<(SslStream Tls, ClientInfoPdu Info)> AcceptSessionAsync(NetworkStream network, Action<byte[]>? otherFrame = null)
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
            while (true)
            {
                byte[] frame = await MessageFraming.ReadTpktFrameAsync(tls, 65535, default);
                try
                {
                    return (tls, ClientInfoPdu.Decode(frame));
                }
                catch (NlaProtocolException) when (otherFrame is not null)
                {
                    otherFrame(frame);
                }
            }
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
