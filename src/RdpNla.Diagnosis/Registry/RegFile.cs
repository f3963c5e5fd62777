namespace RdpNla.Diagnosis.Registry;

/// <summary>The header of a .reg file.</summary>
public enum RegFormat
{
    /// <summary>"Windows Registry Editor Version 5.00": strings in hex(2)/hex(7) are UTF-16LE.</summary>
    Version5,

    /// <summary>"REGEDIT4": strings in hex(2)/hex(7) are ANSI.</summary>
    Regedit4,
}

/// <summary>The type of a value line.</summary>
public enum RegValueKind
{
    /// <summary><c>"name"="text"</c> or <c>hex(1):</c>.</summary>
    String,

    /// <summary><c>hex(2):</c> REG_EXPAND_SZ.</summary>
    ExpandString,

    /// <summary><c>hex(7):</c> REG_MULTI_SZ.</summary>
    MultiString,

    /// <summary><c>dword:</c> or <c>hex(4):</c>.</summary>
    DWord,

    /// <summary><c>hex(b):</c> REG_QWORD.</summary>
    QWord,

    /// <summary><c>hex:</c> or <c>hex(3):</c> REG_BINARY.</summary>
    Binary,

    /// <summary>Any other <c>hex(N):</c>.</summary>
    Other,

    /// <summary><c>"name"=-</c>: delete the value.</summary>
    Delete,
}

/// <summary>One value line.</summary>
public sealed record RegValue(string Key, string? Name, RegValueKind Kind, int Line)
{
    /// <summary>The registry type code (1 REG_SZ, 2 REG_EXPAND_SZ, 3 REG_BINARY, 4 REG_DWORD, 7 REG_MULTI_SZ, 11 REG_QWORD).</summary>
    public int TypeCode { get; init; }

    /// <summary>The file this line is in, when several exports are read as one (<see cref="RegFile.Parse(IReadOnlyList{ValueTuple{string, string}})"/>).</summary>
    public string? File { get; init; }

    /// <summary>REG_SZ / REG_EXPAND_SZ text.</summary>
    public string? Text { get; init; }

    /// <summary>REG_MULTI_SZ strings.</summary>
    public IReadOnlyList<string>? Strings { get; init; }

    /// <summary>REG_DWORD / REG_QWORD number.</summary>
    public ulong? Number { get; init; }

    /// <summary>The raw bytes of hex values.</summary>
    public IReadOnlyList<byte> Bytes { get; init; } = [];

    /// <summary>The value as one display string.</summary>
    public string Display => Kind switch
    {
        RegValueKind.DWord or RegValueKind.QWord => Number!.Value.ToString(CultureInfo.InvariantCulture),
        RegValueKind.MultiString => string.Join(", ", Strings!),
        RegValueKind.String or RegValueKind.ExpandString => Text!,
        RegValueKind.Delete => "(deleted)",
        _ => Convert.ToHexString([.. Bytes]),
    };
}

/// <summary>A .reg file line that cannot be read: <see cref="Exception.Message"/> names the file, the line and what is wrong.</summary>
public sealed class RegFileException : Exception
{
    public RegFileException()
    {
        Source = string.Empty;
        Problem = string.Empty;
    }

    public RegFileException(string message)
        : base(message)
    {
        Source = string.Empty;
        Problem = message;
    }

    public RegFileException(string message, Exception innerException)
        : base(message, innerException)
    {
        Source = string.Empty;
        Problem = message;
    }

    public RegFileException(string source, int line, string problem)
        : base($"{source} line {line}: {problem}")
    {
        Source = source;
        LineNumber = line;
        Problem = problem;
    }

    /// <summary>1-based line number.</summary>
    public int LineNumber { get; }

    /// <summary>What is wrong, without the location.</summary>
    public string Problem { get; }
}

/// <summary>
/// A parsed <c>reg export</c> / regedit export file: UTF-16LE with BOM (as Windows writes it), UTF-8 or ASCII;
/// header "Windows Registry Editor Version 5.00" or "REGEDIT4"; keys, key deletions, and values of every type.
/// Several exports concatenated into one file (repeated headers, a BOM in the middle) are accepted.
/// </summary>
public sealed class RegFile
{
    private static readonly string[] s_roots = ["HKEY_LOCAL_MACHINE", "HKEY_CURRENT_USER", "HKEY_CLASSES_ROOT", "HKEY_USERS", "HKEY_CURRENT_CONFIG"];
    private const string HeaderV5 = "Windows Registry Editor Version 5.00";
    private const string HeaderV4 = "REGEDIT4";

