using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using Microsoft.Extensions.Time.Testing;
using RdpNla.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Rdp;
using RdpNla.Transport;

namespace RdpNla.Tests.Interop;

/// <summary>
/// Golden transcripts of FreeRDP 2.11's CredSSP client talking to our acceptor. A transcript is the client's TSRequests
/// and our answers; with the same certificate, server randomness and clock, a fresh acceptor fed the client's messages
/// must answer byte for byte the same and complete with the same delegated credentials. The committed transcript in
/// tests/TestVectors/freerdp/ was captured with <c>RDPNLA_WRITE_GOLDEN=1</c> on this test.
/// </summary>
public class FreeRdpTranscriptTests(XvfbDisplay display)
{
    private const string User = "alice";
    private const string Password = "Passw0rd!";
    private static readonly DateTimeOffset s_serverTime = new(2026, 11, 22, 12, 0, 0, TimeSpan.Zero);

    private static string VectorPath(string name) => Path.Combine(AppContext.BaseDirectory, "TestVectors", "freerdp", name);

    private static X509Certificate2 Certificate() =>
        X509CertificateLoader.LoadPkcs12(
            X509Certificate2.CreateFromPemFile(VectorPath("transcript-cert.pem"), VectorPath("transcript-key.pem")).Export(X509ContentType.Pkcs12),
            null);

    private static CredSspServerContext NewAcceptor(X509Certificate2 certificate) => new(new CredSspServerOptions
    {
        ServerPublicKey = certificate.GetPublicKey(),
        Ntlm = new NtlmServerOptions
        {
            NbComputerName = "FRONTDOOR",
            NbDomainName = "LAB",
            DnsComputerName = "frontdoor.lab.test",
            DnsDomainName = "lab.test",
            TimeProvider = new FakeTimeProvider(s_serverTime),
            RandomSource = new DeterministicRandom(2026),
        },
    });

    private static NtlmCredentialLookup Lookup(string user) =>
        string.Equals(user, User, StringComparison.OrdinalIgnoreCase) ? NtlmCredentialLookup.Found(NtlmCrypto.NtOwfV1(Password)) : NtlmCredentialLookup.NotFound();

    /// <summary>Feeds the client's messages to a fresh acceptor; returns its answers and the delegated user.</summary>
    private static (List<byte[]?> Answers, string? DelegatedUser, string? DelegatedPassword) Replay(IReadOnlyList<byte[]> clientMessages)
    {
        using X509Certificate2 certificate = Certificate();
        using CredSspServerContext acceptor = NewAcceptor(certificate);
        var answers = new List<byte[]?>();
        foreach (byte[] message in clientMessages)
        {
            byte[]? answer = acceptor.GetOutgoingBlob(message, out NlaStatus status);
            if (status == NlaStatus.CredentialLookupNeeded)
            {
                acceptor.ProvideCredential(Lookup(acceptor.UserName!));
                answer = acceptor.GetOutgoingBlob([], out status);
            }

            Assert.NotEqual(NlaStatus.Failed, status);
            answers.Add(answer);
        }

        return (answers, acceptor.DelegatedCredentials?.UserName, acceptor.DelegatedCredentials?.GetPassword());
    }

    /// <summary>Runs xfreerdp against a one-connection acceptor built from the library and records the exchange.</summary>
    private async Task<(List<byte[]> Client, List<byte[]?> Server)> CaptureAsync(CancellationToken ct)
    {
        using X509Certificate2 certificate = Certificate();
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        int port = ((IPEndPoint)listener.LocalEndpoint).Port;
        var client = new List<byte[]>();
        var server = new List<byte[]?>();
        Task capture = Task.Run(async () =>
        {
            using TcpClient tcp = await listener.AcceptTcpClientAsync(ct);
            NetworkStream network = tcp.GetStream();
            X224ConnectionRequest request = X224ConnectionRequest.Decode(await MessageFraming.ReadTpktFrameAsync(network, 4096, ct));
            await network.WriteAsync(SecurityNegotiator.Select(SecurityLayer.Tls, true, request, true).Confirm.Encode(), ct);
            await using var tls = new SslStream(network, false);
            await tls.AuthenticateAsServerAsync(new SslServerAuthenticationOptions { ServerCertificate = certificate }, ct);
            using CredSspServerContext acceptor = NewAcceptor(certificate);
            while (true)
            {
                byte[] message = await MessageFraming.ReadTsRequestAsync(tls, 65536, ct);
                client.Add(message);
                byte[]? answer = acceptor.GetOutgoingBlob(message, out NlaStatus status);
                if (status == NlaStatus.CredentialLookupNeeded)
                {
                    acceptor.ProvideCredential(Lookup(acceptor.UserName!));
                    answer = acceptor.GetOutgoingBlob([], out status);
                }

                server.Add(answer);
                if (answer is not null)
                {
                    await MessageFraming.WriteMessageAsync(tls, answer, ct);
                }

                if (status is NlaStatus.Completed or NlaStatus.Failed)
                {
                    Assert.Equal(NlaStatus.Completed, status);
                    return;
                }
            }
        }, ct);

        ProcessResult result = await Xfreerdp.RunAsync(display, [$"/v:127.0.0.1:{port}", $"/u:{User}", $"/p:{Password}", "/cert:ignore", "/sec:nla", "+auth-only", "/log-level:DEBUG"], ct);
        await capture;
        Assert.True(result.HasLine("NLA.authInfo"), result.Output);
        return (client, server);
    }

