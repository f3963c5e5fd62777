namespace RdpNla.Protocol.Rdp;

/// <summary>
/// Server-side choice of the security protocol (MS-RDPBCGR §3.3.5.3.2), emulating what a Windows server answers
/// for its SecurityLayer and UserAuthentication settings (docs/interop.md#windows-security-layer).
/// </summary>
/// <remarks>
/// <para>Effective policy derived from (SecurityLayer, UserAuthentication):</para>
/// <list type="table">
/// <item><term>0 / UA=0</term><description>Standard RDP Security only: RDP_NEG_RSP(PROTOCOL_RDP) whatever is requested.</description></item>
/// <item><term>1 / UA=0</term><description>HYBRID_EX &gt; HYBRID &gt; SSL &gt; RDP.</description></item>
/// <item><term>2 / UA=0</term><description>HYBRID_EX &gt; HYBRID &gt; SSL, else SSL_REQUIRED_BY_SERVER.</description></item>
/// <item><term>any / UA=1</term><description>HYBRID_EX &gt; HYBRID, else HYBRID_REQUIRED_BY_SERVER.</description></item>
/// </list>
/// <para>Cells no public source documents (SecurityLayer 0, HYBRID_EX selection) are decided in the comments of <see cref="Select"/>.</para>
/// </remarks>
public static class SecurityNegotiator
{
    /// <summary>The RDP_NEG_RSP flags sent with every response (as the FreeRDP server does, docs/interop.md#negotiation).</summary>
    public const RdpNegResponseFlags ResponseFlags = RdpNegResponseFlags.ExtendedClientDataSupported;

