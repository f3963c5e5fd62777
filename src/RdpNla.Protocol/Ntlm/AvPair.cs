namespace RdpNla.Protocol.Ntlm;

/// <summary>AV_PAIR identifiers (MS-NLMP §2.2.2.1).</summary>
public enum AvId : ushort
{
    /// <summary>MsvAvEOL: end of the list.</summary>
    Eol = 0x0000,

    /// <summary>MsvAvNbComputerName: the server's NetBIOS computer name (UTF-16).</summary>
    NbComputerName = 0x0001,

    /// <summary>MsvAvNbDomainName: the server's NetBIOS domain name (UTF-16).</summary>
    NbDomainName = 0x0002,

    /// <summary>MsvAvDnsComputerName: the server's FQDN (UTF-16).</summary>
    DnsComputerName = 0x0003,

    /// <summary>MsvAvDnsDomainName: the FQDN of the domain (UTF-16).</summary>
    DnsDomainName = 0x0004,

    /// <summary>MsvAvDnsTreeName: the FQDN of the forest (UTF-16).</summary>
    DnsTreeName = 0x0005,

    /// <summary>MsvAvFlags: a 32-bit <see cref="MsvAvFlags"/> value.</summary>
    Flags = 0x0006,

    /// <summary>MsvAvTimestamp: a FILETIME (100 ns ticks since 1601-01-01 UTC).</summary>
    Timestamp = 0x0007,

    /// <summary>MsvAvSingleHost: a 48-byte Single_Host_Data structure.</summary>
    SingleHost = 0x0008,

    /// <summary>MsvAvTargetName: the SPN of the target server (UTF-16), e.g. "TERMSRV/host".</summary>
    TargetName = 0x0009,

    /// <summary>MsvAvChannelBindings: the 16-byte MD5 hash of gss_channel_bindings_struct.</summary>
    ChannelBindings = 0x000A,
}

/// <summary>MsvAvFlags bits (MS-NLMP §2.2.2.1).</summary>
[Flags]
public enum MsvAvFlags : uint
{
    /// <summary>No flag.</summary>
    None = 0,

    /// <summary>0x1: the client's account authentication is constrained.</summary>
    AuthenticationConstrained = 0x00000001,

    /// <summary>0x2: the AUTHENTICATE message carries a MIC.</summary>
    MicPresent = 0x00000002,

    /// <summary>0x4: the MsvAvTargetName came from an untrusted source.</summary>
    TargetSpnFromUntrustedSource = 0x00000004,
}

/// <summary>One AV_PAIR (MS-NLMP §2.2.2.1): an identifier and its raw value.</summary>
public sealed class AvPair
{
    private readonly byte[] _value;

    /// <summary>Creates a pair from a raw value (copied).</summary>
    /// <exception cref="ArgumentOutOfRangeException">The value is longer than 65535 bytes.</exception>
    public AvPair(AvId id, ReadOnlySpan<byte> value)
    {
        ArgumentOutOfRangeException.ThrowIfGreaterThan(value.Length, ushort.MaxValue, nameof(value));
        Id = id;
        _value = value.ToArray();
    }

    /// <summary>AvId: which attribute the pair carries (MS-NLMP §2.2.2.1).</summary>
    public AvId Id { get; }

    /// <summary>The raw value (AvLen bytes).</summary>
    public ReadOnlyMemory<byte> Value => _value;

    /// <summary>A pair whose value is <paramref name="text"/> in UTF-16LE (the names and MsvAvTargetName).</summary>
    public static AvPair FromString(AvId id, string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        return new AvPair(id, Encoding.Unicode.GetBytes(text));
    }

    /// <summary>An MsvAvTimestamp pair holding <paramref name="fileTime"/> (FILETIME, little-endian).</summary>
    public static AvPair FromTimestamp(long fileTime)
    {
        Span<byte> value = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(value, fileTime);
        return new AvPair(AvId.Timestamp, value);
    }

    /// <summary>An MsvAvFlags pair.</summary>
    public static AvPair FromFlags(MsvAvFlags flags)
    {
        Span<byte> value = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32LittleEndian(value, (uint)flags);
        return new AvPair(AvId.Flags, value);
    }

