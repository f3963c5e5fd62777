namespace RdpNla.Protocol;

/// <summary>
/// The step guard every context's <c>GetOutgoingBlob</c> runs through: bytes from the peer never make a context throw,
/// so an <see cref="NlaProtocolException"/> raised while a step decodes them ends the exchange through the context's
/// own failure path (which may still return a token, such as a CredSSP errorCode or a SPNEGO reject).
/// </summary>
internal static class ContextStep
{
    /// <summary>One step of a context.</summary>
    internal delegate byte[]? Step<TContext>(TContext context, ReadOnlySpan<byte> incoming, out NlaStatus status);

    /// <summary>The context's answer to a malformed or refused token: the token to send (or null) and the failed status.</summary>
    internal delegate byte[]? Failure<TContext>(TContext context, NlaProtocolException exception, out NlaStatus status);

    /// <summary>Runs <paramref name="step"/>; a protocol exception is handed to <paramref name="fail"/>.</summary>
    internal static byte[]? Run<TContext>(
        TContext context, ReadOnlySpan<byte> incoming, out NlaStatus status, Step<TContext> step, Failure<TContext> fail)
    {
        try
        {
            return step(context, incoming, out status);
        }
        catch (NlaProtocolException exception)
        {
            return fail(context, exception, out status);
        }
    }
}
