namespace RdpNla.Protocol.Connection;

/// <summary>What a server sent instead of an X.224 Connection Confirm, as far as its first bytes show.</summary>
public enum ConnectionConfirmAnswerKind
{
    /// <summary>Nothing: the server closed the connection without answering.</summary>
    Nothing,

    /// <summary>Bytes that are not a TPKT header (RFC 1006 §6): another protocol (HTTP, SSH, TLS) or fewer than four bytes.</summary>
    NotTpkt,

    /// <summary>A TPKT header announcing a length no Connection Confirm has (below the minimum, or above the bound given).</summary>
    ImplausibleLength,

    /// <summary>A TPKT frame cut short by the server closing the connection.</summary>
    Truncated,

    /// <summary>
    /// An X.224 Data TPDU instead of a Connection Confirm: a server refusing the request without RDP_NEG_FAILURE
    /// (xrdp 0.9 answers so to a request it cannot serve; see docs/interop.md).
    /// </summary>
    X224Data,

    /// <summary>An X.224 Data TPDU carrying MCS Disconnect Provider Ultimatum (T.125 §11.15): the same refusal, said explicitly.</summary>
    McsDisconnectProviderUltimatum,

    /// <summary>A whole TPKT frame that does not decode as a Connection Confirm.</summary>
    Malformed,
}

/// <summary>Classifies an answer to the X.224 Connection Request that could not be decoded, for a report (MS-RDPBCGR §2.2.1.2).</summary>
/// <param name="Kind">What the bytes are.</param>
/// <param name="Frame">The bytes that make up the answer: the first four for <see cref="ConnectionConfirmAnswerKind.NotTpkt"/>, the TPKT frame otherwise.</param>
/// <param name="AnnouncedLength">The length the TPKT header announces, once there is a header.</param>
public readonly record struct ConnectionConfirmAnswer(ConnectionConfirmAnswerKind Kind, ReadOnlyMemory<byte> Frame, int AnnouncedLength)
{
    private const byte X224DataCode = 0xF0;

    /// <summary>Classifies the first bytes a server sent (never throws).</summary>
    /// <param name="received">The bytes received, from the first one on.</param>
    /// <param name="maxFrameLength">The largest frame accepted as a Connection Confirm.</param>
    public static ConnectionConfirmAnswer Classify(ReadOnlyMemory<byte> received, int maxFrameLength)
    {
        ReadOnlySpan<byte> bytes = received.Span;
        if (bytes.IsEmpty)
        {
            return new ConnectionConfirmAnswer(ConnectionConfirmAnswerKind.Nothing, default, 0);
        }

        if (bytes.Length < Tpkt.HeaderLength || bytes[0] != Tpkt.Version)
        {
            return new ConnectionConfirmAnswer(ConnectionConfirmAnswerKind.NotTpkt, received[..Math.Min(bytes.Length, Tpkt.HeaderLength)], 0);
        }

        int length = BinaryPrimitives.ReadUInt16BigEndian(bytes[2..]);
        if (length < Tpkt.MinimumFrameLength || length > maxFrameLength)
        {
            return new ConnectionConfirmAnswer(ConnectionConfirmAnswerKind.ImplausibleLength, received[..Tpkt.HeaderLength], length);
        }

        if (bytes.Length < length)
        {
            return new ConnectionConfirmAnswer(ConnectionConfirmAnswerKind.Truncated, received, length);
        }

        ReadOnlyMemory<byte> frame = received[..length];

        // TPKT, then the X.224 length indicator and TPDU code (X.224 §13.7: DT is 0xF0), then the MCS PDU choice byte.
        if (frame.Span[Tpkt.HeaderLength + 1] == X224DataCode)
        {
            bool ultimatum = frame.Length >= Tpkt.HeaderLength + 4 && (frame.Span[Tpkt.HeaderLength + 3] & 0xFC) == 0x20;
            return new ConnectionConfirmAnswer(ultimatum ? ConnectionConfirmAnswerKind.McsDisconnectProviderUltimatum : ConnectionConfirmAnswerKind.X224Data, frame, length);
        }

        return new ConnectionConfirmAnswer(ConnectionConfirmAnswerKind.Malformed, frame, length);
    }
}
