namespace RdpNla.Server.Logging;

/// <summary>
/// Text from a peer or a store made safe for a log line or a terminal: user and domain names an unauthenticated client
/// sent, a server's NetBIOS names and certificate subject, reasons that quote them. A terminal acts on control
/// characters (ESC starts the sequences that move the cursor, erase lines or set the window title; CR rewrites the
/// line), so such text could forge or hide log lines and audit rows. Escaped as <c>\uXXXX</c>: the C0 and C1 control
/// characters, DEL, the line and paragraph separators U+2028/U+2029, and the bidirectional embedding, override and
/// isolate controls U+202A–U+202E and U+2066–U+2069 (CVE-2021-42574), which reorder what a reader sees.
/// </summary>
public static class PrintableText
{
    /// <summary>The text with every character a terminal would act on written as <c>\uXXXX</c>; the same string when there is none.</summary>
    public static string Escape(string value) => Escape(value, keepLineBreaks: false);

    /// <summary>
    /// <see cref="Escape(string)"/> for a report of several lines: line feeds (and CR LF pairs) and tabs stay, every other
    /// character a terminal would act on is written as <c>\uXXXX</c>.
    /// </summary>
    public static string EscapeExceptLineBreaks(string value) => Escape(value, keepLineBreaks: true);

    /// <summary>Whether <paramref name="c"/> is one of the characters <see cref="Escape(string)"/> writes as <c>\uXXXX</c>.</summary>
    public static bool IsUnprintable(char c) => char.IsControl(c) || c is '\u2028' or '\u2029' or (>= '\u202A' and <= '\u202E') or (>= '\u2066' and <= '\u2069');

    private static bool MustEscape(string value, int index, bool keepLineBreaks)
    {
        char c = value[index];
        return IsUnprintable(c)
            && !(keepLineBreaks && (c is '\n' or '\t' || (c == '\r' && index + 1 < value.Length && value[index + 1] == '\n')));
    }

    private static string Escape(string value, bool keepLineBreaks)
    {
        ArgumentNullException.ThrowIfNull(value);
        int first = IndexOfUnprintable(value, keepLineBreaks);
        if (first < 0)
        {
            return value;
        }

        var builder = new StringBuilder(value, 0, first, value.Length + 16);
        for (int i = first; i < value.Length; i++)
        {
            char c = value[i];
            if (MustEscape(value, i, keepLineBreaks))
            {
                builder.Append(CultureInfo.InvariantCulture, $"\\u{(int)c:X4}");
            }
            else
            {
                builder.Append(c);
            }
        }

        return builder.ToString();
    }

    private static int IndexOfUnprintable(string value, bool keepLineBreaks)
    {
        for (int i = 0; i < value.Length; i++)
        {
            if (MustEscape(value, i, keepLineBreaks))
            {
                return i;
            }
        }

        return -1;
    }
}
