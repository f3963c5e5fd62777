namespace RdpNla.Cli;

/// <summary>Process exit codes shared by every command (documented in docs/cli.md).</summary>
internal static class ExitCodes
{
    public const int Success = 0;

    /// <summary>A mistake on the command line or in the settings.</summary>
    public const int Usage = 1;

    /// <summary>A resource the command needs is unavailable (a port in use, a database that cannot be opened).</summary>
    public const int Unavailable = 2;
}
