namespace RdpNla.Protocol.Ntlm;

/// <summary>CHALLENGE_MESSAGE (MS-NLMP §2.2.1.2), the server's answer to the NEGOTIATE.</summary>
public sealed class NtlmChallengeMessage
{
    /// <summary>The NTLM MessageType of a CHALLENGE_MESSAGE.</summary>
    public const uint MessageType = 2;

    /// <summary>The size of ServerChallenge.</summary>
    public const int ServerChallengeSize = 8;

    private const string Structure = "CHALLENGE_MESSAGE";
    private const int MinimumLength = 48;
    private const int HeaderLength = 56;

    private readonly byte[] _serverChallenge = new byte[ServerChallengeSize];

    /// <summary>NegotiateFlags: the options the server chose from the client's NEGOTIATE (MS-NLMP §2.2.2.5).</summary>
    public NegotiateFlags Flags { get; init; }

    /// <summary>TargetName (UTF-16 with <see cref="NegotiateFlags.Unicode"/>, else OEM); empty when absent.</summary>
    public string TargetName { get; init; } = "";

    /// <summary>The 8-byte ServerChallenge nonce.</summary>
    /// <exception cref="ArgumentException">Not 8 bytes (on init).</exception>
    public ReadOnlyMemory<byte> ServerChallenge
    {
        get => _serverChallenge;
        init
        {
            if (value.Length != ServerChallengeSize)
            {
                throw new ArgumentException("ServerChallenge has 8 bytes.", nameof(value));
            }

            value.CopyTo(_serverChallenge);
        }
    }

    /// <summary>TargetInfo (the server's AV pairs), or null when the message has none.</summary>
    public AvPairList? TargetInfo { get; init; }

    /// <summary>Version, when <see cref="NegotiateFlags.Version"/> is set and the message has room for it.</summary>
    public NtlmVersion? Version { get; init; }

    /// <summary>Decodes a CHALLENGE_MESSAGE.</summary>
    /// <exception cref="NlaProtocolException">Any malformed input.</exception>
    public static NtlmChallengeMessage Decode(ReadOnlySpan<byte> source)
    {
        WireReader reader = NtlmWire.ReadHeader(source, MessageType, Structure, MinimumLength, "MS-NLMP §2.2.1.2");

        NtlmWire.Field targetName = NtlmWire.ReadField(ref reader);
        var flags = (NegotiateFlags)reader.ReadUInt32();
        ReadOnlySpan<byte> serverChallenge = reader.ReadBytes(ServerChallengeSize);
        reader.Skip(8);
        NtlmWire.Field targetInfo = NtlmWire.ReadField(ref reader);

        long payloadStart = NtlmWire.LowestPayloadOffset(source.Length, targetName, targetInfo);
        NtlmVersion? version = null;
        if ((flags & NegotiateFlags.Version) != 0 && payloadStart >= HeaderLength && source.Length >= HeaderLength)
        {
            version = NtlmVersion.Decode(source[MinimumLength..]);
        }

        ReadOnlySpan<byte> targetInfoBytes = NtlmWire.Payload(source, targetInfo, Structure, "TargetInfo");
        return new NtlmChallengeMessage
        {
            Flags = flags,
            TargetName = NtlmWire.DecodeString(NtlmWire.Payload(source, targetName, Structure, "TargetName"), flags, $"{Structure}.TargetName"),
            ServerChallenge = serverChallenge.ToArray(),
            TargetInfo = targetInfoBytes.IsEmpty ? null : AvPairList.Decode(targetInfoBytes),
            Version = version,
        };
    }

    /// <summary>Encodes the message with the 56-byte header; payload order TargetName, TargetInfo (as Windows does).</summary>
    /// <exception cref="InvalidOperationException">A field is longer than 65535 bytes.</exception>
    public byte[] Encode()
    {
        byte[] targetName = NtlmWire.EncodeString(TargetName, Flags);
        byte[] targetInfo = TargetInfo?.Encode() ?? [];
        var builder = new NtlmWire.Builder(HeaderLength, MessageType, targetName.Length, targetInfo.Length);
        builder.WriteField(12, targetName);
        builder.WriteUInt32(20, (uint)Flags);
        _serverChallenge.CopyTo(builder.Buffer[24..]);
        builder.WriteField(40, targetInfo);
        Version?.WriteTo(builder.Buffer[MinimumLength..]);
        return builder.ToArray();
    }
}
