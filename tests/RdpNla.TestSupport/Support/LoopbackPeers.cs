using System.Net.Sockets;

namespace RdpNla.Tests.Support;

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

    /// <summary>Reads the client's first bytes, releases <paramref name="received"/>, then holds the connection without answering.</summary>
    public static async Task ReadThenHoldAsync(Socket socket, SemaphoreSlim received)
    {
        var buffer = new byte[1024];
        try
        {
            if (await socket.ReceiveAsync(buffer) > 0)
            {
                received.Release();
            }

            while (await socket.ReceiveAsync(buffer) > 0)
            {
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
    }

    /// <summary>Reads and discards until the client closes the connection, then calls <paramref name="closed"/>.</summary>
    public static async Task HoldUntilClosedAsync(Socket socket, Action closed)
    {
        var buffer = new byte[1024];
        try
        {
            while (await socket.ReceiveAsync(buffer) > 0)
            {
            }
        }
        catch (Exception ex) when (ex is SocketException or ObjectDisposedException)
        {
        }
        finally
        {
            closed();
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
