namespace RdpNla.Server.FrontDoor;

/// <summary>Whether the front door accepts NTLM logons.</summary>
public enum NtlmIncomingPolicy
{
    /// <summary>NTLM is accepted next to Kerberos (the default).</summary>
    Allow,

    /// <summary>
    /// Every NTLM logon is refused with STATUS_NTLM_BLOCKED, as by Windows' policy "Network security: Restrict NTLM:
    /// Incoming NTLM traffic = Deny all accounts"; only Kerberos logs on.
    /// </summary>
    Deny,
}

/// <summary>The NTLM policy of the front door (docs/kerberos.md, "Refusing NTLM").</summary>
public sealed class NtlmOptions
{
    /// <summary>Allow (default) or Deny NTLM logons, raw or in SPNEGO.</summary>
    public NtlmIncomingPolicy Incoming { get; set; } = NtlmIncomingPolicy.Allow;

    public IReadOnlyList<string> Validate(KerberosOptions kerberos)
    {
        ArgumentNullException.ThrowIfNull(kerberos);
        return Incoming == NtlmIncomingPolicy.Deny && kerberos.Keytab is null
            ? ["Ntlm:Incoming is Deny but Kerberos:Keytab is not set, so no client could log on; give the service principal's keytab (docs/kerberos.md) or allow NTLM."]
            : [];
    }
}
