namespace RdpNla.Protocol.CredSsp;

/// <summary>
/// TSRequest (MS-CSSP §2.2.1), the only message CredSSP sends over TLS.
/// <code>
/// TSRequest ::= SEQUENCE {
///         version     [0] INTEGER,
///         negoTokens  [1] NegoData     OPTIONAL,
///         authInfo    [2] OCTET STRING OPTIONAL,
///         pubKeyAuth  [3] OCTET STRING OPTIONAL,
///         errorCode   [4] INTEGER      OPTIONAL,
///         clientNonce [5] OCTET STRING OPTIONAL
/// }
/// NegoData ::= SEQUENCE OF SEQUENCE {
///         negoToken   [0] OCTET STRING
/// }
/// </code>
/// All context tags are EXPLICIT. This type is a codec only: it does not check the version range, which fields
/// belong in which step, or the clientNonce length (the CredSSP contexts do).
/// </summary>
public sealed class TsRequest
{
    private const string Structure = "TSRequest";

    /// <summary>version [0]: the sender's own highest CredSSP version (2..6 today; not range-checked here).</summary>
    public required int Version { get; init; }

    /// <summary>negoTokens [1]: the SPNEGO tokens or raw NTLM messages; empty means the field is absent.</summary>
    public IReadOnlyList<byte[]> NegoTokens { get; init; } = [];

    /// <summary>authInfo [2]: the wrapped (signed and sealed) DER TSCredentials.</summary>
    public byte[]? AuthInfo { get; init; }

    /// <summary>pubKeyAuth [3]: the wrapped public-key binding (echo or v5+ hash).</summary>
    public byte[]? PubKeyAuth { get; init; }

    /// <summary>errorCode [4]: the NTSTATUS a server reports when authentication fails (versions 3, 4, 6).</summary>
    public NtStatus? ErrorCode { get; init; }

    /// <summary>clientNonce [5]: 32 random bytes from a version 5+ client.</summary>
    public byte[]? ClientNonce { get; init; }

    /// <summary>
    /// Decodes one complete TSRequest. BER long-form lengths are accepted; indefinite lengths, unknown, duplicate or
    /// out-of-order fields and trailing bytes are not. errorCode is accepted both as Windows writes it (a 4-byte
    /// negative INTEGER, <c>02 04 C0 00 00 6D</c>) and as a positive INTEGER (<c>02 05 00 C0 00 00 6D</c>); any value
    /// outside the int32 ∪ uint32 range is refused.
    /// </summary>
    /// <exception cref="NlaProtocolException">The bytes are not a valid TSRequest (<see cref="NlaFailureReason.Malformed"/>).</exception>
    public static TsRequest Decode(ReadOnlySpan<byte> encoded) => Der.Decode(encoded, Structure, DecodeCore);

    /// <summary>Encodes this TSRequest in DER, errorCode as a 4-byte two's-complement INTEGER as Windows does.</summary>
    /// <exception cref="ArgumentException">A negoToken is null.</exception>
    public byte[] Encode()
    {
        AsnWriter writer = Der.CreateWriter(64 + Length(AuthInfo) + Length(PubKeyAuth) + Length(ClientNonce) + NegoTokens.Sum(t => Length(t) + 16));
        using (writer.PushSequence())
        {
            using (writer.PushSequence(Der.Context(0)))
            {
                writer.WriteInteger(Version);
            }

            if (NegoTokens.Count > 0)
            {
                using (writer.PushSequence(Der.Context(1)))
                using (writer.PushSequence())
                {
                    foreach (byte[] token in NegoTokens)
                    {
                        if (token is null)
                        {
                            throw new ArgumentException("A negoToken is null.", nameof(NegoTokens));
                        }

                        using (writer.PushSequence())
                        using (writer.PushSequence(Der.Context(0)))
                        {
                            writer.WriteOctetString(token);
                        }
                    }
                }
            }

            WriteOptionalOctetString(writer, 2, AuthInfo);
            WriteOptionalOctetString(writer, 3, PubKeyAuth);
            if (ErrorCode is NtStatus status)
            {
                using (writer.PushSequence(Der.Context(4)))
                {
                    // MS-CSSP: NTSTATUS as a 32-bit signed INTEGER (0xC000006D → 02 04 C0 00 00 6D), as Windows and sspi-rs emit.
                    writer.WriteInteger(unchecked((int)(uint)status));
                }
            }

            WriteOptionalOctetString(writer, 5, ClientNonce);
        }

        return Der.EncodeAndReset(writer);
    }

    /// <summary>
    /// Finds the end of the next TSRequest in a TLS application-data stream from its outer DER header
    /// (<c>30 len</c>, <c>30 81 len</c>, <c>30 82 len len</c>, …; CredSSP has no other framing, MS-CSSP §2.1).
    /// </summary>
    /// <param name="buffer">The bytes received so far, starting at a message boundary.</param>
    /// <param name="maxMessageSize">The largest whole message (header included) the caller accepts.</param>
    /// <param name="messageLength">
    /// <see cref="OperationStatus.Done"/>: the total message length, header included.
    /// <see cref="OperationStatus.NeedMoreData"/>: the total length once the header is complete, otherwise 0.
    /// <see cref="OperationStatus.InvalidData"/>: 0.
    /// </param>
    /// <returns>
    /// <see cref="OperationStatus.Done"/> when <paramref name="buffer"/> holds the whole message,
    /// <see cref="OperationStatus.NeedMoreData"/> when more bytes are needed to know or reach the end,
    /// <see cref="OperationStatus.InvalidData"/> when the stream cannot carry a TSRequest or the message is too large;
    /// use the overload with <c>invalidReason</c> to tell those apart.
    /// </returns>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxMessageSize"/> is less than 2.</exception>
    public static OperationStatus TryGetMessageLength(ReadOnlySequence<byte> buffer, int maxMessageSize, out int messageLength) =>
        TryGetMessageLength(buffer, maxMessageSize, out messageLength, out _);

