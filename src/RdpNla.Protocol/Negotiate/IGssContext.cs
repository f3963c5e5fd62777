namespace RdpNla.Protocol.Negotiate;

/// <summary>The outcome of one step of a <see cref="IGssContext"/> (RFC 2743 §2.2.1, §2.2.2 major statuses, reduced).</summary>
public enum GssStepStatus
{
    /// <summary>GSS_S_CONTINUE_NEEDED: send the output token and wait for the peer's next one.</summary>
    ContinueNeeded,

    /// <summary>GSS_S_COMPLETE: the context is established (send the output token, if any).</summary>
    Completed,

    /// <summary>Any error status: the context is dead; <see cref="IGssContext.FailureStatus"/> says why.</summary>
    Failed,
}

/// <summary>
/// One GSS-API security context of a mechanism the protocol project does not implement itself (Kerberos V5, RFC 4121),
/// supplied by the host (the system GSSAPI library). The Negotiate and CredSSP state machines only call it; tokens and
/// wrap/unwrap framing cross this seam as bytes.
/// </summary>
public interface IGssContext : IDisposable
{
    /// <summary>The package name for logs and audit ("Kerberos").</summary>
    string PackageName { get; }

    /// <summary>GSS_Init_sec_context or GSS_Accept_sec_context with the peer's token (empty for an initiator's first call).</summary>
    GssStepStatus Step(ReadOnlySpan<byte> inputToken, out byte[]? outputToken);

    /// <summary>The initiator's principal (acceptor side), e.g. <c>alice@LAB.TEST</c>, once <see cref="GssStepStatus.Completed"/>.</summary>
    string? PeerPrincipal { get; }

    /// <summary>The NTSTATUS a Windows server would report for the failure.</summary>
    NtStatus FailureStatus { get; }

    /// <summary>One line for the log (the library's message, never a token or key).</summary>
    string? FailureMessage { get; }

    /// <summary>
    /// Seals a message the way SSPI EncryptMessage does for CredSSP (MS-CSSP §2.2.1: "the message signature and then
    /// the encrypted data"): for Kerberos an RFC 4121 §4.2.6.2 wrap token whose trailer is rotated in front of the data.
    /// </summary>
    byte[] Wrap(ReadOnlySpan<byte> plaintext);

    /// <summary>Opens a sealed message; throws <see cref="NlaProtocolException"/> when it does not verify.</summary>
    byte[] Unwrap(ReadOnlySpan<byte> token);

    /// <summary>GSS_GetMIC over <paramref name="message"/> (the SPNEGO mechListMIC, RFC 4178 §5).</summary>
    byte[] GetMic(ReadOnlySpan<byte> message);

    /// <summary>GSS_VerifyMIC; false when the MIC does not verify.</summary>
    bool VerifyMic(ReadOnlySpan<byte> message, ReadOnlySpan<byte> mic);
}