    /// <summary>The value read as a UTF-16LE string.</summary>
    /// <exception cref="NlaProtocolException">The value is not valid UTF-16LE.</exception>
    public string GetString() => NtlmWire.DecodeUnicode(_value, $"AV_PAIR {Id}");

    /// <summary>The value read as a FILETIME (MsvAvTimestamp).</summary>
    /// <exception cref="NlaProtocolException">The value is not 8 bytes long.</exception>
    public long GetTimestamp()
    {
        if (_value.Length != 8)
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, "MsvAvTimestamp is not 8 bytes long.", "MS-NLMP §2.2.2.1");
        }

        return BinaryPrimitives.ReadInt64LittleEndian(_value);
    }

    /// <summary>The value read as <see cref="MsvAvFlags"/>.</summary>
    /// <exception cref="NlaProtocolException">The value is not 4 bytes long.</exception>
    public MsvAvFlags GetFlags()
    {
        if (_value.Length != 4)
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, "MsvAvFlags is not 4 bytes long.", "MS-NLMP §2.2.2.1");
        }

        return (MsvAvFlags)BinaryPrimitives.ReadUInt32LittleEndian(_value);
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Id} ({_value.Length} bytes)";
}

/// <summary>
/// An AV_PAIR list (MS-NLMP §2.2.2.1) without its terminating MsvAvEOL, which <see cref="Encode"/> appends.
/// Each AvId appears at most once (MS-NLMP §2.2.2.1: "An AV_PAIR structure can only appear once").
/// </summary>
public sealed class AvPairList : IReadOnlyList<AvPair>
{
    /// <summary>The most pairs a decoded list may hold; real lists have fewer than 12.</summary>
    public const int MaxPairs = 32;

    private readonly List<AvPair> _pairs = [];

    /// <summary>Creates an empty list.</summary>
    public AvPairList()
    {
    }

    /// <summary>Creates a list holding <paramref name="pairs"/> in order.</summary>
    public AvPairList(IEnumerable<AvPair> pairs)
    {
        ArgumentNullException.ThrowIfNull(pairs);
        foreach (AvPair pair in pairs)
        {
            Set(pair);
        }
    }

    /// <inheritdoc/>
    public int Count => _pairs.Count;

    /// <inheritdoc/>
    public AvPair this[int index] => _pairs[index];

    /// <summary>MsvAvNbComputerName, or null.</summary>
    public string? NbComputerName => GetString(AvId.NbComputerName);

    /// <summary>MsvAvNbDomainName, or null.</summary>
    public string? NbDomainName => GetString(AvId.NbDomainName);

    /// <summary>MsvAvDnsComputerName, or null.</summary>
    public string? DnsComputerName => GetString(AvId.DnsComputerName);

    /// <summary>MsvAvDnsDomainName, or null.</summary>
    public string? DnsDomainName => GetString(AvId.DnsDomainName);

    /// <summary>MsvAvDnsTreeName, or null.</summary>
    public string? DnsTreeName => GetString(AvId.DnsTreeName);

    /// <summary>MsvAvTargetName, or null.</summary>
    public string? TargetName => GetString(AvId.TargetName);

    /// <summary>MsvAvTimestamp (FILETIME), or null.</summary>
    /// <exception cref="NlaProtocolException">The pair has the wrong length.</exception>
    public long? Timestamp => Find(AvId.Timestamp)?.GetTimestamp();

    /// <summary>MsvAvFlags, or null when absent.</summary>
    /// <exception cref="NlaProtocolException">The pair has the wrong length.</exception>
    public MsvAvFlags? Flags => Find(AvId.Flags)?.GetFlags();

    /// <summary>Decodes pairs up to and including MsvAvEOL; bytes after the EOL are ignored (the NTLMv2 blob pads them).</summary>
    /// <exception cref="NlaProtocolException">Truncated, no EOL, a duplicate AvId, or more than <see cref="MaxPairs"/> pairs.</exception>
    public static AvPairList Decode(ReadOnlySpan<byte> source) => Decode(source, out _);

