using Microsoft.Extensions.Logging;
using RdpNla.Server.Logging;

namespace RdpNla.Tests.Logging;

public class PrintableLoggerProviderTests
{
    [Fact]
    public void Log_MessageWithControlCharacters_ReachesTheInnerProviderEscaped_WithItsScopeAndException()
    {
        var inner = new RecordingProvider();
        using var factory = LoggerFactory.Create(builder => builder.AddProvider(new PrintableLoggerProvider(inner)));
        ILogger logger = factory.CreateLogger("RdpNla.FrontDoor");
        var failure = new InvalidOperationException("kept as it is");

        using (logger.BeginScope("Connection {ConnectionId}", 7))
        {
            logger.LogWarning(failure, "Authentication of {Account} failed", "ev\u001B]0;owned\u0007il\rZZ");
        }

        (string message, Exception? exception, List<string> scopes) = Assert.Single(inner.Entries);
        Assert.Equal("Authentication of ev\\u001B]0;owned\\u0007il\\u000DZZ failed", message);
        Assert.Same(failure, exception);
        Assert.Equal(["Connection 7"], scopes);
    }

    [Fact]
    public void IsEnabledAndDispose_AreTheInnerProvidersOwn()
    {
        var inner = new RecordingProvider { MinimumLevel = LogLevel.Warning };
        var provider = new PrintableLoggerProvider(inner);
        ILogger logger = provider.CreateLogger("x");

        Assert.False(logger.IsEnabled(LogLevel.Information));
        Assert.True(logger.IsEnabled(LogLevel.Error));
        provider.Dispose();
        Assert.True(inner.Disposed);
    }

    private sealed class RecordingProvider : ILoggerProvider, ISupportExternalScope
    {
        private IExternalScopeProvider? _scopes;

        public List<(string Message, Exception? Exception, List<string> Scopes)> Entries { get; } = [];

        public LogLevel MinimumLevel { get; init; } = LogLevel.Trace;

        public bool Disposed { get; private set; }

        public ILogger CreateLogger(string categoryName) => new Recorder(this);

        public void SetScopeProvider(IExternalScopeProvider scopeProvider) => _scopes = scopeProvider;

        public void Dispose() => Disposed = true;

        private sealed class Recorder(RecordingProvider owner) : ILogger
        {
            public IDisposable? BeginScope<TState>(TState state)
                where TState : notnull => owner._scopes?.Push(state);

            public bool IsEnabled(LogLevel logLevel) => logLevel >= owner.MinimumLevel;

            public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
            {
                var scopes = new List<string>();
                owner._scopes?.ForEachScope((scope, list) => list.Add(scope?.ToString() ?? ""), scopes);
                owner.Entries.Add((formatter(state, exception), exception, scopes));
            }
        }
    }
}
