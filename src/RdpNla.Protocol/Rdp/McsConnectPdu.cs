namespace RdpNla.Protocol.Rdp;

/// <summary>The GCC user data block types the gateway looks at (MS-RDPBCGR §2.2.1.3.1, §2.2.1.4.1: TS_UD_HEADER.type).</summary>
public static class GccBlockType
{
    /// <summary>CS_CORE (0xC001): TS_UD_CS_CORE, client core data.</summary>
    public const ushort ClientCore = 0xC001;

    /// <summary>CS_SECURITY (0xC002): TS_UD_CS_SEC, client security data.</summary>
    public const ushort ClientSecurity = 0xC002;

    /// <summary>CS_NET (0xC003): TS_UD_CS_NET, client network data (the static virtual channels).</summary>
    public const ushort ClientNetwork = 0xC003;

    /// <summary>SC_CORE (0x0C01): TS_UD_SC_CORE, server core data.</summary>
    public const ushort ServerCore = 0x0C01;

    /// <summary>SC_SECURITY (0x0C02): TS_UD_SC_SEC1, server security data.</summary>
    public const ushort ServerSecurity = 0x0C02;

    /// <summary>SC_NET (0x0C03): TS_UD_SC_NET, server network data.</summary>
    public const ushort ServerNetwork = 0x0C03;
}

/// <summary>One GCC user data block of an MCS connect PDU: its TS_UD_HEADER type and where it lies in the frame.</summary>
/// <param name="Type">TS_UD_HEADER.type.</param>
/// <param name="Offset">The offset of the block's header in the TPKT frame.</param>
/// <param name="Length">TS_UD_HEADER.length: the block's size, header included (at least 4).</param>
public readonly record struct GccUserDataBlock(ushort Type, int Offset, int Length);

/// <summary>
/// An MCS Connect Initial (client → server, MS-RDPBCGR §2.2.1.3) or Connect Response (server → client, §2.2.1.4) in
/// its TPKT frame: T.125 BER around a T.124 PER Conference Create Request/Response whose user data is the list of
/// TS_UD blocks. The codec locates the blocks without interpreting the rest, so that a relay can rewrite fixed-size
/// fields in place (the frame keeps its length): TS_UD_CS_CORE.serverSelectedProtocol and
/// TS_UD_SC_CORE.clientRequestedProtocols, the two fields RDP uses to detect a security-protocol downgrade (§5.4.2.1).
/// </summary>
public sealed class McsConnectPdu
{
    /// <summary>T.125 [APPLICATION 101] Connect-Initial (BER tag 0x7F 0x65).</summary>
    internal const byte ConnectInitialTag = 0x65;

    /// <summary>T.125 [APPLICATION 102] Connect-Response (BER tag 0x7F 0x66).</summary>
    internal const byte ConnectResponseTag = 0x66;

    /// <summary>TS_UD_CS_CORE.serverSelectedProtocol lies at this offset of the block (header included; §2.2.1.3.2).</summary>
    public const int ServerSelectedProtocolOffset = 212;

    /// <summary>TS_UD_SC_CORE.clientRequestedProtocols lies at this offset of the block (header included; §2.2.1.4.2).</summary>
    internal const int ClientRequestedProtocolsOffset = 8;

    /// <summary>TS_UD_SC_CORE.earlyCapabilityFlags lies at this offset of the block (header included; §2.2.1.4.2).</summary>
    internal const int ServerEarlyCapabilityFlagsOffset = 12;

    // T.124 ConnectData: Key object { 0 0 20 124 0 1 } (FreeRDP gcc.c t124_02_98_oid), PER-encoded.
    private static ReadOnlySpan<byte> T124Key => [0x00, 0x05, 0x00, 0x14, 0x7C, 0x00, 0x01];

    // The h221NonStandard keys of the client ("Duca") and server ("McDn") user data (§2.2.1.3.1, §2.2.1.4.1).
    private static ReadOnlySpan<byte> ClientH221Key => [0xC0, 0x00, 0x44, 0x75, 0x63, 0x61];

    private static ReadOnlySpan<byte> ServerH221Key => [0xC0, 0x00, 0x4D, 0x63, 0x44, 0x6E];

    private const string Spec = "MS-RDPBCGR §2.2.1.3/§2.2.1.4 (T.125 BER, T.124 PER)";
    private const int X224DataHeaderLength = 3;

    private readonly byte[] _frame;

