using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using System.Security.Cryptography.X509Certificates;

namespace RdpNla.Tests.Support;

/// <summary>A client and a server SslStream connected over real loopback TCP.</summary>
public sealed class TlsPair : IAsyncDisposable
{
    private TlsPair(SslStream client, SslStream server, X509Certificate2 seenByClient)
    {
        Client = client;
        Server = server;
        CertificateSeenByClient = seenByClient;
    }

    public SslStream Client { get; }

    public SslStream Server { get; }

    /// <summary>The certificate the client saw in the TLS handshake (whose key CredSSP binds).</summary>
    public X509Certificate2 CertificateSeenByClient { get; }

    public static async Task<TlsPair> ConnectAsync(X509Certificate2 serverCertificate, CancellationToken cancellationToken)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        var clientTcp = new TcpClient();
        Task connect = clientTcp.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port, cancellationToken).AsTask();
        TcpClient serverTcp = await listener.AcceptTcpClientAsync(cancellationToken);
        await connect;
        return await HandshakeAsync(clientTcp.GetStream(), serverTcp.GetStream(), serverCertificate, cancellationToken);
    }

    public static async Task<TlsPair> HandshakeAsync(Stream clientInner, Stream serverInner, X509Certificate2 serverCertificate, CancellationToken cancellationToken)
    {
        X509Certificate2? seen = null;
        var client = new SslStream(clientInner, false, (_, certificate, _, _) =>
        {
            seen = new X509Certificate2(certificate!);
            return true;
        });
        var server = new SslStream(serverInner, false);
        Task serverHandshake = server.AuthenticateAsServerAsync(
            new SslServerAuthenticationOptions { ServerCertificate = serverCertificate, EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13 },
            cancellationToken);
        await client.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" }, cancellationToken);
        await serverHandshake;
        return new TlsPair(client, server, seen!);
    }

    public async ValueTask DisposeAsync()
    {
        await Client.DisposeAsync();
        await Server.DisposeAsync();
        CertificateSeenByClient.Dispose();
    }
}
