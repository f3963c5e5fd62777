namespace RdpNla.Cli.Interaction;

/// <summary>Where a command reads a password from (docs/login.md, "Giving the password").</summary>
public enum PasswordSource
{
    /// <summary>A no-echo prompt on the terminal (<c>-p</c>, and the default when nothing else is given).</summary>
    Prompt,

    /// <summary>The first line of standard input (<c>--password-stdin</c>).</summary>
    Stdin,

    /// <summary>The <c>RDPNLA_PASSWORD</c> environment variable.</summary>
    Environment,
}

/// <summary>
/// Reads a password from a no-echo prompt, standard input or <c>RDPNLA_PASSWORD</c>, never from the command line, and
/// hands it on as an NT hash, UTF-16LE bytes or <see cref="NlaCredentials"/>; its characters are wiped once used.
/// </summary>
public static class PasswordInput
{
    /// <summary>Longest password accepted (the Windows limit for NTLM passwords).</summary>
    public const int MaxPasswordLength = 256;

    /// <summary>The environment variable a password may come from.</summary>
    public const string EnvironmentVariable = "RDPNLA_PASSWORD";

    private delegate T PasswordTransform<T>(ReadOnlySpan<char> password);

    /// <summary>Reads a new password (typed twice at a prompt, never empty) and returns its NT hash (16 bytes; the caller wipes it).</summary>
    /// <param name="console">Where to read from.</param>
    /// <param name="prompt">Where prompts go (standard error, so standard output stays clean).</param>
    /// <param name="source">Where the password comes from.</param>
    /// <param name="userName">For the prompt.</param>
    /// <param name="commandHint">The command to repeat with --password-stdin, for the error message.</param>
    /// <exception cref="CliException">No password could be read, it is empty or too long, or the two entries differ.</exception>
    public static byte[] ReadNtHash(ICliConsole console, TextWriter prompt, PasswordSource source, string userName, string commandHint) =>
        Read(console, prompt, source, userName, commandHint, newPassword: true, password => NtlmCrypto.NtOwfV1(password));

    /// <summary>Reads a new password and returns it as UTF-16LE bytes (the caller wipes them); for mapped backend credentials.</summary>
    /// <exception cref="CliException">No password could be read, it is empty or too long, or the two entries differ.</exception>
    public static byte[] ReadUtf16(ICliConsole console, TextWriter prompt, PasswordSource source, string userName, string commandHint) =>
        Read(console, prompt, source, userName, commandHint, newPassword: true, password => MemoryMarshal.AsBytes(password).ToArray());

    /// <summary>Reads the password of an existing account (asked once) for a client command; the caller disposes the result.</summary>
    /// <exception cref="CliException">No password could be read, or it is too long.</exception>
    public static NlaCredentials ReadCredentials(ICliConsole console, TextWriter prompt, PasswordSource source, string user, string domain, string commandHint) =>
        Read(console, prompt, source, domain.Length == 0 ? user : $"{domain}\\{user}", commandHint, newPassword: false, password => new NlaCredentials(user, domain, password));

    private static T Read<T>(ICliConsole console, TextWriter prompt, PasswordSource source, string userName, string commandHint, bool newPassword, PasswordTransform<T> transform)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(prompt);
        char[] first = ArrayPool<char>.Shared.Rent(MaxPasswordLength + 1);
        char[] second = ArrayPool<char>.Shared.Rent(MaxPasswordLength + 1);
        try
        {
            int length;
            switch (source)
            {
                case PasswordSource.Stdin:
                    length = ReadLine(console.In, first.AsSpan(0, MaxPasswordLength + 1));
                    if (length < 0)
                    {
                        throw new CliException($"no password on standard input; pipe one line into it, e.g. printf '%s\\n' \"$PASSWORD\" | {commandHint} --password-stdin");
                    }

                    break;
                case PasswordSource.Environment:
                    string value = console.GetEnvironmentVariable(EnvironmentVariable) ?? "";
                    length = value.Length;
                    value.AsSpan(0, Math.Min(value.Length, MaxPasswordLength + 1)).CopyTo(first);
                    break;
                default:
                    if (console.IsInputRedirected)
                    {
                        throw new CliException($"standard input is not a terminal, so rdpnla cannot prompt for the password; pipe it with {commandHint} --password-stdin, or set {EnvironmentVariable}");
                    }

                    prompt.Write($"Password for {userName}: ");
                    prompt.Flush();
                    length = console.ReadSecretLine(first.AsSpan(0, MaxPasswordLength + 1));
                    prompt.WriteLine();
                    if (length < 0)
                    {
                        throw new CliException(newPassword ? "no password entered; run the command again and type the password twice" : "no password entered");
                    }

                    if (newPassword)
                    {
                        CheckLength(length, newPassword);
                        prompt.Write("Retype the password: ");
                        prompt.Flush();
                        int secondLength = console.ReadSecretLine(second.AsSpan(0, MaxPasswordLength + 1));
                        prompt.WriteLine();
                        if (secondLength != length || !first.AsSpan(0, length).SequenceEqual(second.AsSpan(0, length)))
                        {
                            throw new CliException("the two passwords do not match; run the command again and type the same password twice");
                        }
                    }

                    break;
            }

            CheckLength(length, newPassword);
            return transform(first.AsSpan(0, length));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(first.AsSpan()));
            CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(second.AsSpan()));
            ArrayPool<char>.Shared.Return(first);
            ArrayPool<char>.Shared.Return(second);
        }
    }

    private static void CheckLength(int length, bool newPassword)
    {
        if (length == 0 && newPassword)
        {
            throw new CliException("the password is empty; rdpnla does not accept blank passwords (Windows refuses them for network logons)");
        }

        if (length > MaxPasswordLength)
        {
            throw new CliException($"the password is longer than {MaxPasswordLength} characters; choose a shorter one");
        }
    }

    /// <summary>Reads up to the end of the line into <paramref name="buffer"/> without creating a string; returns the length (more than buffer.Length if truncated) or -1 at end of input.</summary>
    internal static int ReadLine(TextReader reader, Span<char> buffer)
    {
        int length = 0;
        int c = reader.Read();
        if (c < 0)
        {
            return -1;
        }

        while (c >= 0 && c != '\n')
        {
            if (length < buffer.Length)
            {
                buffer[length] = (char)c;
            }

            length++;
            c = reader.Read();
        }

        if (length > 0 && length <= buffer.Length && buffer[length - 1] == '\r')
        {
            length--;
        }

        return length;
    }
}