    private McsConnectPdu(byte[] frame, bool isResponse, List<GccUserDataBlock> blocks)
    {
        _frame = frame;
        IsResponse = isResponse;
        Blocks = blocks;
    }

    /// <summary>True for a Connect Response, false for a Connect Initial.</summary>
    public bool IsResponse { get; }

    /// <summary>The user data blocks in wire order.</summary>
    public IReadOnlyList<GccUserDataBlock> Blocks { get; }

    /// <summary>The whole TPKT frame (a copy; rewriting methods return new frames).</summary>
    public ReadOnlySpan<byte> Frame => _frame;

    /// <summary>TS_UD_CS_CORE.serverSelectedProtocol, or null when this is not a Connect Initial or the client's core data stops before it.</summary>
    public SecurityProtocols? ServerSelectedProtocol =>
        ReadField(GccBlockType.ClientCore, ServerSelectedProtocolOffset, out int offset) ? (SecurityProtocols)BinaryPrimitives.ReadUInt32LittleEndian(_frame.AsSpan(offset)) : null;

    /// <summary>TS_UD_SC_CORE.clientRequestedProtocols, or null when this is not a Connect Response or the server's core data stops before it.</summary>
    public SecurityProtocols? ClientRequestedProtocols =>
        ReadField(GccBlockType.ServerCore, ClientRequestedProtocolsOffset, out int offset) ? (SecurityProtocols)BinaryPrimitives.ReadUInt32LittleEndian(_frame.AsSpan(offset)) : null;

    /// <summary>TS_UD_SC_CORE.earlyCapabilityFlags, or null when absent.</summary>
    public uint? ServerEarlyCapabilityFlags =>
        ReadField(GccBlockType.ServerCore, ServerEarlyCapabilityFlagsOffset, out int offset) ? BinaryPrimitives.ReadUInt32LittleEndian(_frame.AsSpan(offset)) : null;

    /// <summary>The first block of <paramref name="type"/> (header included), or an empty span.</summary>
    public ReadOnlySpan<byte> GetBlock(ushort type)
    {
        foreach (GccUserDataBlock block in Blocks)
        {
            if (block.Type == type)
            {
                return _frame.AsSpan(block.Offset, block.Length);
            }
        }

        return [];
    }

    /// <summary>
    /// Returns a copy of the frame with TS_UD_CS_CORE.serverSelectedProtocol set to <paramref name="selected"/> (what the
    /// server of this leg selected in its RDP_NEG_RSP). <see cref="Decode"/> has made sure the Connect Initial holds
    /// exactly one client core block with the field.
    /// </summary>
    /// <exception cref="InvalidOperationException">This is a Connect Response.</exception>
    public byte[] WithServerSelectedProtocol(SecurityProtocols selected)
    {
        if (IsResponse)
        {
            throw new InvalidOperationException("serverSelectedProtocol is a field of the Connect Initial's client core data.");
        }

        return WithField(GccBlockType.ClientCore, ServerSelectedProtocolOffset, (uint)selected);
    }

    /// <summary>
    /// Returns a copy of the frame with TS_UD_SC_CORE.clientRequestedProtocols set to <paramref name="requested"/> (what
    /// the client of this leg requested in its RDP_NEG_REQ). A server core block too short to hold the field is left as it is.
    /// </summary>
    /// <exception cref="InvalidOperationException">This is a Connect Initial.</exception>
    public byte[] WithClientRequestedProtocols(SecurityProtocols requested)
    {
        if (!IsResponse)
        {
            throw new InvalidOperationException("clientRequestedProtocols is a field of the Connect Response's server core data.");
        }

        return WithField(GccBlockType.ServerCore, ClientRequestedProtocolsOffset, (uint)requested);
    }

    private bool ReadField(ushort type, int fieldOffset, out int offset)
    {
        foreach (GccUserDataBlock block in Blocks)
        {
            if (block.Type == type)
            {
                offset = block.Offset + fieldOffset;
                return block.Length >= fieldOffset + 4;
            }
        }

        offset = 0;
        return false;
    }

    private byte[] WithField(ushort type, int fieldOffset, uint value)
    {
        byte[] copy = (byte[])_frame.Clone();
        if (ReadField(type, fieldOffset, out int offset))
        {
            BinaryPrimitives.WriteUInt32LittleEndian(copy.AsSpan(offset), value);
        }

        return copy;
    }

