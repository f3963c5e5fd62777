namespace RdpNla.Protocol.Connection;

/// <summary>The server's policy for the security phase, read by <see cref="RdpServerAcceptor"/>.</summary>
public sealed class RdpServerAcceptorOptions
{
    /// <summary>The SecurityLayer setting the Connection Request is negotiated against (MS-RDPBCGR §3.3.5.3.1).</summary>
    public SecurityLayer SecurityLayer { get; init; } = SecurityLayer.Negotiate;

    /// <summary>The UserAuthentication setting: true requires NLA (PROTOCOL_HYBRID or PROTOCOL_HYBRID_EX).</summary>
    public bool NlaRequired { get; init; } = true;

    /// <summary>Whether a TLS server certificate with its private key is available.</summary>
    public bool CertificateAvailable { get; init; } = true;

    /// <summary>The CredSSP acceptor's settings (server public key, NTLM, Kerberos, versions).</summary>
    public required CredSspServerOptions CredSsp { get; init; }
}
