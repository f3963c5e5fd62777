namespace RdpNla.Gssapi;

/// <summary>
/// Lists the principals of a keytab file, to pick the default service principal and to explain problems. Reads only the
/// names (MIT krb5 "keytab.txt" file format, version 0x0502: big-endian records of counted strings); the keys stay with
/// the GSSAPI library, which alone decrypts tickets.
/// </summary>
public static class KeytabFile
{
    private const int MaxFileSize = 16 * 1024 * 1024;

    /// <summary>The distinct principals (<c>name/instance@REALM</c>) in file order, each with its highest key version.</summary>
    /// <exception cref="InvalidDataException">The file is not a version 0x0502 keytab or is truncated.</exception>
    /// <exception cref="IOException">The file cannot be read.</exception>
    public static IReadOnlyList<(string Principal, uint KeyVersion)> ReadPrincipals(string path)
    {
        var info = new FileInfo(path);
        if (info.Length > MaxFileSize)
        {
            throw new InvalidDataException($"{path} is larger than {MaxFileSize} bytes; it is not a keytab.");
        }

        ReadOnlySpan<byte> file = File.ReadAllBytes(path);
        if (file.Length < 2 || BinaryPrimitives.ReadUInt16BigEndian(file) != 0x0502)
        {
            throw new InvalidDataException($"{path} is not a keytab (version 0x0502 expected).");
        }

        var principals = new List<(string Principal, uint KeyVersion)>();
        int offset = 2;
        while (offset + 4 <= file.Length)
        {
            int size = BinaryPrimitives.ReadInt32BigEndian(file[offset..]);
            offset += 4;
            if (size < 0)
            {
                offset += checked(-size);
                continue;
            }

            if (size == 0 || size > file.Length - offset)
            {
                break;
            }

            ReadOnlySpan<byte> entry = file.Slice(offset, size);
            offset += size;
            (string principal, uint version) = ReadEntry(entry, path);
            int existing = principals.FindIndex(p => p.Principal == principal);
            if (existing < 0)
            {
                principals.Add((principal, version));
            }
            else if (principals[existing].KeyVersion < version)
            {
                principals[existing] = (principal, version);
            }
        }

        return principals;
    }

    /// <summary>The principal a server uses by default: the first <c>TERMSRV/…</c> one, else the first; null for an empty keytab.</summary>
    public static string? DefaultServicePrincipal(string path)
    {
        IReadOnlyList<(string Principal, uint KeyVersion)> principals = ReadPrincipals(path);
        return principals.FirstOrDefault(p => p.Principal.StartsWith("TERMSRV/", StringComparison.OrdinalIgnoreCase)).Principal
            ?? principals.FirstOrDefault().Principal;
    }

    private static (string Principal, uint KeyVersion) ReadEntry(ReadOnlySpan<byte> entry, string path)
    {
        int offset = 0;
        ushort components = ReadUInt16(entry, ref offset, path);
        string realm = ReadString(entry, ref offset, path);
        var names = new string[components];
        for (int i = 0; i < components; i++)
        {
            names[i] = ReadString(entry, ref offset, path);
        }

        offset += 4 + 4; // name type, timestamp
        uint version = offset < entry.Length ? entry[offset] : 0u;
        offset += 1;
        _ = ReadUInt16(entry, ref offset, path); // key type
        _ = ReadString(entry, ref offset, path, skip: true);
        if (offset + 4 <= entry.Length)
        {
            // The 32-bit key version, when present and non-zero, supersedes the 8-bit one.
            uint version32 = BinaryPrimitives.ReadUInt32BigEndian(entry[offset..]);
            version = version32 != 0 ? version32 : version;
        }

        return (string.Join('/', names) + "@" + realm, version);
    }

    private static ushort ReadUInt16(ReadOnlySpan<byte> entry, ref int offset, string path)
    {
        if (offset < 0 || offset + 2 > entry.Length)
        {
            throw new InvalidDataException($"{path}: truncated keytab entry.");
        }

        ushort value = BinaryPrimitives.ReadUInt16BigEndian(entry[offset..]);
        offset += 2;
        return value;
    }

    private static string ReadString(ReadOnlySpan<byte> entry, ref int offset, string path, bool skip = false)
    {
        int length = ReadUInt16(entry, ref offset, path);
        if (offset + length > entry.Length)
        {
            throw new InvalidDataException($"{path}: truncated keytab entry.");
        }

        string text = skip ? string.Empty : Encoding.UTF8.GetString(entry.Slice(offset, length));
        offset += length;
        return text;
    }
}
