namespace RdpNla.Protocol.Spnego;

/// <summary>What a TSRequest negoToken contains (MS-CSSP allows SPNEGO tokens or raw NTLM messages).</summary>
public enum NegoTokenKind
{
    /// <summary>None of the shapes below.</summary>
    Unknown,

    /// <summary>A raw NTLM message: starts with the signature <c>NTLMSSP\0</c>.</summary>
    RawNtlm,

    /// <summary>
    /// An SPNEGO initial token: the GSS-API InitialContextToken <c>60 ..</c> ([APPLICATION 0]), or an unframed
    /// NegotiationToken negTokenInit <c>A0 ..</c>.
    /// </summary>
    SpnegoInit,

    /// <summary>An SPNEGO NegotiationToken negTokenResp: <c>A1 ..</c>.</summary>
    SpnegoResp,

    /// <summary>
    /// A raw Kerberos V5 initial context token (RFC 4121 §4.1): <c>60 ..</c> whose thisMech is the Kerberos OID or
    /// Microsoft's legacy Kerberos OID, sent without SPNEGO.
    /// </summary>
    RawKerberos,
}

/// <summary>Classifies a negoToken by its first bytes, as FreeRDP's and Windows' servers do (no decoding).</summary>
public static class NegoTokenClassifier
{
    /// <summary>Names the kind of a TSRequest negoToken from its first bytes.</summary>
    /// <param name="token">The negoToken as received; it is not decoded, so any bytes are accepted.</param>
    /// <returns>The kind; <see cref="NegoTokenKind.Unknown"/> for an empty token or one no rule matches.</returns>
    public static NegoTokenKind Classify(ReadOnlySpan<byte> token)
    {
        if (token.StartsWith("NTLMSSP\0"u8))
        {
            return NegoTokenKind.RawNtlm;
        }

        if (token.IsEmpty)
        {
            return NegoTokenKind.Unknown;
        }

        if (token[0] == 0x60 && IsKerberosInitialToken(token))
        {
            return NegoTokenKind.RawKerberos;
        }

        return token[0] switch
        {
            0x60 or 0xA0 => NegoTokenKind.SpnegoInit,
            0xA1 => NegoTokenKind.SpnegoResp,
            _ => NegoTokenKind.Unknown,
        };
    }

    /// <summary>
    /// RFC 2743 §3.1: <c>60 &lt;length&gt; 06 &lt;oid length&gt; &lt;oid&gt; ...</c>; true when the OID is Kerberos V5
    /// (<c>2A 86 48 86 F7 12 01 02 02</c>) or the legacy Microsoft spelling (<c>2A 86 48 82 F7 12 01 02 02</c>).
    /// </summary>
    private static bool IsKerberosInitialToken(ReadOnlySpan<byte> token)
    {
        int offset = 1;
        if (offset >= token.Length)
        {
            return false;
        }

        byte length = token[offset++];
        if ((length & 0x80) != 0)
        {
            int octets = length & 0x7F;
            if (octets is 0 or > 4)
            {
                return false;
            }

            offset += octets;
        }

        ReadOnlySpan<byte> rest = offset < token.Length ? token[offset..] : [];
        return rest.StartsWith(KerberosOidTlv) || rest.StartsWith(MsKerberosOidTlv);
    }

    private static ReadOnlySpan<byte> KerberosOidTlv => [0x06, 0x09, 0x2A, 0x86, 0x48, 0x86, 0xF7, 0x12, 0x01, 0x02, 0x02];

    private static ReadOnlySpan<byte> MsKerberosOidTlv => [0x06, 0x09, 0x2A, 0x86, 0x48, 0x82, 0xF7, 0x12, 0x01, 0x02, 0x02];
}