    /// <summary>As <see cref="Decode(ReadOnlySpan{byte})"/>; <paramref name="bytesConsumed"/> is the length up to and including the EOL.</summary>
    /// <exception cref="NlaProtocolException">Truncated, no EOL, a duplicate AvId, or more than <see cref="MaxPairs"/> pairs.</exception>
    public static AvPairList Decode(ReadOnlySpan<byte> source, out int bytesConsumed)
    {
        var list = new AvPairList();
        int position = 0;
        while (true)
        {
            if (source.Length - position < 4)
            {
                throw new NlaProtocolException(NlaFailureReason.Malformed, "AV_PAIR list is truncated or lacks MsvAvEOL.", "MS-NLMP §2.2.2.1");
            }

            var id = (AvId)BinaryPrimitives.ReadUInt16LittleEndian(source[position..]);
            int length = BinaryPrimitives.ReadUInt16LittleEndian(source[(position + 2)..]);
            position += 4;
            if (length > source.Length - position)
            {
                throw new NlaProtocolException(NlaFailureReason.Malformed, $"AV_PAIR {id} runs past the end of the list.", "MS-NLMP §2.2.2.1");
            }

            if (id == AvId.Eol)
            {
                if (length != 0)
                {
                    throw new NlaProtocolException(NlaFailureReason.Malformed, "MsvAvEOL has a non-zero length.", "MS-NLMP §2.2.2.1");
                }

                bytesConsumed = position;
                return list;
            }

            if (list.Count == MaxPairs)
            {
                throw new NlaProtocolException(NlaFailureReason.MessageTooLarge, $"AV_PAIR list has more than {MaxPairs} pairs.", "MS-NLMP §2.2.2.1");
            }

            if (list.Find(id) is not null)
            {
                throw new NlaProtocolException(NlaFailureReason.Malformed, $"AV_PAIR {id} appears twice.", "MS-NLMP §2.2.2.1");
            }

            list._pairs.Add(new AvPair(id, source.Slice(position, length)));
            position += length;
        }
    }

    /// <summary>The encoded size, including the MsvAvEOL.</summary>
    public int GetEncodedLength()
    {
        int length = 4;
        foreach (AvPair pair in _pairs)
        {
            length += 4 + pair.Value.Length;
        }

        return length;
    }

    /// <summary>Encodes the pairs followed by MsvAvEOL.</summary>
    public byte[] Encode()
    {
        var output = new byte[GetEncodedLength()];
        int position = 0;
        foreach (AvPair pair in _pairs)
        {
            BinaryPrimitives.WriteUInt16LittleEndian(output.AsSpan(position), (ushort)pair.Id);
            BinaryPrimitives.WriteUInt16LittleEndian(output.AsSpan(position + 2), (ushort)pair.Value.Length);
            pair.Value.Span.CopyTo(output.AsSpan(position + 4));
            position += 4 + pair.Value.Length;
        }

        // The trailing 4 bytes stay zero: MsvAvEOL with AvLen 0.
        return output;
    }

    /// <summary>The pair with <paramref name="id"/>, or null.</summary>
    public AvPair? Find(AvId id)
    {
        foreach (AvPair pair in _pairs)
        {
            if (pair.Id == id)
            {
                return pair;
            }
        }

        return null;
    }

    /// <summary>The pair's value as UTF-16LE, or null when absent.</summary>
    /// <exception cref="NlaProtocolException">The value is not valid UTF-16LE.</exception>
    public string? GetString(AvId id) => Find(id)?.GetString();

    /// <summary>Replaces the pair with the same AvId in place, or appends it.</summary>
    /// <exception cref="ArgumentException">The pair is MsvAvEOL (the list adds it when encoding).</exception>
    public void Set(AvPair pair)
    {
        ArgumentNullException.ThrowIfNull(pair);
        if (pair.Id == AvId.Eol)
        {
            throw new ArgumentException("MsvAvEOL is written by Encode, not stored in the list.", nameof(pair));
        }

        int index = _pairs.FindIndex(p => p.Id == pair.Id);
        if (index >= 0)
        {
            _pairs[index] = pair;
        }
        else
        {
            _pairs.Add(pair);
        }
    }

    /// <summary>Removes the pair with <paramref name="id"/>; returns whether it was there.</summary>
    public bool Remove(AvId id) => _pairs.RemoveAll(p => p.Id == id) > 0;

    /// <inheritdoc/>
    public IEnumerator<AvPair> GetEnumerator() => _pairs.GetEnumerator();

    System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();
}
