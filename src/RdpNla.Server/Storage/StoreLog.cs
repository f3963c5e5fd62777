namespace RdpNla.Server.Storage;

/// <summary>The store's log messages (event ids 4200–4299). A connection string is never logged, only its description.</summary>
internal static partial class StoreLog
{
    [LoggerMessage(4200, LogLevel.Information, "Store {Store} (schema version {SchemaVersion}); audit rows name this instance {InstanceName}")]
    public static partial void Opened(ILogger logger, string store, int schemaVersion, string instanceName);
}
