using RdpNla.Protocol.Rdp;

namespace RdpNla.Protocol.Tests.Rdp;

public class SecurityNegotiatorTests
{
    /// <summary>
    /// What a Windows server answers, per SecurityLayer x UserAuthentication x requestedProtocols, with a certificate.
    /// Mirrors docs/interop.md#windows-security-layer; where Windows is undocumented (HYBRID alone, HYBRID_EX alone, RDSTLS/RDSAAD alone,
    /// no RDP_NEG_REQ, layer 0 with UA=1) the cells follow the decisions documented in SecurityNegotiator.Select and
    /// the observed peers (docs/interop.md#peers): freerdp-shadow /sec:nla answers RDP and SSL with HYBRID_REQUIRED_BY_SERVER
    /// (= our UA=1 rows); xrdp security_layer=rdp answers RSP RDP to everything (= layer 0); xrdp tls answers RDP
    /// with SSL_REQUIRED_BY_SERVER (= layer 2); both answer HYBRID_EX alone as not a CredSSP offer. Deliberate
    /// differences: HYBRID_EX is selected with HYBRID (FreeRDP and xrdp never select it; Windows does), and a CR
    /// without RDP_NEG_REQ gets the failure code when Standard RDP Security is not allowed (FreeRDP `/sec:rdp`
    /// sends no RDP_NEG_REQ and reports HYBRID_REQUIRED_BY_SERVER).
    /// Request "none" = a CR without RDP_NEG_REQ. Expected: "RSP proto" | "FAIL code" | "LEGACY" (CC without
    /// rdpNegData).
    /// </summary>
    private static readonly (int Layer, int Ua, string Request, string Expected)[] s_table =
    [
        // SecurityLayer 0 (RDP), UA=0: Standard RDP Security whatever is requested (interop.md, row "0 / 0").
        (0, 0, "none", "LEGACY"),
        (0, 0, "00", "RSP RDP"),
        (0, 0, "01", "RSP RDP"),
        (0, 0, "02", "RSP RDP"),
        (0, 0, "03", "RSP RDP"),
        (0, 0, "08", "RSP RDP"),
        (0, 0, "0A", "RSP RDP"),
        (0, 0, "0B", "RSP RDP"),
        (0, 0, "04", "RSP RDP"),
        (0, 0, "10", "RSP RDP"),

        // SecurityLayer 1 (Negotiate), UA=0: the best the client offers (interop.md, row "1 / 0").
        (1, 0, "none", "LEGACY"),
        (1, 0, "00", "RSP RDP"),
        (1, 0, "01", "RSP SSL"),
        (1, 0, "02", "RSP HYBRID"),
        (1, 0, "03", "RSP HYBRID"),
        (1, 0, "08", "RSP RDP"),
        (1, 0, "0A", "RSP HYBRID_EX"),
        (1, 0, "0B", "RSP HYBRID_EX"),
        (1, 0, "04", "RSP RDP"),
        (1, 0, "10", "RSP RDP"),

        // SecurityLayer 2 (TLS), UA=0: TLS or CredSSP required (interop.md, row "2 / 0").
        (2, 0, "none", "FAIL SSL_REQUIRED_BY_SERVER"),
        (2, 0, "00", "FAIL SSL_REQUIRED_BY_SERVER"),
        (2, 0, "01", "RSP SSL"),
        (2, 0, "02", "RSP HYBRID"),
        (2, 0, "03", "RSP HYBRID"),
        (2, 0, "08", "FAIL SSL_REQUIRED_BY_SERVER"),
        (2, 0, "0A", "RSP HYBRID_EX"),
        (2, 0, "0B", "RSP HYBRID_EX"),
        (2, 0, "04", "FAIL SSL_REQUIRED_BY_SERVER"),
        (2, 0, "10", "FAIL SSL_REQUIRED_BY_SERVER"),

        // SecurityLayer 0, UA=1: undocumented for Windows (docs/interop.md#windows-security-layer); decided to behave as UA=1 (NLA needs TLS).
        (0, 1, "none", "FAIL HYBRID_REQUIRED_BY_SERVER"),
        (0, 1, "00", "FAIL HYBRID_REQUIRED_BY_SERVER"),
        (0, 1, "01", "FAIL HYBRID_REQUIRED_BY_SERVER"),
        (0, 1, "02", "RSP HYBRID"),
        (0, 1, "03", "RSP HYBRID"),
        (0, 1, "08", "FAIL HYBRID_REQUIRED_BY_SERVER"),
        (0, 1, "0A", "RSP HYBRID_EX"),
        (0, 1, "0B", "RSP HYBRID_EX"),
        (0, 1, "04", "FAIL HYBRID_REQUIRED_BY_SERVER"),
        (0, 1, "10", "FAIL HYBRID_REQUIRED_BY_SERVER"),

        // SecurityLayer 1, UA=1: NLA required (interop.md, row "1 or 2 / 1").
        (1, 1, "none", "FAIL HYBRID_REQUIRED_BY_SERVER"),
        (1, 1, "00", "FAIL HYBRID_REQUIRED_BY_SERVER"),
        (1, 1, "01", "FAIL HYBRID_REQUIRED_BY_SERVER"),
        (1, 1, "02", "RSP HYBRID"),
        (1, 1, "03", "RSP HYBRID"),
        (1, 1, "08", "FAIL HYBRID_REQUIRED_BY_SERVER"),
        (1, 1, "0A", "RSP HYBRID_EX"),
        (1, 1, "0B", "RSP HYBRID_EX"),
        (1, 1, "04", "FAIL HYBRID_REQUIRED_BY_SERVER"),
        (1, 1, "10", "FAIL HYBRID_REQUIRED_BY_SERVER"),

        // SecurityLayer 2, UA=1: NLA required (interop.md, row "1 or 2 / 1").
        (2, 1, "none", "FAIL HYBRID_REQUIRED_BY_SERVER"),
        (2, 1, "00", "FAIL HYBRID_REQUIRED_BY_SERVER"),
        (2, 1, "01", "FAIL HYBRID_REQUIRED_BY_SERVER"),
        (2, 1, "02", "RSP HYBRID"),
        (2, 1, "03", "RSP HYBRID"),
        (2, 1, "08", "FAIL HYBRID_REQUIRED_BY_SERVER"),
        (2, 1, "0A", "RSP HYBRID_EX"),
        (2, 1, "0B", "RSP HYBRID_EX"),
        (2, 1, "04", "FAIL HYBRID_REQUIRED_BY_SERVER"),
        (2, 1, "10", "FAIL HYBRID_REQUIRED_BY_SERVER"),
    ];

