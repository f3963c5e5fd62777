namespace RdpNla.Protocol.Rdp;

/// <summary>What the server does with a Connection Request.</summary>
public enum NegotiationAction
{
    /// <summary>Send a CC with RDP_NEG_RSP(selectedProtocol, flags) and continue with that protocol.</summary>
    SendResponse,

    /// <summary>Send a CC with RDP_NEG_FAILURE(failureCode), then close the connection (MS-RDPBCGR §3.3.5.3.2).</summary>
    SendFailureAndClose,

    /// <summary>Send a CC without rdpNegData (legacy client) and continue with Standard RDP Security.</summary>
    SendLegacyConfirm,
}

/// <summary>The server's answer to an X.224 Connection Request, with a reason for the log.</summary>
public sealed record NegotiationDecision
{
    private NegotiationDecision(NegotiationAction action, string reason)
    {
        Action = action;
        Reason = reason;
    }

    /// <summary>Which X.224 Connection Confirm the server sends: RDP_NEG_RSP, RDP_NEG_FAILURE and close, or no rdpNegData.</summary>
    public NegotiationAction Action { get; }

    /// <summary>
    /// The security protocol the connection continues with: the RDP_NEG_RSP's selectedProtocol, or
    /// <see cref="SecurityProtocols.Rdp"/> for a legacy confirm; null when the connection ends.
    /// </summary>
    public SecurityProtocols? SelectedProtocol { get; private init; }

    /// <summary>The RDP_NEG_RSP flags (only for <see cref="NegotiationAction.SendResponse"/>).</summary>
    public RdpNegResponseFlags ResponseFlags { get; private init; }

    /// <summary>The RDP_NEG_FAILURE code (only for <see cref="NegotiationAction.SendFailureAndClose"/>).</summary>
    public NegotiationFailureCode? FailureCode { get; private init; }

    /// <summary>A human-readable explanation for logs (never sent to the peer).</summary>
    public string Reason { get; }

    /// <summary>Whether the server closes the connection after sending the failure.</summary>
    public bool ClosesConnection => Action == NegotiationAction.SendFailureAndClose;

    /// <summary>The Connection Confirm to send.</summary>
    public X224ConnectionConfirm Confirm => Action switch
    {
        NegotiationAction.SendResponse => new X224ConnectionConfirm(new RdpNegResponse(ResponseFlags, SelectedProtocol!.Value)),
        NegotiationAction.SendFailureAndClose => new X224ConnectionConfirm(new RdpNegFailure(FailureCode!.Value)),
        _ => new X224ConnectionConfirm(null),
    };

    /// <summary>Answer RDP_NEG_RSP(<paramref name="selectedProtocol"/>, <paramref name="flags"/>).</summary>
    public static NegotiationDecision Respond(SecurityProtocols selectedProtocol, RdpNegResponseFlags flags, string reason) =>
        new(NegotiationAction.SendResponse, reason) { SelectedProtocol = selectedProtocol, ResponseFlags = flags };

    /// <summary>Answer RDP_NEG_FAILURE(<paramref name="failureCode"/>) and close.</summary>
    public static NegotiationDecision Fail(NegotiationFailureCode failureCode, string reason) =>
        new(NegotiationAction.SendFailureAndClose, reason) { FailureCode = failureCode };

    /// <summary>Answer a CC without rdpNegData and continue with Standard RDP Security.</summary>
    public static NegotiationDecision Legacy(string reason) =>
        new(NegotiationAction.SendLegacyConfirm, reason) { SelectedProtocol = SecurityProtocols.Rdp };

    /// <summary>The decision in one line for the log: the structure the server sends and why.</summary>
    public override string ToString() => Action switch
    {
        NegotiationAction.SendResponse => $"RDP_NEG_RSP {SelectedProtocol!.Value.Name()} (flags {ResponseFlags}): {Reason}",
        NegotiationAction.SendFailureAndClose => $"RDP_NEG_FAILURE {FailureCode!.Value.Name()}: {Reason}",
        _ => $"CC without rdpNegData (Standard RDP Security): {Reason}",
    };
}
