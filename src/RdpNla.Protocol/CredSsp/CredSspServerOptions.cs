namespace RdpNla.Protocol.CredSsp;

/// <summary>Settings of a <see cref="CredSspServerContext"/>.</summary>
public sealed class CredSspServerOptions
{
    /// <summary>The server certificate's SubjectPublicKey (BIT STRING contents), as <c>X509Certificate2.GetPublicKey()</c> returns it.</summary>
    public required ReadOnlyMemory<byte> ServerPublicKey { get; init; }

    /// <summary>Names, clock and randomness for the NTLM acceptor.</summary>
    public required NtlmServerOptions Ntlm { get; init; }

    /// <summary>The TSRequest version this server announces and speaks (2–6; 2–4 emulate a server without the CVE-2018-0886 fix).</summary>
    public int MaxVersion { get; init; } = CredSspVersion.Latest;

    /// <summary>AllowEncryptionOracle as a patched Windows server applies it (only meaningful when <see cref="MaxVersion"/> ≥ 5).</summary>
    public EncryptionOraclePolicy AllowEncryptionOracle { get; init; } = EncryptionOraclePolicy.Mitigated;

    /// <summary>
    /// When true, the context stops with <see cref="NlaStatus.LogonRecordNeeded"/> once the client's password has
    /// verified and before the server's next message (its final token or its pubKeyAuth answer, which prove the server
    /// to the client) goes out, so that the host can record the logon durably first, and still refuse it.
    /// </summary>
    public bool RecordLogonBeforeProof { get; init; }

    /// <summary>Creates a Kerberos acceptor context per connection (the host's GSSAPI with its keytab); null disables Kerberos.</summary>
    public Func<IGssContext>? Kerberos { get; init; }
}
