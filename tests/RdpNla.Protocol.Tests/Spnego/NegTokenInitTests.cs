using System.Net;
using System.Net.Security;
using RdpNla.Protocol.Spnego;
using RdpNla.Protocol.Tests.CredSsp;
using static RdpNla.Protocol.Tests.CredSsp.HexVector;

namespace RdpNla.Protocol.Tests.Spnego;

public class NegTokenInitTests
{
    private static readonly byte[] s_ntlmNegotiate = Hex(
        "4e544c4d5353500001000000b78208e2000000002800000000000000280000000601b11d0000000f");

    [Fact]
    public void Decode_NtlmOnlyVector_ReadsMechListAndMechToken()
    {
        NegTokenInit token = NegTokenInit.Decode(Load("spnego/negtokeninit-ntlm.hex"));

        Assert.Equal([SpnegoOids.Ntlm], token.MechTypes);
        Assert.Equal(Hex("30 0c 06 0a 2b 06 01 04 01 82 37 02 02 0a"), token.MechTypesEncoding);
        Assert.Equal(s_ntlmNegotiate, token.MechToken);
        Assert.Null(token.ReqFlags);
        Assert.Null(token.MechListMic);
        Assert.Null(token.NegHints);
    }

    [Fact]
    public void Encode_NtlmOnly_ReproducesDocumentedShape()
    {
        var token = new NegTokenInit([SpnegoOids.Ntlm], mechToken: s_ntlmNegotiate);

        Assert.Equal(Load("spnego/negtokeninit-ntlm.hex"), token.Encode());
    }

    [Fact]
    public void Decode_UnframedForm_SameAsFramed()
    {
        NegTokenInit framed = NegTokenInit.Decode(Load("spnego/negtokeninit-ntlm.hex"));
        byte[] unframed = framed.EncodeUnframed();

        Assert.Equal(0xA0, unframed[0]);
        NegTokenInit decoded = NegTokenInit.Decode(unframed);
        Assert.Equal(framed.MechTypes, decoded.MechTypes);
        Assert.Equal(framed.MechToken, decoded.MechToken);
        Assert.Equal(Load("spnego/negtokeninit-ntlm.hex")[10..], unframed);
    }

    [Fact]
    public void Decode_DotNetManagedNegotiateClient_NtlmOnlyWithNtlmNegotiateMechToken()
    {
        // The test project runs with System.Net.Security.UseManagedNtlm=true: this is the BCL's managed SPNEGO.
        using var client = new NegotiateAuthentication(new NegotiateAuthenticationClientOptions
        {
            Package = "Negotiate",
            Credential = new NetworkCredential("u", "p", "d"),
            TargetName = "TERMSRV/h",
        });
        byte[]? blob = client.GetOutgoingBlob(ReadOnlySpan<byte>.Empty, out NegotiateAuthenticationStatusCode status);

        Assert.Equal(NegotiateAuthenticationStatusCode.ContinueNeeded, status);
        Assert.NotNull(blob);
        Assert.Equal(74, blob.Length);
        Assert.Equal(NegoTokenKind.SpnegoInit, NegoTokenClassifier.Classify(blob));
        NegTokenInit token = NegTokenInit.Decode(blob);
        Assert.Equal([SpnegoOids.Ntlm], token.MechTypes);
        Assert.Equal(NegoTokenKind.RawNtlm, NegoTokenClassifier.Classify(token.MechToken));
        Assert.Null(token.MechListMic);

        // Byte-exact re-encoding: our encoder agrees with the BCL's.
        Assert.Equal(blob, new NegTokenInit(token.MechTypes, token.ReqFlags, token.MechToken).Encode());
    }

    [Fact]
    public void Decode_NegTokenInit2WithNegHints_ReadsHintName()
    {
        byte[] encoded = Load("spnego/negtokeninit2-ntlm-neghints.hex");

        NegTokenInit token = NegTokenInit.Decode(encoded);

        Assert.Equal([SpnegoOids.Ntlm], token.MechTypes);
        Assert.Equal("not_defined_in_RFC4178@please_ignore", token.NegHints?.HintName);
        Assert.Null(token.NegHints?.HintAddress);
        Assert.Null(token.MechToken);
        Assert.Equal(encoded, token.Encode());
    }

    [Fact]
    public void Encode_NegTokenInit2WithMic_PutsMicInField4()
    {
        var token = new NegTokenInit([SpnegoOids.Ntlm], mechListMic: [1, 2, 3], negHints: new NegHints("x", [9]));

        NegTokenInit decoded = NegTokenInit.Decode(token.Encode());

        Assert.Equal([1, 2, 3], decoded.MechListMic);
        Assert.Equal("x", decoded.NegHints!.HintName);
        Assert.Equal([9], decoded.NegHints.HintAddress);
        Assert.Equal(Hex("a4 05 04 03 01 02 03"), token.Encode()[^7..]);
    }

