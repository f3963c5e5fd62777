namespace RdpNla.Protocol.Connection;

/// <summary>How far an <see cref="RdpClientConnector"/> goes before it reports <see cref="SecurityPhaseAction.Completed"/>.</summary>
public enum ClientSecurityStage
{
    /// <summary>The whole security phase: X.224, TLS, CredSSP and, for PROTOCOL_HYBRID_EX, the Early User Authorization Result.</summary>
    Authorization,

    /// <summary>Stop once the Connection Confirm selected a protocol that was requested (nothing is checked beyond that).</summary>
    ConnectionConfirm,

    /// <summary>Stop once TLS is up; the caller runs CredSSP itself, or only wanted the certificate.</summary>
    Tls,

    /// <summary>Stop at the server's first TSRequest (its NTLM CHALLENGE, or an errorCode): what the server announces before any password is sent.</summary>
    FirstServerTsRequest,
}

/// <summary>Why an <see cref="RdpClientConnector"/> refused the server's X.224 Connection Confirm (MS-RDPBCGR §3.2.5.3.2).</summary>
public enum ProtocolSelectionFailure
{
    /// <summary>The selection was accepted, or no Connection Confirm has been judged yet.</summary>
    None,

    /// <summary>The server answered RDP_NEG_FAILURE (MS-RDPBCGR §2.2.1.2.2); <see cref="RdpClientConnector.ConnectionConfirm"/> holds its code.</summary>
    NegotiationFailure,

    /// <summary>The server selected more than one protocol, or one the client did not request: a protocol violation, or a rewritten confirm.</summary>
    NotRequested,

    /// <summary>The server selected Standard RDP Security (PROTOCOL_RDP, or no rdpNegData at all), which this connector does not implement.</summary>
    StandardRdpSecurity,

    /// <summary>The server selected a requested protocol this connector does not implement (PROTOCOL_RDSTLS, PROTOCOL_RDSAAD).</summary>
    NotImplemented,

    /// <summary>The server selected PROTOCOL_SSL (TLS without NLA), which the caller did not allow (<see cref="RdpClientConnectorOptions.AllowTlsWithoutNla"/>).</summary>
    TlsWithoutNlaNotAllowed,
}

/// <summary>Settings of an <see cref="RdpClientConnector"/>.</summary>
public sealed class RdpClientConnectorOptions
{
    /// <summary>
    /// The X.224 Connection Request to send (MS-RDPBCGR §2.2.1.1): cookie or routing token, the RDP_NEG_REQ with the
    /// requested protocols and flags, correlation info. Without an RDP_NEG_REQ only Standard RDP Security is requested.
    /// </summary>
    public required X224ConnectionRequest ConnectionRequest { get; init; }

    /// <summary>
    /// Accept PROTOCOL_SSL when the server selects it: the connector then completes after the TLS handshake, without
    /// CredSSP (credentials, if any, travel later in the Client Info PDU). False refuses it even when requested.
    /// </summary>
    public bool AllowTlsWithoutNla { get; init; }

    /// <summary>How far to go; default the whole security phase.</summary>
    public ClientSecurityStage StopAfter { get; init; } = ClientSecurityStage.Authorization;

    /// <summary>
    /// Builds the CredSSP settings once the server's SubjectPublicKey is known from TLS (the key the public-key binding
    /// of MS-CSSP §3.1.5 covers). Required unless <see cref="StopAfter"/> stops before CredSSP.
    /// </summary>
    public Func<ReadOnlyMemory<byte>, CredSspClientOptions>? CredSsp { get; init; }

    /// <summary>The randomness for CredSSP (the clientNonce of MS-CSSP §2.2.1); required with <see cref="CredSsp"/>.</summary>
    public IRandomSource? RandomSource { get; init; }
}