    [Fact]
    public async Task Transcript_CapturedFromXfreerdpNow_ReplaysByteForByte()
    {
        (List<byte[]> client, List<byte[]?> server) = await CaptureAsync(TestContext.Current.CancellationToken);

        (List<byte[]?> answers, string? user, string? password) = Replay(client);

        Assert.Equal(3, client.Count); // NEGOTIATE; AUTHENTICATE + pubKeyAuth; authInfo (raw NTLM, FreeRDP 2.11)
        Assert.Equal(server.Select(Hex), answers.Select(Hex));
        Assert.Equal((User, Password), (user, password));
        if (Environment.GetEnvironmentVariable("RDPNLA_WRITE_GOLDEN") == "1")
        {
            var text = new StringBuilder();
            text.AppendLine("# Golden transcript: FreeRDP 2.11.7 xfreerdp (Debian 12) /sec:nla as alice/Passw0rd! against the RdpNla CredSSP acceptor;");
            text.AppendLine(CultureInfo.InvariantCulture, $"# acceptor: transcript-cert.pem, NbComputer FRONTDOOR, NbDomain LAB, time {s_serverTime:O}, randomness DeterministicRandom(2026).");
            text.AppendLine("# C = client TSRequest, S = server TSRequest (- = none). Captured by FreeRdpTranscriptTests with RDPNLA_WRITE_GOLDEN=1.");
            for (int i = 0; i < client.Count; i++)
            {
                text.AppendLine(CultureInfo.InvariantCulture, $"C {Hex(client[i])}");
                text.AppendLine(CultureInfo.InvariantCulture, $"S {Hex(server[i])}");
            }

            string source = Path.Combine(FindRepositoryRoot(), "tests", "TestVectors", "freerdp", "xfreerdp-2.11-credssp-v6-raw-ntlm.txt");
            await File.WriteAllTextAsync(source, text.ToString(), TestContext.Current.CancellationToken);
        }
    }

    [Fact]
    public void Transcript_CommittedGolden_ReplaysByteForByte()
    {
        string[] lines = File.ReadAllLines(VectorPath("xfreerdp-2.11-credssp-v6-raw-ntlm.txt"));
        List<byte[]> client = lines.Where(l => l.StartsWith("C ", StringComparison.Ordinal)).Select(l => Convert.FromHexString(l[2..])).ToList();
        List<string> server = lines.Where(l => l.StartsWith("S ", StringComparison.Ordinal)).Select(l => l[2..]).ToList();

        (List<byte[]?> answers, string? user, string? password) = Replay(client);

        Assert.Equal(server, answers.Select(Hex));
        Assert.Equal((User, Password), (user, password));
        TsRequest negotiate = TsRequest.Decode(client[0]);
        Assert.Equal(6, negotiate.Version);
        Assert.Equal(NegotiateFlags.Unicode, NtlmNegotiateMessage.Decode(negotiate.NegoTokens[0]).Flags & NegotiateFlags.Unicode);
        Assert.Equal(0xE20882B7u, (uint)NtlmNegotiateMessage.Decode(negotiate.NegoTokens[0]).Flags);
    }

    private static string Hex(byte[]? bytes) => bytes is null ? "-" : Convert.ToHexString(bytes);

    private static string FindRepositoryRoot()
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "RdpNla.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("repository root not found");
    }
}
