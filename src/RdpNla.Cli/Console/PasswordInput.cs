using System.Buffers;
using System.Security.Cryptography;
using RdpNla.Protocol.Ntlm;

namespace RdpNla.Cli.Interaction;

/// <summary>
/// Reads a new password from <c>--password-stdin</c> or a no-echo terminal prompt and turns it into its NT hash.
/// The password never appears on the command line, and its characters are wiped once hashed.
/// </summary>
public static class PasswordInput
{
    /// <summary>Longest password accepted (the Windows limit for NTLM passwords).</summary>
    public const int MaxPasswordLength = 256;

    /// <summary>Reads the password and returns its NT hash (16 bytes; the caller wipes it).</summary>
    /// <param name="console">Where to read from.</param>
    /// <param name="prompt">Where prompts go (standard error, so standard output stays clean).</param>
    /// <param name="fromStdin">Read one line from standard input instead of prompting.</param>
    /// <param name="userName">For the prompt.</param>
    /// <param name="commandHint">The command to repeat with --password-stdin, for the error message.</param>
    /// <exception cref="CliException">No password could be read, it is empty or too long, or the two entries differ.</exception>
    public static byte[] ReadNtHash(ICliConsole console, TextWriter prompt, bool fromStdin, string userName, string commandHint) =>
        Read(console, prompt, fromStdin, userName, commandHint, password => NtlmCrypto.NtOwfV1(password));

    /// <summary>Reads the password and returns it as UTF-16LE bytes (the caller wipes them); for mapped backend credentials.</summary>
    /// <exception cref="CliException">No password could be read, it is empty or too long, or the two entries differ.</exception>
    public static byte[] ReadUtf16(ICliConsole console, TextWriter prompt, bool fromStdin, string userName, string commandHint) =>
        Read(console, prompt, fromStdin, userName, commandHint, password => System.Runtime.InteropServices.MemoryMarshal.AsBytes(password).ToArray());

    private delegate byte[] PasswordTransform(ReadOnlySpan<char> password);

    private static byte[] Read(ICliConsole console, TextWriter prompt, bool fromStdin, string userName, string commandHint, PasswordTransform transform)
    {
        ArgumentNullException.ThrowIfNull(console);
        ArgumentNullException.ThrowIfNull(prompt);
        char[] first = ArrayPool<char>.Shared.Rent(MaxPasswordLength + 1);
        char[] second = ArrayPool<char>.Shared.Rent(MaxPasswordLength + 1);
        try
        {
            int length;
            if (fromStdin)
            {
                length = ReadLine(console.In, first.AsSpan(0, MaxPasswordLength + 1));
                if (length < 0)
                {
                    throw new CliException($"no password on standard input; pipe one line into it, e.g. printf '%s\\n' \"$PASSWORD\" | {commandHint} --password-stdin");
                }
            }
            else
            {
                if (console.IsInputRedirected)
                {
                    throw new CliException($"standard input is not a terminal, so rdpnla cannot prompt for the password; use {commandHint} --password-stdin and write the password to standard input");
                }

                prompt.Write($"Password for {userName}: ");
                prompt.Flush();
                length = console.ReadSecretLine(first.AsSpan(0, MaxPasswordLength + 1));
                prompt.WriteLine();
                if (length < 0)
                {
                    throw new CliException("no password entered; run the command again and type the password twice");
                }

                CheckLength(length);
                prompt.Write("Retype the password: ");
                prompt.Flush();
                int secondLength = console.ReadSecretLine(second.AsSpan(0, MaxPasswordLength + 1));
                prompt.WriteLine();
                if (secondLength != length || !first.AsSpan(0, length).SequenceEqual(second.AsSpan(0, length)))
                {
                    throw new CliException("the two passwords do not match; run the command again and type the same password twice");
                }
            }

            CheckLength(length);
            return transform(first.AsSpan(0, length));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(MemoryMarshalBytes(first));
            CryptographicOperations.ZeroMemory(MemoryMarshalBytes(second));
            ArrayPool<char>.Shared.Return(first);
            ArrayPool<char>.Shared.Return(second);
        }
    }

    private static void CheckLength(int length)
    {
        if (length == 0)
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

    private static Span<byte> MemoryMarshalBytes(char[] chars) => System.Runtime.InteropServices.MemoryMarshal.AsBytes(chars.AsSpan());
}
