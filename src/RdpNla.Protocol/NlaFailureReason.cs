namespace RdpNla.Protocol;

/// <summary>Why a protocol step failed. Mirrors Kestrel's RequestRejectionReason: one value per distinct cause.</summary>
public enum NlaFailureReason
{
    /// <summary>No failure: the step succeeded or has not failed yet.</summary>
    None,

    /// <summary>The bytes do not decode as the expected structure.</summary>
    Malformed,

    /// <summary>A length field or a whole message exceeds its bound.</summary>
    MessageTooLarge,

    /// <summary>The message is valid but not the one expected in this state.</summary>
    UnexpectedMessage,

    /// <summary>The peer's CredSSP version is outside 2..6 or changed during the exchange.</summary>
    UnsupportedVersion,

    /// <summary>The peer's CredSSP version is refused by the AllowEncryptionOracle policy (CVE-2018-0886).</summary>
    VersionNotPermitted,

    /// <summary>The peer uses a mechanism or option we refuse (LM, NTLMv1, anonymous, Kerberos-only, ...).</summary>
    UnsupportedMechanism,

    /// <summary>The NTLM negotiate flags lack something CredSSP needs.</summary>
    UnsupportedFlags,

    /// <summary>The NTLM MIC or the SPNEGO mechListMIC does not verify.</summary>
    IntegrityCheckFailed,

    /// <summary>The public-key binding (pubKeyAuth) does not match: a man in the middle or a changed certificate.</summary>
    PublicKeyMismatch,

    /// <summary>A sealed message does not verify (wrong key, tampered bytes, wrong sequence number).</summary>
    DecryptionFailed,

    /// <summary>The user could not be authenticated (wrong password, unknown user, account policy).</summary>
    AuthenticationFailed,

    /// <summary>The peer reported a failure (a CredSSP errorCode, an RDP_NEG_FAILURE, an EUAR denial).</summary>
    PeerReportedFailure,

    /// <summary>The delegated credentials are of a kind this implementation does not accept.</summary>
    UnsupportedCredentials,
}
