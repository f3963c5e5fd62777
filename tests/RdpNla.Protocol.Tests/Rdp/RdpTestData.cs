using System.Buffers;

namespace RdpNla.Protocol.Tests.Rdp;

/// <summary>Test vectors of tests/TestVectors/rdp and byte helpers for the Rdp tests.</summary>
internal static class RdpTestData
{
    public const string SpecConnectionRequest = "ms-rdpbcgr-4.1.1-connection-request";
    public const string SpecConnectionConfirm = "ms-rdpbcgr-4.1.2-connection-confirm";
    public const string XfreerdpConnectionRequest = "xfreerdp-2.11-connection-request";
    public const string MstscConnectionRequest = "mstsc-connection-request";
    public const string WindowsSslRequiredConfirm = "windows-ssl-required-connection-confirm";
    public const string CorrelationInfoConnectionRequest = "correlation-info-connection-request";
    public const string RoutingTokenConnectionRequest = "routing-token-connection-request";

    public static readonly string[] ConnectionRequests =
    [
        SpecConnectionRequest, XfreerdpConnectionRequest, MstscConnectionRequest,
        CorrelationInfoConnectionRequest, RoutingTokenConnectionRequest,
    ];

    public static readonly string[] ConnectionConfirms = [SpecConnectionConfirm, WindowsSslRequiredConfirm];

    /// <summary>Reads TestVectors/rdp/NAME.hex: first line the citation, then hex with any whitespace.</summary>
    public static byte[] Load(string name)
    {
        string path = Path.Combine(AppContext.BaseDirectory, "TestVectors", "rdp", name + ".hex");
        string[] lines = File.ReadAllLines(path);
        Assert.StartsWith("# ", lines[0]);
        return Hex(string.Join("", lines.Skip(1)));
    }

    public static string Citation(string name) =>
        File.ReadLines(Path.Combine(AppContext.BaseDirectory, "TestVectors", "rdp", name + ".hex")).First();

    /// <summary>Hex with optional whitespace to bytes.</summary>
    public static byte[] Hex(string hex) =>
        Convert.FromHexString(string.Concat(hex.Where(c => !char.IsWhiteSpace(c))));

    /// <summary>A sequence with one segment per chunk (to test split buffers).</summary>
    public static ReadOnlySequence<byte> Segmented(params byte[][] chunks)
    {
        if (chunks.Length == 0)
        {
            return ReadOnlySequence<byte>.Empty;
        }

        var first = new Segment(chunks[0], 0);
        Segment last = first;
        for (int i = 1; i < chunks.Length; i++)
        {
            last = last.Append(chunks[i]);
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    /// <summary>A sequence of one-byte segments.</summary>
    public static ReadOnlySequence<byte> OneBytePerSegment(ReadOnlySpan<byte> bytes)
    {
        byte[][] chunks = new byte[bytes.Length][];
        for (int i = 0; i < bytes.Length; i++)
        {
            chunks[i] = [bytes[i]];
        }

        return Segmented(chunks);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }
}