    /// <summary>Decides the answer to <paramref name="request"/>.</summary>
    /// <param name="layer">The SecurityLayer setting.</param>
    /// <param name="userAuthentication">The UserAuthentication setting (true = require NLA).</param>
    /// <param name="request">The client's Connection Request.</param>
    /// <param name="certificateAvailable">Whether a TLS server certificate (and its private key) is available.</param>
    /// <exception cref="ArgumentNullException"><paramref name="request"/> is null.</exception>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="layer"/> is not 0, 1 or 2.</exception>
    public static NegotiationDecision Select(
        SecurityLayer layer,
        bool userAuthentication,
        X224ConnectionRequest request,
        bool certificateAvailable)
    {
        ArgumentNullException.ThrowIfNull(request);
        if (layer is not (SecurityLayer.Rdp or SecurityLayer.Negotiate or SecurityLayer.Tls))
        {
            throw new ArgumentOutOfRangeException(nameof(layer), layer, "SecurityLayer must be 0, 1 or 2.");
        }

        string policy = $"SecurityLayer={(int)layer} ({layer}), UserAuthentication={(userAuthentication ? 1 : 0)}";

        // UNDOCUMENTED (docs/interop.md#windows-security-layer, row "0 / 1"): SecurityLayer 0 with UserAuthentication=1
        // behaves as UserAuthentication=1 on any layer. NLA runs over TLS, so requiring it overrides "RDP only";
        // the Windows Remote Desktop settings GUI enforces the same (ticking NLA raises the listener to TLS).
        // Hence: NLA required <=> UA=1; Standard RDP Security allowed <=> UA=0 and layer != 2 (interop.md row
        // "2 / 0": RDP-only request fails with SSL_REQUIRED_BY_SERVER, seen in a public capture); TLS/CredSSP allowed
        // <=> UA=1 or layer != 0.
        bool nlaRequired = userAuthentication;
        bool standardRdpAllowed = !userAuthentication && layer != SecurityLayer.Tls;
        bool enhancedAllowed = userAuthentication || layer != SecurityLayer.Rdp;

        RdpNegRequest? negotiation = request.NegotiationRequest;
        if (negotiation is null)
        {
            // MS-RDPBCGR §3.3.5.3.1: no rdpNegData => the client only knows Standard RDP Security. When the policy
            // allows it, the CC carries no rdpNegData (§3.3.5.3.2). When it does not, we still send RDP_NEG_FAILURE:
            // the client gets the specific reason instead of a dropped connection, which is what users of
            // NLA-enforcing Windows servers report from such clients (docs/interop.md#windows-security-layer: failure code 5
            // to non-NLA clients), and what FreeRDP 2.11 `/sec:rdp` (which sends no RDP_NEG_REQ) reports as
            // "HYBRID_REQUIRED_BY_SERVER".
            if (standardRdpAllowed)
            {
                return NegotiationDecision.Legacy($"{policy}: client sent no RDP_NEG_REQ (legacy client); Standard RDP Security allowed.");
            }

            return nlaRequired
                ? NegotiationDecision.Fail(NegotiationFailureCode.HybridRequiredByServer, $"{policy}: client sent no RDP_NEG_REQ (Standard RDP Security only); server requires NLA.")
                : NegotiationDecision.Fail(NegotiationFailureCode.SslRequiredByServer, $"{policy}: client sent no RDP_NEG_REQ (Standard RDP Security only); server requires TLS.");
        }

        SecurityProtocols requested = negotiation.RequestedProtocols;
        string asked = $"{policy}: client requested {requested.Name()}";
        if ((negotiation.Flags & (RdpNegRequestFlags.RestrictedAdminModeRequired | RdpNegRequestFlags.RedirectedAuthenticationModeRequired)) != 0)
        {
            // Neither RESTRICTED_ADMIN_MODE_SUPPORTED nor REDIRECTED_AUTHENTICATION_MODE_SUPPORTED is offered: the
            // client sees that in the RSP flags and ends the connection itself (MS-RDPBCGR §2.2.1.2.1).
            asked += $" (flags {negotiation.Flags}: not supported here, the client will disconnect)";
        }

        if (!enhancedAllowed)
        {
            // UNDOCUMENTED (docs/interop.md#windows-security-layer, row "0 / 0"): Windows with SecurityLayer 0 answers RDP_NEG_RSP
            // PROTOCOL_RDP to every request rather than SSL_NOT_ALLOWED_BY_SERVER; xrdp does the same
            // (docs/interop.md#xrdp, security_layer=rdp). Selecting PROTOCOL_RDP for 0x0B is legal (MS-RDPBCGR §3.3.5.3.2).
            return NegotiationDecision.Respond(SecurityProtocols.Rdp, ResponseFlags, $"{asked}; server allows Standard RDP Security only.");
        }

        // Preference HYBRID_EX > HYBRID > SSL (IronRDP acceptor; Windows for Win8/2012 and later).
        // UNDOCUMENTED (docs/interop.md#windows-security-layer): HYBRID_EX is selected whenever it is requested with HYBRID.
        // HYBRID_EX without HYBRID is inconsistent (MS-RDPBCGR §2.2.1.1.1: HYBRID "SHOULD also be set"); like the
        // FreeRDP server (docs/interop.md#freerdp-shadow: HYBRID_EX alone -> HYBRID_REQUIRED_BY_SERVER) it is not a CredSSP
        // offer. (FreeRDP 2.11 `/sec:ext` requests 0x0B, not 0x08, and cannot connect once HYBRID_EX is selected.)
        // PROTOCOL_RDSTLS and PROTOCOL_RDSAAD are never selected: not implemented here.
        SecurityProtocols? selected = null;
        if ((requested & SecurityProtocols.Hybrid) != 0)
        {
            selected = (requested & SecurityProtocols.HybridEx) != 0 ? SecurityProtocols.HybridEx : SecurityProtocols.Hybrid;
        }
        else if ((requested & SecurityProtocols.Ssl) != 0 && !nlaRequired)
        {
            selected = SecurityProtocols.Ssl;
        }

        if (selected is SecurityProtocols protocol)
        {
            // MS-RDPBCGR §2.2.1.2.2 (docs/interop.md#windows-security-layer): SSL_CERT_NOT_ON_SERVER whenever the chosen protocol needs TLS
            // and no certificate is available (no fallback to Standard RDP Security, as Windows).
            return certificateAvailable
                ? NegotiationDecision.Respond(protocol, ResponseFlags, $"{asked}; selected {protocol.Name()}.")
                : NegotiationDecision.Fail(NegotiationFailureCode.SslCertNotOnServer, $"{asked}; {protocol.Name()} needs TLS but no server certificate is available.");
        }

        if (standardRdpAllowed)
        {
            // MS-RDPBCGR §3.3.5.3.2: PROTOCOL_RDP also when the request holds only unsupported bits (RDSTLS, RDSAAD, HYBRID_EX alone).
            return NegotiationDecision.Respond(SecurityProtocols.Rdp, ResponseFlags, $"{asked}; no offered External Security Protocol is usable, falling back to Standard RDP Security.");
        }

        return nlaRequired
            ? NegotiationDecision.Fail(NegotiationFailureCode.HybridRequiredByServer, $"{asked}; server requires NLA (PROTOCOL_HYBRID) and the client did not offer it.")
            : NegotiationDecision.Fail(NegotiationFailureCode.SslRequiredByServer, $"{asked}; server requires TLS and the client offered neither PROTOCOL_SSL nor PROTOCOL_HYBRID.");
    }
}
