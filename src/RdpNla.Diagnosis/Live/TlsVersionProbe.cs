#pragma warning disable CA2007 // Awaited on the caller's context, like the walker that calls it.

namespace RdpNla.Diagnosis.Live;

/// <summary>
/// Reads which TLS version an RDP server picks without completing a handshake: X.224 negotiation, then a hand-built
/// TLS ClientHello offering up to TLS 1.2 (legacy_version 0x0303, no supported_versions extension) with the cipher
/// suites old servers have; the server answers with a ServerHello carrying the version it chose — 0x0301 for a server
/// limited to TLS 1.0 — or an alert. Used when this machine's TLS library refuses TLS 1.0/1.1 itself (OpenSSL 3 at its
/// default security level), so that doctor can still tell "the server speaks only TLS 1.0" from other TLS failures.
/// </summary>
internal static class TlsVersionProbe
{
    public const int Tls10 = 0x0301;
    public const int Tls11 = 0x0302;
    public const int Tls12 = 0x0303;

    /// <summary>What the probe saw.</summary>
    /// <param name="ServerVersion">The ServerHello version (0x0301 = TLS 1.0), or null.</param>
    /// <param name="Description">One sentence for the evidence.</param>
    public sealed record Result(int? ServerVersion, string Description)
    {
        public string? ServerVersionName => ServerVersion is { } v ? VersionName(v) : null;
    }

    public static string VersionName(int version) => version switch
    {
        0x0300 => "SSL 3.0",
        Tls10 => "TLS 1.0",
        Tls11 => "TLS 1.1",
        Tls12 => "TLS 1.2",
        0x0304 => "TLS 1.3",
        _ => string.Create(CultureInfo.InvariantCulture, $"version 0x{version:X4}"),
    };

    public static async Task<Result> RunAsync(string host, int port, SecurityProtocols requested, TimeSpan timeout, CancellationToken cancellationToken)
    {
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        deadline.CancelAfter(timeout);
        CancellationToken token = deadline.Token;
        try
        {
            using var client = new TcpClient { NoDelay = true };
            if (IPAddress.TryParse(host, out IPAddress? address))
            {
                await client.ConnectAsync(address, port, token);
            }
            else
            {
                await client.ConnectAsync(host, port, token);
            }

            NetworkStream stream = client.GetStream();
            using var connector = new RdpClientConnector(new RdpClientConnectorOptions
            {
                ConnectionRequest = new X224ConnectionRequest(null, new RdpNegRequest(RdpNegRequestFlags.None, requested)),
                StopAfter = ClientSecurityStage.ConnectionConfirm,
            });
            ClientSecurityPhaseResult negotiation = await SecurityPhaseDriver.RunClientAsync(stream, connector, new ClientSecurityPhaseOptions { Tls = new() }, token);
            if (!negotiation.Succeeded || connector.SelectedProtocol == SecurityProtocols.Rdp)
            {
                return new Result(null, "a TLS version probe could not start TLS: the server answered the X.224 request differently this time");
            }

            await stream.WriteAsync(ClientHello(), token);
            var header = new byte[5];
            if (await stream.ReadAtLeastAsync(header, 5, throwOnEndOfStream: false, token) < 5)
            {
                return new Result(null, "a raw TLS 1.2 ClientHello (with TLS 1.0-era cipher suites) was answered by closing the connection");
            }

            int length = BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(3));
            var body = new byte[Math.Min(length, 16 * 1024)];
            int read = await stream.ReadAtLeastAsync(body, Math.Min(body.Length, 6), throwOnEndOfStream: false, token);
            if (header[0] == 0x15 && read >= 2)
            {
                return new Result(null, string.Create(CultureInfo.InvariantCulture, $"a raw TLS 1.2 ClientHello (with TLS 1.0-era cipher suites) was answered with the TLS alert {AlertName(body[1])} ({body[1]})"));
            }

            if (header[0] == 0x16 && read >= 6 && body[0] == 0x02)
            {
                int version = BinaryPrimitives.ReadUInt16BigEndian(body.AsSpan(4));
                string picked = version < Tls12
                    ? $": the server speaks at most {VersionName(version)}, which this machine's TLS library (and an up-to-date Windows client with TLS 1.0/1.1 disabled) refuses"
                    : "";
                return new Result(version, $"a raw TLS ClientHello offering up to TLS 1.2 was answered with a ServerHello for {VersionName(version)}{picked}");
            }

            return new Result(null, $"a raw TLS ClientHello was answered with bytes that are not TLS (0x{Convert.ToHexString(header)})");
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return new Result(null, "a raw TLS ClientHello got no answer within the timeout");
        }
        catch (Exception ex) when (ex is SocketException or IOException or NlaProtocolException)
        {
            return new Result(null, $"a raw TLS version probe failed: {ex.Message}");
        }
    }

    private static string AlertName(byte description) => description switch
    {
        40 => "handshake_failure",
        47 => "illegal_parameter",
        50 => "decode_error",
        70 => "protocol_version",
        71 => "insufficient_security",
        80 => "internal_error",
        86 => "inappropriate_fallback",
        112 => "unrecognized_name",
        _ => "alert",
    };

    /// <summary>A TLS 1.2 ClientHello (record version 0x0301) with ECDHE, RSA and 3DES suites and the extensions old servers need.</summary>
    private static byte[] ClientHello()
    {
        ushort[] suites =
        [
            0xC02F, 0xC030, 0xC02B, 0xC02C, 0xC013, 0xC014, 0xC009, 0xC00A, 0x009C, 0x009D, 0x002F, 0x0035, 0x0033, 0x0039, 0x000A, 0x00FF,
        ];
        byte[] extensions =
        [
            0x00, 0x0A, 0x00, 0x08, 0x00, 0x06, 0x00, 0x1D, 0x00, 0x17, 0x00, 0x18, // supported_groups: x25519, P-256, P-384
            0x00, 0x0B, 0x00, 0x02, 0x01, 0x00, // ec_point_formats: uncompressed
            0x00, 0x0D, 0x00, 0x12, 0x00, 0x10, 0x04, 0x01, 0x05, 0x01, 0x06, 0x01, 0x02, 0x01, 0x04, 0x03, 0x05, 0x03, 0x08, 0x04, 0x08, 0x05, // signature_algorithms
        ];
        var hello = new List<byte> { 0x03, 0x03 };
        hello.AddRange(RandomNumberGenerator.GetBytes(32));
        hello.Add(0); // session id
        hello.Add((byte)(suites.Length * 2 >> 8));
        hello.Add((byte)(suites.Length * 2));
        foreach (ushort suite in suites)
        {
            hello.Add((byte)(suite >> 8));
            hello.Add((byte)suite);
        }

        hello.AddRange([0x01, 0x00]); // compression: null
        hello.Add((byte)(extensions.Length >> 8));
        hello.Add((byte)extensions.Length);
        hello.AddRange(extensions);

        var handshake = new List<byte> { 0x01, 0, (byte)(hello.Count >> 8), (byte)hello.Count };
        handshake.AddRange(hello);
        var record = new List<byte> { 0x16, 0x03, 0x01, (byte)(handshake.Count >> 8), (byte)handshake.Count };
        record.AddRange(handshake);
        return [.. record];
    }
}
