namespace RdpNla.Cli.Interaction;

/// <summary>Durations and points in time typed on the command line.</summary>
public static class TimeInput
{
    /// <summary>Parses <c>90s</c>, <c>30m</c>, <c>2h</c>, <c>7d</c>, <c>1w</c> or a TimeSpan (<c>01:30:00</c>); must be positive.</summary>
    /// <exception cref="CliException">Not a positive duration.</exception>
    public static TimeSpan ParseDuration(string text, string optionName)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (TryParseDuration(text.Trim(), out TimeSpan duration) && duration > TimeSpan.Zero)
        {
            return duration;
        }

        throw new CliException($"{optionName} '{text}' is not a positive duration; write e.g. 90s, 30m, 2h, 7d or 01:30:00");
    }

    /// <summary>Parses a point in time: an ISO 8601 date/time (UTC unless it has an offset) or a duration meaning "that long ago".</summary>
    /// <exception cref="CliException">Neither.</exception>
    public static DateTimeOffset ParseTime(string text, DateTimeOffset now, string optionName)
    {
        ArgumentNullException.ThrowIfNull(text);
        string trimmed = text.Trim();
        if (TryParseDuration(trimmed, out TimeSpan ago) && ago >= TimeSpan.Zero)
        {
            return now - ago;
        }

        if (DateTimeOffset.TryParse(trimmed, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal, out DateTimeOffset time))
        {
            return time;
        }

        throw new CliException($"{optionName} '{text}' is not a time; write an ISO 8601 time such as 2026-01-31T08:00:00Z or 2026-01-31, or a duration ago such as 30m, 24h or 7d");
    }

    private static bool TryParseDuration(string text, out TimeSpan duration)
    {
        duration = default;
        if (text.Length >= 2 && char.IsAsciiLetter(text[^1])
            && double.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.AllowDecimalPoint, CultureInfo.InvariantCulture, out double value))
        {
            double seconds = char.ToLowerInvariant(text[^1]) switch
            {
                's' => value,
                'm' => value * 60,
                'h' => value * 3600,
                'd' => value * 86400,
                'w' => value * 7 * 86400,
                _ => double.NaN,
            };
            if (double.IsNaN(seconds) || seconds > TimeSpan.MaxValue.TotalSeconds / 2)
            {
                return false;
            }

            duration = TimeSpan.FromSeconds(seconds);
            return true;
        }

        return text.Contains(':', StringComparison.Ordinal) && TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out duration);
    }
}
