namespace RdpNla.Protocol.Ntlm;

/// <summary>
/// VERSION (MS-NLMP §2.2.2.10): the sender's OS version, informational only (never branch on it).
/// The three reserved bytes are written as zero and ignored when read.
/// </summary>
/// <param name="ProductMajorVersion">Major OS version, e.g. 10.</param>
/// <param name="ProductMinorVersion">Minor OS version, e.g. 0.</param>
/// <param name="ProductBuild">OS build number, e.g. 17763.</param>
/// <param name="NtlmRevisionCurrent">NTLMSSP revision; 0x0F (NTLMSSP_REVISION_W2K3) in practice.</param>
public readonly record struct NtlmVersion(
    byte ProductMajorVersion,
    byte ProductMinorVersion,
    ushort ProductBuild,
    byte NtlmRevisionCurrent = NtlmVersion.RevisionW2K3)
{
    /// <summary>The encoded size of a VERSION structure.</summary>
    public const int Size = 8;

    /// <summary>NTLMSSP_REVISION_W2K3.</summary>
    public const byte RevisionW2K3 = 0x0F;

    /// <summary>A plausible default: Windows Server 2019 (10.0.17763), revision 15.</summary>
    public static NtlmVersion Default => new(10, 0, 17763);

    /// <summary>Reads a VERSION from the first 8 bytes of <paramref name="source"/>.</summary>
    /// <exception cref="NlaProtocolException">Fewer than 8 bytes.</exception>
    public static NtlmVersion Decode(ReadOnlySpan<byte> source)
    {
        if (source.Length < Size)
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, "VERSION is truncated.", "MS-NLMP §2.2.2.10");
        }

        return new NtlmVersion(source[0], source[1], BinaryPrimitives.ReadUInt16LittleEndian(source[2..]), source[7]);
    }

    /// <summary>Writes the 8-byte VERSION into <paramref name="destination"/>.</summary>
    public void WriteTo(Span<byte> destination)
    {
        destination[0] = ProductMajorVersion;
        destination[1] = ProductMinorVersion;
        BinaryPrimitives.WriteUInt16LittleEndian(destination[2..], ProductBuild);
        destination[4] = 0;
        destination[5] = 0;
        destination[6] = 0;
        destination[7] = NtlmRevisionCurrent;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{ProductMajorVersion}.{ProductMinorVersion}.{ProductBuild} (NTLM revision {NtlmRevisionCurrent})";
}
