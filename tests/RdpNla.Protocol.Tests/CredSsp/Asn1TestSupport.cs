using System.Globalization;

namespace RdpNla.Protocol.Tests.CredSsp;

/// <summary>Loads tests/TestVectors/*.hex: first line "# citation", further '#' lines are notes, the rest hex.</summary>
internal static class HexVector
{
    public static byte[] Load(string relativePath)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "TestVectors", relativePath);
        string[] lines = File.ReadAllLines(path);
        Assert.StartsWith("# ", lines[0]);
        string hex = string.Concat(lines.Where(l => !l.StartsWith('#')).SelectMany(l => l.Where(char.IsAsciiHexDigit)));
        return Convert.FromHexString(hex);
    }

    public static byte[] Hex(string hex) => Convert.FromHexString(string.Concat(hex.Where(char.IsAsciiHexDigit)));
}

/// <summary>
/// Checks that a decoder is total: for random bytes and for mutations of valid encodings it returns a value or
/// throws <see cref="NlaProtocolException"/>, never anything else. Seeded, so failures reproduce.
/// </summary>
internal static class DecoderTotality
{
    public static void RandomBytes(Action<byte[]> decode, int iterations = 4000, int seed = 20240601)
    {
        var random = new Random(seed);
        for (int i = 0; i < iterations; i++)
        {
            byte[] input = new byte[random.Next(0, 96)];
            random.NextBytes(input);

            // Half the time, give the input a plausible DER header so the decoder gets past the first byte.
            if (input.Length >= 2 && random.Next(2) == 0)
            {
                input[0] = (byte)random.GetItems<int>([0x30, 0x60, 0xA0, 0xA1], 1)[0];
                input[1] = (byte)(input.Length - 2);
            }

            Check(decode, input);
        }
    }

    public static void Mutations(Action<byte[]> decode, IReadOnlyList<byte[]> samples, int iterations = 6000, int seed = 7)
    {
        var random = new Random(seed);
        foreach (byte[] sample in samples)
        {
            Check(decode, sample);
            for (int cut = 0; cut < sample.Length; cut++)
            {
                Check(decode, sample[..cut]);
            }
        }

        for (int i = 0; i < iterations; i++)
        {
            var bytes = new List<byte>(samples[random.Next(samples.Count)]);
            int mutations = random.Next(1, 4);
            for (int m = 0; m < mutations; m++)
            {
                Mutate(random, bytes);
            }

            Check(decode, [.. bytes]);
        }
    }

    private static void Mutate(Random random, List<byte> bytes)
    {
        int position = bytes.Count == 0 ? 0 : random.Next(bytes.Count);
        switch (random.Next(6))
        {
            case 0 when bytes.Count > 0:
                bytes[position] ^= (byte)(1 << random.Next(8));
                break;
            case 1 when bytes.Count > 0:
                bytes[position] = (byte)random.Next(256);
                break;
            case 2:
                bytes.Insert(position, (byte)random.Next(256));
                break;
            case 3 when bytes.Count > 0:
                bytes.RemoveAt(position);
                break;
            case 4:
                bytes.RemoveRange(position, bytes.Count - position);
                break;
            default:
                // Interesting length bytes.
                if (bytes.Count > 0)
                {
                    bytes[position] = random.GetItems<byte>([0x00, 0x7F, 0x80, 0x81, 0x82, 0x84, 0x85, 0xFF], 1)[0];
                }

                break;
        }
    }

    private static void Check(Action<byte[]> decode, byte[] input)
    {
        try
        {
            decode(input);
        }
        catch (NlaProtocolException)
        {
        }
        catch (Exception e)
        {
            Assert.Fail($"Decoder threw {e.GetType().Name} ({e.Message}) for input {Convert.ToHexString(input).ToLower(CultureInfo.InvariantCulture)}");
        }
    }
}
