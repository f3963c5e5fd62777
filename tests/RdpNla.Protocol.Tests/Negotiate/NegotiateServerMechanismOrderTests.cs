using System.Security.Cryptography;
using RdpNla.Protocol.Negotiate;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Spnego;
using RdpNla.Protocol.Tests.Ntlm;

namespace RdpNla.Protocol.Tests.Negotiate;

/// <summary>
/// RFC 4178 §3.2 and §5 in the acceptor: the first mechanism of the client's list that the server supports is chosen;
/// when it is not the client's first, the optimistic token is ignored and the mechListMIC is exchanged both ways. The
/// Kerberos mechanism here is a keyed stand-in (its MIC is an HMAC over the message); the real one is tested against MIT
/// in the integration tests.
/// </summary>
public class NegotiateServerMechanismOrderTests
{
    private static readonly byte[] s_apReq = [0x60, 0x03, 0x06, 0x01, 0x01];
    private static readonly byte[] s_apRep = [0x6F, 0x01, 0x02];

    private static NegotiateServerContext Server() => new(
        new NtlmServerOptions
        {
            NbComputerName = "SERVER",
            NbDomainName = "WORKGROUP",
            TimeProvider = TimeProvider.System,
            RandomSource = new SeededRandomSource(42),
        },
        () => new KeyedStandInMechanism());

    [Theory]
    [InlineData(SpnegoOids.Kerberos)]
    [InlineData(SpnegoOids.MsKerberos)]
    public void Kerberos_after_NegoEx_is_chosen_with_request_mic_and_both_mechListMICs(string kerberosOid)
    {
        using NegotiateServerContext server = Server();
        var init = new NegTokenInit([SpnegoOids.NegoEx, kerberosOid, SpnegoOids.Ntlm], mechToken: [0x60, 0x01, 0x00]);

        NegTokenResp first = NegTokenResp.Decode(server.GetOutgoingBlob(init.Encode(), out NlaStatus status));
        Assert.Equal(NlaStatus.ContinueNeeded, status);
        Assert.Equal(NegState.RequestMic, first.State);
        Assert.Equal(kerberosOid, first.SupportedMech);
        Assert.Null(first.ResponseToken);

        NegTokenResp second = NegTokenResp.Decode(server.GetOutgoingBlob(new NegTokenResp { ResponseToken = s_apReq }.Encode(), out status));
        Assert.Equal(NlaStatus.ContinueNeeded, status);
        Assert.Equal(NegState.AcceptIncomplete, second.State);
        Assert.Equal(s_apRep, second.ResponseToken);
        Assert.Equal(KeyedStandInMechanism.Mic(init.MechTypesEncoding), second.MechListMic);

        byte[]? last = server.GetOutgoingBlob(new NegTokenResp { MechListMic = KeyedStandInMechanism.Mic(init.MechTypesEncoding) }.Encode(), out status);
        Assert.Equal(NlaStatus.Completed, status);
        Assert.Null(last);
        Assert.True(server.IsKerberos);
        Assert.Equal("alice@LAB.TEST", server.KerberosPrincipal);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_missing_or_wrong_client_mechListMIC_after_Kerberos_not_first_is_a_downgrade(bool sendWrongMic)
    {
        using NegotiateServerContext server = Server();
        var init = new NegTokenInit([SpnegoOids.NegoEx, SpnegoOids.Kerberos, SpnegoOids.Ntlm]);
        server.GetOutgoingBlob(init.Encode(), out _);
        server.GetOutgoingBlob(new NegTokenResp { ResponseToken = s_apReq }.Encode(), out _);
        var answer = new NegTokenResp { MechListMic = sendWrongMic ? KeyedStandInMechanism.Mic([0x30, 0x00]) : null, ResponseToken = sendWrongMic ? null : [0x01] };

        byte[]? reply = server.GetOutgoingBlob(answer.Encode(), out NlaStatus status);

        Assert.Equal(NlaStatus.Failed, status);
        Assert.Equal(NtStatus.DowngradeDetected, server.FailureStatus);
        Assert.Equal(NlaFailureReason.IntegrityCheckFailed, server.FailureReason);
        Assert.Equal(NegState.Reject, NegTokenResp.Decode(reply).State);
    }

    [Fact]
    public void Kerberos_first_with_an_optimistic_AP_REQ_completes_at_once_without_a_required_MIC()
    {
        using NegotiateServerContext server = Server();
        var init = new NegTokenInit([SpnegoOids.MsKerberos, SpnegoOids.Kerberos, SpnegoOids.NegoEx, SpnegoOids.Ntlm], mechToken: s_apReq);

        NegTokenResp reply = NegTokenResp.Decode(server.GetOutgoingBlob(init.Encode(), out NlaStatus status));

        Assert.Equal(NlaStatus.Completed, status);
        Assert.Equal(NegState.AcceptCompleted, reply.State);
        Assert.Equal(s_apRep, reply.ResponseToken);
        Assert.Null(reply.MechListMic);
    }

    [Fact]
    public void Ntlm_listed_before_Kerberos_is_chosen_and_its_optimistic_NEGOTIATE_answered()
    {
        using NegotiateServerContext server = Server();
        using var client = new NtlmClientContext(new NtlmClientOptions
        {
            UserName = "alice",
            DomainName = "WORKGROUP",
            Password = "unused",
            TimeProvider = TimeProvider.System,
            RandomSource = new SeededRandomSource(7),
        });
        var init = new NegTokenInit([SpnegoOids.Ntlm, SpnegoOids.Kerberos], mechToken: client.GetOutgoingBlob([], out _));

        NegTokenResp reply = NegTokenResp.Decode(server.GetOutgoingBlob(init.Encode(), out NlaStatus status));

        Assert.Equal(NlaStatus.ContinueNeeded, status);
        Assert.Equal(SpnegoOids.Ntlm, reply.SupportedMech);
        Assert.Equal("NTLMSSP\0"u8.ToArray(), reply.ResponseToken.AsSpan(0, 8).ToArray());
        Assert.False(server.IsKerberos);
    }

    /// <summary>A one-leg mechanism: the AP-REQ stand-in gives the AP-REP stand-in and alice; MICs are HMAC-SHA256.</summary>
    private sealed class KeyedStandInMechanism : IGssContext
    {
        private static readonly byte[] s_key = [.. Enumerable.Range(1, 32).Select(i => (byte)i)];

        public string PackageName => "Kerberos";

        public string? PeerPrincipal { get; private set; }

        public NtStatus FailureStatus => NtStatus.LogonFailure;

        public string? FailureMessage => "stand-in: not the expected AP-REQ";

        public static byte[] Mic(ReadOnlySpan<byte> message) => HMACSHA256.HashData(s_key, message);

        public GssStepStatus Step(ReadOnlySpan<byte> inputToken, out byte[]? outputToken)
        {
            outputToken = inputToken.SequenceEqual(s_apReq) ? s_apRep : null;
            PeerPrincipal = outputToken is null ? null : "alice@LAB.TEST";
            return outputToken is null ? GssStepStatus.Failed : GssStepStatus.Completed;
        }

        public byte[] Wrap(ReadOnlySpan<byte> plaintext) => plaintext.ToArray();

        public byte[] Unwrap(ReadOnlySpan<byte> token) => token.ToArray();

        public byte[] GetMic(ReadOnlySpan<byte> message) => Mic(message);

        public bool VerifyMic(ReadOnlySpan<byte> message, ReadOnlySpan<byte> mic) => CryptographicOperations.FixedTimeEquals(Mic(message), mic);

        public void Dispose()
        {
        }
    }
}
