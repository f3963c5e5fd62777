namespace RdpNla.Protocol.CredSsp;

/// <summary>The version rules of MS-CSSP §2.2.1 and docs/interop.md#credssp-versions.</summary>
public static class CredSspVersion
{
    /// <summary>The highest version this implementation speaks (errorCode and the SHA-256 nonce binding).</summary>
    public const int Latest = 6;

    /// <summary>The lowest version of the protocol.</summary>
    public const int Minimum = 2;

    /// <summary>The first version with the CVE-2018-0886 fix (clientNonce and SHA-256 binding hashes).</summary>
    public const int FirstPatched = 5;

    /// <summary>
    /// MS-CSSP §2.2.1 errorCode: "If the negotiated protocol version is 3, 4, or 6" — version 5 (patched Windows 7 /
    /// 2008 R2) and version 2 do not understand it.
    /// </summary>
    public static bool SupportsErrorCode(int version) => version is 3 or 4 or >= 6;

    /// <summary>MS-CSSP §3.1.5 step 3: versions 5 and later bind with SHA-256 over a magic string, the nonce and the key.</summary>
    public static bool UsesHashBinding(int version) => version >= FirstPatched;

    /// <summary>MS-CSSP §2.2.1: a peer version above ours is treated as ours.</summary>
    public static int Effective(int ownVersion, int peerVersion) => Math.Min(ownVersion, peerVersion);

    internal static void ValidateConfigured(int version, string parameterName)
    {
        if (version is < Minimum or > Latest)
        {
            throw new ArgumentOutOfRangeException(parameterName, version, "CredSSP versions are 2 to 6.");
        }
    }
}
