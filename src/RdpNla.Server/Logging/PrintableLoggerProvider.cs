namespace RdpNla.Server.Logging;

/// <summary>
/// Wraps a logger provider (the console's) so that every formatted message passes <see cref="PrintableText.Escape(string)"/>
/// before the provider writes it: log lines quote what unauthenticated clients send (user and domain names, the X.224
/// cookie) and what backends send (certificate subjects), and a terminal or <c>journalctl</c> reading the log must not
/// act on control characters in them. Scopes go through unchanged (rdpnla's scopes hold connection ids and addresses);
/// an exception's text is left to the provider.
/// </summary>
public sealed class PrintableLoggerProvider : ILoggerProvider, ISupportExternalScope
{
    private readonly ILoggerProvider _inner;

    /// <summary>Wraps <paramref name="inner"/>, which this provider disposes.</summary>
    public PrintableLoggerProvider(ILoggerProvider inner)
    {
        ArgumentNullException.ThrowIfNull(inner);
        _inner = inner;
    }

    /// <inheritdoc/>
    public ILogger CreateLogger(string categoryName) => new PrintableLogger(_inner.CreateLogger(categoryName));

    /// <inheritdoc/>
    public void SetScopeProvider(IExternalScopeProvider scopeProvider)
    {
        if (_inner is ISupportExternalScope scopes)
        {
            scopes.SetScopeProvider(scopeProvider);
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _inner.Dispose();

    private sealed class PrintableLogger(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter) =>
            inner.Log(logLevel, eventId, state, exception, (s, e) => PrintableText.Escape(formatter(s, e)));
    }
}
