namespace RdpNla.Protocol;

/// <summary>
/// What an acceptor (NTLM, Negotiate, CredSSP) reports once a step returned <see cref="NlaStatus.Failed"/>: why, the
/// NTSTATUS for the client (what TSRequest.errorCode carries, MS-CSSP §2.2.1) and a specific message for the log, which
/// never contains secrets.
/// </summary>
/// <param name="initialStatus">The status before any failure (a context that fails with LOGON_FAILURE unless told otherwise gives that).</param>
internal sealed class AcceptorFailure(NtStatus initialStatus = NtStatus.Success)
{
    /// <summary>Why the exchange failed; null before it did.</summary>
    public NlaFailureReason? Reason { get; private set; }

    /// <summary>The NTSTATUS the failure maps to; a context may set it ahead of the failure it decides on later.</summary>
    public NtStatus Status { get; set; } = initialStatus;

    /// <summary>The message for the log; null before the failure.</summary>
    public string? Message { get; private set; }

    /// <summary>Records a failure, replacing any earlier one.</summary>
    /// <returns><see cref="NlaStatus.Failed"/>, for the step to return.</returns>
    public NlaStatus Record(NlaFailureReason reason, string message, NtStatus status)
    {
        Reason = reason;
        Message = message;
        Status = status;
        return NlaStatus.Failed;
    }
}
