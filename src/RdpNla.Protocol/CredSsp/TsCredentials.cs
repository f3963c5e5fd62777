namespace RdpNla.Protocol.CredSsp;

/// <summary>TSCredentials.credType values (MS-CSSP §2.2.1.2).</summary>
public enum TsCredentialType
{
    /// <summary>TSPasswordCreds (also used, with three empty strings, by Restricted Admin mode).</summary>
    Password = 1,

    /// <summary>TSSmartCardCreds.</summary>
    SmartCard = 2,

    /// <summary>TSRemoteGuardCreds (Remote Credential Guard).</summary>
    RemoteGuard = 6,
}

/// <summary>
/// TSCredentials (MS-CSSP §2.2.1.2): the delegated credentials a client sends, encrypted, in TSRequest.authInfo.
/// <code>
/// TSCredentials ::= SEQUENCE {
///         credType    [0] INTEGER,
///         credentials [1] OCTET STRING
/// }
/// </code>
/// <see cref="Credentials"/> holds the DER of a TSPasswordCreds, TSSmartCardCreds or TSRemoteGuardCreds and is
/// secret; <see cref="Dispose"/> zeroes it. Encoded output is equally secret: callers should wipe it after sealing.
/// </summary>
public sealed class TsCredentials : IDisposable
{
    private const string Structure = "TSCredentials";

    /// <param name="credType">credType [0]; see <see cref="TsCredentialType"/>. Any int is encodable.</param>
    /// <param name="credentials">credentials [1]: the DER of the inner structure. Not copied; owned by this instance.</param>
    public TsCredentials(int credType, byte[] credentials)
    {
        ArgumentNullException.ThrowIfNull(credentials);
        CredType = credType;
        Credentials = credentials;
    }

    /// <summary>credType [0] as received (1 password, 2 smart card, 6 Remote Guard; others are possible on the wire).</summary>
    public int CredType { get; }

    /// <summary>credentials [1]: the DER of the inner structure named by <see cref="CredType"/>.</summary>
    public byte[] Credentials { get; }

    /// <summary>The <see cref="TsCredentialType"/> when <see cref="CredType"/> is one MS-CSSP defines, otherwise null.</summary>
    public TsCredentialType? KnownType => CredType is 1 or 2 or 6 ? (TsCredentialType)CredType : null;

    /// <summary>TSCredentials{credType 1, TSPasswordCreds{domainName, userName, password}} in UTF-16LE without NULs.</summary>
    /// <remarks>Empty strings are legal: Restricted Admin clients send three empty OCTET STRINGs (asyauth; see docs/interop.md#restricted-admin).</remarks>
    public static TsCredentials ForPassword(string domainName, string userName, ReadOnlySpan<char> password)
    {
        using var creds = new TsPasswordCreds(domainName, userName, password);
        return creds.ToTsCredentials();
    }

    /// <summary>As <see cref="ForPassword"/>, with the password already UTF-16LE (copied, never turned into a string).</summary>
    internal static TsCredentials ForPasswordUtf16(string domainName, string userName, ReadOnlySpan<byte> passwordUtf16)
    {
        using TsPasswordCreds creds = TsPasswordCreds.FromUtf16(domainName, userName, passwordUtf16);
        return creds.ToTsCredentials();
    }

    /// <summary>Decodes the outer TSCredentials only; the inner structure stays encoded in <see cref="Credentials"/>.</summary>
    /// <exception cref="NlaProtocolException">The bytes are not a valid TSCredentials (<see cref="NlaFailureReason.Malformed"/>).</exception>
    public static TsCredentials Decode(ReadOnlySpan<byte> encoded)
    {
        try
        {
            DerReader sequence = DerReader.ReadSingleSequence(encoded, Structure);
            int credType = sequence.ReadExplicitInt32(0);
            byte[] credentials = sequence.ReadExplicitOctetString(1).ToArray();
            sequence.End();
            return new TsCredentials(credType, credentials);
        }
        catch (Exception e) when (Der.IsDecodeFailure(e))
        {
            throw Der.Malformed(Structure, e);
        }
    }

