namespace RdpNla.Protocol.CredSsp;

/// <summary>Settings of a <see cref="CredSspServerContext"/>.</summary>
public sealed class CredSspServerOptions : CredSspOptions
{
    /// <summary>Names, clock and randomness for the NTLM acceptor.</summary>
    public required NtlmServerOptions Ntlm { get; init; }

    /// <summary>
    /// When true, the context stops with <see cref="NlaStatus.LogonRecordNeeded"/> once the client's password has
    /// verified and before the server's next message (its final token or its pubKeyAuth answer, which prove the server
    /// to the client) goes out, so that the host can record the logon durably first, and still refuse it.
    /// </summary>
    public bool RecordLogonBeforeProof { get; init; }

    /// <summary>Creates a Kerberos acceptor context per connection (the host's GSSAPI with its keytab); null disables Kerberos.</summary>
    public Func<IGssContext>? Kerberos { get; init; }
}