    /// <summary>Decodes a TPKT frame holding an MCS Connect Initial or Connect Response.</summary>
    /// <exception cref="NlaProtocolException">The frame is not a well-formed MCS connect PDU.</exception>
    public static McsConnectPdu Decode(ReadOnlySpan<byte> frame)
    {
        ReadOnlySpan<byte> tpdu = Tpkt.GetPayload(frame);
        if (tpdu.Length < X224DataHeaderLength || tpdu[0] != 0x02 || tpdu[1] != 0xF0 || tpdu[2] != 0x80)
        {
            throw Malformed("the X.224 header is not a Data TPDU (02 F0 80)");
        }

        int position = Tpkt.HeaderLength + X224DataHeaderLength;
        var ber = new BerCursor(frame, position);
        if (ber.Remaining < 2 || frame[ber.Position] != 0x7F)
        {
            throw Malformed("the MCS PDU does not start with an application tag 0x7F");
        }

        byte tag = frame[ber.Position + 1];
        if (tag is not (ConnectInitialTag or ConnectResponseTag))
        {
            throw new NlaProtocolException(NlaFailureReason.UnexpectedMessage, $"MCS PDU with application tag {tag} is neither Connect-Initial (101) nor Connect-Response (102).", Spec);
        }

        bool isResponse = tag == ConnectResponseTag;
        ber.Skip(2);
        int length = ber.ReadLength();
        if (length != ber.Remaining)
        {
            throw Malformed($"the MCS connect PDU announces {length} bytes but {ber.Remaining} follow");
        }

        // Connect-Initial: callingDomainSelector, calledDomainSelector, upwardFlag, target/minimum/maximumParameters,
        // userData. Connect-Response: result, calledConnectId, domainParameters, userData. userData is the last
        // element and an OCTET STRING in both.
        ReadOnlySpan<byte> expected = isResponse ? [0x0A, 0x02, 0x30, 0x04] : [0x04, 0x04, 0x01, 0x30, 0x30, 0x30, 0x04];
        int userDataStart = 0;
        int userDataLength = 0;
        for (int i = 0; i < expected.Length; i++)
        {
            byte elementTag = ber.ReadByte();
            if (elementTag != expected[i])
            {
                throw Malformed($"element {i} of the MCS connect PDU has tag 0x{elementTag:X2}, expected 0x{expected[i]:X2}");
            }

            int elementLength = ber.ReadLength();
            if (elementLength > ber.Remaining)
            {
                throw Malformed($"element {i} of the MCS connect PDU announces {elementLength} bytes but {ber.Remaining} are left");
            }

            userDataStart = ber.Position;
            userDataLength = elementLength;
            ber.Skip(elementLength);
        }

        if (ber.Remaining != 0)
        {
            throw Malformed($"{ber.Remaining} bytes follow the userData of the MCS connect PDU");
        }

        List<GccUserDataBlock> blocks = DecodeConferenceUserData(frame, userDataStart, userDataLength, isResponse);
        if (!isResponse)
        {
            CheckClientCore(blocks);
        }

        return new McsConnectPdu(frame.ToArray(), isResponse, blocks);
    }

    /// <summary>
    /// A Connect Initial carries exactly one TS_UD_CS_CORE (MS-RDPBCGR §2.2.1.3.2, a required block), long enough to
    /// hold serverSelectedProtocol: a relay rewrites that field and the server checks it against its own selection
    /// (§5.4.2.1), so a second core block, or one that stops before the field, could carry a value nobody rewrote.
    /// </summary>
    private static void CheckClientCore(List<GccUserDataBlock> blocks)
    {
        int count = 0;
        foreach (GccUserDataBlock block in blocks)
        {
            if (block.Type != GccBlockType.ClientCore)
            {
                continue;
            }

            if (++count > 1)
            {
                throw Malformed("the Connect Initial carries more than one client core data block (TS_UD_CS_CORE)");
            }

            if (block.Length < ServerSelectedProtocolOffset + 4)
            {
                throw Malformed($"the client core data block (TS_UD_CS_CORE) has {block.Length} bytes, too few to hold serverSelectedProtocol (at least {ServerSelectedProtocolOffset + 4})");
            }
        }

        if (count == 0)
        {
            throw Malformed("the Connect Initial carries no client core data block (TS_UD_CS_CORE)");
        }
    }

