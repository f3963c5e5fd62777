namespace RdpNla.Server.Storage.Postgres;

/// <summary>
/// Times in PostgreSQL: <c>timestamptz</c> (microseconds, UTC). <see cref="DateTimeOffset.MaxValue"/> ("locked until
/// unlocked") is stored as <c>infinity</c>, which Npgsql maps to and from <see cref="DateTime.MaxValue"/>.
/// </summary>
internal static class PostgresTime
{
    public static DateTime ToDb(DateTimeOffset value) => value == DateTimeOffset.MaxValue ? DateTime.SpecifyKind(DateTime.MaxValue, DateTimeKind.Utc) : value.UtcDateTime;

    public static object ToDb(DateTimeOffset? value) => value is { } v ? ToDb(v) : DBNull.Value;

    public static DateTimeOffset FromDb(DateTime value) =>
        value == DateTime.MaxValue ? DateTimeOffset.MaxValue : new DateTimeOffset(DateTime.SpecifyKind(value, DateTimeKind.Utc));
}