    private readonly Dictionary<string, Dictionary<string, RegValue>> _state;

    private RegFile(string source, RegFormat format, IReadOnlyList<RegValue> lines, IReadOnlyList<string> keys, Dictionary<string, Dictionary<string, RegValue>> state)
    {
        Source = source;
        Format = format;
        Values = lines;
        KeyPaths = keys;
        _state = state;
    }

    /// <summary>The name used in messages (usually the file name).</summary>
    public string Source { get; }

    /// <summary>The header of the (first) export.</summary>
    public RegFormat Format { get; }

    /// <summary>Every value line in file order (including deletions).</summary>
    public IReadOnlyList<RegValue> Values { get; }

    /// <summary>Every key header in file order (as written, deletions prefixed with '-').</summary>
    public IReadOnlyList<string> KeyPaths { get; }

    /// <summary>Whether the key is present after applying the file (written and not deleted).</summary>
    public bool HasKey(string keyPath) => _state.ContainsKey(NormalizeKey(keyPath));

    /// <summary>The value after applying the whole file in order; null when absent or deleted. <paramref name="name"/> null = default value (@).</summary>
    public RegValue? Find(string keyPath, string? name) =>
        _state.TryGetValue(NormalizeKey(keyPath), out Dictionary<string, RegValue>? values) && values.TryGetValue(NormalizeName(name), out RegValue? value)
            ? value
            : null;

    /// <summary>Reads a file's bytes, detecting UTF-16LE/BE (BOM, or zero high bytes without one) and UTF-8.</summary>
    /// <exception cref="RegFileException">The file is not a valid .reg export.</exception>
    public static RegFile Parse(ReadOnlySpan<byte> bytes, string source) => Parse(Decode(bytes), source);

    /// <summary>Decodes a file's bytes: UTF-16LE/BE by BOM (or by zero high bytes without one), otherwise UTF-8.</summary>
    public static string Decode(ReadOnlySpan<byte> bytes)
    {
        string text;
        if (bytes.StartsWith((ReadOnlySpan<byte>)[0xFF, 0xFE]))
        {
            text = Encoding.Unicode.GetString(bytes[2..]);
        }
        else if (bytes.StartsWith((ReadOnlySpan<byte>)[0xFE, 0xFF]))
        {
            text = Encoding.BigEndianUnicode.GetString(bytes[2..]);
        }
        else if (bytes.StartsWith((ReadOnlySpan<byte>)[0xEF, 0xBB, 0xBF]))
        {
            text = Encoding.UTF8.GetString(bytes[3..]);
        }
        else if (bytes.Length >= 2 && bytes[0] != 0 && bytes[1] == 0)
        {
            text = Encoding.Unicode.GetString(bytes);
        }
        else
        {
            text = Encoding.UTF8.GetString(bytes);
        }

        return text;
    }

    /// <summary>Parses decoded text.</summary>
    /// <exception cref="RegFileException">The text is not a valid .reg export.</exception>
    public static RegFile Parse(string text, string source)
    {
        ArgumentNullException.ThrowIfNull(text);
        ArgumentNullException.ThrowIfNull(source);
        return Parse(SplitLines(text), i => (source, i + 1), source);
    }

    /// <summary>
    /// Parses several exports of one machine as one, in order (a later value wins, as importing them in turn would);
    /// messages and <see cref="RegValue.File"/> name each line's own file and line.
    /// </summary>
    /// <exception cref="RegFileException">A part is not a valid .reg export.</exception>
    public static RegFile Parse(IReadOnlyList<(string Text, string Source)> parts)
    {
        ArgumentNullException.ThrowIfNull(parts);
        var lines = new List<string>();
        var origins = new List<(string Source, int Line)>();
        foreach ((string text, string source) in parts)
        {
            string[] partLines = SplitLines(text);
            for (int i = 0; i < partLines.Length; i++)
            {
                lines.Add(partLines[i]);
                origins.Add((source, i + 1));
            }
        }

        return Parse([.. lines], i => i < origins.Count ? origins[i] : origins[^1], string.Join("+", parts.Select(p => p.Source)));
    }

