using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;

namespace RdpNla.Tests.Gateway;

/// <summary>
/// Turns the XWD frame buffer file that <c>Xvfb -fbdir</c> keeps (Xvfb_screen0) into a PNG, so that a screenshot
/// needs no extra package. XWD header fields are big-endian (X11 XWDFile.h); ZPixmap with 24/32 bits per pixel only.
/// </summary>
public static class XwdScreenshot
{
    /// <summary>
    /// Waits (up to 20 s) for the Xvfb frame buffer in <paramref name="fbdir"/> to show more than one colour, saves it as
    /// <paramref name="fileName"/> in RDPNLA_SCREENSHOT_DIR (or the temp folder) and returns the colour count.
    /// </summary>
    public static async Task<int> CaptureDesktopAsync(string fbdir, string fileName)
    {
        int colors = 0;
        (int width, int height, byte[] rgb) = (0, 0, []);
        for (int i = 0; i < 40 && colors < 2; i++)
        {
            await Task.Delay(500, TestContext.Current.CancellationToken);
            (width, height, rgb) = Read(Path.Combine(fbdir, "Xvfb_screen0"));
            colors = DistinctColors(rgb);
        }

        string png = Path.Combine(Environment.GetEnvironmentVariable("RDPNLA_SCREENSHOT_DIR") ?? Path.GetTempPath(), fileName);
        WritePng(png, width, height, rgb);
        TestContext.Current.AddAttachment(fileName, png);
        return colors;
    }

    public static (int Width, int Height, byte[] Rgb) Read(string xwdPath)
    {
        byte[] file;
        using (var stream = new FileStream(xwdPath, FileMode.Open, FileAccess.Read, FileShare.ReadWrite))
        {
            file = new byte[stream.Length];
            stream.ReadExactly(file);
        }

        uint Field(int index) => BinaryPrimitives.ReadUInt32BigEndian(file.AsSpan(index * 4));
        int headerSize = (int)Field(0);
        int width = (int)Field(4), height = (int)Field(5);
        bool lsbFirst = Field(7) == 0;
        int bitsPerPixel = (int)Field(11), bytesPerLine = (int)Field(12);
        uint redMask = Field(14), greenMask = Field(15), blueMask = Field(16);
        int colors = (int)Field(19);
        if (bitsPerPixel != 32)
        {
            throw new NotSupportedException($"XWD with {bitsPerPixel} bits per pixel");
        }

        int pixels = headerSize + (colors * 12);
        byte[] rgb = new byte[width * height * 3];
        for (int y = 0; y < height; y++)
        {
            for (int x = 0; x < width; x++)
            {
                ReadOnlySpan<byte> p = file.AsSpan(pixels + (y * bytesPerLine) + (x * 4), 4);
                uint value = lsbFirst ? BinaryPrimitives.ReadUInt32LittleEndian(p) : BinaryPrimitives.ReadUInt32BigEndian(p);
                int o = ((y * width) + x) * 3;
                rgb[o] = Channel(value, redMask);
                rgb[o + 1] = Channel(value, greenMask);
                rgb[o + 2] = Channel(value, blueMask);
            }
        }

        return (width, height, rgb);
    }

    /// <summary>The number of distinct colours (a blank screen has one).</summary>
    public static int DistinctColors(byte[] rgb)
    {
        var seen = new HashSet<int>();
        for (int i = 0; i + 2 < rgb.Length; i += 3)
        {
            seen.Add((rgb[i] << 16) | (rgb[i + 1] << 8) | rgb[i + 2]);
        }

        return seen.Count;
    }

    public static void WritePng(string path, int width, int height, byte[] rgb)
    {
        using var output = new MemoryStream();
        output.Write([0x89, 0x50, 0x4E, 0x47, 0x0D, 0x0A, 0x1A, 0x0A]);
        byte[] header = new byte[13];
        BinaryPrimitives.WriteInt32BigEndian(header, width);
        BinaryPrimitives.WriteInt32BigEndian(header.AsSpan(4), height);
        header[8] = 8; // bit depth
        header[9] = 2; // colour type RGB
        WriteChunk(output, "IHDR", header);
        using (var raw = new MemoryStream())
        {
            using (var zlib = new ZLibStream(raw, CompressionLevel.SmallestSize, leaveOpen: true))
            {
                for (int y = 0; y < height; y++)
                {
                    zlib.WriteByte(0);
                    zlib.Write(rgb, y * width * 3, width * 3);
                }
            }

            WriteChunk(output, "IDAT", raw.ToArray());
        }

        WriteChunk(output, "IEND", []);
        File.WriteAllBytes(path, output.ToArray());
    }

    private static byte Channel(uint value, uint mask)
    {
        if (mask == 0)
        {
            return 0;
        }

        int shift = System.Numerics.BitOperations.TrailingZeroCount(mask);
        uint max = mask >> shift;
        return (byte)(((value & mask) >> shift) * 255 / max);
    }

    private static void WriteChunk(Stream output, string type, byte[] data)
    {
        Span<byte> length = stackalloc byte[4];
        BinaryPrimitives.WriteInt32BigEndian(length, data.Length);
        output.Write(length);
        byte[] typeAndData = [.. Encoding.ASCII.GetBytes(type), .. data];
        output.Write(typeAndData);
        Span<byte> crc = stackalloc byte[4];
        BinaryPrimitives.WriteUInt32BigEndian(crc, Crc32(typeAndData));
        output.Write(crc);
    }

    private static uint Crc32(byte[] data)
    {
        uint crc = 0xFFFFFFFF;
        foreach (byte b in data)
        {
            crc ^= b;
            for (int k = 0; k < 8; k++)
            {
                crc = (crc & 1) != 0 ? (crc >> 1) ^ 0xEDB88320 : crc >> 1;
            }
        }

        return ~crc;
    }
}
