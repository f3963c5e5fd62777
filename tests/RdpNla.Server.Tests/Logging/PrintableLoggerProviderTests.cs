using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Logging.Console;
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
    public void Log_ExceptionWhoseTextHasControlCharacters_ReachesTheConsoleFormatterEscaped_WithItsStackTraceLines()
    {
        var inner = new RecordingProvider();
        using var factory = LoggerFactory.Create(builder => builder.AddProvider(new PrintableLoggerProvider(inner)));
        ILogger logger = factory.CreateLogger("Microsoft.AspNetCore.Server.Kestrel");
        Exception thrown = Thrown(new InvalidOperationException("Bad request line: 'GET /\u001B]0;owned\u0007 HTTP/1.1'\u202E", new FormatException("inner\rforged line")));

        logger.LogError(thrown, "Connection processing ended abnormally.");

        (string message, Exception? exception, _) = Assert.Single(inner.Entries);
        Assert.Equal("Connection processing ended abnormally.", message);
        Assert.NotNull(exception);
        Assert.NotSame(thrown, exception);
        Assert.Equal("Bad request line: 'GET /\\u001B]0;owned\\u0007 HTTP/1.1'\\u202E", exception.Message);

        // What the console logger prints: the simple formatter writes exception.ToString() below the message.
        string printed = inner.Printed.ToString();
        Assert.DoesNotContain(printed, c => PrintableText.IsUnprintable(c) && c is not '\n');
        Assert.Contains("Bad request line: 'GET /\\u001B]0;owned\\u0007 HTTP/1.1'\\u202E", printed, StringComparison.Ordinal);
        Assert.Contains("inner\\u000Dforged line", printed, StringComparison.Ordinal);
        Assert.Contains(nameof(Thrown), printed, StringComparison.Ordinal);
        Assert.True(printed.Split('\n').Length > 4, printed);
    }

    [Fact]
    public void Log_InAScopeWhoseTextHasControlCharacters_TheConsoleFormatterPrintsTheScopeEscaped()
    {
        var inner = new RecordingProvider();
        using var factory = LoggerFactory.Create(builder => builder.AddProvider(new PrintableLoggerProvider(inner)));
        ILogger logger = factory.CreateLogger("RdpNla.Portal");

        using (logger.BeginScope("Connection {ConnectionId}", 7))
        using (logger.BeginScope("RequestPath:{RequestPath}", "/\u001B[2K\u2066x"))
        {
            logger.LogWarning("Portal: a wrong code denied connection {ConnectionId}", 9);
        }

        (_, _, List<string> scopes) = Assert.Single(inner.Entries);
        Assert.Equal(["Connection 7", "RequestPath:/\\u001B[2K\\u2066x"], scopes);
        string printed = inner.Printed.ToString();
        Assert.DoesNotContain(printed, c => PrintableText.IsUnprintable(c) && c is not '\n');
        Assert.Contains("=> Connection 7 => RequestPath:/\\u001B[2K\\u2066x", printed, StringComparison.Ordinal);
    }

    [Fact]
    public void Log_BelowTheInnerProvidersLevel_DoesNotFormatTheException()
    {
        var inner = new RecordingProvider { MinimumLevel = LogLevel.Warning };
        using var factory = LoggerFactory.Create(builder => builder.AddProvider(new PrintableLoggerProvider(inner)));
        var exception = new TextCountingException();

        factory.CreateLogger("x").LogInformation(exception, "quiet");

        Assert.Empty(inner.Entries);
        Assert.Equal(0, exception.ToStringCalls);
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

    private static Exception Thrown(Exception exception)
    {
        try
        {
            throw exception;
        }
        catch (Exception caught)
        {
            return caught;
        }
    }

    private sealed class TextCountingException : Exception
    {
        public int ToStringCalls { get; private set; }

        public override string ToString()
        {
            ToStringCalls++;
            return base.ToString();
        }
    }

    /// <summary>Records each entry and prints it with the console logger's own simple formatter.</summary>
    private sealed class RecordingProvider : ILoggerProvider, ISupportExternalScope
    {
        private static readonly ConsoleFormatter SimpleFormatter = new ServiceCollection()
            .AddLogging(builder => builder.AddSimpleConsole(options =>
            {
                options.ColorBehavior = LoggerColorBehavior.Disabled;
                options.IncludeScopes = true;
            }))
            .BuildServiceProvider()
            .GetServices<ConsoleFormatter>()
            .Single(formatter => formatter.Name == ConsoleFormatterNames.Simple);

        private IExternalScopeProvider? _scopes;

        public StringWriter Printed { get; } = new();

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
                SimpleFormatter.Write(new LogEntry<TState>(logLevel, "category", eventId, state, exception, formatter), owner._scopes, owner.Printed);
            }
        }
    }
}