    /// <summary>
    /// Decodes a TSCredentials and the structure inside it in one step, without keeping an intermediate copy of the
    /// secret bytes. Switch on the result: <see cref="TsPasswordCreds"/>, <see cref="TsSmartCardCreds"/> or
    /// <see cref="TsRemoteGuardCreds"/>. The caller owns (and should dispose) the result.
    /// </summary>
    /// <exception cref="NlaProtocolException">
    /// <see cref="NlaFailureReason.Malformed"/> for bad encodings;
    /// <see cref="NlaFailureReason.UnsupportedCredentials"/> for a credType MS-CSSP does not define.
    /// </exception>
    public static TsCredentialsContent DecodeContent(ReadOnlySpan<byte> encoded)
    {
        int credType;
        ReadOnlySpan<byte> credentials;
        try
        {
            DerReader sequence = DerReader.ReadSingleSequence(encoded, Structure);
            credType = sequence.ReadExplicitInt32(0);
            credentials = sequence.ReadExplicitOctetString(1);
            sequence.End();
        }
        catch (Exception e) when (Der.IsDecodeFailure(e))
        {
            throw Der.Malformed(Structure, e);
        }

        return DecodeContent(credType, credentials);
    }

    /// <summary>Decodes <see cref="Credentials"/> according to <see cref="CredType"/>.</summary>
    /// <exception cref="NlaProtocolException">As for <see cref="DecodeContent(ReadOnlySpan{byte})"/>.</exception>
    public TsCredentialsContent DecodeContent() => DecodeContent(CredType, Credentials);

    /// <summary>Encodes in DER. The result contains the credentials: wipe it when done.</summary>
    public byte[] Encode()
    {
        AsnWriter writer = Der.CreateWriter(Credentials.Length + 32);
        using (writer.PushSequence())
        {
            Der.WriteExplicitInteger(writer, 0, CredType);
            Der.WriteExplicitOctetString(writer, 1, Credentials);
        }

        return Der.EncodeAndReset(writer);
    }

    /// <summary>Zeroes <see cref="Credentials"/>.</summary>
    public void Dispose() => CryptographicOperations.ZeroMemory(Credentials);

    private static TsCredentialsContent DecodeContent(int credType, ReadOnlySpan<byte> credentials) => credType switch
    {
        (int)TsCredentialType.Password => TsPasswordCreds.Decode(credentials),
        (int)TsCredentialType.SmartCard => TsSmartCardCreds.Decode(credentials),
        (int)TsCredentialType.RemoteGuard => TsRemoteGuardCreds.Decode(credentials),
        _ => throw new NlaProtocolException(
            NlaFailureReason.UnsupportedCredentials, $"TSCredentials.credType {credType} is not defined.", "MS-CSSP §2.2.1.2"),
    };
}

/// <summary>
/// The structure inside TSCredentials.credentials: <see cref="TsPasswordCreds"/>, <see cref="TsSmartCardCreds"/> or
/// <see cref="TsRemoteGuardCreds"/>. Instances hold secrets; <see cref="Dispose()"/> zeroes the secret bytes.
/// </summary>
public abstract class TsCredentialsContent : IDisposable
{
    private protected TsCredentialsContent()
    {
    }

    /// <summary>The credType that names this structure.</summary>
    public abstract TsCredentialType CredType { get; }

    /// <summary>Encodes this structure in DER. The result contains secrets: wipe it when done.</summary>
    public abstract byte[] Encode();

    /// <summary>Wraps <see cref="Encode"/> in a <see cref="TsCredentials"/> (which then owns the encoded bytes).</summary>
    public TsCredentials ToTsCredentials() => new((int)CredType, Encode());

    /// <summary>Zeroes the secret bytes (password, PIN or credential buffers) this instance holds.</summary>
    public void Dispose()
    {
        Dispose(disposing: true);
        IsDisposed = true;
        GC.SuppressFinalize(this);
    }

    /// <summary>True once <see cref="Dispose()"/> ran: the secret bytes are zeroed.</summary>
    private protected bool IsDisposed { get; private set; }

    /// <summary>A secret this instance holds, while it is not disposed.</summary>
    /// <exception cref="ObjectDisposedException">After dispose.</exception>
    private protected ReadOnlySpan<byte> Secret(byte[] secret)
    {
        ObjectDisposedException.ThrowIf(IsDisposed, this);
        return secret;
    }

    /// <summary>Zeroes the secret bytes this instance holds.</summary>
    protected virtual void Dispose(bool disposing)
    {
    }
}