    /// <summary>
    /// As <see cref="TryGetMessageLength(ReadOnlySequence{byte}, int, out int)"/>, and on
    /// <see cref="OperationStatus.InvalidData"/> says why: <see cref="NlaFailureReason.Malformed"/> (first byte is not
    /// SEQUENCE 0x30, indefinite length 0x80, reserved length 0xFF) or <see cref="NlaFailureReason.MessageTooLarge"/>
    /// (the declared length exceeds <paramref name="maxMessageSize"/>). Oversize is detected from the header alone, as
    /// soon as the length bytes read so far exceed the limit, so nothing needs to be buffered or allocated.
    /// On other results <paramref name="invalidReason"/> is <see cref="NlaFailureReason.Malformed"/> and meaningless.
    /// </summary>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="maxMessageSize"/> is less than 2.</exception>
    public static OperationStatus TryGetMessageLength(
        ReadOnlySequence<byte> buffer, int maxMessageSize, out int messageLength, out NlaFailureReason invalidReason)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxMessageSize, 2);
        messageLength = 0;
        invalidReason = NlaFailureReason.Malformed;

        var reader = new SequenceReader<byte>(buffer);
        if (!reader.TryRead(out byte tag))
        {
            return OperationStatus.NeedMoreData;
        }

        if (tag != 0x30)
        {
            return OperationStatus.InvalidData;
        }

        if (!reader.TryRead(out byte first))
        {
            return OperationStatus.NeedMoreData;
        }

        long contentLength;
        int headerLength;
        if (first < 0x80)
        {
            contentLength = first;
            headerLength = 2;
        }
        else
        {
            int lengthOctets = first & 0x7F;
            if (lengthOctets is 0 or 0x7F)
            {
                // 0x80 = indefinite (BER only, never used by CredSSP); 0xFF is reserved (X.690 §8.1.3.5 c).
                return OperationStatus.InvalidData;
            }

            contentLength = 0;
            for (int i = 0; i < lengthOctets; i++)
            {
                if (!reader.TryRead(out byte b))
                {
                    return OperationStatus.NeedMoreData;
                }

                // contentLength <= maxMessageSize <= int.MaxValue before the shift, so this cannot overflow a long.
                contentLength = (contentLength << 8) | b;

                // Reject as soon as the octets read so far prove the length too large: the final value is at least
                // contentLength << (8 * remaining), which is >= 2^32 once 4 or more octets remain.
                int remaining = lengthOctets - i - 1;
                if (contentLength != 0 && (remaining >= 4 || (contentLength << (8 * remaining)) > maxMessageSize))
                {
                    invalidReason = NlaFailureReason.MessageTooLarge;
                    return OperationStatus.InvalidData;
                }
            }

            headerLength = 2 + lengthOctets;
        }

        long total = headerLength + contentLength;
        if (total > maxMessageSize)
        {
            invalidReason = NlaFailureReason.MessageTooLarge;
            return OperationStatus.InvalidData;
        }

        messageLength = (int)total;
        if (buffer.Length < total)
        {
            return OperationStatus.NeedMoreData;
        }

        return OperationStatus.Done;
    }

    private static TsRequest DecodeCore(ReadOnlySpan<byte> encoded)
    {
        DerReader sequence = DerReader.ReadSingleSequence(encoded, Structure);

        DerReader versionField = sequence.ReadExplicit(0);
        int version = versionField.ReadInt32();
        versionField.End();

        var negoTokens = new List<byte[]>();
        if (sequence.TryReadExplicit(1, out DerReader negoDataField))
        {
            DerReader negoData = negoDataField.ReadSequence(structure: "TSRequest.negoTokens");
            negoDataField.End();
            while (negoData.HasData)
            {
                DerReader item = negoData.ReadSequence();
                DerReader tokenField = item.ReadExplicit(0);
                negoTokens.Add(tokenField.ReadOctetString().ToArray());
                tokenField.End();
                item.End();
            }
        }

        byte[]? authInfo = sequence.ReadOptionalExplicitOctetString(2);
        byte[]? pubKeyAuth = sequence.ReadOptionalExplicitOctetString(3);

        NtStatus? errorCode = null;
        if (sequence.TryReadExplicit(4, out DerReader errorField))
        {
            long value = errorField.ReadInt64();
            errorField.End();
            if (value < int.MinValue || value > uint.MaxValue)
            {
                throw errorField.Fail("errorCode is not a 32-bit NTSTATUS");
            }

            errorCode = (NtStatus)unchecked((uint)value);
        }

        byte[]? clientNonce = sequence.ReadOptionalExplicitOctetString(5);
        sequence.End();

        return new TsRequest
        {
            Version = version,
            NegoTokens = negoTokens,
            AuthInfo = authInfo,
            PubKeyAuth = pubKeyAuth,
            ErrorCode = errorCode,
            ClientNonce = clientNonce,
        };
    }

    private static void WriteOptionalOctetString(AsnWriter writer, int contextNumber, byte[]? value) =>
        Der.WriteOptionalExplicitOctetString(writer, contextNumber, value);

    private static int Length(byte[]? value) => value?.Length ?? 0;
}
