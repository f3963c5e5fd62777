namespace RdpNla.Protocol.CredSsp;

/// <summary>
/// TSPasswordCreds (MS-CSSP §2.2.1.2.1).
/// <code>
/// TSPasswordCreds ::= SEQUENCE {
///         domainName  [0] OCTET STRING,
///         userName    [1] OCTET STRING,
///         password    [2] OCTET STRING
/// }
/// </code>
/// All three are UTF-16LE without a terminating NUL; empty strings are legal (Restricted Admin sends three).
/// <para>
/// Password handling: the password is kept only as its raw UTF-16LE bytes (<see cref="PasswordUtf16"/>, which is
/// exactly what NTOWFv2 hashes), never as a <see cref="string"/>, and <see cref="TsCredentialsContent.Dispose()"/>
/// zeroes them. <see cref="CopyPasswordTo"/> gives the characters without creating a string; <see cref="GetPassword"/>
/// exists for callers that need one and accept an immutable copy. The password bytes are not validated as UTF-16
/// (only their length must be even); domain and user name are decoded strictly.
/// </para>
/// </summary>
public sealed class TsPasswordCreds : TsCredentialsContent
{
    private const string Structure = "TSPasswordCreds";

    private readonly byte[] _password;

    /// <summary>Creates password credentials; <paramref name="password"/> is copied into a private UTF-16LE buffer.</summary>
    public TsPasswordCreds(string domainName, string userName, ReadOnlySpan<char> password)
        : this(domainName, userName, Utf16.Encode(password))
    {
    }

    /// <summary>Password credentials from UTF-16LE bytes, copied into a private buffer.</summary>
    internal static TsPasswordCreds FromUtf16(string domainName, string userName, ReadOnlySpan<byte> passwordUtf16) =>
        new(domainName, userName, passwordUtf16.ToArray());

    private TsPasswordCreds(string domainName, string userName, byte[] passwordUtf16)
    {
        ArgumentNullException.ThrowIfNull(domainName);
        ArgumentNullException.ThrowIfNull(userName);
        DomainName = domainName;
        UserName = userName;
        _password = passwordUtf16;
    }

    /// <inheritdoc/>
    public override TsCredentialType CredType => TsCredentialType.Password;

    /// <summary>domainName [0]: as sent (may be empty, ".", NetBIOS or DNS; not split or normalised here).</summary>
    public string DomainName { get; }

    /// <summary>userName [1]: as sent (may be a UPN with an empty domain).</summary>
    public string UserName { get; }

    /// <summary>password [2]: the raw UTF-16LE bytes.</summary>
    /// <exception cref="ObjectDisposedException">After dispose.</exception>
    public ReadOnlySpan<byte> PasswordUtf16 => Secret(_password);

    /// <summary>The password length in UTF-16 code units.</summary>
    public int PasswordLength => PasswordUtf16.Length / 2;

    /// <summary>True for the Restricted Admin shape: domain, user and password all empty.</summary>
    public bool IsEmpty => DomainName.Length == 0 && UserName.Length == 0 && PasswordUtf16.IsEmpty;

    /// <summary>Copies the password characters to <paramref name="destination"/> (at least <see cref="PasswordLength"/> long).</summary>
    /// <returns>The number of characters written.</returns>
    public int CopyPasswordTo(Span<char> destination)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(destination.Length, PasswordLength, nameof(destination));
        return Encoding.Unicode.GetChars(PasswordUtf16, destination);
    }

    /// <summary>The password as an immutable string that cannot be wiped; prefer <see cref="PasswordUtf16"/>.</summary>
    public string GetPassword() => Encoding.Unicode.GetString(PasswordUtf16);

    /// <summary>Decodes a TSPasswordCreds (the content of TSCredentials.credentials when credType is 1).</summary>
    /// <exception cref="NlaProtocolException">The bytes are not a valid TSPasswordCreds (<see cref="NlaFailureReason.Malformed"/>).</exception>
    public static TsPasswordCreds Decode(ReadOnlySpan<byte> encoded)
    {
        try
        {
            DerReader sequence = DerReader.ReadSingleSequence(encoded, Structure);
            string domainName = Utf16.Decode(sequence.ReadExplicitOctetString(0), Structure, "domainName");
            string userName = Utf16.Decode(sequence.ReadExplicitOctetString(1), Structure, "userName");
            ReadOnlySpan<byte> password = sequence.ReadExplicitOctetString(2);
            sequence.End();
            if ((password.Length & 1) != 0)
            {
                throw new NlaProtocolException(NlaFailureReason.Malformed, $"{Structure}.password has an odd length and is not UTF-16LE.");
            }

            return new TsPasswordCreds(domainName, userName, password.ToArray());
        }
        catch (Exception e) when (Der.IsDecodeFailure(e))
        {
            throw Der.Malformed(Structure, e);
        }
    }

    /// <inheritdoc/>
    public override byte[] Encode()
    {
        ReadOnlySpan<byte> password = PasswordUtf16;
        byte[] domainName = Utf16.Encode(DomainName);
        byte[] userName = Utf16.Encode(UserName);
        AsnWriter writer = Der.CreateWriter(domainName.Length + userName.Length + password.Length + 64);
        try
        {
            using (writer.PushSequence())
            {
                Der.WriteExplicitOctetString(writer, 0, domainName);
                Der.WriteExplicitOctetString(writer, 1, userName);
                Der.WriteExplicitOctetString(writer, 2, password);
            }

            return writer.Encode();
        }
        finally
        {
            writer.Reset();
        }
    }

    /// <inheritdoc/>
    protected override void Dispose(bool disposing)
    {
        CryptographicOperations.ZeroMemory(_password);
    }
}
