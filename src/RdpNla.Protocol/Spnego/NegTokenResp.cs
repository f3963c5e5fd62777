namespace RdpNla.Protocol.Spnego;

/// <summary>NegTokenResp.negState (RFC 4178 §4.2.2).</summary>
public enum NegState
{
    /// <summary>accept-completed (0).</summary>
    AcceptCompleted = 0,

    /// <summary>accept-incomplete (1).</summary>
    AcceptIncomplete = 1,

    /// <summary>reject (2).</summary>
    Reject = 2,

    /// <summary>request-mic (3): only in the acceptor's first reply.</summary>
    RequestMic = 3,
}

/// <summary>
/// NegTokenResp (RFC 4178 §4.2.2), always sent as the NegotiationToken choice <c>[1] NegTokenResp</c> (<c>A1 ..</c>).
/// <code>
/// NegTokenResp ::= SEQUENCE {
///         negState       [0] ENUMERATED {
///                 accept-completed    (0),
///                 accept-incomplete   (1),
///                 reject              (2),
///                 request-mic         (3) }    OPTIONAL,
///         supportedMech  [1] MechType      OPTIONAL,
///         responseToken  [2] OCTET STRING  OPTIONAL,
///         mechListMIC    [3] OCTET STRING  OPTIONAL,
///         ... }
/// </code>
/// </summary>
public sealed class NegTokenResp
{
    private const string Structure = "NegTokenResp";

    /// <summary>negState [0]: accept-completed, accept-incomplete, reject or request-mic (RFC 4178 §4.2.2); null when absent.</summary>
    public NegState? State { get; init; }

    /// <summary>supportedMech [1]: the OID the acceptor selected (first reply only).</summary>
    public string? SupportedMech { get; init; }

    /// <summary>responseToken [2]: the mechanism token (e.g. NTLM CHALLENGE or AUTHENTICATE).</summary>
    public byte[]? ResponseToken { get; init; }

    /// <summary>mechListMIC [3]: the selected mechanism's MIC over the DER of the initiator's mechTypes (RFC 4178 §5); null when absent.</summary>
    public byte[]? MechListMic { get; init; }

    /// <summary>
    /// Decodes <c>[1] NegTokenResp</c>. A negState outside 0..3 is refused; unknown trailing context-tagged fields
    /// numbered above 3 are skipped (the ASN.1 has "...").
    /// </summary>
    /// <exception cref="NlaProtocolException">The bytes are not a valid NegTokenResp (<see cref="NlaFailureReason.Malformed"/>).</exception>
    public static NegTokenResp Decode(ReadOnlySpan<byte> encoded)
    {
        try
        {
            var outer = new DerReader(encoded, Structure);
            DerReader choice = outer.ReadExplicit(1);
            outer.End();
            DerReader sequence = choice.ReadSequence();
            choice.End();

            NegState? state = null;
            if (sequence.TryReadExplicit(0, out DerReader stateField))
            {
                int value = stateField.ReadEnumerated();
                stateField.End();
                if (value is < 0 or > 3)
                {
                    throw stateField.Fail($"negState {value} is not defined");
                }

                state = (NegState)value;
            }

            string? supportedMech = null;
            if (sequence.TryReadExplicit(1, out DerReader mechField))
            {
                supportedMech = mechField.ReadObjectIdentifier();
                mechField.End();
            }

            byte[]? responseToken = sequence.ReadOptionalExplicitOctetString(2);
            byte[]? mechListMic = sequence.ReadOptionalExplicitOctetString(3);
            NegTokenInit.SkipExtensions(ref sequence, 3);

            return new NegTokenResp
            {
                State = state,
                SupportedMech = supportedMech,
                ResponseToken = responseToken,
                MechListMic = mechListMic,
            };
        }
        catch (Exception e) when (Der.IsDecodeFailure(e))
        {
            throw Der.Malformed(Structure, e);
        }
    }

    /// <summary>Encodes <c>[1] NegTokenResp</c> in DER.</summary>
    /// <exception cref="ArgumentException"><see cref="SupportedMech"/> is not a valid OID.</exception>
    public byte[] Encode()
    {
        AsnWriter writer = Der.CreateWriter((ResponseToken?.Length ?? 0) + (MechListMic?.Length ?? 0) + 64);
        using (writer.PushSequence(Der.Context(1)))
        using (writer.PushSequence())
        {
            if (State is NegState state)
            {
                using (writer.PushSequence(Der.Context(0)))
                {
                    writer.WriteEnumeratedValue(state);
                }
            }

            if (SupportedMech is not null)
            {
                using (writer.PushSequence(Der.Context(1)))
                {
                    writer.WriteObjectIdentifier(SupportedMech);
                }
            }

            Der.WriteOptionalExplicitOctetString(writer, 2, ResponseToken);
            Der.WriteOptionalExplicitOctetString(writer, 3, MechListMic);
        }

        return writer.Encode();
    }
}
