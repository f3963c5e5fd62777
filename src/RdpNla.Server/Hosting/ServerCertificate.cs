namespace RdpNla.Server.Hosting;

/// <summary>
/// The TLS certificate of the front door: a configured PEM pair or PFX, or a self-signed certificate generated in the
/// data directory on first start and reused afterwards (MS-CSSP §3.1.5 step 1 allows self-signed server certificates).
/// </summary>
internal static class ServerCertificate
{
    public const string GeneratedCertificateFile = "tls-cert.pem";
    public const string GeneratedKeyFile = "tls-key.pem";

    /// <summary>Loads the configured certificate, or the generated one in <paramref name="dataDirectory"/> (creating it when absent).</summary>
    /// <exception cref="InvalidOperationException">A configured file is missing, unreadable, or has no private key.</exception>
    public static X509Certificate2 Load(CertificateOptions options, string dataDirectory, string subjectName, TimeProvider timeProvider, out bool generated)
    {
        ArgumentNullException.ThrowIfNull(options);
        generated = false;
        if (!string.IsNullOrEmpty(options.PfxPath))
        {
            return Checked(() => X509CertificateLoader.LoadPkcs12FromFile(options.PfxPath, options.PfxPassword), options.PfxPath);
        }

        if (!string.IsNullOrEmpty(options.CertificatePath) || !string.IsNullOrEmpty(options.KeyPath))
        {
            if (string.IsNullOrEmpty(options.CertificatePath) || string.IsNullOrEmpty(options.KeyPath))
            {
                throw new InvalidOperationException("A PEM certificate needs both Certificate:CertificatePath and Certificate:KeyPath.");
            }

            return Checked(() => X509Certificate2.CreateFromPemFile(options.CertificatePath, options.KeyPath), options.CertificatePath);
        }

        string certificatePath = Path.Combine(dataDirectory, GeneratedCertificateFile);
        string keyPath = Path.Combine(dataDirectory, GeneratedKeyFile);
        if (!File.Exists(certificatePath) || !File.Exists(keyPath))
        {
            Generate(certificatePath, keyPath, subjectName, timeProvider);
            generated = true;
        }

        return Checked(() => X509Certificate2.CreateFromPemFile(certificatePath, keyPath), certificatePath);
    }

    /// <summary>The SHA-256 fingerprint of the DER certificate, as colon-separated upper-case hex (the form FreeRDP and browsers print).</summary>
    public static string Sha256Fingerprint(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        return string.Join(':', SHA256.HashData(certificate.RawData).Select(b => b.ToString("X2", System.Globalization.CultureInfo.InvariantCulture)));
    }

    private static void Generate(string certificatePath, string keyPath, string subjectName, TimeProvider timeProvider)
    {
        using var rsa = RSA.Create(2048);
        var request = new CertificateRequest($"CN={subjectName}", rsa, HashAlgorithmName.SHA256, RSASignaturePadding.Pkcs1);
        request.CertificateExtensions.Add(new X509BasicConstraintsExtension(false, false, 0, true));
        request.CertificateExtensions.Add(new X509KeyUsageExtension(X509KeyUsageFlags.DigitalSignature | X509KeyUsageFlags.KeyEncipherment, true));
        // Server Authentication, and the RDP-specific "Remote Desktop Authentication" EKU Windows puts on its own certificate.
        request.CertificateExtensions.Add(new X509EnhancedKeyUsageExtension([new Oid("1.3.6.1.5.5.7.3.1"), new Oid("1.3.6.1.4.1.311.54.1.2")], false));
        var names = new SubjectAlternativeNameBuilder();
        names.AddDnsName(subjectName);
        names.AddDnsName("localhost");
        request.CertificateExtensions.Add(names.Build());
        DateTimeOffset now = timeProvider.GetUtcNow();
        using X509Certificate2 certificate = request.CreateSelfSigned(now.AddDays(-1), now.AddYears(2));

        WritePrivate(keyPath, rsa.ExportPkcs8PrivateKeyPem());
        File.WriteAllText(certificatePath, certificate.ExportCertificatePem());
    }

    private static void WritePrivate(string path, string contents)
    {
        var options = new FileStreamOptions { Mode = FileMode.Create, Access = FileAccess.Write, Share = FileShare.None };
        if (!OperatingSystem.IsWindows())
        {
            options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
        }

        using var stream = new FileStream(path, options);
        using var writer = new StreamWriter(stream);
        writer.Write(contents);
    }

    private static X509Certificate2 Checked(Func<X509Certificate2> load, string path)
    {
        X509Certificate2 certificate;
        try
        {
            certificate = load();
        }
        catch (Exception ex) when (ex is CryptographicException or IOException or UnauthorizedAccessException or ArgumentException)
        {
            throw new InvalidOperationException($"Cannot load the certificate '{path}': {ex.Message}", ex);
        }

        if (!certificate.HasPrivateKey)
        {
            certificate.Dispose();
            throw new InvalidOperationException($"The certificate '{path}' has no private key.");
        }

        return certificate;
    }
}

/// <summary>Where the TLS certificate comes from. Empty: generate a self-signed one in the data directory.</summary>
public sealed class CertificateOptions
{
    /// <summary>A PEM certificate file (with <see cref="KeyPath"/>).</summary>
    public string? CertificatePath { get; set; }

    /// <summary>The PEM private key of <see cref="CertificatePath"/>.</summary>
    public string? KeyPath { get; set; }

    /// <summary>A PKCS#12 (.pfx) file with certificate and key.</summary>
    public string? PfxPath { get; set; }

    /// <summary>The password of <see cref="PfxPath"/>, if any.</summary>
    public string? PfxPassword { get; set; }
}
