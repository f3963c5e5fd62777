using RdpNla.Protocol;
using RdpNla.Protocol.CredSsp;

namespace RdpNla.Transport;

/// <summary>Drives a <see cref="CredSspClientContext"/> over an authenticated TLS stream.</summary>
public static class CredSspClientHandshake
{
    /// <summary>Runs the CredSSP exchange until it completes (credentials delegated) or fails.</summary>
    /// <exception cref="NlaProtocolException">A server message could not be framed.</exception>
    /// <exception cref="EndOfStreamException">The server closed the connection (FreeRDP's server does this instead of sending errorCode).</exception>
    public static async Task<NlaStatus> RunAsync(Stream tls, CredSspClientContext context, int maxMessageSize, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(tls);
        ArgumentNullException.ThrowIfNull(context);
        byte[]? output = context.GetOutgoingBlob([], out NlaStatus status);
        while (true)
        {
            if (output is not null)
            {
                await MessageFraming.WriteMessageAsync(tls, output, cancellationToken).ConfigureAwait(false);
            }

            if (status is NlaStatus.Completed or NlaStatus.Failed)
            {
                return status;
            }

            byte[] response = await MessageFraming.ReadTsRequestAsync(tls, maxMessageSize, cancellationToken).ConfigureAwait(false);
            output = context.GetOutgoingBlob(response, out status);
        }
    }
}
