namespace RdpNla.Protocol.Ntlm;

/// <summary>AUTHENTICATE_MESSAGE (MS-NLMP §2.2.1.3), the client's proof.</summary>
public sealed class NtlmAuthenticateMessage
{
    /// <summary>The NTLM MessageType of an AUTHENTICATE_MESSAGE.</summary>
    public const uint MessageType = 3;

    /// <summary>Where the MIC sits in the message when it is present.</summary>
    internal const int MicFieldOffset = 72;

    /// <summary>The size of the MIC.</summary>
    public const int MicSize = 16;

    private const string Structure = "AUTHENTICATE_MESSAGE";
    private const int MinimumLength = 64;
    private const int HeaderLengthWithoutMic = 72;

    private readonly byte[]? _mic;

    /// <summary>NegotiateFlags: the options the client settled on, a subset of the CHALLENGE's (MS-NLMP §2.2.2.5).</summary>
    public NegotiateFlags Flags { get; init; }

    /// <summary>LmChallengeResponse (LMv2: 24 bytes, or Z(24) when the client sends a MIC).</summary>
    public ReadOnlyMemory<byte> LmChallengeResponse { get; init; }

    /// <summary>NtChallengeResponse (NTLMv2: NTProofStr ‖ temp).</summary>
    public ReadOnlyMemory<byte> NtChallengeResponse { get; init; }

    /// <summary>DomainName, as sent.</summary>
    public string DomainName { get; init; } = "";

    /// <summary>UserName, as sent.</summary>
    public string UserName { get; init; } = "";

    /// <summary>Workstation, as sent.</summary>
    public string Workstation { get; init; } = "";

    /// <summary>EncryptedRandomSessionKey (16 bytes with <see cref="NegotiateFlags.KeyExchange"/>), else empty.</summary>
    public ReadOnlyMemory<byte> EncryptedRandomSessionKey { get; init; }

    /// <summary>Version, when <see cref="NegotiateFlags.Version"/> is set and the message has room for it.</summary>
    public NtlmVersion? Version { get; init; }

    /// <summary>The 16-byte MIC, or null when the message has no room for one (an empty value on init means none).</summary>
    /// <exception cref="ArgumentException">Neither empty nor 16 bytes (on init).</exception>
    public ReadOnlyMemory<byte>? Mic
    {
        get
        {
            // Not a conditional expression: "null" would convert to ReadOnlyMemory<byte> through byte[] (an empty, non-null value).
            if (_mic is null)
            {
                return null;
            }

            return _mic;
        }
        init
        {
            if (value is not { Length: > 0 } mic)
            {
                _mic = null;
                return;
            }

            if (mic.Length != MicSize)
            {
                throw new ArgumentException("The MIC has 16 bytes.", nameof(value));
            }

            _mic = mic.ToArray();
        }
    }

    /// <summary>The offset of the MIC in the encoded message, or null when there is none.</summary>
    public int? MicOffset => _mic is null ? null : MicFieldOffset;

