namespace RdpNla.Server.Storage;

/// <summary>The <c>Store</c> settings section of <c>rdpnla serve</c> (docs/high-availability.md).</summary>
public sealed class StoreOptions
{
    /// <summary>
    /// An SQLite database path, or a PostgreSQL connection string (<c>Host=...;Port=...;Username=...;Database=...</c>)
    /// shared by several instances. Empty: <c>rdpnla.db</c> in the data directory. A password may be given here (in
    /// the settings file or <c>RDPNLA_Store__ConnectionString</c>) or in a passfile, never on the command line.
    /// </summary>
    public string? ConnectionString { get; set; }
}
