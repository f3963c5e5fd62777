namespace RdpNla.Protocol.Rdp;

/// <summary>RDP_NEG_FAILURE.failureCode (MS-RDPBCGR §2.2.1.2.2).</summary>
public enum NegotiationFailureCode : uint
{
    /// <summary>SSL_REQUIRED_BY_SERVER: the server requires Enhanced RDP Security with TLS or CredSSP.
    /// If only CredSSP was requested, the server only supports TLS.</summary>
    SslRequiredByServer = 0x00000001,

    /// <summary>SSL_NOT_ALLOWED_BY_SERVER: the server is configured to use only Standard RDP Security.</summary>
    SslNotAllowedByServer = 0x00000002,

    /// <summary>SSL_CERT_NOT_ON_SERVER: the server has no valid certificate and cannot start TLS or CredSSP.</summary>
    SslCertNotOnServer = 0x00000003,

    /// <summary>INCONSISTENT_FLAGS: the requested protocols are inconsistent (Direct Approach only).</summary>
    InconsistentFlags = 0x00000004,

    /// <summary>HYBRID_REQUIRED_BY_SERVER: the server requires CredSSP (Network Level Authentication).</summary>
    HybridRequiredByServer = 0x00000005,

    /// <summary>SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER: the server requires TLS with certificate-based client authentication.</summary>
    SslWithUserAuthRequiredByServer = 0x00000006,
}

/// <summary>Spec names and plain-language meanings of <see cref="NegotiationFailureCode"/> values.</summary>
public static class NegotiationFailureCodeExtensions
{
    /// <summary>
    /// The spec constant name, e.g. <c>HYBRID_REQUIRED_BY_SERVER</c> (FreeRDP prints exactly these names);
    /// a hex string for values the spec does not define.
    /// </summary>
    public static string Name(this NegotiationFailureCode code) => code switch
    {
        NegotiationFailureCode.SslRequiredByServer => "SSL_REQUIRED_BY_SERVER",
        NegotiationFailureCode.SslNotAllowedByServer => "SSL_NOT_ALLOWED_BY_SERVER",
        NegotiationFailureCode.SslCertNotOnServer => "SSL_CERT_NOT_ON_SERVER",
        NegotiationFailureCode.InconsistentFlags => "INCONSISTENT_FLAGS",
        NegotiationFailureCode.HybridRequiredByServer => "HYBRID_REQUIRED_BY_SERVER",
        NegotiationFailureCode.SslWithUserAuthRequiredByServer => "SSL_WITH_USER_AUTH_REQUIRED_BY_SERVER",
        _ => $"0x{(uint)code:X8}",
    };

    /// <summary>What the failure means, in words a user understands.</summary>
    public static string Describe(this NegotiationFailureCode code) => code switch
    {
        NegotiationFailureCode.SslRequiredByServer => "the server requires TLS (or, if only NLA was requested, supports TLS only)",
        NegotiationFailureCode.SslNotAllowedByServer => "the server allows only Standard RDP Security, not TLS or NLA",
        NegotiationFailureCode.SslCertNotOnServer => "the server has no certificate and cannot start TLS or NLA",
        NegotiationFailureCode.InconsistentFlags => "the requested security protocols are inconsistent",
        NegotiationFailureCode.HybridRequiredByServer => "the server requires Network Level Authentication (CredSSP)",
        NegotiationFailureCode.SslWithUserAuthRequiredByServer => "the server requires TLS with a client certificate",
        _ => "unrecognised negotiation failure code",
    };
}
