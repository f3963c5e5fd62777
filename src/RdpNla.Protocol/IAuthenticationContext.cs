namespace RdpNla.Protocol;

/// <summary>
/// The contract of every authentication context of the protocol layer (NTLM, SPNEGO, CredSSP; client and server),
/// shaped like <c>System.Net.Security.NegotiateAuthentication</c>: tokens in, tokens out, a status per step, a failure
/// reason once it failed. Contexts do no I/O; a host or a driver moves the tokens.
/// </summary>
public interface IAuthenticationContext : IDisposable
{
    /// <summary>The security package that authenticates (or authenticated) the client: "NTLM", "Kerberos".</summary>
    string PackageName { get; }

    /// <summary>True once a step returned <see cref="NlaStatus.Completed"/>.</summary>
    bool IsCompleted { get; }

    /// <summary>Why the exchange failed; <see cref="NlaFailureReason.None"/> while it has not.</summary>
    NlaFailureReason FailureReason { get; }

    /// <summary>A specific reason for the log, once failed; never contains secrets.</summary>
    string? FailureMessage { get; }

    /// <summary>One step: the peer's token in (empty for an initiator's first call), the token to send out (null: nothing to send).</summary>
    /// <param name="incoming">The peer's token.</param>
    /// <param name="status">The outcome of the step.</param>
    byte[]? GetOutgoingBlob(ReadOnlySpan<byte> incoming, out NlaStatus status);
}
