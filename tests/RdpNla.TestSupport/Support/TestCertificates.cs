using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace RdpNla.Tests.Support;

/// <summary>Self-signed server certificates generated once per test run.</summary>
public static class TestCertificates
{
    private static readonly Lazy<X509Certificate2> s_server = new(() => Create("rdpnla-test-server"));
    private static readonly Lazy<X509Certificate2> s_impostor = new(() => Create("rdpnla-test-impostor"));

    public static X509Certificate2 Server => s_server.Value;

    /// <summary>A second certificate, for a man in the middle.</summary>
    public static X509Certificate2 Impostor => s_impostor.Value;

    public static X509Certificate2 Create(string name)
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest($"CN={name}", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        using X509Certificate2 certificate = request.CreateSelfSigned(DateTimeOffset.UtcNow.AddDays(-1), DateTimeOffset.UtcNow.AddDays(30));
        // Round-trip through PKCS#12 so the key is usable by SslStream on every platform.
        return X509CertificateLoader.LoadPkcs12(certificate.Export(X509ContentType.Pkcs12), null);
    }
}
