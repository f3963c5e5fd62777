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
}

/// <summary>Classifies a negoToken by its first bytes, as FreeRDP's and Windows' servers do (no decoding).</summary>
public static class NegoTokenClassifier
{
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

        return token[0] switch
        {
            0x60 or 0xA0 => NegoTokenKind.SpnegoInit,
            0xA1 => NegoTokenKind.SpnegoResp,
            _ => NegoTokenKind.Unknown,
        };
    }
}
