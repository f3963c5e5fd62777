namespace RdpNla.Server.Logging;

/// <summary>
/// Stands in for an exception whose text holds control characters: its message and <see cref="ToString"/> are the
/// original's, escaped by <see cref="PrintableText.EscapeExceptLineBreaks"/> (the stack trace keeps its lines).
/// </summary>
internal sealed class EscapedException : Exception
{
    private readonly string _text;

    private EscapedException(Exception original, string text)
        : base(PrintableText.Escape(original.Message))
    {
        Original = original;
        _text = text;
        HResult = original.HResult;
    }

    /// <summary>The exception that was logged.</summary>
    public Exception Original { get; }

    /// <summary>The original's <see cref="Exception.ToString"/>, escaped.</summary>
    public override string ToString() => _text;

    /// <summary><paramref name="exception"/> itself when its text is printable as it is, an <see cref="EscapedException"/> otherwise.</summary>
    internal static Exception? For(Exception? exception)
    {
        if (exception is null)
        {
            return null;
        }

        string text = exception.ToString();
        string escaped = PrintableText.EscapeExceptLineBreaks(text);
        return ReferenceEquals(text, escaped) ? exception : new EscapedException(exception, escaped);
    }
}
