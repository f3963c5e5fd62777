namespace RdpNla.Protocol.Spnego;

/// <summary>
/// NegTokenInit (RFC 4178 §4.2.1), and the MS-SPNG §2.2.1 NegTokenInit2 variant, as the first SPNEGO token.
/// <code>
/// InitialContextToken ::= [APPLICATION 0] IMPLICIT SEQUENCE {
///         thisMech    MechType,              -- 1.3.6.1.5.5.2
///         innerToken  NegotiationToken }
/// NegotiationToken ::= CHOICE {
///         negTokenInit  [0] NegTokenInit,
///         negTokenResp  [1] NegTokenResp }
/// MechTypeList ::= SEQUENCE OF MechType
/// MechType ::= OBJECT IDENTIFIER
/// NegTokenInit ::= SEQUENCE {
///         mechTypes    [0] MechTypeList,
///         reqFlags     [1] ContextFlags  OPTIONAL,
///         mechToken    [2] OCTET STRING  OPTIONAL,
///         mechListMIC  [3] OCTET STRING  OPTIONAL,
///         ... }
/// NegTokenInit2 ::= SEQUENCE {               -- MS-SPNG
///         mechTypes    [0] MechTypeList  OPTIONAL,
///         reqFlags     [1] ContextFlags  OPTIONAL,
///         mechToken    [2] OCTET STRING  OPTIONAL,
///         negHints     [3] NegHints      OPTIONAL,
///         mechListMIC  [4] OCTET STRING  OPTIONAL,
///         ... }
/// NegHints ::= SEQUENCE {
///         hintName     [0] GeneralString OPTIONAL,
///         hintAddress  [1] OCTET STRING  OPTIONAL }
/// </code>
/// <see cref="MechTypesEncoding"/> keeps the exact bytes of the MechTypeList SEQUENCE (without the [0] tag) as
/// received or sent, because the mechListMIC is computed over them (RFC 4178 §5).
/// </summary>
public sealed class NegTokenInit
{
    private const string Structure = "NegTokenInit";
    private static readonly Asn1Tag s_application0 = new(TagClass.Application, 0, isConstructed: true);

    /// <summary>Creates a NegTokenInit; <see cref="MechTypesEncoding"/> is computed as the DER of <paramref name="mechTypes"/>.</summary>
    /// <param name="mechTypes">The mechanism OIDs in preference order (dotted decimal).</param>
    /// <param name="reqFlags">reqFlags [1]; null = absent.</param>
    /// <param name="mechToken">mechToken [2]: the optimistic token of the first mechanism; null = absent.</param>
    /// <param name="mechListMic">mechListMIC ([3], or [4] in NegTokenInit2); null = absent.</param>
    /// <param name="negHints">negHints [3]; non-null makes this a NegTokenInit2.</param>
    /// <exception cref="ArgumentException">An OID is not valid dotted decimal.</exception>
    public NegTokenInit(
        IEnumerable<string> mechTypes,
        ContextFlags? reqFlags = null,
        byte[]? mechToken = null,
        byte[]? mechListMic = null,
        NegHints? negHints = null)
        : this(CopyMechTypes(mechTypes, out byte[] mechTypesEncoding), mechTypesEncoding, reqFlags, mechToken, mechListMic, negHints)
    {
    }

    private NegTokenInit(
        List<string> mechTypes, byte[] mechTypesEncoding, ContextFlags? reqFlags, byte[]? mechToken, byte[]? mechListMic, NegHints? negHints)
    {
        MechTypes = mechTypes;
        MechTypesEncoding = mechTypesEncoding;
        ReqFlags = reqFlags;
        MechToken = mechToken;
        MechListMic = mechListMic;
        NegHints = negHints;
    }

    private static List<string> CopyMechTypes(IEnumerable<string> mechTypes, out byte[] encoding)
    {
        ArgumentNullException.ThrowIfNull(mechTypes);
        List<string> copy = [.. mechTypes];
        encoding = EncodeMechTypeList(copy);
        return copy;
    }

    /// <summary>mechTypes [0]: mechanism OIDs in the initiator's preference order.</summary>
    public IReadOnlyList<string> MechTypes { get; }

    /// <summary>The exact encoding of the MechTypeList SEQUENCE (<c>30 .. 06 .. ..</c>): the mechListMIC input.</summary>
    public byte[] MechTypesEncoding { get; }

    /// <summary>reqFlags [1]: the context flags the initiator asks for (RFC 4178 §4.2.1); null when absent.</summary>
    public ContextFlags? ReqFlags { get; }

