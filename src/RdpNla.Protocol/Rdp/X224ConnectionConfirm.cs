namespace RdpNla.Protocol.Rdp;

/// <summary>
/// Server X.224 Connection Confirm PDU (MS-RDPBCGR §2.2.1.2): TPKT header, X.224 Class 0 CC TPDU and an optional
/// 8-byte rdpNegData (<see cref="RdpNegResponse"/> or <see cref="RdpNegFailure"/>). Without rdpNegData
/// (length indicator 6) the server is a legacy server, or answers a legacy client: Standard RDP Security.
/// </summary>
public sealed record X224ConnectionConfirm
{
    /// <summary>X.224 TPDU code for a Connection Confirm with credit 0.</summary>
    public const byte ConnectionConfirmCode = 0xD0;

    /// <summary>The SRC-REF Windows sends (MS-RDPBCGR §4.1.2); any value is valid.</summary>
    public const ushort DefaultSourceReference = 0x1234;

    private const string Spec = "MS-RDPBCGR §2.2.1.2";
    private const int X224HeaderLength = 7;

    /// <summary>Creates a Connection Confirm.</summary>
    /// <param name="negotiationData">The RDP_NEG_RSP or RDP_NEG_FAILURE, or null for none.</param>
    /// <param name="sourceReference">SRC-REF; clients ignore it.</param>
    public X224ConnectionConfirm(RdpNegData? negotiationData, ushort sourceReference = DefaultSourceReference)
    {
        NegotiationData = negotiationData;
        SourceReference = sourceReference;
    }

    /// <summary>The rdpNegData, or null when the CC carries none (length indicator 6).</summary>
    public RdpNegData? NegotiationData { get; }

    /// <summary>The RDP_NEG_RSP, when the CC carries one.</summary>
    public RdpNegResponse? Response => NegotiationData as RdpNegResponse;

    /// <summary>The RDP_NEG_FAILURE, when the CC carries one.</summary>
    public RdpNegFailure? Failure => NegotiationData as RdpNegFailure;

    /// <summary>SRC-REF (MS-RDPBCGR: any value; Windows sends 0x1234, DST-REF is 0).</summary>
    public ushort SourceReference { get; }

    /// <summary>The size of the whole frame: 11 bytes, 19 with rdpNegData.</summary>
    public int EncodedLength => Tpkt.HeaderLength + X224HeaderLength + (NegotiationData is null ? 0 : RdpNegData.Length);

    /// <summary>Decodes one whole TPKT frame holding an X.224 Connection Confirm (client side).</summary>
    /// <exception cref="NlaProtocolException">The frame is not a valid Connection Confirm.</exception>
    public static X224ConnectionConfirm Decode(ReadOnlySpan<byte> frame)
    {
        var reader = new WireReader(Tpkt.GetPayload(frame), "X.224 Connection Confirm");
        byte lengthIndicator = reader.ReadByte();
        if (lengthIndicator != reader.Remaining)
        {
            throw new NlaProtocolException(
                NlaFailureReason.Malformed,
                $"X.224 length indicator {lengthIndicator} is inconsistent with the TPKT length ({reader.Remaining} bytes follow it).",
                Spec);
        }

        byte code = reader.ReadByte();
        if (code != ConnectionConfirmCode)
        {
            throw new NlaProtocolException(NlaFailureReason.UnexpectedMessage, $"X.224 TPDU code is 0x{code:X2}, expected 0xD0 (Connection Confirm).", Spec);
        }

        reader.Skip(2); // DST-REF: ignored.
        ushort sourceReference = reader.ReadUInt16BigEndian();
        byte classOption = reader.ReadByte();
        if (classOption >> 4 != 0)
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, $"X.224 class is {classOption >> 4}, expected class 0.", Spec);
        }

        // LI = 6: no rdpNegData (legacy server, FreeRDP nego_recv); LI = 14: exactly one 8-byte structure.
        RdpNegData? data = reader.Remaining switch
        {
            0 => null,
            RdpNegData.Length => RdpNegData.Decode(reader.ReadBytes(RdpNegData.Length)),
            _ => throw new NlaProtocolException(
                NlaFailureReason.Malformed,
                $"X.224 Connection Confirm carries {reader.Remaining} bytes after its header, expected 0 or 8.",
                Spec),
        };
        return new X224ConnectionConfirm(data, sourceReference);
    }

    /// <summary>Encodes the whole frame.</summary>
    public byte[] Encode()
    {
        byte[] frame = Tpkt.NewConnectionFrame(EncodedLength, ConnectionConfirmCode, out Span<byte> tpdu);
        BinaryPrimitives.WriteUInt16BigEndian(tpdu[4..], SourceReference);
        NegotiationData?.Encode(tpdu[X224HeaderLength..]);
        return frame;
    }
}
