using RdpNla.Protocol;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Ntlm;

namespace RdpNla.Transport;

/// <summary>Looks up the account a client authenticates as; may be asynchronous (a database, a directory).</summary>
/// <param name="userName">The user name as the client sent it.</param>
/// <param name="domainName">The domain name as the client sent it (may be empty or ".").</param>
/// <param name="cancellationToken">Cancels the lookup when the handshake is abandoned.</param>
public delegate ValueTask<NtlmCredentialLookup> CredentialLookup(string userName, string domainName, CancellationToken cancellationToken);

/// <summary>
/// Records a verified logon before the server proves itself (<see cref="NlaStatus.LogonRecordNeeded"/>); returns
/// STATUS_SUCCESS to go on, or the status to refuse the logon with.
/// </summary>
/// <param name="cancellationToken">Cancels the record when the handshake is abandoned.</param>
public delegate ValueTask<NtStatus> LogonRecorder(CancellationToken cancellationToken);

/// <summary>Drives a <see cref="CredSspServerContext"/> over an authenticated TLS stream.</summary>
public static class CredSspServerHandshake
{
    /// <summary>
    /// Runs the CredSSP exchange until it completes or fails. On failure the errorCode TSRequest (when the client's
    /// version understands it) is NOT sent yet: it is returned, so that the host records the failure (lockout
    /// counting, audit) before the client learns the outcome and can try again.
    /// </summary>
    /// <exception cref="NlaProtocolException">A message could not be framed.</exception>
    /// <exception cref="EndOfStreamException">The client closed the connection.</exception>
    public static Task<(NlaStatus Status, byte[]? FailureReply)> RunAsync(
        Stream tls,
        CredSspServerContext context,
        CredentialLookup lookup,
        int maxMessageSize,
        CancellationToken cancellationToken) =>
        RunAsync(tls, context, lookup, recordLogon: null, maxMessageSize, cancellationToken);

    /// <summary>
    /// As <see cref="RunAsync(Stream, CredSspServerContext, CredentialLookup, int, CancellationToken)"/>; a context with
    /// <see cref="CredSspServerOptions.RecordLogonBeforeProof"/> stops after a verified password and
    /// <paramref name="recordLogon"/> runs before the server's next message is sent.
    /// </summary>
    /// <exception cref="NlaProtocolException">A message could not be framed.</exception>
    /// <exception cref="EndOfStreamException">The client closed the connection.</exception>
    public static async Task<(NlaStatus Status, byte[]? FailureReply)> RunAsync(
        Stream tls,
        CredSspServerContext context,
        CredentialLookup lookup,
        LogonRecorder? recordLogon,
        int maxMessageSize,
        CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tls);
        ArgumentNullException.ThrowIfNull(context);
        ArgumentNullException.ThrowIfNull(lookup);
        while (true)
        {
            byte[] request = await MessageFraming.ReadTsRequestAsync(tls, maxMessageSize, cancellationToken).ConfigureAwait(false);
            byte[]? output = context.GetOutgoingBlob(request, out NlaStatus status);
            if (status == NlaStatus.CredentialLookupNeeded)
            {
                NtlmCredentialLookup account = await lookup(context.UserName ?? string.Empty, context.DomainName ?? string.Empty, cancellationToken).ConfigureAwait(false);
                context.ProvideCredential(account);
                output = context.GetOutgoingBlob([], out status);
            }

            if (status == NlaStatus.LogonRecordNeeded)
            {
                NtStatus recorded = recordLogon is null ? NtStatus.Success : await recordLogon(cancellationToken).ConfigureAwait(false);
                context.CompleteLogonRecord(recorded);
                output = context.GetOutgoingBlob([], out status);
            }

            if (status == NlaStatus.Failed)
            {
                return (status, output);
            }

            if (output is not null)
            {
                await MessageFraming.WriteMessageAsync(tls, output, cancellationToken).ConfigureAwait(false);
            }

            if (status == NlaStatus.Completed)
            {
                return (status, null);
            }
        }
    }
}
