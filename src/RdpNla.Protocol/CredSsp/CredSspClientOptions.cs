namespace RdpNla.Protocol.CredSsp;

/// <summary>Settings of a <see cref="CredSspClientContext"/>.</summary>
public sealed class CredSspClientOptions : CredSspOptions
{
    /// <summary>User, domain, password, SPN, clock and randomness for NTLM.</summary>
    public required NtlmClientOptions Ntlm { get; init; }

    /// <summary>Wrap NTLM in SPNEGO (as mstsc does when Kerberos is a candidate) instead of sending raw NTLMSSP (as FreeRDP does).</summary>
    public bool UseSpnego { get; init; }

    /// <summary>
    /// Send the delegated credentials after the server proved its key. False stops after the binding check, for tools
    /// that only want to know whether authentication succeeds (the server then sees an aborted handshake).
    /// </summary>
    public bool DelegateCredentials { get; init; } = true;

    /// <summary>
    /// The password to delegate in authInfo when <see cref="NtlmClientOptions.Password"/> is not set (NTLM then runs
    /// from <see cref="NtlmClientOptions.NtOwfV1"/>): lets a caller keep the password in a char array it wipes, never
    /// in a string. The caller owns the memory and must keep it intact until the exchange completes.
    /// </summary>
    public ReadOnlyMemory<char>? DelegatedPassword { get; init; }

    /// <summary>
    /// The password to delegate as UTF-16LE bytes, taking precedence over <see cref="DelegatedPassword"/>: for a caller
    /// that holds the password only as bytes it wipes (a relay injecting credentials, with NTLM run from
    /// <see cref="NtlmClientOptions.NtOwfV1"/>). The caller owns the memory and keeps it intact until the exchange completes.
    /// </summary>
    public ReadOnlyMemory<byte>? DelegatedPasswordUtf16 { get; init; }

    /// <summary>
    /// A Kerberos initiator context for the server's SPN (the host's GSSAPI with its ticket cache). When its first step
    /// yields an AP-REQ, CredSSP runs over Kerberos inside SPNEGO (as Windows clients send it); when it cannot
    /// (no ticket for the target), NTLM runs instead unless <see cref="KerberosOnly"/>. The context owns no
    /// credentials of this object; the caller disposes it.
    /// </summary>
    public IGssContext? Kerberos { get; init; }

    /// <summary>Fail instead of falling back to NTLM when Kerberos cannot start or <see cref="Kerberos"/> is null (<c>--auth kerberos</c>).</summary>
    public bool KerberosOnly { get; init; }
}