    [Fact]
    public void Decode_WindowsMechListWithMic_PreservesEverything()
    {
        string[] mechs = [SpnegoOids.MsKerberos, SpnegoOids.Kerberos, SpnegoOids.NegoEx, SpnegoOids.Ntlm];
        var token = new NegTokenInit(mechs, ContextFlags.Mutual | ContextFlags.Integrity, [0xAA], [0xBB, 0xCC]);

        NegTokenInit decoded = NegTokenInit.Decode(token.Encode());

        Assert.Equal(mechs, decoded.MechTypes);
        Assert.Equal(ContextFlags.Mutual | ContextFlags.Integrity, decoded.ReqFlags);
        Assert.Equal([0xAA], decoded.MechToken);
        Assert.Equal([0xBB, 0xCC], decoded.MechListMic);
        Assert.Equal(token.MechTypesEncoding, decoded.MechTypesEncoding);
        Assert.Equal(Hex("06 09 2a 86 48 82 f7 12 01 02 02"), decoded.MechTypesEncoding[2..13]);
    }

    [Theory]
    [InlineData(ContextFlags.None, "03 01 00")]
    [InlineData(ContextFlags.Delegation, "03 02 07 80")]
    [InlineData(ContextFlags.Mutual | ContextFlags.Integrity, "03 02 01 42")]
    [InlineData((ContextFlags)0x100, "03 03 07 00 80")]
    [InlineData(ContextFlags.Integrity | ContextFlags.Confidentiality | ContextFlags.Sequence | ContextFlags.Replay | ContextFlags.Mutual, "03 02 01 76")]
    public void Encode_ReqFlags_DerNamedBitList(ContextFlags flags, string bitString)
    {
        byte[] encoded = new NegTokenInit([SpnegoOids.Ntlm], flags).EncodeUnframed();

        byte[] expected = Hex("a1 " + (Hex(bitString).Length).ToString("x2", System.Globalization.CultureInfo.InvariantCulture) + bitString);
        Assert.Equal(expected, encoded[^expected.Length..]);
        Assert.Equal(flags, NegTokenInit.Decode(encoded).ReqFlags);
    }

    [Fact]
    public void Decode_NonMinimalMechTypesLength_MechTypesEncodingIsTheReceivedBytes()
    {
        // mechTypes uses 30 81 0c (BER long form): the mechListMIC must be computed over these exact bytes.
        byte[] encoded = Hex("a0 13 30 11 a0 0f 30 81 0c 06 0a 2b 06 01 04 01 82 37 02 02 0a");

        NegTokenInit token = NegTokenInit.Decode(encoded);

        Assert.Equal(Hex("30 81 0c 06 0a 2b 06 01 04 01 82 37 02 02 0a"), token.MechTypesEncoding);
        Assert.Equal([SpnegoOids.Ntlm], token.MechTypes);
    }

    [Fact]
    public void Decode_UnknownExtensionFieldAfterKnownOnes_Skipped()
    {
        // NegTokenInit { mechTypes, [5] NULL }: "..." allows later extensions.
        NegTokenInit token = NegTokenInit.Decode(Hex("a0 16 30 14 a0 0e 30 0c 06 0a 2b 06 01 04 01 82 37 02 02 0a a5 02 05 00"));

        Assert.Equal([SpnegoOids.Ntlm], token.MechTypes);
    }

    [Fact]
    public void Decode_WrongThisMech_ThrowsUnsupportedMechanism()
    {
        byte[] encoded = Load("spnego/negtokeninit-ntlm.hex");
        encoded[9] = 0x03; // 1.3.6.1.5.5.3

        Assert.Equal(NlaFailureReason.UnsupportedMechanism, Assert.Throws<NlaProtocolException>(() => NegTokenInit.Decode(encoded)).Reason);
    }

    [Theory]
    [InlineData("a0 02 30 00", "no mechTypes")]
    [InlineData("a1 02 30 00", "where [0] (constructed) was expected")] // a NegTokenResp
    [InlineData("a0 10 30 0e a0 0c 30 0a 04 08 01 02 03 04 05 06 07 08", "UNIVERSAL 4 (primitive) where UNIVERSAL 6")] // mech is not an OID
    [InlineData("a0 14 30 12 a2 02 04 00 a0 0c 30 0a 06 08 2b 06 01 04 01 82 37 02", "trailing")] // mechToken before mechTypes
    [InlineData("60 0a 06 06 2b 06 01 05 05 02 a1 00", "where [0] (constructed) was expected")] // framed NegTokenResp
    public void Decode_Invalid_ThrowsMalformedForTheRightReason(string hex, string expectedMessage)
    {
        var e = Assert.Throws<NlaProtocolException>(() => NegTokenInit.Decode(Hex(hex)));

        Assert.Equal(NlaFailureReason.Malformed, e.Reason);
        Assert.Contains(expectedMessage, e.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Decode_RandomAndMutatedInput_ReturnsOrThrowsNlaProtocolExceptionOnly()
    {
        byte[][] samples =
        [
            Load("spnego/negtokeninit-ntlm.hex"),
            Load("spnego/negtokeninit2-ntlm-neghints.hex"),
            new NegTokenInit([SpnegoOids.MsKerberos, SpnegoOids.Ntlm], ContextFlags.Mutual, [1, 2], [3, 4]).Encode(),
            new NegTokenInit([SpnegoOids.Ntlm], mechListMic: [5], negHints: new NegHints("h", [6])).EncodeUnframed(),
        ];

        DecoderTotality.RandomBytes(b => NegTokenInit.Decode(b));
        DecoderTotality.Mutations(b => NegTokenInit.Decode(b), samples);
    }
}
