namespace RdpNla.Protocol.CredSsp;

/// <summary>
/// TSSmartCardCreds (MS-CSSP §2.2.1.2.2). Decoded fully so that a server can recognise and refuse it by name.
/// <code>
/// TSSmartCardCreds ::= SEQUENCE {
///         pin         [0] OCTET STRING,
///         cspData     [1] TSCspDataDetail,
///         userHint    [2] OCTET STRING OPTIONAL,
///         domainHint  [3] OCTET STRING OPTIONAL
/// }
/// </code>
/// Text fields are UTF-16LE. The PIN is kept only as UTF-16LE bytes and zeroed by <see cref="TsCredentialsContent.Dispose()"/>.
/// </summary>
public sealed class TsSmartCardCreds : TsCredentialsContent
{
    private const string Structure = "TSSmartCardCreds";

    private readonly byte[] _pin;

    /// <summary>Creates smart card credentials; <paramref name="pin"/> is copied into a private UTF-16LE buffer.</summary>
    /// <param name="pin">pin [0]: the card's PIN.</param>
    /// <param name="cspData">cspData [1]: which card, reader, key container and CSP hold the key.</param>
    /// <param name="userHint">userHint [2]: the user name the client suggests, or null to leave it out.</param>
    /// <param name="domainHint">domainHint [3]: the domain the client suggests, or null to leave it out.</param>
    public TsSmartCardCreds(ReadOnlySpan<char> pin, TsCspDataDetail cspData, string? userHint = null, string? domainHint = null)
        : this(Utf16.Encode(pin), cspData, userHint, domainHint)
    {
    }

    private TsSmartCardCreds(byte[] pinUtf16, TsCspDataDetail cspData, string? userHint, string? domainHint)
    {
        ArgumentNullException.ThrowIfNull(cspData);
        _pin = pinUtf16;
        CspData = cspData;
        UserHint = userHint;
        DomainHint = domainHint;
    }

    /// <inheritdoc/>
    public override TsCredentialType CredType => TsCredentialType.SmartCard;

    /// <summary>pin [0]: raw UTF-16LE bytes.</summary>
    /// <exception cref="ObjectDisposedException">After dispose.</exception>
    public ReadOnlySpan<byte> PinUtf16 => Secret(_pin);

    /// <summary>cspData [1]: which card, reader, key container and CSP hold the key.</summary>
    public TsCspDataDetail CspData { get; }

    /// <summary>userHint [2]: the user name the client suggests; null when absent.</summary>
    public string? UserHint { get; }

    /// <summary>domainHint [3]: the domain the client suggests; null when absent.</summary>
    public string? DomainHint { get; }

    /// <summary>Decodes a TSSmartCardCreds (the content of TSCredentials.credentials when credType is 2).</summary>
    /// <exception cref="NlaProtocolException">The bytes are not a valid TSSmartCardCreds (<see cref="NlaFailureReason.Malformed"/>).</exception>
    public static TsSmartCardCreds Decode(ReadOnlySpan<byte> encoded)
    {
        try
        {
            DerReader sequence = DerReader.ReadSingleSequence(encoded, Structure);
            ReadOnlySpan<byte> pin = sequence.ReadExplicitOctetString(0);
            DerReader cspField = sequence.ReadExplicit(1);
            TsCspDataDetail cspData = TsCspDataDetail.Read(ref cspField);
            cspField.End();
            string? userHint = Utf16.DecodeOptional(sequence.ReadOptionalExplicitOctetString(2), Structure, "userHint");
            string? domainHint = Utf16.DecodeOptional(sequence.ReadOptionalExplicitOctetString(3), Structure, "domainHint");
            sequence.End();
            return new TsSmartCardCreds(pin.ToArray(), cspData, userHint, domainHint);
        }
        catch (Exception e) when (Der.IsDecodeFailure(e))
        {
            throw Der.Malformed(Structure, e);
        }
    }

    /// <inheritdoc/>
    public override byte[] Encode()
    {
        ReadOnlySpan<byte> pin = PinUtf16;
        AsnWriter writer = Der.CreateWriter(pin.Length + 512);
        try
        {
            using (writer.PushSequence())
            {
                Der.WriteExplicitOctetString(writer, 0, pin);
                using (writer.PushSequence(Der.Context(1)))
                {
                    CspData.Write(writer);
                }

                Der.WriteOptionalExplicitOctetString(writer, 2, Utf16.EncodeOptional(UserHint));
                Der.WriteOptionalExplicitOctetString(writer, 3, Utf16.EncodeOptional(DomainHint));
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
        CryptographicOperations.ZeroMemory(_pin);
    }
}

/// <summary>
/// TSCspDataDetail (MS-CSSP §2.2.1.2.2.1).
/// <code>
/// TSCspDataDetail ::= SEQUENCE {
///         keySpec       [0] INTEGER,
///         cardName      [1] OCTET STRING OPTIONAL,
///         readerName    [2] OCTET STRING OPTIONAL,
///         containerName [3] OCTET STRING OPTIONAL,
///         cspName       [4] OCTET STRING OPTIONAL
/// }
/// </code>
/// Text fields are UTF-16LE.
/// </summary>
public sealed class TsCspDataDetail
{
    private const string Structure = "TSCspDataDetail";

    /// <summary>keySpec [0] (AT_KEYEXCHANGE 1 or AT_SIGNATURE 2).</summary>
    public required int KeySpec { get; init; }

    /// <summary>cardName [1]: the smart card's name, or null when absent.</summary>
    public string? CardName { get; init; }

    /// <summary>readerName [2]: the card reader's name, or null when absent.</summary>
    public string? ReaderName { get; init; }

    /// <summary>containerName [3]: the key container on the card, or null when absent.</summary>
    public string? ContainerName { get; init; }

    /// <summary>cspName [4]: the cryptographic service provider, or null when absent.</summary>
    public string? CspName { get; init; }

    internal static TsCspDataDetail Read(ref DerReader reader)
    {
        DerReader sequence = reader.ReadSequence(structure: Structure);
        int keySpec = sequence.ReadExplicitInt32(0);
        var detail = new TsCspDataDetail
        {
            KeySpec = keySpec,
            CardName = Utf16.DecodeOptional(sequence.ReadOptionalExplicitOctetString(1), Structure, "cardName"),
            ReaderName = Utf16.DecodeOptional(sequence.ReadOptionalExplicitOctetString(2), Structure, "readerName"),
            ContainerName = Utf16.DecodeOptional(sequence.ReadOptionalExplicitOctetString(3), Structure, "containerName"),
            CspName = Utf16.DecodeOptional(sequence.ReadOptionalExplicitOctetString(4), Structure, "cspName"),
        };
        sequence.End();
        return detail;
    }

    internal void Write(AsnWriter writer)
    {
        using (writer.PushSequence())
        {
            Der.WriteExplicitInteger(writer, 0, KeySpec);
            Der.WriteOptionalExplicitOctetString(writer, 1, Utf16.EncodeOptional(CardName));
            Der.WriteOptionalExplicitOctetString(writer, 2, Utf16.EncodeOptional(ReaderName));
            Der.WriteOptionalExplicitOctetString(writer, 3, Utf16.EncodeOptional(ContainerName));
            Der.WriteOptionalExplicitOctetString(writer, 4, Utf16.EncodeOptional(CspName));
        }
    }
}
