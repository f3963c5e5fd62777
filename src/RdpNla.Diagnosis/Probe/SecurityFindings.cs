namespace RdpNla.Diagnosis.Probe;

/// <summary>How bad a finding is.</summary>
public enum FindingSeverity
{
    Info,
    Low,
    Medium,
    High,
}

/// <summary>One observation worth acting on.</summary>
/// <param name="Severity">How bad it is.</param>
/// <param name="Id">Stable identifier, e.g. <c>nla-not-required</c>.</param>
/// <param name="Message">What was observed, in plain words.</param>
public sealed record ProbeFinding(FindingSeverity Severity, string Id, string Message);

/// <summary>
/// The security findings of <c>rdpnla probe</c>: what the measured facts of a <see cref="ProbeResult"/> mean for the
/// server's security (NLA not required, Standard RDP Security, old TLS, CredSSP without the CVE-2018-0886 fix,
/// certificate weaknesses).
/// </summary>
public static class SecurityFindings
{
    /// <summary>The findings for one probed target, judged at <paramref name="now"/> (certificate validity).</summary>
    public static IReadOnlyList<ProbeFinding> Assess(ProbeResult result, DateTimeOffset now)
    {
        ArgumentNullException.ThrowIfNull(result);
        var findings = new List<ProbeFinding>();
        bool anything = result.StandardRdpAccepted || result.Accepted != SecurityProtocols.Rdp;
        if (result.Legacy)
        {
            findings.Add(new(FindingSeverity.High, "legacy-server", "the server ignores RDP security negotiation (no rdpNegData): Standard RDP Security only, a pre-Vista-era server"));
        }

        if (!result.NlaSupported && anything)
        {
            findings.Add(new(FindingSeverity.High, "nla-not-supported", "NLA is not supported: anyone can open a session up to the logon screen, and passwords are checked only inside the session (credential checkers cannot prove a password here)"));
        }
        else if (result.NlaSupported && !result.NlaRequired)
        {
            findings.Add(new(FindingSeverity.Medium, "nla-not-required", "NLA is supported but not required: clients that do not offer CredSSP still get a session up to the logon screen"));
        }

        if (result.StandardRdpAccepted)
        {
            findings.Add(new(FindingSeverity.High, "standard-rdp-security", "Standard RDP Security is accepted: RC4 encryption and no server authentication (man in the middle possible)"));
        }

#pragma warning disable SYSLIB0039, CA5397 // Findings about the old versions.
        foreach ((SslProtocols version, string id) in new[] { (SslProtocols.Tls, "tls-1.0-accepted"), (SslProtocols.Tls11, "tls-1.1-accepted") })
#pragma warning restore SYSLIB0039, CA5397
        {
            if (result.TlsVersions.TryGetValue(version, out TlsVersionSupport support) && support == TlsVersionSupport.Accepted)
            {
                findings.Add(new(FindingSeverity.Medium, id, $"{NlaClient.TlsName(version)} is accepted (deprecated by RFC 8996)"));
            }
        }

        if (result.CredSspPatched == false)
        {
            findings.Add(new(FindingSeverity.High, "credssp-unpatched", $"CredSSP version {result.CredSspVersion}: no CVE-2018-0886 fix (the May 2018 update brings version 5 or 6); patched clients refuse this server by default"));
        }

        if (result.AcceptsUnpatchedClients == true)
        {
            findings.Add(new(FindingSeverity.Low, "credssp-accepts-unpatched-clients", "the server accepts CredSSP clients without the CVE-2018-0886 fix (AllowEncryptionOracle is not 0, Force Updated Clients)"));
        }

        if (result.NlaSupported && (result.Accepted & SecurityProtocols.HybridEx) == 0)
        {
            findings.Add(new(FindingSeverity.Info, "no-early-user-authorization", "PROTOCOL_HYBRID_EX is not selected: a user without the right to log on remotely is refused only later, in the session"));
        }

        if (result.Certificate is { } certificate)
        {
            if (certificate.IsExpired(now))
            {
                findings.Add(new(FindingSeverity.Medium, "certificate-expired", $"the certificate expired on {certificate.NotAfter:yyyy-MM-dd}"));
            }
            else if (certificate.IsNotYetValid(now))
            {
                findings.Add(new(FindingSeverity.Medium, "certificate-not-yet-valid", $"the certificate is valid only from {certificate.NotBefore:yyyy-MM-dd}"));
            }

            if (certificate.SelfSigned)
            {
                findings.Add(new(FindingSeverity.Low, "certificate-self-signed", "the certificate is self-signed: clients cannot verify the server's identity without pinning it (trust on first use)"));
            }

            if (certificate.KeyType == "RSA" && certificate.KeySize < 2048)
            {
                findings.Add(new(FindingSeverity.Medium, "certificate-weak-key", $"the certificate has a {certificate.KeySize}-bit RSA key (less than 2048)"));
            }

            if (certificate.SignatureAlgorithm.Contains("sha1", StringComparison.OrdinalIgnoreCase) || certificate.SignatureAlgorithm.Contains("md5", StringComparison.OrdinalIgnoreCase))
            {
                findings.Add(new(FindingSeverity.Low, "certificate-weak-signature", $"the certificate is signed with {certificate.SignatureAlgorithm}"));
            }
        }

        if (result.Ntlm is { } ntlm)
        {
            findings.Add(new(FindingSeverity.Info, "ntlm-information", string.Create(CultureInfo.InvariantCulture,
                $"without credentials the NTLM CHALLENGE tells computer {ntlm.NbComputerName ?? ntlm.DnsComputerName ?? "?"}, domain {ntlm.NbDomainName ?? ntlm.DnsDomainName ?? "?"}, OS version {ntlm.OsVersion ?? "?"}")));
        }

        return findings;
    }
}
