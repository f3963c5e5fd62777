namespace RdpNla.Diagnosis;

/// <summary>Bytes a server sent where an RDP answer was expected, as a reader can recognise them.</summary>
public static class ObservedBytes
{
    /// <summary><c>0x48545450 "HTTP" (an HTTP server)</c>: hex, printable text, and a guess at the kind of server.</summary>
    public static string Describe(ReadOnlySpan<byte> bytes)
    {
        string hex = Convert.ToHexString(bytes);
        var text = new StringBuilder();
        foreach (byte b in bytes)
        {
            text.Append(b is >= 0x20 and < 0x7F ? (char)b : '.');
        }

        string guess = bytes.StartsWith("HTTP"u8) ? " (an HTTP server)" : bytes.StartsWith("SSH-"u8) ? " (an SSH server)" : bytes.Length > 0 && bytes[0] == 0x16 ? " (a TLS server)" : "";
        return $"0x{hex} \"{text}\"{guess}";
    }
}