    private static string[] SplitLines(string text) => text.Split(["\r\n", "\n", "\r"], StringSplitOptions.None);

    private static RegFile Parse(string[] lines, Func<int, (string Source, int Line)> at, string source)
    {
        RegFormat? format = null;
        string? currentKey = null;
        bool currentDeleted = false;
        var values = new List<RegValue>();
        var keys = new List<string>();
        var state = new Dictionary<string, Dictionary<string, RegValue>>(StringComparer.Ordinal);

        for (int i = 0; i < lines.Length; i++)
        {
            (string lineSource, int lineNumber) = at(i);
            string line = lines[i].Trim().TrimStart('\uFEFF').Trim();
            if (line.Length == 0 || line[0] == ';')
            {
                continue;
            }

            if (line == HeaderV5 || line == HeaderV4)
            {
                format ??= line == HeaderV5 ? RegFormat.Version5 : RegFormat.Regedit4;
                currentKey = null;
                continue;
            }

            if (format is null)
            {
                throw new RegFileException(lineSource, lineNumber, $"expected the header \"{HeaderV5}\" (or \"{HeaderV4}\") before anything else, found \"{Shorten(line)}\"; is this a file written by reg export or regedit?");
            }

            if (line[0] == '[')
            {
                if (line[^1] != ']')
                {
                    throw new RegFileException(lineSource, lineNumber, $"key line \"{Shorten(line)}\" does not end with ']'");
                }

                string path = line[1..^1];
                bool deleted = path.StartsWith('-');
                if (deleted)
                {
                    path = path[1..];
                }

                string root = path.Split('\\')[0];
                if (!s_roots.Contains(root, StringComparer.OrdinalIgnoreCase))
                {
                    throw new RegFileException(lineSource, lineNumber, $"key \"{Shorten(path)}\" does not start with a registry root (HKEY_LOCAL_MACHINE, HKEY_CURRENT_USER, HKEY_CLASSES_ROOT, HKEY_USERS, HKEY_CURRENT_CONFIG)");
                }

                if (path.EndsWith('\\') || path.Contains("\\\\", StringComparison.Ordinal))
                {
                    throw new RegFileException(lineSource, lineNumber, $"key \"{Shorten(path)}\" has an empty component");
                }

                keys.Add(deleted ? "-" + path : path);
                string normalized = NormalizeKey(path);
                if (deleted)
                {
                    foreach (string existing in state.Keys.Where(k => k == normalized || k.StartsWith(normalized + "\\", StringComparison.Ordinal)).ToList())
                    {
                        state.Remove(existing);
                    }
                }
                else
                {
                    state.TryAdd(normalized, new Dictionary<string, RegValue>(StringComparer.Ordinal));
                }

                currentKey = path;
                currentDeleted = deleted;
                continue;
            }

            if (line[0] is not ('"' or '@'))
            {
                throw new RegFileException(lineSource, lineNumber, $"unrecognised line \"{Shorten(line)}\": expected [KEY], \"name\"=value, @=value or a ; comment");
            }

            if (currentKey is null)
            {
                throw new RegFileException(lineSource, lineNumber, "a value line before any [KEY] line");
            }

            if (currentDeleted)
            {
                throw new RegFileException(lineSource, lineNumber, $"a value line under the deleted key [-{Shorten(currentKey)}]");
            }

            // Name.
            int position;
            string? name;
            if (line[0] == '@')
            {
                name = null;
                position = 1;
            }
            else
            {
                name = ReadQuoted(line, 0, out position, lineSource, lineNumber, "value name");
            }

            while (position < line.Length && char.IsWhiteSpace(line[position]))
            {
                position++;
            }

            if (position >= line.Length || line[position] != '=')
            {
                throw new RegFileException(lineSource, lineNumber, $"expected '=' after the value name {(name is null ? "@" : $"\"{name}\"")}");
            }

            string data = line[(position + 1)..].TrimStart();

            // hex data may continue on the following lines (a trailing backslash).
            if (data.StartsWith("hex", StringComparison.OrdinalIgnoreCase))
            {
                var joined = new StringBuilder(data);
                while (joined.Length > 0 && joined[^1] == '\\')
                {
                    joined.Length--;
                    i++;
                    if (i >= lines.Length || lines[i].Trim().Length == 0)
                    {
                        throw new RegFileException(lineSource, lineNumber, i >= lines.Length || i == lines.Length - 1
                            ? "hex data ends with '\\' (continued) but the file ends"
                            : $"hex data ends with '\\' (continued) but line {at(i).Line} is empty");
                    }

                    joined.Append(lines[i].Trim());
                }

                data = joined.ToString();
            }

            RegValue value = ParseData(currentKey, name, data, format.Value, lineSource, lineNumber) with { File = lineSource };
            values.Add(value);
            Dictionary<string, RegValue> keyValues = state[NormalizeKey(currentKey)];
            if (value.Kind == RegValueKind.Delete)
            {
                keyValues.Remove(NormalizeName(name));
            }
            else
            {
                keyValues[NormalizeName(name)] = value;
            }
        }