    /// <summary>mechToken [2]: the optimistic token for <c>MechTypes[0]</c> (e.g. an NTLM NEGOTIATE).</summary>
    public byte[]? MechToken { get; }

    /// <summary>mechListMIC ([3], [4] in a NegTokenInit2): a MIC over the DER of mechTypes (RFC 4178 §5); null when absent.</summary>
    public byte[]? MechListMic { get; }

    /// <summary>negHints [3] of an MS-SPNG NegTokenInit2; null for a plain RFC 4178 NegTokenInit.</summary>
    public NegHints? NegHints { get; }

    /// <summary>
    /// Decodes the GSS-API framed form (<c>60 .. 06 06 2B 06 01 05 05 02 A0 ..</c>) or the bare NegotiationToken
    /// form (<c>A0 ..</c>). An absent mechTypes (allowed in NegTokenInit2) decodes as an empty list and an empty
    /// <see cref="MechTypesEncoding"/>. Unknown trailing context-tagged fields are skipped (the ASN.1 has "...").
    /// </summary>
    /// <exception cref="NlaProtocolException">
    /// <see cref="NlaFailureReason.Malformed"/> for bad encodings; <see cref="NlaFailureReason.UnsupportedMechanism"/>
    /// when the framing names a mechanism other than SPNEGO.
    /// </exception>
    public static NegTokenInit Decode(ReadOnlySpan<byte> encoded) => Der.Decode(encoded, Structure, DecodeCore);

    /// <summary>Encodes with the GSS-API InitialContextToken framing, as an initiator's first token.</summary>
    /// <exception cref="ArgumentException"><see cref="MechTypesEncoding"/> (from a peer) is not DER.</exception>
    public byte[] Encode()
    {
        AsnWriter writer = Der.CreateWriter(MechTypesEncoding.Length + (MechToken?.Length ?? 0) + (MechListMic?.Length ?? 0) + 64);
        using (writer.PushSequence(s_application0))
        {
            writer.WriteObjectIdentifier(SpnegoOids.Spnego);
            WriteNegotiationToken(writer);
        }

        return writer.Encode();
    }

    /// <summary>Encodes the bare NegotiationToken <c>[0] NegTokenInit</c>, without the GSS-API framing.</summary>
    public byte[] EncodeUnframed()
    {
        AsnWriter writer = Der.CreateWriter(MechTypesEncoding.Length + (MechToken?.Length ?? 0) + (MechListMic?.Length ?? 0) + 64);
        WriteNegotiationToken(writer);
        return writer.Encode();
    }

    /// <summary>The DER MechTypeList (<c>SEQUENCE OF OBJECT IDENTIFIER</c>) for <paramref name="mechTypes"/>.</summary>
    /// <exception cref="ArgumentException">An OID is not valid dotted decimal.</exception>
    public static byte[] EncodeMechTypeList(IEnumerable<string> mechTypes)
    {
        ArgumentNullException.ThrowIfNull(mechTypes);
        AsnWriter writer = Der.CreateWriter();
        using (writer.PushSequence())
        {
            foreach (string oid in mechTypes)
            {
                writer.WriteObjectIdentifier(oid);
            }
        }

        return writer.Encode();
    }

    private void WriteNegotiationToken(AsnWriter writer)
    {
        using (writer.PushSequence(Der.Context(0)))
        using (writer.PushSequence())
        {
            if (NegHints is null || MechTypesEncoding.Length > 0)
            {
                using (writer.PushSequence(Der.Context(0)))
                {
                    writer.WriteEncodedValue(MechTypesEncoding);
                }
            }

            if (ReqFlags is ContextFlags flags)
            {
                using (writer.PushSequence(Der.Context(1)))
                {
                    ContextFlagsCodec.Write(writer, flags);
                }
            }

            Der.WriteOptionalExplicitOctetString(writer, 2, MechToken);
            if (NegHints is not null)
            {
                using (writer.PushSequence(Der.Context(3)))
                {
                    NegHints.Write(writer);
                }

                Der.WriteOptionalExplicitOctetString(writer, 4, MechListMic);
            }
            else
            {
                Der.WriteOptionalExplicitOctetString(writer, 3, MechListMic);
            }
        }
    }

