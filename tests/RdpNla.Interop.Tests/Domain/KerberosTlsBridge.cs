using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using RdpNla.Tests.Kerberos;
using RdpNla.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Protocol.Rdp;
using RdpNla.Transport;

namespace RdpNla.Tests.Domain;

/// <summary>
/// An RDP client whose NLA is Kerberos and whose RDP session is xfreerdp's: FreeRDP 2.11 on Debian has no Kerberos
/// (its WinPR is built without GSSAPI), so this bridge takes one xfreerdp connection with TLS security (PROTOCOL_SSL;
/// xfreerdp's Client Info credentials are not used by the gateway), logs on to the front door with Kerberos through
/// <see cref="KerberosCredSspPeer"/> (.NET NegotiateAuthentication, the ticket from <c>kinit alice</c>), then relays
/// xfreerdp's RDP connection sequence over that authenticated TLS session unchanged, except
/// TS_UD_SC_CORE.clientRequestedProtocols, set back to the SSL xfreerdp requested (MS-RDPBCGR §2.2.1.4.2).
/// </summary>
internal sealed class KerberosTlsBridge : IAsyncDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _run;

    public KerberosTlsBridge(int frontDoorPort, Func<ITestInitiator> initiator, string user, string realm)
    {
        _listener.Start();
        _run = RunAsync(frontDoorPort, initiator, user, realm);
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>What the Kerberos logon to the front door gave (null until it ended).</summary>
    public KerberosPeerOutcome? Outcome { get; private set; }

    /// <summary>Why the bridge stopped relaying, when it failed.</summary>
    public string? Error { get; private set; }

    private async Task RunAsync(int frontDoorPort, Func<ITestInitiator> initiator, string user, string realm)
    {
        CancellationToken ct = _stop.Token;
        try
        {
            using TcpClient client = await _listener.AcceptTcpClientAsync(ct);
            NetworkStream clientNetwork = client.GetStream();
            X224ConnectionRequest request = X224ConnectionRequest.Decode(await MessageFraming.ReadTpktFrameAsync(clientNetwork, 1024, ct));
            Assert.True(request.NegotiationRequest?.RequestedProtocols.HasFlag(SecurityProtocols.Ssl) ?? false, "xfreerdp did not offer TLS");
            await clientNetwork.WriteAsync(new X224ConnectionConfirm(new RdpNegResponse(RdpNegResponseFlags.None, SecurityProtocols.Ssl)).Encode(), ct);
            await using var clientTls = new SslStream(clientNetwork, false);
            await clientTls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = TestCertificates.Server }, ct);

            using var door = new TcpClient();
            await door.ConnectAsync(IPAddress.Loopback, frontDoorPort, ct);
            using ITestInitiator context = initiator();

            // A ticket is all the client proves; it delegates no password (TSPasswordCreds with an empty one).
            (KerberosPeerOutcome outcome, SslStream doorTls) = await KerberosCredSspPeer.AuthenticateAsync(door.GetStream(), context, 6, user, realm, string.Empty, ct);
            await using (doorTls)
            {
                Outcome = outcome;
                if (!outcome.Authenticated)
                {
                    return;
                }

                await doorTls.WriteAsync(await MessageFraming.ReadTpktFrameAsync(clientTls, Tpkt.MaximumFrameLength, ct), ct);
                McsConnectPdu response = McsConnectPdu.Decode(await MessageFraming.ReadTpktFrameAsync(doorTls, Tpkt.MaximumFrameLength, ct));
                await clientTls.WriteAsync(response.WithClientRequestedProtocols(SecurityProtocols.Ssl), ct);
                Task up = PumpAsync(clientTls, doorTls, ct);
                Task down = PumpAsync(doorTls, clientTls, ct);
                await Task.WhenAny(up, down);
            }
        }
        catch (Exception ex) when (ex is IOException or SocketException or OperationCanceledException or ObjectDisposedException or NlaProtocolException or System.Security.Authentication.AuthenticationException)
        {
            Error = ex.Message;
        }
    }

    private static async Task PumpAsync(Stream from, Stream to, CancellationToken ct)
    {
        byte[] buffer = new byte[16384];
        try
        {
            int read;
            while ((read = await from.ReadAsync(buffer, ct)) > 0)
            {
                await to.WriteAsync(buffer.AsMemory(0, read), ct);
            }
        }
        catch (Exception ex) when (ex is IOException or OperationCanceledException or ObjectDisposedException)
        {
            // One side hung up.
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        _listener.Stop();
        await _run;
        _stop.Dispose();
    }
}
