using System.Buffers;
using System.Runtime.InteropServices;
using System.Security.Cryptography;
using RdpNla.Cli.Interaction;
using RdpNla.Transport.Client;

namespace RdpNla.Cli.Commands;

/// <summary>
/// The credentials of a live <c>rdpnla doctor -u USER</c>: the password from the first line of standard input
/// (<c>--password-stdin</c>) or a no-echo prompt (<c>-p</c>, also the default on a terminal). Never from the command line.
/// </summary>
internal static class DoctorCredentials
{
    private const int MaxPasswordLength = 256;

    public static NlaCredentials Read(string user, bool fromStdin, TextWriter prompt, string commandHint)
    {
        (string userName, string domainName) = LoginCommand.SplitUser(user, null);
        ICliConsole console = CliConsole.Current;
        char[] buffer = ArrayPool<char>.Shared.Rent(MaxPasswordLength + 1);
        try
        {
            int length;
            if (fromStdin)
            {
                length = ReadLine(console.In, buffer.AsSpan(0, MaxPasswordLength + 1));
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

                prompt.Write($"Password for {(domainName.Length == 0 ? userName : $"{domainName}\\{userName}")}: ");
                prompt.Flush();
                length = console.ReadSecretLine(buffer.AsSpan(0, MaxPasswordLength + 1));
                prompt.WriteLine();
                if (length < 0)
                {
                    throw new CliException("no password entered");
                }
            }

            if (length > MaxPasswordLength)
            {
                throw new CliException($"the password is longer than {MaxPasswordLength} characters");
            }

            return new NlaCredentials(userName, domainName, buffer.AsSpan(0, length));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(MemoryMarshal.AsBytes(buffer.AsSpan()));
            ArrayPool<char>.Shared.Return(buffer);
        }
    }

    private static int ReadLine(TextReader reader, Span<char> buffer)
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
