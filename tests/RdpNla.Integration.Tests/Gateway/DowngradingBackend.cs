using System.Collections.Concurrent;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Text;
using RdpNla.Integration.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Protocol.Rdp;
using RdpNla.Transport;

namespace RdpNla.Integration.Tests.Gateway;

/// <summary>
/// A loopback backend that plays the man in the middle of the backend network. While <see cref="ForwardTo"/> is set and
/// <see cref="Downgrade"/> is false it relays every connection byte for byte to a real NLA backend (which selects
/// HYBRID or HYBRID_EX). Otherwise it answers the X.224 Connection Request itself with PROTOCOL_SSL, whatever was
/// requested, terminates TLS with its own certificate, answers the MCS Connect Initial, and records every frame the
/// gateway sends after it: the Client Info PDU with the password, the attacker's prize, or anything forwarded before.
/// After a Client Info PDU it echoes the session.
/// </summary>
internal sealed class DowngradingBackend : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly Task _accepting;
    private int _accepted;

    public DowngradingBackend()
    {
        _listener.Start();
        _accepting = AcceptAsync();
    }

    public string Address => $"127.0.0.1:{((IPEndPoint)_listener.LocalEndpoint).Port}";

    /// <summary>The real backend connections are relayed to while <see cref="Downgrade"/> is false.</summary>
    public string? ForwardTo { get; set; }

    /// <summary>Answer PROTOCOL_SSL and terminate TLS instead of relaying.</summary>
    public bool Downgrade { get; set; }

    public int Accepted => Volatile.Read(ref _accepted);

    /// <summary>The credentials read from Client Info PDUs ("DOMAIN\user:password"): what the attacker got.</summary>
    public ConcurrentQueue<string> Captured { get; } = new();

    /// <summary>The frames after the MCS Connect Initial that were not a decodable Client Info PDU.</summary>
    public ConcurrentQueue<byte[]> OtherFrames { get; } = new();

    private async Task AcceptAsync()
    {
        try
        {
            while (true)
            {
                TcpClient client = await _listener.AcceptTcpClientAsync();
                Interlocked.Increment(ref _accepted);
                _ = ForwardTo is { } target && !Downgrade ? RelayAsync(client, target) : TerminateAsync(client);
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
            // stopped
        }
    }

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
                Task first = await Task.WhenAny(a.CopyToAsync(b), b.CopyToAsync(a));
                await first;
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException)
            {
                // either side closed
            }
        }
    }

    private async Task TerminateAsync(TcpClient client)
    {
        using (client)
        {
            NetworkStream network = client.GetStream();
            try
            {
                _ = X224ConnectionRequest.Decode(await MessageFraming.ReadTpktFrameAsync(network, 1024, default));
                await network.WriteAsync(new X224ConnectionConfirm(new RdpNegResponse(RdpNegResponseFlags.None, SecurityProtocols.Ssl)).Encode());
                await using var tls = new SslStream(network);
                await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = TestCertificates.Server, EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13 });
                _ = McsConnectPdu.Decode(await MessageFraming.ReadTpktFrameAsync(tls, 65535, default));
                byte[] core = new byte[12];
                BitConverter.TryWriteBytes(core.AsSpan(0), GccBlockType.ServerCore);
                BitConverter.TryWriteBytes(core.AsSpan(2), (ushort)core.Length);
                BitConverter.TryWriteBytes(core.AsSpan(8), (uint)SecurityProtocols.Ssl);
                await tls.WriteAsync(McsConnectPdu.EncodeConnectResponse([core]));
                while (true)
                {
                    byte[] frame = await MessageFraming.ReadTpktFrameAsync(tls, 65535, default);
                    try
                    {
                        using ClientInfoPdu info = ClientInfoPdu.Decode(frame);
                        Captured.Enqueue($"{info.Domain}\\{info.UserName}:{Encoding.Unicode.GetString(info.PasswordUtf16)}");
                        break;
                    }
                    catch (NlaProtocolException)
                    {
                        OtherFrames.Enqueue(frame);
                    }
                }

                byte[] buffer = new byte[4096];
                int n;
                while ((n = await tls.ReadAsync(buffer)) > 0)
                {
                    await tls.WriteAsync(buffer.AsMemory(0, n));
                }
            }
            catch (Exception ex) when (ex is IOException or SocketException or ObjectDisposedException or EndOfStreamException or AuthenticationException or NlaProtocolException)
            {
                // the gateway closed the connection
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        _listener.Stop();
        await _accepting;
    }
}
