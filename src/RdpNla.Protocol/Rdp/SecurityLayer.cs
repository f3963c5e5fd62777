namespace RdpNla.Protocol.Rdp;

/// <summary>
/// The RDP-Tcp listener's <c>SecurityLayer</c> registry value (HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server\
/// WinStations\RDP-Tcp), also the GPO "Require use of specific security layer for remote (RDP) connections".
/// </summary>
public enum SecurityLayer
{
    /// <summary>0: Standard RDP Security only; the server is not authenticated.</summary>
    Rdp = 0,

    /// <summary>1: the most secure method the client supports (default).</summary>
    Negotiate = 1,

    /// <summary>2: TLS (or CredSSP, which runs over TLS) is required; "if TLS is not supported, the connection fails".</summary>
    Tls = 2,
}