    private static NegTokenInit DecodeCore(ReadOnlySpan<byte> encoded)
    {
        var outer = new DerReader(encoded, "SPNEGO InitialContextToken");
        DerReader choice;
        if (outer.PeekTagIs(s_application0))
        {
            DerReader framed = outer.ReadSequence(s_application0);
            outer.End();
            string thisMech = framed.ReadObjectIdentifier();
            if (thisMech != SpnegoOids.Spnego)
            {
                throw new NlaProtocolException(
                    NlaFailureReason.UnsupportedMechanism, $"The initial context token is for mechanism {thisMech}, not SPNEGO.", "RFC 4178 §3.1");
            }

            choice = framed.ReadExplicit(0);
            framed.End();
        }
        else
        {
            choice = outer.ReadExplicit(0);
            outer.End();
        }

        DerReader sequence = choice.ReadSequence(structure: Structure);
        choice.End();

        var mechTypes = new List<string>();
        byte[] mechTypesEncoding = [];
        bool hasMechTypes = sequence.TryReadExplicit(0, out DerReader mechTypesField);
        if (hasMechTypes)
        {
            ReadOnlySpan<byte> listEncoding = mechTypesField.ReadEncodedValue();
            mechTypesField.End();
            var listReader = new DerReader(listEncoding, "MechTypeList");
            DerReader list = listReader.ReadSequence();
            while (list.HasData)
            {
                mechTypes.Add(list.ReadObjectIdentifier());
            }

            mechTypesEncoding = listEncoding.ToArray();
        }

        ContextFlags? reqFlags = null;
        if (sequence.TryReadExplicit(1, out DerReader flagsField))
        {
            reqFlags = ContextFlagsCodec.Read(ref flagsField);
            flagsField.End();
        }

        byte[]? mechToken = sequence.ReadOptionalExplicitOctetString(2);

        byte[]? mechListMic = null;
        NegHints? negHints = null;
        int lastField = 2;
        if (sequence.TryReadExplicit(3, out DerReader field3))
        {
            lastField = 3;
            if (field3.PeekTagIs(Asn1Tag.Sequence))
            {
                negHints = NegHints.Read(ref field3);
            }
            else
            {
                mechListMic = field3.ReadOctetString().ToArray();
            }

            field3.End();
        }

        if (negHints is not null && sequence.TryReadExplicit(4, out DerReader field4))
        {
            lastField = 4;
            mechListMic = field4.ReadOctetString().ToArray();
            field4.End();
        }

        SkipExtensions(ref sequence, lastField);

        // MechTypeList is mandatory in NegTokenInit; only NegTokenInit2 (negHints) may omit it.
        if (!hasMechTypes && negHints is null)
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, "NegTokenInit has no mechTypes.", "RFC 4178 §4.2.1");
        }

        return new NegTokenInit(mechTypes, mechTypesEncoding, reqFlags, mechToken, mechListMic, negHints);
    }

    /// <summary>Skips context-tagged fields numbered above the last known one (the "..." extension marker), then requires the end.</summary>
    internal static void SkipExtensions(ref DerReader sequence, int lastKnownField)
    {
        int last = lastKnownField;
        while (sequence.HasData)
        {
            Asn1Tag tag = sequence.PeekTag();
            if (tag.TagClass != TagClass.ContextSpecific || !tag.IsConstructed || tag.TagValue <= last)
            {
                break;
            }

            sequence.ReadEncodedValue();
            last = tag.TagValue;
        }

        sequence.End();
    }
}

/// <summary>
/// NegHints (MS-SPNG §2.2.1), found in a server's NegTokenInit2; Windows sends hintName
/// "not_defined_in_RFC4178@please_ignore".
/// </summary>
/// <param name="HintName">hintName [0] GeneralString (decoded as Latin-1).</param>
/// <param name="HintAddress">hintAddress [1] OCTET STRING.</param>
public sealed record NegHints(string? HintName, byte[]? HintAddress)
{
    private const byte GeneralStringTag = 0x1B;
    private static readonly Asn1Tag s_generalString = new(UniversalTagNumber.GeneralString);

    internal static NegHints Read(ref DerReader reader)
    {
        DerReader sequence = reader.ReadSequence(structure: "NegHints");
        string? hintName = null;
        if (sequence.TryReadExplicit(0, out DerReader nameField))
        {
            hintName = Encoding.Latin1.GetString(nameField.ReadPrimitive(s_generalString));
            nameField.End();
        }

        byte[]? hintAddress = sequence.ReadOptionalExplicitOctetString(1);
        sequence.End();
        return new NegHints(hintName, hintAddress);
    }

    internal void Write(AsnWriter writer)
    {
        using (writer.PushSequence())
        {
            if (HintName is not null)
            {
                using (writer.PushSequence(Der.Context(0)))
                {
                    Der.WritePrimitive(writer, GeneralStringTag, Encoding.Latin1.GetBytes(HintName));
                }
            }

            Der.WriteOptionalExplicitOctetString(writer, 1, HintAddress);
        }
    }
}
