using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging.Console;

namespace RdpNla.Cli.Interaction;

/// <summary>The console log of <c>rdpnla serve</c>: the simple console formatter, behind <see cref="PrintableLoggerProvider"/>.</summary>
internal static class PrintableConsoleLogging
{
    /// <summary>
    /// Adds the console logger with <paramref name="configure"/>'s simple formatter, wrapped so that control characters in
    /// messages (a client's user name, a backend's certificate subject) are written as <c>\uXXXX</c> (docs/hardening.md).
    /// </summary>
    public static ILoggingBuilder AddPrintableSimpleConsole(this ILoggingBuilder builder, Action<SimpleConsoleFormatterOptions> configure)
    {
        builder.AddSimpleConsole(configure);

        // AddSimpleConsole registers ConsoleLoggerProvider as an ILoggerProvider. It stays a singleton of its own type,
        // and the factory gets it only through the wrapper.
        foreach (ServiceDescriptor console in builder.Services.Where(d => d.ServiceType == typeof(ILoggerProvider) && d.ImplementationType == typeof(ConsoleLoggerProvider)).ToList())
        {
            builder.Services.Remove(console);
        }

        builder.Services.TryAddSingleton<ConsoleLoggerProvider>();
        builder.Services.AddSingleton<ILoggerProvider>(services => new PrintableLoggerProvider(services.GetRequiredService<ConsoleLoggerProvider>()));
        return builder;
    }
}