    private static readonly string[] s_requests = ["none", "00", "01", "02", "03", "08", "0A", "0B", "04", "10"];

    public static TheoryData<int, int, string, string> Table => [.. s_table];

    [Fact]
    public void Table_CoversEveryCellExactlyOnce()
    {
        var cells = s_table.Select(row => (row.Layer, row.Ua, row.Request)).ToList();
        Assert.Equal(cells.Count, cells.Distinct().Count());
        foreach (int layer in new[] { 0, 1, 2 })
        {
            foreach (int ua in new[] { 0, 1 })
            {
                foreach (string request in s_requests)
                {
                    Assert.Contains((layer, ua, request), cells);
                }
            }
        }
    }

    [Theory]
    [MemberData(nameof(Table))]
    public void Select_RawRequestWithCertificate_AnswersAsTable(int layer, int ua, string request, string expected)
    {
        byte[] confirm = Answer(layer, ua, request, certificateAvailable: true, out NegotiationDecision decision);
        Assert.Equal(ExpectedConfirm(expected), confirm);
        Assert.Equal(expected.Split(' ')[0] is "FAIL", decision.ClosesConnection);
        Assert.Contains($"SecurityLayer={layer}", decision.Reason, StringComparison.Ordinal);
    }

    [Theory]
    [MemberData(nameof(Table))]
    public void Select_RawRequestWithoutCertificate_FailsOnlyWhereTlsWouldBeUsed(int layer, int ua, string request, string expected)
    {
        // interop.md row "no usable certificate" (MS-RDPBCGR §2.2.1.2.2): SSL_CERT_NOT_ON_SERVER replaces every TLS-based selection.
        string withoutCertificate = expected is "RSP SSL" or "RSP HYBRID" or "RSP HYBRID_EX" ? "FAIL SSL_CERT_NOT_ON_SERVER" : expected;
        Assert.Equal(ExpectedConfirm(withoutCertificate), Answer(layer, ua, request, certificateAvailable: false, out _));
    }

    [Theory]
    [InlineData(1, 0, "01", "FAIL SSL_CERT_NOT_ON_SERVER")]
    [InlineData(1, 0, "0B", "FAIL SSL_CERT_NOT_ON_SERVER")]
    [InlineData(1, 0, "00", "RSP RDP")]
    [InlineData(0, 0, "0B", "RSP RDP")]
    [InlineData(2, 0, "00", "FAIL SSL_REQUIRED_BY_SERVER")]
    [InlineData(1, 1, "01", "FAIL HYBRID_REQUIRED_BY_SERVER")]
    [InlineData(1, 1, "03", "FAIL SSL_CERT_NOT_ON_SERVER")]
    public void Select_NoCertificate_ExplicitCells(int layer, int ua, string request, string expected)
    {
        Assert.Equal(ExpectedConfirm(expected), Answer(layer, ua, request, certificateAvailable: false, out _));
    }

    [Fact]
    public void Select_XfreerdpRequestOnNlaServer_SelectsHybrid()
    {
        X224ConnectionRequest request = X224ConnectionRequest.Decode(RdpTestData.Load(RdpTestData.XfreerdpConnectionRequest));
        NegotiationDecision decision = SecurityNegotiator.Select(SecurityLayer.Negotiate, true, request, true);
        Assert.Equal(NegotiationAction.SendResponse, decision.Action);
        Assert.Equal(SecurityProtocols.Hybrid, decision.SelectedProtocol);
        Assert.Equal(RdpTestData.Hex("03 00 00 13 0e d0 00 00 12 34 00 02 01 08 00 02 00 00 00"), decision.Confirm!.Encode());
    }

