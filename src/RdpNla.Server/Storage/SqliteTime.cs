namespace RdpNla.Server.Storage;

/// <summary>Times in the database: UTC, fixed-width ISO 8601 text (<c>2026-01-31T12:00:00.0000000Z</c>), sortable as text.</summary>
internal static class SqliteTime
{
    private const string Format = "yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'";

    public static string ToText(DateTimeOffset value) => value.UtcDateTime.ToString(Format, CultureInfo.InvariantCulture);

    public static object ToDb(DateTimeOffset? value) => value is { } v ? ToText(v) : DBNull.Value;

    public static DateTimeOffset FromText(string text) =>
        DateTimeOffset.ParseExact(text, Format, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal | DateTimeStyles.AdjustToUniversal);
}
