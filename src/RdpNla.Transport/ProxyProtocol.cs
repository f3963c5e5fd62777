namespace RdpNla.Transport;

/// <summary>
/// The PROXY protocol header a TCP load balancer puts before the client's bytes (HAProxy PROXY protocol, versions 1
/// and 2), so the server learns the client's real address. Accept it only from trusted proxies: anyone else could
/// forge an address.
/// </summary>
public static class ProxyProtocol
{
    /// <summary>PROXY protocol v1 lines are at most 107 bytes including CRLF.</summary>
    public const int MaxV1Length = 107;

    private const int V2HeaderLength = 16;

    // PROXY protocol v2 §2.2: the 12-byte signature.
    private static ReadOnlySpan<byte> V2Signature => [0x0D, 0x0A, 0x0D, 0x0A, 0x00, 0x0D, 0x0A, 0x51, 0x55, 0x49, 0x54, 0x0A];

    /// <summary>
    /// Reads one PROXY header (v1 or v2) and nothing after it. Returns the client's address, or null when the proxy says
    /// the connection is its own (v1 UNKNOWN, v2 LOCAL) or carries a family other than TCP over IPv4/IPv6.
    /// </summary>
    /// <exception cref="NlaProtocolException">The bytes are not a PROXY protocol header.</exception>
    /// <exception cref="EndOfStreamException">The connection closed inside the header.</exception>
    public static async ValueTask<IPEndPoint?> ReadAsync(Stream stream, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(stream);
        var first = new byte[1];
        await stream.ReadExactlyAsync(first, cancellationToken).ConfigureAwait(false);
        if (first[0] == V2Signature[0])
        {
            var header = new byte[V2HeaderLength];
            header[0] = first[0];
            await stream.ReadExactlyAsync(header.AsMemory(1), cancellationToken).ConfigureAwait(false);
            int length = CheckV2Header(header);
            var body = new byte[length];
            await stream.ReadExactlyAsync(body, cancellationToken).ConfigureAwait(false);
            return DecodeV2Addresses(header, body);
        }

        // v1: "PROXY ...\r\n", read byte by byte so nothing after the CRLF is consumed.
        var line = new byte[MaxV1Length];
        line[0] = first[0];
        int count = 1;
        while (count < 2 || line[count - 2] != '\r' || line[count - 1] != '\n')
        {
            if (count == MaxV1Length)
            {
                throw new NlaProtocolException(NlaFailureReason.Malformed, "PROXY protocol v1 line longer than 107 bytes, or not a PROXY header.");
            }

            await stream.ReadExactlyAsync(line.AsMemory(count, 1), cancellationToken).ConfigureAwait(false);
            count++;
        }

        return DecodeV1(line.AsSpan(0, count));
    }

    /// <summary>Decodes a whole v1 line (with CRLF): <c>PROXY TCP4 src dst sport dport\r\n</c> or <c>PROXY UNKNOWN ...\r\n</c>.</summary>
    /// <exception cref="NlaProtocolException">The line is not a valid v1 header.</exception>
    public static IPEndPoint? DecodeV1(ReadOnlySpan<byte> line)
    {
        if (line.Length > MaxV1Length || !line.StartsWith("PROXY "u8) || !line.EndsWith("\r\n"u8))
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, "Not a PROXY protocol v1 line.");
        }

        foreach (byte b in line[..^2])
        {
            if (b is < 0x20 or > 0x7E)
            {
                throw new NlaProtocolException(NlaFailureReason.Malformed, "PROXY protocol v1 line contains a non-printable byte.");
            }
        }

        string[] parts = Encoding.ASCII.GetString(line[..^2]).Split(' ');
        if (parts.Length >= 2 && parts[1] == "UNKNOWN")
        {
            return null;
        }

        if (parts.Length != 6 || parts[1] is not ("TCP4" or "TCP6")
            || !IPAddress.TryParse(parts[2], out IPAddress? source)
            || !IPAddress.TryParse(parts[3], out _)
            || !ushort.TryParse(parts[4], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out ushort port)
            || !ushort.TryParse(parts[5], System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out _)
            || (parts[1] == "TCP4") != (source.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork))
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, "PROXY protocol v1 line is not 'PROXY TCP4|TCP6 source destination sport dport'.");
        }

        return new IPEndPoint(source, port);
    }

    /// <summary>Checks the 16-byte v2 header; returns the length of the address block that follows.</summary>
    /// <exception cref="NlaProtocolException">Not a v2 header, or a length above 536 bytes.</exception>
    public static int CheckV2Header(ReadOnlySpan<byte> header)
    {
        if (header.Length < V2HeaderLength || !header.StartsWith(V2Signature) || (header[12] >> 4) != 2 || (header[12] & 0x0F) > 1)
        {
            throw new NlaProtocolException(NlaFailureReason.Malformed, "Not a PROXY protocol v2 header.");
        }

        int length = BinaryPrimitives.ReadUInt16BigEndian(header[14..]);

        // The largest address block (AF_UNIX, 216 bytes) plus reasonable TLVs; bound it before allocating.
        return length > 536 ? throw new NlaProtocolException(NlaFailureReason.MessageTooLarge, $"PROXY protocol v2 announces {length} bytes of addresses.") : length;
    }

    /// <summary>Decodes the v2 address block for the header's command and family.</summary>
    /// <exception cref="NlaProtocolException">The header is not a v2 header (as <see cref="CheckV2Header"/> checks), or the block is too short for its family.</exception>
    public static IPEndPoint? DecodeV2Addresses(ReadOnlySpan<byte> header, ReadOnlySpan<byte> body)
    {
        _ = CheckV2Header(header);
        if ((header[12] & 0x0F) == 0)
        {
            return null; // LOCAL: the proxy's own connection (health check).
        }

        switch (header[13])
        {
            case 0x11: // TCP over IPv4
                if (body.Length < 12)
                {
                    throw new NlaProtocolException(NlaFailureReason.Malformed, "PROXY protocol v2 TCP4 address block is shorter than 12 bytes.");
                }

                return new IPEndPoint(new IPAddress(body[..4]), BinaryPrimitives.ReadUInt16BigEndian(body[8..]));
            case 0x21: // TCP over IPv6
                if (body.Length < 36)
                {
                    throw new NlaProtocolException(NlaFailureReason.Malformed, "PROXY protocol v2 TCP6 address block is shorter than 36 bytes.");
                }

                return new IPEndPoint(new IPAddress(body[..16]), BinaryPrimitives.ReadUInt16BigEndian(body[32..]));
            default:
                return null;
        }
    }
}