    [Fact]
    public void Select_MstscRequestOnNlaServer_SelectsHybridEx()
    {
        X224ConnectionRequest request = X224ConnectionRequest.Decode(RdpTestData.Load(RdpTestData.MstscConnectionRequest));
        NegotiationDecision decision = SecurityNegotiator.Select(SecurityLayer.Negotiate, true, request, true);
        Assert.Equal(SecurityProtocols.HybridEx, decision.SelectedProtocol);
        Assert.Equal(RdpNegResponseFlags.ExtendedClientDataSupported, decision.ResponseFlags);
    }

    [Fact]
    public void Select_SpecRequestOnTlsServer_ProducesWindowsSslRequiredBytes()
    {
        X224ConnectionRequest request = X224ConnectionRequest.Decode(RdpTestData.Load(RdpTestData.SpecConnectionRequest));
        NegotiationDecision decision = SecurityNegotiator.Select(SecurityLayer.Tls, false, request, true);
        Assert.Equal(NegotiationAction.SendFailureAndClose, decision.Action);
        Assert.Equal(RdpTestData.Load(RdpTestData.WindowsSslRequiredConfirm), decision.Confirm!.Encode());
    }

    [Fact]
    public void Select_RestrictedAdminRequired_RespondsWithoutSupportFlagAndSaysSo()
    {
        var request = new X224ConnectionRequest("x", new RdpNegRequest(RdpNegRequestFlags.RestrictedAdminModeRequired, (SecurityProtocols)0x0B));
        NegotiationDecision decision = SecurityNegotiator.Select(SecurityLayer.Negotiate, true, request, true);
        Assert.Equal(SecurityProtocols.HybridEx, decision.SelectedProtocol);
        Assert.Equal(RdpNegResponseFlags.None, decision.ResponseFlags & RdpNegResponseFlags.RestrictedAdminModeSupported);
        Assert.Contains("RestrictedAdminModeRequired", decision.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public void Select_UndefinedLayer_ThrowsArgumentOutOfRange()
    {
        var request = new X224ConnectionRequest();
        Assert.Throws<ArgumentOutOfRangeException>(() => SecurityNegotiator.Select((SecurityLayer)3, false, request, true));
        Assert.Throws<ArgumentNullException>(() => SecurityNegotiator.Select(SecurityLayer.Rdp, false, null!, true));
    }

    [Fact]
    public void Decision_ToString_NamesTheAnswer()
    {
        var request = new X224ConnectionRequest(negotiationRequest: new RdpNegRequest(RdpNegRequestFlags.None, SecurityProtocols.Ssl));
        Assert.StartsWith("RDP_NEG_FAILURE HYBRID_REQUIRED_BY_SERVER: ", SecurityNegotiator.Select(SecurityLayer.Tls, true, request, true).ToString(), StringComparison.Ordinal);
        Assert.StartsWith("RDP_NEG_RSP PROTOCOL_SSL", SecurityNegotiator.Select(SecurityLayer.Tls, false, request, true).ToString(), StringComparison.Ordinal);
    }

    /// <summary>Raw CR bytes -> decode -> decision -> CC bytes.</summary>
    private static byte[] Answer(int layer, int ua, string request, bool certificateAvailable, out NegotiationDecision decision)
    {
        byte[] frame = X224ConnectionRequestTests.Cr(
            "Cookie: mstshash=tester\r\n"u8.ToArray(),
            request == "none" ? "" : $"01 00 08 00 {request} 00 00 00");
        decision = SecurityNegotiator.Select((SecurityLayer)layer, ua == 1, X224ConnectionRequest.Decode(frame), certificateAvailable);
        Assert.False(string.IsNullOrWhiteSpace(decision.Reason));
        return decision.Confirm.Encode();
    }

    /// <summary>The expected CC bytes, written by hand from the table's notation.</summary>
    private static byte[] ExpectedConfirm(string expected)
    {
        string[] parts = expected.Split(' ');
        return parts[0] switch
        {
            "LEGACY" => RdpTestData.Hex("03 00 00 0b 06 d0 00 00 12 34 00"),
            "RSP" => RdpTestData.Hex("03 00 00 13 0e d0 00 00 12 34 00 02 01 08 00" + parts[1] switch
            {
                "RDP" => "00 00 00 00",
                "SSL" => "01 00 00 00",
                "HYBRID" => "02 00 00 00",
                "HYBRID_EX" => "08 00 00 00",
                _ => throw new ArgumentException(expected),
            }),
            "FAIL" => RdpTestData.Hex("03 00 00 13 0e d0 00 00 12 34 00 03 00 08 00" + parts[1] switch
            {
                "SSL_REQUIRED_BY_SERVER" => "01 00 00 00",
                "SSL_CERT_NOT_ON_SERVER" => "03 00 00 00",
                "HYBRID_REQUIRED_BY_SERVER" => "05 00 00 00",
                _ => throw new ArgumentException(expected),
            }),
            _ => throw new ArgumentException(expected),
        };
    }
}
