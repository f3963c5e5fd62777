using System.Net.Sockets;

namespace RdpNla.Integration.Tests.Support;

/// <summary>Small loopback stand-ins for the network failure tests: listeners that accept and hold, or answer HTTP.</summary>
public static class LoopbackPeers
{
    /// <summary>Accepts until the listener stops, handing each socket to <paramref name="onAccept"/>.</summary>
    public static async Task AcceptForeverAsync(TcpListener listener, Action<Socket> onAccept)
    {
        try
        {
            while (true)
            {
                onAccept(await listener.AcceptSocketAsync());
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException or InvalidOperationException)
        {
        }
    }

    /// <summary>Reads what the client sends and answers like a web server (a non-RDP listener on the RDP port).</summary>
    public static async Task AnswerHttpAsync(Socket socket)
    {
        using (socket)
        {
            var buffer = new byte[1024];
            try
            {
                await socket.ReceiveAsync(buffer);
                await socket.SendAsync("HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"u8.ToArray());
            }
            catch (SocketException)
            {
            }
        }
    }
}
