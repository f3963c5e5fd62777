namespace RdpNla.Protocol.Connection;

/// <summary>
/// What the I/O driver does next for an <c>RdpClientConnector</c> or an <c>RdpServerAcceptor</c>: the security phase
/// of the connection sequence (MS-RDPBCGR §1.3.1.1: X.224 Connection Request/Confirm, the TLS upgrade, CredSSP per
/// MS-CSSP §3.1.5, and the Early User Authorization Result of MS-RDPBCGR §2.2.10.2), without sockets or streams.
/// </summary>
public enum SecurityPhaseAction
{
    /// <summary>Write <see cref="SecurityPhaseStep.Output"/> (if any), read one TPKT-framed PDU (RFC 1006 §6) and pass it to <c>Step</c>.</summary>
    ReadTpktFrame,

    /// <summary>Write <see cref="SecurityPhaseStep.Output"/> (if any), run the TLS handshake on the same stream, then call <c>TlsEstablished</c>.</summary>
    StartTls,

    /// <summary>Write <see cref="SecurityPhaseStep.Output"/> (if any) over TLS, read one DER-encoded TSRequest and pass it to <c>Step</c>.</summary>
    ReadTsRequest,

    /// <summary>Client: read the four-byte Early User Authorization Result PDU (MS-RDPBCGR §2.2.10.2) and pass it to <c>Step</c>.</summary>
    ReadEarlyUserAuthorizationResult,

    /// <summary>Server: the authentication package needs the account's credential; the host looks it up and provides it.</summary>
    CredentialLookupNeeded,

    /// <summary>Server: the client's password or ticket is verified; the host records the logon before the server proves itself.</summary>
    LogonRecordNeeded,

    /// <summary>
    /// Server: CredSSP is complete; the host applies its own authorization (account policy, second factor) and answers,
    /// which for HYBRID_EX produces the Early User Authorization Result to write.
    /// </summary>
    AuthorizationNeeded,

    /// <summary>The security phase succeeded: write <see cref="SecurityPhaseStep.Output"/> (if any); the connection goes on (MCS, or the relay).</summary>
    Completed,

    /// <summary>
    /// The security phase failed with <see cref="SecurityPhaseStep.FailureReason"/>. A non-empty
    /// <see cref="SecurityPhaseStep.Output"/> is the answer the peer is owed (an RDP_NEG_FAILURE, a TSRequest with errorCode,
    /// an Early User Authorization Result denial); a server host records the failure first, then writes it and closes.
    /// </summary>
    Failed,
}

/// <summary>One step of the security phase: what to do next, and the bytes to write first.</summary>
/// <param name="Action">What the driver does next.</param>
/// <param name="Output">The bytes to write before doing it (empty: nothing to write).</param>
/// <param name="FailureReason">With <see cref="SecurityPhaseAction.Failed"/>, why; otherwise <see cref="NlaFailureReason.None"/>.</param>
/// <param name="Status">The NTSTATUS the failure carries, when there is one (a CredSSP errorCode, an account state).</param>
public readonly record struct SecurityPhaseStep(
    SecurityPhaseAction Action,
    ReadOnlyMemory<byte> Output = default,
    NlaFailureReason FailureReason = NlaFailureReason.None,
    NtStatus? Status = null);
