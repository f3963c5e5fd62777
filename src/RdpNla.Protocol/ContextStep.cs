namespace RdpNla.Protocol;

/// <summary>
/// A context whose <c>GetOutgoingBlob</c> runs through <see cref="ContextStep.Run"/>: one step, and the context's own
/// answer to a token that fails to decode.
/// </summary>
internal interface IContextStep
{
    /// <summary>One step of the exchange; may throw <see cref="NlaProtocolException"/> on the peer's bytes.</summary>
    byte[]? Step(ReadOnlySpan<byte> incoming, out NlaStatus status);

    /// <summary>Ends the exchange after <paramref name="exception"/>: the token to send (or null) and the failed status.</summary>
    byte[]? Fail(NlaProtocolException exception, out NlaStatus status);
}

/// <summary>
/// The step guard every context's <c>GetOutgoingBlob</c> runs through: bytes from the peer never make a context throw,
/// so an <see cref="NlaProtocolException"/> raised while a step decodes them ends the exchange through the context's
/// own failure path (which may still return a token, such as a CredSSP errorCode or a SPNEGO reject).
/// </summary>
internal static class ContextStep
{
    /// <summary>Runs one step of <paramref name="context"/>; a protocol exception fails the exchange instead.</summary>
    internal static byte[]? Run(IContextStep context, ReadOnlySpan<byte> incoming, out NlaStatus status)
    {
        try
        {
            return context.Step(incoming, out status);
        }
        catch (NlaProtocolException exception)
        {
            return context.Fail(exception, out status);
        }
    }

    /// <summary>A step that ends with <paramref name="result"/> and sends nothing.</summary>
    internal static byte[]? NoToken(NlaStatus result, out NlaStatus status)
    {
        status = result;
        return null;
    }
}