        if (format is null)
        {
            throw new RegFileException(source, 1, $"the file is empty: expected the header \"{HeaderV5}\"");
        }

        return new RegFile(source, format.Value, values, keys, state);
    }

    private static RegValue ParseData(string key, string? name, string data, RegFormat format, string source, int line)
    {
        string what = name is null ? "@" : $"\"{name}\"";
        if (data == "-")
        {
            return new RegValue(key, name, RegValueKind.Delete, line);
        }

        if (data.StartsWith('"'))
        {
            string text = ReadQuoted(data, 0, out int end, source, line, $"string of {what}");
            if (data[end..].Trim().Length != 0)
            {
                throw new RegFileException(source, line, $"unexpected text \"{Shorten(data[end..].Trim())}\" after the string of {what}");
            }

            return new RegValue(key, name, RegValueKind.String, line) { TypeCode = 1, Text = text };
        }

        if (data.StartsWith("dword:", StringComparison.OrdinalIgnoreCase))
        {
            string digits = data[6..].Trim();
            if (digits.Length is 0 or > 8 || !uint.TryParse(digits, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out uint number))
            {
                throw new RegFileException(source, line, $"dword of {what} must be 1 to 8 hexadecimal digits (e.g. dword:00000001), found \"{Shorten(digits)}\"");
            }

            return new RegValue(key, name, RegValueKind.DWord, line) { TypeCode = 4, Number = number };
        }

        int typeCode;
        string hexList;
        if (data.StartsWith("hex:", StringComparison.OrdinalIgnoreCase))
        {
            typeCode = 3;
            hexList = data[4..];
        }
        else if (data.StartsWith("hex(", StringComparison.OrdinalIgnoreCase) && data.IndexOf("):", StringComparison.Ordinal) is int close and > 4)
        {
            string code = data[4..close];
            if (!int.TryParse(code, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out typeCode))
            {
                throw new RegFileException(source, line, $"hex(...) type of {what} must be a hexadecimal number, found \"{Shorten(code)}\"");
            }

            hexList = data[(close + 2)..];
        }
        else
        {
            throw new RegFileException(source, line, $"unknown data for {what}: \"{Shorten(data)}\" (expected \"string\", dword:, hex:, hex(N): or -)");
        }

        byte[] bytes = ParseHexList(hexList, source, line, what);
        Encoding encoding = format == RegFormat.Version5 ? Encoding.Unicode : Encoding.Latin1;
        switch (typeCode)
        {
            case 1:
            case 2:
                RequireEven(bytes, format, source, line, what);
                return new RegValue(key, name, typeCode == 1 ? RegValueKind.String : RegValueKind.ExpandString, line) { TypeCode = typeCode, Bytes = bytes, Text = encoding.GetString(bytes).Split('\0')[0] };
            case 7:
                RequireEven(bytes, format, source, line, what);
                string all = encoding.GetString(bytes);
                var strings = all.Split('\0').ToList();
                while (strings.Count > 0 && strings[^1].Length == 0)
                {
                    strings.RemoveAt(strings.Count - 1);
                }

                return new RegValue(key, name, RegValueKind.MultiString, line) { TypeCode = 7, Bytes = bytes, Strings = strings };
            case 4:
                if (bytes.Length != 4)
                {
                    throw new RegFileException(source, line, $"hex(4) (REG_DWORD) of {what} must have 4 bytes, found {bytes.Length}");
                }

                return new RegValue(key, name, RegValueKind.DWord, line) { TypeCode = 4, Bytes = bytes, Number = BinaryPrimitives.ReadUInt32LittleEndian(bytes) };
            case 0xB:
                if (bytes.Length != 8)
                {
                    throw new RegFileException(source, line, $"hex(b) (REG_QWORD) of {what} must have 8 bytes, found {bytes.Length}");
                }

                return new RegValue(key, name, RegValueKind.QWord, line) { TypeCode = 11, Bytes = bytes, Number = BinaryPrimitives.ReadUInt64LittleEndian(bytes) };
            case 3:
                return new RegValue(key, name, RegValueKind.Binary, line) { TypeCode = 3, Bytes = bytes };
            default:
                return new RegValue(key, name, RegValueKind.Other, line) { TypeCode = typeCode, Bytes = bytes };
        }
    }

    private static void RequireEven(byte[] bytes, RegFormat format, string source, int line, string what)
    {
        if (format == RegFormat.Version5 && bytes.Length % 2 != 0)
        {
            throw new RegFileException(source, line, $"UTF-16 string data of {what} has an odd number of bytes ({bytes.Length})");
        }
    }

    private static byte[] ParseHexList(string list, string source, int line, string what)
    {
        var bytes = new List<byte>();
        string trimmed = list.Trim();
        if (trimmed.Length == 0)
        {
            return [];
        }

        string[] parts = trimmed.Split(',');
        for (int index = 0; index < parts.Length; index++)
        {
            string part = parts[index].Trim();
            if (part.Length == 0 && index == parts.Length - 1)
            {
                throw new RegFileException(source, line, $"hex data of {what} ends with ',' but does not continue ('\\' missing at the end of the line?)");
            }

            if (part.Length != 2 || !byte.TryParse(part, NumberStyles.AllowHexSpecifier, CultureInfo.InvariantCulture, out byte b))
            {
                throw new RegFileException(source, line, $"hex data of {what}: byte {index + 1} is \"{Shorten(part)}\", expected two hexadecimal digits");
            }

            bytes.Add(b);
        }

        return [.. bytes];
    }

    private static string ReadQuoted(string line, int start, out int end, string source, int lineNumber, string what)
    {
        var builder = new StringBuilder();
        int i = start + 1;
        while (i < line.Length)
        {
            char c = line[i];
            if (c == '"')
            {
                end = i + 1;
                return builder.ToString();
            }

            if (c == '\\')
            {
                if (i + 1 >= line.Length)
                {
                    break;
                }

                char next = line[i + 1];
                if (next is not ('\\' or '"'))
                {
                    throw new RegFileException(source, lineNumber, $"invalid escape \"\\{next}\" in the {what} (only \\\\ and \\\" are allowed)");
                }

                builder.Append(next);
                i += 2;
                continue;
            }

            builder.Append(c);
            i++;
        }

        throw new RegFileException(source, lineNumber, $"the {what} has no closing quote");
    }

    /// <summary>Upper-cases, expands HKLM/HKCU and maps ControlSet00N to CurrentControlSet (exports of either are read alike).</summary>
    internal static string NormalizeKey(string path)
    {
        string upper = path.Trim().ToUpperInvariant();
        if (upper.StartsWith(@"HKLM\", StringComparison.Ordinal))
        {
            upper = @"HKEY_LOCAL_MACHINE\" + upper[5..];
        }
        else if (upper.StartsWith(@"HKCU\", StringComparison.Ordinal))
        {
            upper = @"HKEY_CURRENT_USER\" + upper[5..];
        }

        const string prefix = @"HKEY_LOCAL_MACHINE\SYSTEM\CONTROLSET0";
        if (upper.StartsWith(prefix, StringComparison.Ordinal) && upper.Length >= prefix.Length + 2 && char.IsAsciiDigit(upper[prefix.Length]) && char.IsAsciiDigit(upper[prefix.Length + 1]))
        {
            upper = @"HKEY_LOCAL_MACHINE\SYSTEM\CURRENTCONTROLSET" + upper[(prefix.Length + 2)..];
        }

        return upper;
    }

    private static string NormalizeName(string? name) => name is null ? "@" : "\"" + name.ToUpperInvariant();

    private static string Shorten(string text) => text.Length <= 60 ? text : text[..57] + "...";
}