    private static List<GccUserDataBlock> DecodeConferenceUserData(ReadOnlySpan<byte> frame, int start, int length, bool isResponse)
    {
        ReadOnlySpan<byte> data = frame.Slice(start, length);
        if (!data.StartsWith(T124Key))
        {
            throw Malformed("the GCC ConnectData does not carry the T.124 key object { 0 0 20 124 0 1 }");
        }

        int position = T124Key.Length;
        _ = ReadPerLength(data, ref position);

        // The Conference Create Request/Response header before the user data set has a few variable PER fields
        // (conference name, node id, tag); the user data set's h221NonStandard key ends it in every known encoder.
        ReadOnlySpan<byte> key = isResponse ? ServerH221Key : ClientH221Key;
        int searchEnd = Math.Min(data.Length, position + 32);
        int keyAt = data[position..searchEnd].IndexOf(key);
        if (keyAt < 0)
        {
            throw Malformed($"the GCC Conference Create {(isResponse ? "Response" : "Request")} carries no \"{(isResponse ? "McDn" : "Duca")}\" user data");
        }

        position += keyAt + key.Length;
        int blocksLength = ReadPerLength(data, ref position);
        if (blocksLength != data.Length - position)
        {
            throw Malformed($"the GCC user data announces {blocksLength} bytes but {data.Length - position} follow");
        }

        var blocks = new List<GccUserDataBlock>();
        while (position < data.Length)
        {
            if (data.Length - position < 4)
            {
                throw Malformed("a user data block header (TS_UD_HEADER) is truncated");
            }

            ushort type = BinaryPrimitives.ReadUInt16LittleEndian(data[position..]);
            ushort blockLength = BinaryPrimitives.ReadUInt16LittleEndian(data[(position + 2)..]);
            if (blockLength < 4 || blockLength > data.Length - position)
            {
                throw Malformed($"user data block 0x{type:X4} announces {blockLength} bytes, {data.Length - position} left");
            }

            if (blocks.Count >= 64)
            {
                throw new NlaProtocolException(NlaFailureReason.MessageTooLarge, "more than 64 user data blocks", Spec);
            }

            blocks.Add(new GccUserDataBlock(type, start + position, blockLength));
            position += blockLength;
        }

        return blocks;
    }

    // X.691 aligned PER length determinant as RDP uses it: one byte below 0x80, else two bytes with the top bit set.
    private static int ReadPerLength(ReadOnlySpan<byte> data, ref int position)
    {
        if (position >= data.Length)
        {
            throw Malformed("a PER length is truncated");
        }

        byte first = data[position++];
        if ((first & 0x80) == 0)
        {
            return first;
        }

        if (position >= data.Length)
        {
            throw Malformed("a two-byte PER length is truncated");
        }

        return ((first & 0x7F) << 8) | data[position++];
    }

    private static void WritePerLength(List<byte> output, int length)
    {
        if (length < 0x80)
        {
            output.Add((byte)length);
        }
        else
        {
            output.Add((byte)(0x80 | (length >> 8)));
            output.Add((byte)length);
        }
    }

    private static NlaProtocolException Malformed(string what) => new(NlaFailureReason.Malformed, $"MCS connect PDU: {what}.", Spec);

