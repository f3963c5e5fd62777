namespace RdpNla.Protocol.CredSsp;

/// <summary>
/// TSRemoteGuardCreds (MS-CSSP §2.2.1.2.3), sent by Remote Credential Guard clients. Decoded fully so that a server
/// can recognise and refuse it by name.
/// <code>
/// TSRemoteGuardCreds ::= SEQUENCE {
///         logonCred         [0] TSRemoteGuardPackageCred,
///         supplementalCreds [1] SEQUENCE OF TSRemoteGuardPackageCred OPTIONAL
/// }
/// </code>
/// </summary>
public sealed class TsRemoteGuardCreds : TsCredentialsContent
{
    private const string Structure = "TSRemoteGuardCreds";

    /// <param name="logonCred">logonCred [0].</param>
    /// <param name="supplementalCreds">supplementalCreds [1]; null = absent, empty = present but empty.</param>
    /// <summary>Creates Remote Credential Guard credentials; the package credentials are not copied.</summary>
    public TsRemoteGuardCreds(TsRemoteGuardPackageCred logonCred, IReadOnlyList<TsRemoteGuardPackageCred>? supplementalCreds = null)
    {
        ArgumentNullException.ThrowIfNull(logonCred);
        LogonCred = logonCred;
        SupplementalCreds = supplementalCreds;
    }

    /// <inheritdoc/>
    public override TsCredentialType CredType => TsCredentialType.RemoteGuard;

    /// <summary>logonCred [0]: the credential of the package that logs the user on (Kerberos or NTLM).</summary>
    public TsRemoteGuardPackageCred LogonCred { get; }

    /// <summary>supplementalCreds [1]: further package credentials; null when the field is absent, empty when present but empty.</summary>
    public IReadOnlyList<TsRemoteGuardPackageCred>? SupplementalCreds { get; }

    /// <summary>Decodes a TSRemoteGuardCreds (the content of TSCredentials.credentials when credType is 6).</summary>
    /// <exception cref="NlaProtocolException">The bytes are not a valid TSRemoteGuardCreds (<see cref="NlaFailureReason.Malformed"/>).</exception>
    public static TsRemoteGuardCreds Decode(ReadOnlySpan<byte> encoded)
    {
        try
        {
            DerReader sequence = DerReader.ReadSingleSequence(encoded, Structure);
            DerReader logonField = sequence.ReadExplicit(0);
            TsRemoteGuardPackageCred logonCred = TsRemoteGuardPackageCred.Read(ref logonField);
            logonField.End();

            List<TsRemoteGuardPackageCred>? supplemental = null;
            if (sequence.TryReadExplicit(1, out DerReader supplementalField))
            {
                DerReader list = supplementalField.ReadSequence();
                supplementalField.End();
                supplemental = [];
                while (list.HasData)
                {
                    supplemental.Add(TsRemoteGuardPackageCred.Read(ref list));
                }
            }

            sequence.End();
            return new TsRemoteGuardCreds(logonCred, supplemental);
        }
        catch (Exception e) when (Der.IsDecodeFailure(e))
        {
            throw Der.Malformed(Structure, e);
        }
    }

    /// <inheritdoc/>
    public override byte[] Encode()
    {
        AsnWriter writer = Der.CreateWriter(256 + LogonCred.CredBuffer.Length + (SupplementalCreds?.Sum(c => c.CredBuffer.Length + 64) ?? 0));
        try
        {
            using (writer.PushSequence())
            {
                using (writer.PushSequence(Der.Context(0)))
                {
                    LogonCred.Write(writer);
                }

                if (SupplementalCreds is not null)
                {
                    using (writer.PushSequence(Der.Context(1)))
                    using (writer.PushSequence())
                    {
                        foreach (TsRemoteGuardPackageCred cred in SupplementalCreds)
                        {
                            cred.Write(writer);
                        }
                    }
                }
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
        CryptographicOperations.ZeroMemory(LogonCred.CredBuffer);
        foreach (TsRemoteGuardPackageCred cred in SupplementalCreds ?? [])
        {
            CryptographicOperations.ZeroMemory(cred.CredBuffer);
        }
    }
}

/// <summary>
/// TSRemoteGuardPackageCred (MS-CSSP §2.2.1.2.3.1).
/// <code>
/// TSRemoteGuardPackageCred ::= SEQUENCE {
///         packageName [0] OCTET STRING,
///         credBuffer  [1] OCTET STRING
/// }
/// </code>
/// packageName is UTF-16LE ("Kerberos", "NTLM"); credBuffer is package-specific (KERB_TICKET_LOGON,
/// NTLM_REMOTE_SUPPLEMENTAL_CREDENTIAL) and secret.
/// </summary>
public sealed class TsRemoteGuardPackageCred
{
    private const string Structure = "TSRemoteGuardPackageCred";

    /// <summary>Creates one package credential.</summary>
    /// <param name="packageName">packageName [0]: the security package, for example "Kerberos" or "NTLM" (sent in UTF-16LE).</param>
    /// <param name="credBuffer">credBuffer [1]: the package-specific credential; not copied: disposing the <see cref="TsRemoteGuardCreds"/> that holds it zeroes it.</param>
    public TsRemoteGuardPackageCred(string packageName, byte[] credBuffer)
    {
        ArgumentNullException.ThrowIfNull(packageName);
        ArgumentNullException.ThrowIfNull(credBuffer);
        PackageName = packageName;
        CredBuffer = credBuffer;
    }

    /// <summary>packageName [0]: the security package the buffer is for, for example "Kerberos" or "NTLM".</summary>
    public string PackageName { get; }

    /// <summary>credBuffer [1]: the package-specific credential (a KERB_TICKET_LOGON or NTLM_REMOTE_SUPPLEMENTAL_CREDENTIAL); secret.</summary>
    public byte[] CredBuffer { get; }

    internal static TsRemoteGuardPackageCred Read(ref DerReader reader)
    {
        DerReader sequence = reader.ReadSequence(structure: Structure);
        string packageName = Utf16.Decode(sequence.ReadExplicitOctetString(0), Structure, "packageName");
        byte[] credBuffer = sequence.ReadExplicitOctetString(1).ToArray();
        sequence.End();
        return new TsRemoteGuardPackageCred(packageName, credBuffer);
    }

    internal void Write(AsnWriter writer)
    {
        using (writer.PushSequence())
        {
            Der.WriteExplicitOctetString(writer, 0, Utf16.Encode(PackageName));
            Der.WriteExplicitOctetString(writer, 1, CredBuffer);
        }
    }
}
