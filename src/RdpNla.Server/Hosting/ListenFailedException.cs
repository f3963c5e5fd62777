namespace RdpNla.Server.Hosting;

/// <summary>
/// One of the server's listen endpoints could not be bound: the RDP listener (<see cref="FrontDoor.FrontDoorOptions.Listen"/>),
/// the Prometheus endpoint (<see cref="FrontDoor.FrontDoorOptions.MetricsListen"/>) or the portal
/// (<see cref="Portal.PortalOptions.Listen"/>). It names the setting and the endpoint, so the operator knows which one to
/// change; nothing the server had bound before it stays bound.
/// </summary>
public sealed class ListenFailedException : IOException
{
    public ListenFailedException()
        : this("a listen endpoint cannot be bound")
    {
    }

    public ListenFailedException(string message)
        : base(message)
    {
        Setting = string.Empty;
        EndPoint = new IPEndPoint(IPAddress.None, 0);
    }

    public ListenFailedException(string message, Exception innerException)
        : base(message, innerException)
    {
        Setting = string.Empty;
        EndPoint = new IPEndPoint(IPAddress.None, 0);
    }

    /// <summary>A failure to bind <paramref name="endPoint"/>, the value of <paramref name="setting"/>.</summary>
    /// <param name="setting">The setting's configuration key: <c>Listen</c>, <c>MetricsListen</c> or <c>Portal:Listen</c>.</param>
    /// <param name="endPoint">The endpoint that could not be bound.</param>
    /// <param name="innerException">The socket's (or the HTTP listener's) failure.</param>
    public ListenFailedException(string setting, IPEndPoint endPoint, Exception innerException)
        : base($"cannot listen on {Format(endPoint)} ({setting}): {Describe(ErrorOf(innerException), innerException)}", innerException)
    {
        ArgumentNullException.ThrowIfNull(setting);
        ArgumentNullException.ThrowIfNull(endPoint);
        Setting = setting;
        EndPoint = endPoint;
        Error = ErrorOf(innerException);
    }

    /// <summary>The configuration key of the endpoint: <c>Listen</c>, <c>MetricsListen</c> or <c>Portal:Listen</c>.</summary>
    public string Setting { get; }

    /// <summary>The endpoint that could not be bound.</summary>
    public IPEndPoint EndPoint { get; }

    /// <summary>Why, as the socket said it; <see cref="SocketError.SocketError"/> when the failure named no socket error.</summary>
    public SocketError Error { get; } = SocketError.SocketError;

    /// <summary><c>ADDRESS:PORT</c>, or <c>[IPV6]:PORT</c>: the way the settings write it.</summary>
    public static string Format(IPEndPoint endPoint)
    {
        ArgumentNullException.ThrowIfNull(endPoint);
        return endPoint.AddressFamily == AddressFamily.InterNetworkV6 ? $"[{endPoint.Address}]:{endPoint.Port}" : $"{endPoint.Address}:{endPoint.Port}";
    }

    /// <summary>The socket error somewhere in <paramref name="exception"/>'s chain (Kestrel wraps it twice).</summary>
    private static SocketError ErrorOf(Exception? exception)
    {
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            if (e is SocketException socket)
            {
                return socket.SocketErrorCode;
            }
        }

        // The managed HttpListener reports a bind failure as an HttpListenerException carrying the errno-based code.
        return exception is HttpListenerException { ErrorCode: var code } ? code switch
        {
            (int)SocketError.AddressAlreadyInUse or 98 => SocketError.AddressAlreadyInUse,
            (int)SocketError.AccessDenied or 13 => SocketError.AccessDenied,
            (int)SocketError.AddressNotAvailable or 99 => SocketError.AddressNotAvailable,
            _ => SocketError.SocketError,
        } : SocketError.SocketError;
    }

    private static string Describe(SocketError error, Exception? exception) => error switch
    {
        SocketError.AddressAlreadyInUse => "address already in use",
        SocketError.AccessDenied => "permission denied",
        SocketError.AddressNotAvailable => "the address is not one of this machine's",
        _ => exception?.Message ?? "unknown error",
    };
}
