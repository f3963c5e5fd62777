namespace RdpNla.Protocol;

/// <summary>
/// The outcome of one step of an authentication context (NTLM, SPNEGO, CredSSP), shaped like
/// <c>System.Net.Security.NegotiateAuthenticationStatusCode</c> but limited to what NLA needs.
/// </summary>
public enum NlaStatus
{
    /// <summary>The step succeeded; send the outgoing blob (if any) and call again with the peer's answer.</summary>
    ContinueNeeded,

    /// <summary>The acceptor needs the account's credential before it can verify; provide it and call again.</summary>
    CredentialLookupNeeded,

    /// <summary>
    /// The acceptor verified the client's password (with <c>RecordLogonBeforeProof</c>): the host records the logon, calls
    /// <c>CompleteLogonRecord</c> with STATUS_SUCCESS or the status to refuse it with, then calls again with no input.
    /// </summary>
    LogonRecordNeeded,

    /// <summary>Authentication finished successfully; session security is available.</summary>
    Completed,

    /// <summary>Authentication failed; the context exposes the reason and can no longer be used.</summary>
    Failed,
}
