namespace RdpNla.Protocol.CredSsp;

/// <summary>
/// The settings both sides of CredSSP share (<see cref="CredSspClientOptions"/>, <see cref="CredSspServerOptions"/>): the
/// TLS key the exchange binds to, the version announced, and the Encryption Oracle Remediation policy.
/// </summary>
public abstract class CredSspOptions
{
    private protected CredSspOptions()
    {
    }

    /// <summary>
    /// The SubjectPublicKey (BIT STRING contents) of the certificate the server presents in the TLS handshake, as
    /// <c>X509Certificate2.GetPublicKey()</c> returns it: the key pubKeyAuth binds (MS-CSSP §3.1.5).
    /// </summary>
    public required ReadOnlyMemory<byte> ServerPublicKey { get; init; }

    /// <summary>The TSRequest version this side announces and speaks (2–6; 2–4 emulate a peer without the CVE-2018-0886 fix).</summary>
    public int MaxVersion { get; init; } = CredSspVersion.Latest;

    /// <summary>AllowEncryptionOracle as a patched Windows client or server applies it (only meaningful when <see cref="MaxVersion"/> ≥ 5).</summary>
    public EncryptionOraclePolicy AllowEncryptionOracle { get; init; } = EncryptionOraclePolicy.Mitigated;
}
