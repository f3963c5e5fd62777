namespace RdpNla.Diagnosis.Model;

/// <summary>Where a connection stopped (or <see cref="Session"/> when NLA succeeded).</summary>
public enum ConnectionPhase
{
    NameResolution,
    Tcp,
    Negotiation,
    Tls,
    CredSsp,
    Authorization,
    Session,
}
