namespace RdpNla.Cli.Interaction;

// The folder is Console/, but a namespace RdpNla.Cli.Console would shadow System.Console for every file under
// RdpNla.Cli, so the namespace is RdpNla.Cli.Interaction.

/// <summary>The console input a command reads: standard input, whether it is a terminal, no-echo secret entry, the environment and the clock.</summary>
public interface ICliConsole
{
    /// <summary>Standard input.</summary>
    TextReader In { get; }

    /// <summary>True when standard input is a pipe or file rather than a terminal.</summary>
    bool IsInputRedirected { get; }

    /// <summary>
    /// Reads one line from the terminal without echoing it into <paramref name="buffer"/>. Returns the number of
    /// characters, more than <c>buffer.Length</c> when the line was longer (the excess is dropped), or -1 at end of input.
    /// </summary>
    int ReadSecretLine(Span<char> buffer);

    /// <summary>An environment variable of the process, or null when it is not set.</summary>
    string? GetEnvironmentVariable(string name) => Environment.GetEnvironmentVariable(name);

    /// <summary>The clock the network commands (login, probe, doctor) time their connections with.</summary>
    TimeProvider Time => TimeProvider.System;
}

/// <summary>
/// The console commands use. <see cref="System.Console"/> unless replaced for the current async flow with
/// <see cref="Use"/> (tests run commands in-process and in parallel).
/// </summary>
public static class CliConsole
{
    private static readonly AsyncLocal<ICliConsole?> s_current = new();

    /// <summary>The console of the current async flow.</summary>
    public static ICliConsole Current => s_current.Value ?? SystemCliConsole.Instance;

    /// <summary>Replaces the console for the current async flow until the result is disposed.</summary>
    public static IDisposable Use(ICliConsole console)
    {
        ArgumentNullException.ThrowIfNull(console);
        ICliConsole? previous = s_current.Value;
        s_current.Value = console;
        return new Restore(previous);
    }

    private sealed class Restore(ICliConsole? previous) : IDisposable
    {
        public void Dispose() => s_current.Value = previous;
    }
}

/// <summary>The process console.</summary>
public sealed class SystemCliConsole : ICliConsole
{
    public static SystemCliConsole Instance { get; } = new();

    private SystemCliConsole()
    {
    }

    public TextReader In => System.Console.In;

    public bool IsInputRedirected => System.Console.IsInputRedirected;

    public int ReadSecretLine(Span<char> buffer)
    {
        int length = 0;
        while (true)
        {
            ConsoleKeyInfo key = System.Console.ReadKey(intercept: true);
            switch (key.Key)
            {
                case ConsoleKey.Enter:
                    return length;
                case ConsoleKey.Backspace:
                    if (length > 0)
                    {
                        length--;
                        if (length < buffer.Length)
                        {
                            buffer[length] = '\0';
                        }
                    }

                    continue;
            }

            if (key.KeyChar == '\u0004' && length == 0)
            {
                return -1; // Ctrl+D on an empty line
            }

            if (key.KeyChar == '\0' || char.IsControl(key.KeyChar))
            {
                continue;
            }

            if (length < buffer.Length)
            {
                buffer[length] = key.KeyChar;
            }

            length++;
        }
    }
}
