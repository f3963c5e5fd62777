namespace RdpNla.Protocol.Ntlm;

/// <summary>The host's answer to <see cref="NlaStatus.CredentialLookupNeeded"/>: what the account store knows about the user.</summary>
public sealed class NtlmCredentialLookup
{
    private readonly byte[]? _ntOwfV1;

    private NtlmCredentialLookup(LookupKind kind, byte[]? ntOwfV1, NtStatus status)
    {
        Kind = kind;
        _ntOwfV1 = ntOwfV1;
        Status = status;
    }

    internal enum LookupKind
    {
        Found,
        NotFound,
        Denied,
        DomainVerified,
        DomainRefused,
    }

    internal LookupKind Kind { get; }

    /// <summary>For Found: the status to fail with after a correct proof (Success to let the user in). For Denied: the refusal.</summary>
    internal NtStatus Status { get; }

    internal ReadOnlySpan<byte> NtOwfV1 => _ntOwfV1;

    /// <summary>For DomainVerified: the SessionBaseKey the domain controller returned.</summary>
    internal ReadOnlySpan<byte> SessionBaseKey => _ntOwfV1;

    /// <summary>
    /// The account exists with this NT hash. If the proof verifies but <paramref name="denialAfterVerification"/> is not
    /// <see cref="NtStatus.Success"/> (e.g. <see cref="NtStatus.AccountDisabled"/>), authentication fails with that status.
    /// </summary>
    /// <exception cref="ArgumentException">The hash is not 16 bytes.</exception>
    public static NtlmCredentialLookup Found(ReadOnlySpan<byte> ntOwfV1, NtStatus denialAfterVerification = NtStatus.Success)
    {
        if (ntOwfV1.Length != NtlmCrypto.NtOwfSize)
        {
            throw new ArgumentException("An NT hash has 16 bytes.", nameof(ntOwfV1));
        }

        return new NtlmCredentialLookup(LookupKind.Found, ntOwfV1.ToArray(), denialAfterVerification);
    }

    /// <summary>No such account: the server does the same work as for a wrong password and fails with STATUS_LOGON_FAILURE.</summary>
    public static NtlmCredentialLookup NotFound() => new(LookupKind.NotFound, null, NtStatus.LogonFailure);

    /// <summary>Refuse without verifying (e.g. <see cref="NtStatus.AccountLockedOut"/>).</summary>
    /// <exception cref="ArgumentException"><paramref name="status"/> is Success.</exception>
    public static NtlmCredentialLookup Denied(NtStatus status)
    {
        if (status == NtStatus.Success)
        {
            throw new ArgumentException("A denial needs a failure status.", nameof(status));
        }

        return new NtlmCredentialLookup(LookupKind.Denied, null, status);
    }

    /// <summary>
    /// A domain controller verified the NTLMv2 response (pass-through, MS-NLMP §3.2.5.1.2 done by the DC through
    /// MS-NRPC NetrLogonSamLogonEx) and returned the user session key, the NTLMv2 SessionBaseKey (MS-NLMP §3.3.2). The
    /// acceptor derives the session keys from it and checks the MIC; the NT hash is never seen here.
    /// </summary>
    /// <exception cref="ArgumentException">The key is not 16 bytes.</exception>
    public static NtlmCredentialLookup VerifiedByDomain(ReadOnlySpan<byte> sessionBaseKey)
    {
        if (sessionBaseKey.Length != NtlmCrypto.KeySize)
        {
            throw new ArgumentException("A SessionBaseKey has 16 bytes.", nameof(sessionBaseKey));
        }

        return new NtlmCredentialLookup(LookupKind.DomainVerified, sessionBaseKey.ToArray(), NtStatus.Success);
    }

    /// <summary>A domain controller refused the logon (or none could be reached) with <paramref name="status"/>, which reaches the client as is.</summary>
    /// <exception cref="ArgumentException"><paramref name="status"/> is Success.</exception>
    public static NtlmCredentialLookup RefusedByDomain(NtStatus status) => status == NtStatus.Success
        ? throw new ArgumentException("A refusal needs a failure status.", nameof(status))
        : new NtlmCredentialLookup(LookupKind.DomainRefused, null, status);

    internal void Clear()
    {
        if (_ntOwfV1 is not null)
        {
            CryptographicOperations.ZeroMemory(_ntOwfV1);
        }
    }
}