    /// <summary>
    /// Encodes a Connect Initial carrying <paramref name="blocks"/> (each a whole TS_UD block, header included) the way
    /// FreeRDP and mstsc do (domain parameters of MS-RDPBCGR §4.1.3).
    /// </summary>
    /// <exception cref="ArgumentException">A block is shorter than its header or its length field is wrong, or the data exceeds a TPKT frame.</exception>
    public static byte[] EncodeConnectInitial(IEnumerable<byte[]> blocks)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        List<byte> gcc = EncodeGcc(blocks, [0x00, 0x08, 0x00, 0x10, 0x00, 0x01, .. ClientH221Key]);
        var body = new List<byte>();
        WriteBer(body, 0x04, [0x01]);
        WriteBer(body, 0x04, [0x01]);
        WriteBer(body, 0x01, [0xFF]);
        WriteBer(body, 0x30, DomainParameters(34, 2, 0, 1, 0, 1, 0xFFFF, 2));
        WriteBer(body, 0x30, DomainParameters(1, 1, 1, 1, 0, 1, 0x420, 2));
        WriteBer(body, 0x30, DomainParameters(0xFFFF, 0xFC17, 0xFFFF, 1, 0, 1, 0xFFFF, 2));
        WriteBer(body, 0x04, gcc);
        return WrapMcs(ConnectInitialTag, body);
    }

    /// <summary>Encodes a Connect Response (result rt-successful) carrying <paramref name="blocks"/>, as FreeRDP's server does.</summary>
    /// <exception cref="ArgumentException">A block is shorter than its header or its length field is wrong, or the data exceeds a TPKT frame.</exception>
    public static byte[] EncodeConnectResponse(IEnumerable<byte[]> blocks)
    {
        ArgumentNullException.ThrowIfNull(blocks);
        List<byte> gcc = EncodeGcc(blocks, [0x14, 0x76, 0x0A, 0x01, 0x01, 0x00, 0x01, .. ServerH221Key]);
        var body = new List<byte>();
        WriteBer(body, 0x0A, [0x00]);
        WriteBer(body, 0x02, [0x00]);
        WriteBer(body, 0x30, DomainParameters(34, 3, 0, 1, 0, 1, 0xFFF8, 2));
        WriteBer(body, 0x04, gcc);
        return WrapMcs(ConnectResponseTag, body);
    }

    private static List<byte> EncodeGcc(IEnumerable<byte[]> blocks, ReadOnlySpan<byte> header)
    {
        var userData = new List<byte>();
        foreach (byte[] block in blocks)
        {
            if (block.Length < 4 || BinaryPrimitives.ReadUInt16LittleEndian(block.AsSpan(2)) != block.Length)
            {
                throw new ArgumentException("Each block must be a whole TS_UD block whose header length equals its size.", nameof(blocks));
            }

            userData.AddRange(block);
        }

        if (userData.Count > 0x3FFF)
        {
            throw new ArgumentException("The user data exceeds what a PER length can carry.", nameof(blocks));
        }

        var connectPdu = new List<byte>(header.ToArray());
        WritePerLength(connectPdu, userData.Count);
        connectPdu.AddRange(userData);
        var gcc = new List<byte>(T124Key.ToArray());
        WritePerLength(gcc, connectPdu.Count);
        gcc.AddRange(connectPdu);
        return gcc;
    }

    private static byte[] WrapMcs(byte tag, List<byte> body)
    {
        var mcs = new List<byte> { 0x02, 0xF0, 0x80, 0x7F, tag };
        WriteBerLength(mcs, body.Count);
        mcs.AddRange(body);
        if (mcs.Count + Tpkt.HeaderLength > Tpkt.MaximumFrameLength)
        {
            throw new ArgumentException("The MCS connect PDU exceeds a TPKT frame.");
        }

        return Tpkt.Wrap(mcs.ToArray());
    }

    private static List<byte> DomainParameters(params int[] values)
    {
        var sequence = new List<byte>();
        foreach (int value in values)
        {
            // FreeRDP and mstsc write 0x80..0xFFFF in one or two bytes without BER's leading zero (e.g. 02 02 FF FF).
            byte[] integer = value <= 0xFF ? [(byte)value] : [(byte)(value >> 8), (byte)value];
            WriteBer(sequence, 0x02, integer);
        }

        return sequence;
    }

    private static void WriteBer(List<byte> output, byte tag, IReadOnlyCollection<byte> value)
    {
        output.Add(tag);
        WriteBerLength(output, value.Count);
        output.AddRange(value);
    }

    private static void WriteBerLength(List<byte> output, int length)
    {
        if (length < 0x80)
        {
            output.Add((byte)length);
        }
        else if (length <= 0xFF)
        {
            output.Add(0x81);
            output.Add((byte)length);
        }
        else
        {
            output.Add(0x82);
            output.Add((byte)(length >> 8));
            output.Add((byte)length);
        }
    }

    /// <summary>A bounds-checked cursor over BER definite lengths (X.690 §8.1.3).</summary>
    private ref struct BerCursor
    {
        private readonly ReadOnlySpan<byte> _buffer;

        public BerCursor(ReadOnlySpan<byte> buffer, int position)
        {
            _buffer = buffer;
            Position = position;
        }

        public int Position { get; private set; }

        public readonly int Remaining => _buffer.Length - Position;

        public byte ReadByte()
        {
            if (Remaining < 1)
            {
                throw Malformed("a BER element is truncated");
            }

            return _buffer[Position++];
        }

        public void Skip(int count)
        {
            if (count < 0 || count > Remaining)
            {
                throw Malformed("a BER element is truncated");
            }

            Position += count;
        }

        public int ReadLength()
        {
            byte first = ReadByte();
            if (first < 0x80)
            {
                return first;
            }

            int count = first & 0x7F;
            if (count is 0 or > 2)
            {
                throw Malformed($"BER length form 0x{first:X2} is not supported (indefinite or longer than two bytes)");
            }

            int length = 0;
            for (int i = 0; i < count; i++)
            {
                length = (length << 8) | ReadByte();
            }

            return length;
        }
    }
}