    /// <summary>
    /// Decodes an AUTHENTICATE_MESSAGE. The Version field is present when the payload starts at or after offset 72
    /// and the MIC when it starts at or after 88 (clients that omit Version move the payload to 64).
    /// </summary>
    /// <exception cref="NlaProtocolException">Any malformed input.</exception>
    public static NtlmAuthenticateMessage Decode(ReadOnlySpan<byte> source)
    {
        WireReader reader = NtlmWire.ReadHeader(source, MessageType, Structure, MinimumLength, "MS-NLMP §2.2.1.3");

        NtlmWire.Field lm = NtlmWire.ReadField(ref reader);
        NtlmWire.Field nt = NtlmWire.ReadField(ref reader);
        NtlmWire.Field domain = NtlmWire.ReadField(ref reader);
        NtlmWire.Field user = NtlmWire.ReadField(ref reader);
        NtlmWire.Field workstation = NtlmWire.ReadField(ref reader);
        NtlmWire.Field sessionKey = NtlmWire.ReadField(ref reader);
        var flags = (NegotiateFlags)reader.ReadUInt32();

        long payloadStart = NtlmWire.LowestPayloadOffset(source.Length, lm, nt, domain, user, workstation, sessionKey);
        NtlmVersion? version = null;
        if ((flags & NegotiateFlags.Version) != 0 && payloadStart >= HeaderLengthWithoutMic)
        {
            version = NtlmVersion.Decode(source[MinimumLength..]);
        }

        byte[]? mic = null;
        if (payloadStart >= MicFieldOffset + MicSize)
        {
            mic = source.Slice(MicFieldOffset, MicSize).ToArray();
        }

        return new NtlmAuthenticateMessage
        {
            Flags = flags,
            LmChallengeResponse = NtlmWire.Payload(source, lm, Structure, "LmChallengeResponse").ToArray(),
            NtChallengeResponse = NtlmWire.Payload(source, nt, Structure, "NtChallengeResponse").ToArray(),
            DomainName = NtlmWire.DecodeString(NtlmWire.Payload(source, domain, Structure, "DomainName"), flags, $"{Structure}.DomainName"),
            UserName = NtlmWire.DecodeString(NtlmWire.Payload(source, user, Structure, "UserName"), flags, $"{Structure}.UserName"),
            Workstation = NtlmWire.DecodeString(NtlmWire.Payload(source, workstation, Structure, "Workstation"), flags, $"{Structure}.Workstation"),
            EncryptedRandomSessionKey = NtlmWire.Payload(source, sessionKey, Structure, "EncryptedRandomSessionKey").ToArray(),
            Version = version,
            Mic = mic,
        };
    }

    /// <summary>
    /// Encodes the message: 72-byte header (VERSION zeros when <see cref="Version"/> is null), then the MIC when
    /// <see cref="Mic"/> is set, then the payload in Windows order: DomainName, UserName, Workstation,
    /// LmChallengeResponse, NtChallengeResponse, EncryptedRandomSessionKey.
    /// </summary>
    /// <exception cref="InvalidOperationException">A field is longer than 65535 bytes.</exception>
    public byte[] Encode()
    {
        byte[] domain = NtlmWire.EncodeString(DomainName, Flags);
        byte[] user = NtlmWire.EncodeString(UserName, Flags);
        byte[] workstation = NtlmWire.EncodeString(Workstation, Flags);
        int headerLength = _mic is null ? HeaderLengthWithoutMic : HeaderLengthWithoutMic + MicSize;
        var builder = new NtlmWire.Builder(
            headerLength,
            MessageType,
            domain.Length,
            user.Length,
            workstation.Length,
            LmChallengeResponse.Length,
            NtChallengeResponse.Length,
            EncryptedRandomSessionKey.Length);
        builder.WriteField(28, domain);
        builder.WriteField(36, user);
        builder.WriteField(44, workstation);
        builder.WriteField(12, LmChallengeResponse.Span);
        builder.WriteField(20, NtChallengeResponse.Span);
        builder.WriteField(52, EncryptedRandomSessionKey.Span);
        builder.WriteUInt32(60, (uint)Flags);
        Version?.WriteTo(builder.Buffer[MinimumLength..]);
        _mic?.CopyTo(builder.Buffer[MicFieldOffset..]);
        return builder.ToArray();
    }

    /// <summary>
    /// A copy of an encoded AUTHENTICATE with the 16 MIC bytes zeroed, the form the MIC is computed over
    /// (MS-NLMP §3.1.5.1.2). <paramref name="encoded"/> must be the exact bytes as sent or received.
    /// </summary>
    /// <exception cref="ArgumentException">The message is too short to hold a MIC.</exception>
    public static byte[] CopyWithMicZeroed(ReadOnlySpan<byte> encoded)
    {
        if (encoded.Length < MicFieldOffset + MicSize)
        {
            throw new ArgumentException("The message is too short to hold a MIC.", nameof(encoded));
        }

        byte[] copy = encoded.ToArray();
        copy.AsSpan(MicFieldOffset, MicSize).Clear();
        return copy;
    }
}
