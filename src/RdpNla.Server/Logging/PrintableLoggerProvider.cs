namespace RdpNla.Server.Logging;

/// <summary>
/// Wraps a logger provider (the console's) so that every formatted message passes <see cref="PrintableText.Escape(string)"/>
/// before the provider writes it: log lines quote what unauthenticated clients send (user and domain names, the X.224
/// cookie) and what backends send (certificate subjects), and a terminal or <c>journalctl</c> reading the log must not
/// act on control characters in them. An exception whose text holds such characters reaches the provider as an
/// <see cref="EscapedException"/>, whose <see cref="Exception.ToString"/> is that text with its line breaks kept and every
/// other control character escaped: the console formatter prints <c>exception.ToString()</c>, and a message can quote
/// peer text (an ASP.NET Core or Npgsql exception with a request's or a server's words in it). Scopes reach the provider
/// as their text, escaped: ASP.NET Core's request scope names the request's path (docs/hardening.md).
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
            scopes.SetScopeProvider(new PrintableScopeProvider(scopeProvider));
        }
    }

    /// <inheritdoc/>
    public void Dispose() => _inner.Dispose();

    /// <summary>
    /// The scopes as the inner provider reads them: each as its text, escaped. The simple console formatter writes a
    /// scope's <see cref="object.ToString"/>, so the text is what it would have written, formatted once.
    /// </summary>
    private sealed class PrintableScopeProvider(IExternalScopeProvider inner) : IExternalScopeProvider
    {
        public void ForEachScope<TState>(Action<object?, TState> callback, TState state) =>
            inner.ForEachScope((scope, callbackState) => callback(scope?.ToString() is { } text ? PrintableText.Escape(text) : scope, callbackState), state);

        public IDisposable Push(object? state) => inner.Push(state);
    }

    private sealed class PrintableLogger(ILogger inner) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => inner.BeginScope(state);

        public bool IsEnabled(LogLevel logLevel) => inner.IsEnabled(logLevel);

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (inner.IsEnabled(logLevel))
            {
                inner.Log(logLevel, eventId, state, EscapedException.For(exception), (s, _) => PrintableText.Escape(formatter(s, exception)));
            }
        }
    }
}
