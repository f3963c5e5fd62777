namespace RdpNla.Protocol.Ntlm;

/// <summary>NEGOTIATE_MESSAGE (MS-NLMP §2.2.1.1), sent by the client first.</summary>
public sealed class NtlmNegotiateMessage
{
    /// <summary>The NTLM MessageType of a NEGOTIATE_MESSAGE.</summary>
    public const uint MessageType = 1;

    private const string Structure = "NEGOTIATE_MESSAGE";
    private const int HeaderLength = 40;

    /// <summary>NegotiateFlags: the options the client asks for (MS-NLMP §2.2.2.5).</summary>
    public NegotiateFlags Flags { get; init; }

    /// <summary>DomainName (OEM; meaningful with <see cref="NegotiateFlags.OemDomainSupplied"/>); empty when absent.</summary>
    public string DomainName { get; init; } = "";

    /// <summary>Workstation (OEM; meaningful with <see cref="NegotiateFlags.OemWorkstationSupplied"/>); empty when absent.</summary>
    public string Workstation { get; init; } = "";

    /// <summary>Version, when <see cref="NegotiateFlags.Version"/> is set and the message has room for it.</summary>
    public NtlmVersion? Version { get; init; }

    /// <summary>Decodes a NEGOTIATE_MESSAGE. Accepts the short 16- and 32-byte forms of older clients.</summary>
    /// <exception cref="NlaProtocolException">Any malformed input.</exception>
    public static NtlmNegotiateMessage Decode(ReadOnlySpan<byte> source)
    {
        var reader = new WireReader(source, Structure);
        NtlmWire.ReadHeader(ref reader, MessageType, Structure);
        var flags = (NegotiateFlags)reader.ReadUInt32();
        if (source.Length < 32)
        {
            return new NtlmNegotiateMessage { Flags = flags };
        }

        NtlmWire.Field domain = NtlmWire.ReadField(ref reader);
        NtlmWire.Field workstation = NtlmWire.ReadField(ref reader);
        long payloadStart = NtlmWire.LowestPayloadOffset(source.Length, domain, workstation);
        NtlmVersion? version = null;
        if ((flags & NegotiateFlags.Version) != 0 && payloadStart >= HeaderLength && source.Length >= HeaderLength)
        {
            version = NtlmVersion.Decode(source[32..]);
        }

        // MS-NLMP §2.2.1.1: DomainName and Workstation are always OEM in the NEGOTIATE.
        return new NtlmNegotiateMessage
        {
            Flags = flags,
            DomainName = Encoding.Latin1.GetString(NtlmWire.Payload(source, domain, Structure, "DomainName")),
            Workstation = Encoding.Latin1.GetString(NtlmWire.Payload(source, workstation, Structure, "Workstation")),
            Version = version,
        };
    }

    /// <summary>Encodes the message with the 40-byte header (VERSION written as zeros when <see cref="Version"/> is null).</summary>
    /// <exception cref="InvalidOperationException">A field is longer than 65535 bytes.</exception>
    public byte[] Encode()
    {
        byte[] domain = Encoding.Latin1.GetBytes(DomainName);
        byte[] workstation = Encoding.Latin1.GetBytes(Workstation);
        var builder = new NtlmWire.Builder(HeaderLength, MessageType, domain.Length, workstation.Length);
        builder.WriteUInt32(12, (uint)Flags);
        builder.WriteField(16, domain);
        builder.WriteField(24, workstation);
        Version?.WriteTo(builder.Buffer[32..]);
        return builder.ToArray();
    }
}
