namespace RdpNla.Protocol.Rdp;

/// <summary>The client PDUs of the connection sequence between the MCS Connect Response and the Client Info PDU.</summary>
public enum ClientConnectionPdu
{
    /// <summary>MCS Erect Domain Request (MS-RDPBCGR §2.2.1.5).</summary>
    ErectDomainRequest,

    /// <summary>MCS Attach User Request (MS-RDPBCGR §2.2.1.6).</summary>
    AttachUserRequest,

    /// <summary>MCS Channel Join Request (MS-RDPBCGR §2.2.1.8).</summary>
    ChannelJoinRequest,

    /// <summary>MCS Send Data Request: under TLS or CredSSP the only one before the session is the Client Info PDU (§2.2.1.11).</summary>
    SendDataRequest,
}

/// <summary>
/// Classifies the client's slow-path frames of the connection sequence (MS-RDPBCGR §1.3.1.1: Erect Domain, Attach User,
/// Channel Join, then Client Info) by their T.125 DomainMCSPDU choice, with the exact sizes the PER encoding gives
/// them. Anything else at that point is refused, so that a relay never forwards a frame it did not understand.
/// </summary>
public static class McsDomainPdu
{
    private const string Spec = "MS-RDPBCGR §2.2.1.5-§2.2.1.11 (T.125 PER)";

    // DomainMCSPDU choice indexes (T.125), in the top six bits of the first byte.
    private const int ErectDomainRequestChoice = 1;
    private const int AttachUserRequestChoice = 10;
    private const int ChannelJoinRequestChoice = 14;
    private const int SendDataRequestChoice = 25;

    /// <summary>Classifies one whole TPKT frame sent by the client before its Client Info PDU.</summary>
    /// <exception cref="NlaProtocolException">Not an X.224 Data TPDU carrying one of the four PDUs with its exact size.</exception>
    public static ClientConnectionPdu ClassifyClientFrame(ReadOnlySpan<byte> frame)
    {
        ReadOnlySpan<byte> tpdu = Tpkt.GetPayload(frame);
        if (tpdu.Length < 4 || tpdu[0] != 0x02 || tpdu[1] != 0xF0 || tpdu[2] != 0x80)
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, "MCS domain PDU: not an X.224 Data TPDU (02 F0 80) carrying an MCS PDU.", Spec);
        }

        ReadOnlySpan<byte> mcs = tpdu[3..];
        int choice = mcs[0] >> 2;
        bool clearLowBits = (mcs[0] & 0x03) == 0;
        return choice switch
        {
            // subHeight and subInterval: two PER INTEGERs, each a length byte and 1-4 bytes.
            ErectDomainRequestChoice when clearLowBits && mcs.Length is >= 5 and <= 11 && ValidErectDomain(mcs) => ClientConnectionPdu.ErectDomainRequest,
            AttachUserRequestChoice when clearLowBits && mcs.Length == 1 => ClientConnectionPdu.AttachUserRequest,
            ChannelJoinRequestChoice when clearLowBits && mcs.Length == 5 => ClientConnectionPdu.ChannelJoinRequest,
            SendDataRequestChoice when clearLowBits => ClientConnectionPdu.SendDataRequest,
            ErectDomainRequestChoice or AttachUserRequestChoice or ChannelJoinRequestChoice or SendDataRequestChoice =>
                throw new NlaProtocolException(NlaFailureReason.Malformed, $"MCS domain PDU {choice}: {mcs.Length} bytes or flags 0x{mcs[0] & 0x03:X} do not match its encoding.", Spec),
            _ => throw new NlaProtocolException(NlaFailureReason.UnexpectedMessage, $"MCS domain PDU {choice} is not expected from the client before its Client Info PDU.", Spec),
        };
    }

    private static bool ValidErectDomain(ReadOnlySpan<byte> mcs)
    {
        int position = 1;
        for (int i = 0; i < 2; i++)
        {
            if (position >= mcs.Length)
            {
                return false;
            }

            int length = mcs[position++];
            if (length is < 1 or > 4 || position + length > mcs.Length)
            {
                return false;
            }

            position += length;
        }

        return position == mcs.Length;
    }
}
