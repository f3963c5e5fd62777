namespace RdpNla.Server.Storage;

/// <summary>The shared store cannot be reached or refuses the login (the message never contains a password).</summary>
public sealed class StoreUnavailableException : Exception
{
    public StoreUnavailableException()
        : this("the store is unavailable")
    {
    }

    public StoreUnavailableException(string message)
        : base(message)
    {
    }

    public StoreUnavailableException(string message, Exception innerException)
        : base(message, innerException)
    {
    }

    /// <summary>A short reason for a connection failure: the socket error, or the server's message and SQLSTATE.</summary>
    public static string Describe(Exception exception)
    {
        ArgumentNullException.ThrowIfNull(exception);
        for (Exception? e = exception; e is not null; e = e.InnerException)
        {
            switch (e)
            {
                case PostgresException postgres:
                    return $"{postgres.MessageText} (SQLSTATE {postgres.SqlState})";
                case SocketException socket:
                    return socket.Message;
                case TimeoutException:
                    return "timed out";
            }
        }

        return exception.Message;
    }
}

/// <summary>The operation needs tables this kind of store does not hold (the message says what to use instead).</summary>
public sealed class StoreNotSupportedException : NotSupportedException
{
    public StoreNotSupportedException()
        : this("not supported by this store")
    {
    }

    public StoreNotSupportedException(string message)
        : base(message)
    {
    }

    public StoreNotSupportedException(string message, Exception innerException)
        : base(message, innerException)
    {
    }
}
