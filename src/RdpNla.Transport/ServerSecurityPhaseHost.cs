namespace RdpNla.Transport;

/// <summary>The phases of the server's security phase, each with its own deadline in a host that wants one.</summary>
public enum ServerSecurityPhase
{
    /// <summary>Reading the X.224 Connection Request (MS-RDPBCGR §2.2.1.1) and answering it.</summary>
    ConnectionRequest,

    /// <summary>The TLS handshake (MS-RDPBCGR §5.4.5.1).</summary>
    Tls,

    /// <summary>The CredSSP exchange (MS-CSSP §3.1.5), credential lookup and logon record included.</summary>
    CredSsp,

    /// <summary>The host's authorization after CredSSP (account policy, groups, second factor).</summary>
    Authorization,
}

/// <summary>The token that bounds one phase, and what to dispose when the phase ends (its deadline, its span).</summary>
/// <param name="Token">The token the phase's I/O and hooks observe.</param>
/// <param name="End">Disposed when the phase ends; may be null.</param>
public readonly record struct ServerPhaseScope(CancellationToken Token, IDisposable? End) : IDisposable
{
    /// <summary>Ends the phase.</summary>
    public void Dispose() => End?.Dispose();
}

/// <summary>
/// What a server host supplies to <see cref="SecurityPhaseDriver.RunServerAsync"/>: deadlines per phase, the credential
/// lookup, the logon record, its authorization, and tracing. Only <see cref="LookupCredentialAsync"/> is required; the
/// others default to no deadline, no record, authorization granted and no tracing.
/// </summary>
public abstract class ServerSecurityPhaseHost
{
    /// <summary>The largest TSRequest accepted from the client, in bytes.</summary>
    public virtual int MaxMessageSize => 64 * 1024;

    /// <summary>A phase starts: returns the token that bounds it (a per-phase deadline linked to <paramref name="connection"/>).</summary>
    /// <param name="phase">The phase that starts.</param>
    /// <param name="connection">The token of the whole connection.</param>
    public virtual ServerPhaseScope EnterPhase(ServerSecurityPhase phase, CancellationToken connection) => new(connection, null);

    /// <summary>
    /// A phase ended without an exception (tracing, logs): after the Connection Request the acceptor knows the request and
    /// the decision; after TLS the stream knows the protocol and cipher; after CredSSP its context knows the version and package.
    /// </summary>
    /// <param name="phase">The phase that ended.</param>
    /// <param name="acceptor">The acceptor, to read what the phase learnt.</param>
    /// <param name="step">The step the phase ended with.</param>
    /// <param name="tls">The TLS stream.</param>
    public virtual void PhaseEnded(ServerSecurityPhase phase, RdpServerAcceptor acceptor, SecurityPhaseStep step, SslStream tls)
    {
    }

    /// <summary>Answers the authentication package's <see cref="CredentialRequest"/> (a store, a domain controller, a realm mapping).</summary>
    /// <param name="request">What the package asks.</param>
    /// <param name="cancellationToken">Cancels the lookup when the phase is abandoned.</param>
    public abstract ValueTask<NtlmCredentialLookup> LookupCredentialAsync(CredentialRequest request, CancellationToken cancellationToken);

    /// <summary>
    /// The client proved its identity and the server is about to prove itself (with
    /// <c>CredSspServerOptions.RecordLogonBeforeProof</c>): records the logon; returns STATUS_SUCCESS, or the status to refuse it with.
    /// </summary>
    /// <param name="identity">The proven identity.</param>
    /// <param name="cancellationToken">Cancels the record when the phase is abandoned.</param>
    public virtual ValueTask<NtStatus> RecordLogonAsync(AuthenticatedIdentity identity, CancellationToken cancellationToken) => ValueTask.FromResult(NtStatus.Success);

    /// <summary>CredSSP completed: the host's verdict on <paramref name="identity"/>, STATUS_SUCCESS or the refusal.</summary>
    /// <param name="identity">The proven identity.</param>
    /// <param name="cancellationToken">Cancels the decision when the phase is abandoned.</param>
    public virtual ValueTask<NtStatus> AuthorizeAsync(AuthenticatedIdentity identity, CancellationToken cancellationToken) => ValueTask.FromResult(NtStatus.Success);
}
