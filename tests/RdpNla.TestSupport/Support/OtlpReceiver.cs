using System.Collections.Concurrent;
using System.Net;
using System.Text;

namespace RdpNla.Tests.Support;

/// <summary>One span of an OTLP ExportTraceServiceRequest (opentelemetry-proto trace/v1/trace.proto).</summary>
internal sealed record OtlpSpan(string Name, byte[] SpanId, byte[] ParentSpanId)
{
    // resource_spans = 1 → scope_spans = 2 → spans = 2; in Span: span_id = 2, parent_span_id = 4, name = 5.
    public static IEnumerable<OtlpSpan> Parse(byte[] request) =>
        Protobuf.Messages(request, 1, 2, 2).Select(span => new OtlpSpan(
            Encoding.UTF8.GetString(Protobuf.Field(span, 5) ?? []),
            Protobuf.Field(span, 2) ?? [],
            Protobuf.Field(span, 4) ?? []));
}

/// <summary>Just enough of the protobuf wire format to walk length-delimited fields.</summary>
internal static class Protobuf
{
    public static IEnumerable<byte[]> Messages(byte[] message, params int[] path)
    {
        IEnumerable<byte[]> level = [message];
        foreach (int field in path)
        {
            level = level.SelectMany(m => Fields(m, field)).ToList();
        }

        return level;
    }

    public static IEnumerable<string> Strings(byte[] message, params int[] path) =>
        Messages(message, path).Select(Encoding.UTF8.GetString);

    public static byte[]? Field(byte[] message, int number) => Fields(message, number).FirstOrDefault();

    private static List<byte[]> Fields(byte[] message, int number)
    {
        var found = new List<byte[]>();
        int at = 0;
        while (at < message.Length)
        {
            ulong key = Varint(message, ref at);
            switch ((int)(key & 7))
            {
                case 0:
                    Varint(message, ref at);
                    break;
                case 1:
                    at += 8;
                    break;
                case 2:
                    int length = checked((int)Varint(message, ref at));
                    if ((int)(key >> 3) == number)
                    {
                        found.Add(message[at..(at + length)]);
                    }

                    at += length;
                    break;
                case 5:
                    at += 4;
                    break;
                default:
                    throw new InvalidDataException($"protobuf wire type {key & 7} at {at}");
            }
        }

        return found;
    }

    private static ulong Varint(byte[] message, ref int at)
    {
        ulong value = 0;
        for (int shift = 0; ; shift += 7)
        {
            byte b = message[at++];
            value |= (ulong)(b & 0x7F) << shift;
            if ((b & 0x80) == 0)
            {
                return value;
            }
        }
    }
}

/// <summary>An OTLP/HTTP collector on loopback: keeps each request body by path and answers 200.</summary>
internal sealed class OtlpReceiver : IAsyncDisposable
{
    private readonly HttpListener _http;
    private readonly ConcurrentQueue<(string Path, byte[] Body)> _received = new();
    private readonly Task _serving;

    public OtlpReceiver()
    {
        // HttpListener takes no port 0: a free port, and another one if a test process bound it first.
        for (int attempt = 1; ; attempt++)
        {
            Endpoint = $"http://127.0.0.1:{PeerPorts.GetFreePort()}";
            _http = new HttpListener();
            _http.Prefixes.Add(Endpoint + "/");
            try
            {
                _http.Start();
                break;
            }
            catch (HttpListenerException) when (attempt < 3)
            {
                _http.Close();
            }
        }

        _serving = ServeAsync();
    }

    public string Endpoint { get; }

    public IEnumerable<byte[]> Bodies(string path) => _received.Where(r => r.Path == path).Select(r => r.Body).ToList();

    private async Task ServeAsync()
    {
        while (_http.IsListening)
        {
            HttpListenerContext context;
            try
            {
                context = await _http.GetContextAsync();
            }
            catch (Exception ex) when (ex is HttpListenerException or ObjectDisposedException or InvalidOperationException)
            {
                // Closed by DisposeAsync, also between the IsListening check and the call ("Not listening").
                return;
            }

            using var body = new MemoryStream();
            await context.Request.InputStream.CopyToAsync(body);
            _received.Enqueue((context.Request.Url!.AbsolutePath, body.ToArray()));
            context.Response.StatusCode = 200;
            context.Response.ContentType = "application/x-protobuf";
            context.Response.Close();
        }
    }

    public async ValueTask DisposeAsync()
    {
        _http.Close();
        await _serving;
    }
}
