namespace RdpNla.Client;

/// <summary>The server certificate as the client saw it in the TLS handshake.</summary>
public sealed record TlsCertificateInfo
{
    /// <summary>The subject distinguished name as .NET formats it, e.g. <c>CN=host.example.com</c>.</summary>
    public required string Subject { get; init; }

    /// <summary>The issuer distinguished name; the same as <see cref="Subject"/> for a self-signed certificate.</summary>
    public required string Issuer { get; init; }

    /// <summary>The start of the validity period, in UTC.</summary>
    public required DateTimeOffset NotBefore { get; init; }

    /// <summary>The end of the validity period, in UTC.</summary>
    public required DateTimeOffset NotAfter { get; init; }

    /// <summary>Subject equals issuer and the signature verifies with the certificate's own key.</summary>
    public required bool SelfSigned { get; init; }

    /// <summary>RSA, ECDSA, or the key algorithm OID.</summary>
    public required string KeyType { get; init; }

    /// <summary>Key size in bits (0 when unknown).</summary>
    public required int KeySize { get; init; }

    /// <summary>The signature algorithm's name (e.g. <c>sha256RSA</c>), or its OID when .NET has no name for it.</summary>
    public required string SignatureAlgorithm { get; init; }

    /// <summary>SHA-256 of the DER certificate, upper-case hex pairs separated by colons.</summary>
    public required string Sha256Fingerprint { get; init; }

    /// <summary>The SubjectPublicKey bytes CredSSP binds to (MS-CSSP §3.1.5 step 3).</summary>
    public required ReadOnlyMemory<byte> PublicKey { get; init; }

    /// <summary>Whether the certificate's validity ended before <paramref name="now"/>.</summary>
    /// <param name="now">The time to check at (from the caller's clock).</param>
    public bool IsExpired(DateTimeOffset now) => now > NotAfter;

    /// <summary>Whether the certificate's validity starts after <paramref name="now"/>.</summary>
    /// <param name="now">The time to check at (from the caller's clock).</param>
    public bool IsNotYetValid(DateTimeOffset now) => now < NotBefore;

    /// <summary>Reads the facts of a certificate: names, validity, key, signature algorithm, fingerprint and the public key CredSSP binds to.</summary>
    /// <param name="certificate">The certificate, usually the server's from the TLS handshake.</param>
    /// <exception cref="ArgumentNullException"><paramref name="certificate"/> is null.</exception>
    public static TlsCertificateInfo From(X509Certificate2 certificate)
    {
        ArgumentNullException.ThrowIfNull(certificate);
        string keyType;
        int keySize = 0;
        using (RSA? rsa = certificate.GetRSAPublicKey())
        using (ECDsa? ecdsa = rsa is null ? certificate.GetECDsaPublicKey() : null)
        {
            if (rsa is not null)
            {
                keyType = "RSA";
                keySize = rsa.KeySize;
            }
            else if (ecdsa is not null)
            {
                keyType = "ECDSA";
                keySize = ecdsa.KeySize;
            }
            else
            {
                keyType = certificate.PublicKey.Oid.FriendlyName ?? certificate.PublicKey.Oid.Value ?? "unknown";
            }
        }

        return new TlsCertificateInfo
        {
            Subject = certificate.Subject,
            Issuer = certificate.Issuer,
            NotBefore = new DateTimeOffset(certificate.NotBefore.ToUniversalTime(), TimeSpan.Zero),
            NotAfter = new DateTimeOffset(certificate.NotAfter.ToUniversalTime(), TimeSpan.Zero),
            SelfSigned = IsSelfSigned(certificate),
            KeyType = keyType,
            KeySize = keySize,
            SignatureAlgorithm = certificate.SignatureAlgorithm.FriendlyName ?? certificate.SignatureAlgorithm.Value ?? "unknown",
            Sha256Fingerprint = FormatFingerprint(certificate.GetCertHash(HashAlgorithmName.SHA256)),
            PublicKey = certificate.GetPublicKey(),
        };
    }

    /// <summary>Formats a hash as upper-case hex pairs separated by colons, <c>AB:CD:...</c>.</summary>
    /// <param name="hash">The hash bytes, e.g. 32 bytes of SHA-256.</param>
    public static string FormatFingerprint(ReadOnlySpan<byte> hash) => Convert.ToHexString(hash).Chunk(2).Aggregate(
        new System.Text.StringBuilder(),
        (builder, pair) => builder.Append(builder.Length == 0 ? "" : ":").Append(pair)).ToString();

    /// <summary>Normalises a user-given SHA-256 fingerprint (any case, with or without colons or a "sha256:" prefix) to <c>AB:CD:...</c>.</summary>
    /// <param name="fingerprint">The fingerprint as a user wrote it.</param>
    /// <exception cref="ArgumentNullException"><paramref name="fingerprint"/> is null.</exception>
    /// <exception cref="FormatException">Not 64 hex digits.</exception>
    public static string NormalizeFingerprint(string fingerprint)
    {
        ArgumentNullException.ThrowIfNull(fingerprint);
        string text = fingerprint.Trim();
        if (text.StartsWith("sha256:", StringComparison.OrdinalIgnoreCase))
        {
            text = text["sha256:".Length..];
        }

        text = text.Replace(":", "", StringComparison.Ordinal).Replace(" ", "", StringComparison.Ordinal);
        if (text.Length != 64 || !text.All(Uri.IsHexDigit))
        {
            throw new FormatException($"'{fingerprint}' is not a SHA-256 fingerprint (64 hexadecimal digits, colons allowed).");
        }

        return FormatFingerprint(Convert.FromHexString(text));
    }

    private static bool IsSelfSigned(X509Certificate2 certificate)
    {
        if (!certificate.SubjectName.RawData.AsSpan().SequenceEqual(certificate.IssuerName.RawData))
        {
            return false;
        }

        // Same names: check that the certificate's own key verifies its signature.
        using var chain = new X509Chain();
        chain.ChainPolicy.RevocationMode = X509RevocationMode.NoCheck;
        chain.ChainPolicy.TrustMode = X509ChainTrustMode.CustomRootTrust;
        chain.ChainPolicy.CustomTrustStore.Add(certificate);
        chain.ChainPolicy.VerificationFlags = X509VerificationFlags.AllowUnknownCertificateAuthority | X509VerificationFlags.IgnoreNotTimeValid
            | X509VerificationFlags.IgnoreInvalidBasicConstraints | X509VerificationFlags.IgnoreWrongUsage | X509VerificationFlags.IgnoreInvalidPolicy;
        try
        {
            return chain.Build(certificate) && chain.ChainElements.Count == 1;
        }
        catch (CryptographicException)
        {
            return true;
        }
    }
}
