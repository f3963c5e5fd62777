namespace RdpNla.Server.Portal;

/// <summary>
/// The server's logger factory as the portal's ASP.NET Core sees it: the framework's own categories (Microsoft.*) log
/// warnings and errors only, so a request does not write a dozen lines of routing detail to the server log. The
/// generic host's "Hosting failed to start" (event 11) is left out: <see cref="PortalServer.StartAsync"/> throws that
/// failure to the server, which reports it in one line instead of a stack trace.
/// </summary>
internal sealed class QuietFrameworkLoggerFactory(ILoggerFactory inner) : ILoggerFactory
{
    public ILogger CreateLogger(string categoryName)
    {
        ILogger logger = inner.CreateLogger(categoryName);
        return categoryName.StartsWith("Microsoft.", StringComparison.Ordinal)
            ? new WarningsOnly(logger, categoryName == HostCategory ? HostingFailedToStart : -1)
            : logger;
    }

    private const string HostCategory = "Microsoft.Extensions.Hosting.Internal.Host";

    private const int HostingFailedToStart = 11;

    public void AddProvider(ILoggerProvider provider) => inner.AddProvider(provider);

    /// <summary>The factory belongs to the server, which disposes it.</summary>
    public void Dispose()
    {
    }

    private sealed class WarningsOnly(ILogger inner, int droppedEventId) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning && inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel) && eventId.Id != droppedEventId)
            {
                inner.Log(logLevel, eventId, state, exception, formatter);
            }
        }
    }
}
