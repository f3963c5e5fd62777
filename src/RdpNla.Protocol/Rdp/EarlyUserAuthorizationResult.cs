namespace RdpNla.Protocol.Rdp;

/// <summary>
/// Early User Authorization Result PDU (MS-RDPBCGR §2.2.10.2): 4 bytes, little-endian, sent raw over TLS (no TPKT,
/// no DER) by the server after CredSSP when PROTOCOL_HYBRID_EX was selected.
/// </summary>
/// <param name="AuthorizationResult">
/// authorizationResult: AUTHZ_SUCCESS (0) or AUTHZ_ACCESS_DENIED (5; 0x52E in older revisions of the spec).
/// Any non-zero value is a denial.
/// </param>
public readonly record struct EarlyUserAuthorizationResult(uint AuthorizationResult)
{
    /// <summary>The size of the PDU.</summary>
    public const int Length = 4;

    /// <summary>AUTHZ_SUCCESS.</summary>
    public const uint AuthzSuccess = 0x00000000;

    /// <summary>AUTHZ_ACCESS_DENIED in the current MS-RDPBCGR.</summary>
    public const uint AuthzAccessDenied = 0x00000005;

    /// <summary>AUTHZ_ACCESS_DENIED in older revisions of MS-RDPBCGR (Win32 ERROR_LOGON_FAILURE).</summary>
    public const uint LegacyAuthzAccessDenied = 0x0000052E;

    /// <summary>The PDU a server sends when the user may open a session.</summary>
    public static EarlyUserAuthorizationResult Success => new(AuthzSuccess);

    /// <summary>The PDU a server sends when the user authenticated but may not open a session.</summary>
    public static EarlyUserAuthorizationResult AccessDenied => new(AuthzAccessDenied);

    /// <summary>True only for AUTHZ_SUCCESS; every other value is a denial (MS-RDPBCGR §2.2.10.2; docs/interop.md#early-user-authorization).</summary>
    public bool IsSuccess => AuthorizationResult == AuthzSuccess;

    /// <summary>The spec name of the value, for logs.</summary>
    public string Name => AuthorizationResult switch
    {
        AuthzSuccess => "AUTHZ_SUCCESS",
        AuthzAccessDenied => "AUTHZ_ACCESS_DENIED",
        LegacyAuthzAccessDenied => "AUTHZ_ACCESS_DENIED (0x0000052E, older MS-RDPBCGR)",
        _ => $"0x{AuthorizationResult:X8} (denial)",
    };

    /// <summary>Decodes exactly 4 bytes.</summary>
    /// <exception cref="NlaProtocolException">The input is not 4 bytes long.</exception>
    public static EarlyUserAuthorizationResult Decode(ReadOnlySpan<byte> source)
    {
        if (source.Length != Length)
        {
            throw new NlaProtocolException(
                NlaFailureReason.Malformed,
                $"Early User Authorization Result PDU is {source.Length} bytes, expected 4.",
                "MS-RDPBCGR §2.2.10.2");
        }

        return new EarlyUserAuthorizationResult(BinaryPrimitives.ReadUInt32LittleEndian(source));
    }

    /// <summary>Writes the 4 bytes.</summary>
    /// <exception cref="ArgumentException"><paramref name="destination"/> is shorter than 4 bytes.</exception>
    public void Encode(Span<byte> destination)
    {
        if (destination.Length < Length)
        {
            throw new ArgumentException("The destination is shorter than 4 bytes.", nameof(destination));
        }

        BinaryPrimitives.WriteUInt32LittleEndian(destination, AuthorizationResult);
    }

    /// <summary>Returns the 4 bytes.</summary>
    public byte[] Encode()
    {
        byte[] bytes = new byte[Length];
        Encode(bytes);
        return bytes;
    }

    /// <summary>The result code's name as MS-RDPBCGR §2.2.10.2 spells it (for example "ACCESS_DENIED").</summary>
    public override string ToString() => Name;
}
