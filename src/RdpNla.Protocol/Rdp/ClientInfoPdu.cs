namespace RdpNla.Protocol.Rdp;

/// <summary>TS_INFO_PACKET.flags (MS-RDPBCGR §2.2.1.11.1.1); only the ones the gateway reads or sets are named.</summary>
[Flags]
public enum InfoFlags : uint
{
    /// <summary>No flag.</summary>
    None = 0,

    /// <summary>INFO_MOUSE (0x00000001).</summary>
    Mouse = 0x00000001,

    /// <summary>INFO_AUTOLOGON (0x00000008): log on with the credentials of this packet.</summary>
    AutoLogon = 0x00000008,

    /// <summary>INFO_UNICODE (0x00000010): the strings are UTF-16LE.</summary>
    Unicode = 0x00000010,

    /// <summary>INFO_LOGONNOTIFY (0x00000040).</summary>
    LogonNotify = 0x00000040,

    /// <summary>INFO_PASSWORD_IS_SC_PIN (0x00040000): the password is a smart-card PIN.</summary>
    PasswordIsSmartCardPin = 0x00040000,
}

/// <summary>
/// The Client Info PDU (MS-RDPBCGR §2.2.1.11): an MCS Send Data Request (T.125 SDrq, PER) whose user data is a basic
/// security header with SEC_INFO_PKT and a TS_INFO_PACKET. Under TLS or CredSSP there is no RDP-level encryption
/// (SEC_ENCRYPT clear), so a relay can read and rewrite it. Only Unicode packets (INFO_UNICODE, which every current
/// client sets) are decoded. The password is kept as UTF-16LE bytes and wiped by <see cref="Dispose"/>.
/// </summary>
public sealed class ClientInfoPdu : IDisposable
{
    /// <summary>SEC_INFO_PKT (0x0040) in TS_SECURITY_HEADER.flags.</summary>
    public const ushort SecInfoPacket = 0x0040;

    /// <summary>SEC_ENCRYPT (0x0008) in TS_SECURITY_HEADER.flags.</summary>
    public const ushort SecEncrypt = 0x0008;

    /// <summary>The largest Domain, UserName or Password in bytes without the terminator (256 UTF-16 code units; §2.2.1.11.1.1 for 5.0+ servers).</summary>
    public const int MaxFieldBytes = 512;

    private const string Spec = "MS-RDPBCGR §2.2.1.11";
    private const byte SendDataRequest = 25 << 2; // DomainMCSPDU choice 25 (T.125), PER: index in the top six bits.
    private const int FixedPartLength = 18;

    private readonly byte[] _password;
    private bool _disposed;

    /// <summary>Creates a Client Info PDU.</summary>
    /// <exception cref="ArgumentException">A field exceeds <see cref="MaxFieldBytes"/> or holds a NUL.</exception>
    public ClientInfoPdu(
        ushort initiator,
        ushort channelId,
        ushort securityFlagsHi,
        uint codePage,
        InfoFlags flags,
        string domain,
        string userName,
        ReadOnlySpan<byte> passwordUtf16,
        string alternateShell,
        string workingDirectory,
        ReadOnlySpan<byte> extraInfo)
    {
        ArgumentNullException.ThrowIfNull(domain);
        ArgumentNullException.ThrowIfNull(userName);
        ArgumentNullException.ThrowIfNull(alternateShell);
        ArgumentNullException.ThrowIfNull(workingDirectory);
        CheckField(domain, nameof(domain));
        CheckField(userName, nameof(userName));
        CheckField(alternateShell, nameof(alternateShell));
        CheckField(workingDirectory, nameof(workingDirectory));
        if (passwordUtf16.Length > MaxFieldBytes || passwordUtf16.Length % 2 != 0)
        {
            throw new ArgumentException($"The password must be UTF-16LE of at most {MaxFieldBytes} bytes.", nameof(passwordUtf16));
        }

        Initiator = initiator;
        ChannelId = channelId;
        SecurityFlagsHi = securityFlagsHi;
        CodePage = codePage;
        Flags = flags | InfoFlags.Unicode;
        Domain = domain;
        UserName = userName;
        _password = passwordUtf16.ToArray();
        AlternateShell = alternateShell;
        WorkingDirectory = workingDirectory;
        ExtraInfo = extraInfo.ToArray();
    }

    /// <summary>MCS SDrq initiator (the user channel id).</summary>
    public ushort Initiator { get; }

    /// <summary>MCS SDrq channelId (the I/O channel).</summary>
    public ushort ChannelId { get; }

    /// <summary>TS_SECURITY_HEADER.flagsHi.</summary>
    public ushort SecurityFlagsHi { get; }

    /// <summary>TS_INFO_PACKET.CodePage.</summary>
    public uint CodePage { get; }

    /// <summary>TS_INFO_PACKET.flags.</summary>
    public InfoFlags Flags { get; }

    /// <summary>TS_INFO_PACKET.Domain.</summary>
    public string Domain { get; }

    /// <summary>TS_INFO_PACKET.UserName.</summary>
    public string UserName { get; }

    /// <summary>TS_INFO_PACKET.Password as UTF-16LE, without the terminator.</summary>
    /// <exception cref="ObjectDisposedException">After dispose.</exception>
    public ReadOnlySpan<byte> PasswordUtf16
    {
        get
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            return _password;
        }
    }

    /// <summary>TS_INFO_PACKET.AlternateShell.</summary>
    public string AlternateShell { get; }

    /// <summary>TS_INFO_PACKET.WorkingDir.</summary>
    public string WorkingDirectory { get; }

    /// <summary>TS_INFO_PACKET.extraInfo (TS_EXTENDED_INFO_PACKET), carried unchanged.</summary>
    public byte[] ExtraInfo { get; }

    /// <summary>
    /// True when <paramref name="frame"/> (a whole TPKT frame) is an MCS Send Data Request whose basic security header
    /// has SEC_INFO_PKT: the Client Info PDU. Any other frame, well-formed or not, gives false.
    /// </summary>
    public static bool IsClientInfo(ReadOnlySpan<byte> frame)
    {
        try
        {
            ReadOnlySpan<byte> userData = ReadSendDataRequest(frame, out _, out _);
            return userData.Length >= 4 && (BinaryPrimitives.ReadUInt16LittleEndian(userData) & SecInfoPacket) != 0;
        }
        catch (NlaProtocolException)
        {
            return false;
        }
    }

    /// <summary>Decodes a Client Info PDU from its TPKT frame.</summary>
    /// <exception cref="NlaProtocolException">Not a well-formed, unencrypted, Unicode Client Info PDU.</exception>
    public static ClientInfoPdu Decode(ReadOnlySpan<byte> frame)
    {
        ReadOnlySpan<byte> data = ReadSendDataRequest(frame, out ushort initiator, out ushort channelId);
        if (data.Length < 4 + FixedPartLength)
        {
            throw Malformed($"{data.Length} bytes of user data are too few for a security header and TS_INFO_PACKET");
        }

        ushort securityFlags = BinaryPrimitives.ReadUInt16LittleEndian(data);
        ushort securityFlagsHi = BinaryPrimitives.ReadUInt16LittleEndian(data[2..]);
        if ((securityFlags & SecInfoPacket) == 0)
        {
            throw new NlaProtocolException(NlaFailureReason.UnexpectedMessage, "Client Info PDU: the security header lacks SEC_INFO_PKT.", Spec);
        }

        if ((securityFlags & SecEncrypt) != 0)
        {
            throw new NlaProtocolException(NlaFailureReason.UnsupportedMechanism, "Client Info PDU: SEC_ENCRYPT is set (Standard RDP Security); it cannot be read.", Spec);
        }

        // Under TLS or CredSSP the header is SEC_INFO_PKT alone (§2.2.8.1.1.2.1): any other flag (e.g. SEC_EXCHANGE_PKT
        // as well) makes the PDU ambiguous to the backend, so it is refused rather than relayed.
        if (securityFlags != SecInfoPacket)
        {
            throw Malformed($"the security header flags 0x{securityFlags:X4} are not SEC_INFO_PKT alone");
        }

        ReadOnlySpan<byte> info = data[4..];
        uint codePage = BinaryPrimitives.ReadUInt32LittleEndian(info);
        var flags = (InfoFlags)BinaryPrimitives.ReadUInt32LittleEndian(info[4..]);
        if ((flags & InfoFlags.Unicode) == 0)
        {
            throw new NlaProtocolException(NlaFailureReason.UnsupportedMechanism, "Client Info PDU: INFO_UNICODE is clear; ANSI Client Info is not supported.", Spec);
        }

        Span<int> lengths = stackalloc int[5];
        for (int i = 0; i < lengths.Length; i++)
        {
            lengths[i] = BinaryPrimitives.ReadUInt16LittleEndian(info[(8 + (2 * i))..]);
            if (lengths[i] > MaxFieldBytes || lengths[i] % 2 != 0)
            {
                throw Malformed($"field {i} of TS_INFO_PACKET announces {lengths[i]} bytes (at most {MaxFieldBytes}, even)");
            }
        }

        int position = FixedPartLength;
        string domain = ReadString(info, ref position, lengths[0], "Domain");
        string userName = ReadString(info, ref position, lengths[1], "UserName");
        ReadOnlySpan<byte> password = ReadField(info, ref position, lengths[2], "Password");
        string alternateShell = ReadString(info, ref position, lengths[3], "AlternateShell");
        string workingDirectory = ReadString(info, ref position, lengths[4], "WorkingDir");
        return new ClientInfoPdu(initiator, channelId, securityFlagsHi, codePage, flags, domain, userName, password, alternateShell, workingDirectory, info[position..]);
    }

    /// <summary>
    /// Returns a copy with INFO_AUTOLOGON set and the given credentials in Domain, UserName and Password: what a relay
    /// sends to a backend that authenticates with the Client Info PDU (MS-RDPBCGR §3.3.5.3.11).
    /// </summary>
    /// <exception cref="ArgumentException">A credential exceeds <see cref="MaxFieldBytes"/> or holds a NUL.</exception>
    public ClientInfoPdu WithCredentials(string domain, string userName, ReadOnlySpan<byte> passwordUtf16) =>
        new(Initiator, ChannelId, SecurityFlagsHi, CodePage, (Flags | InfoFlags.AutoLogon) & ~InfoFlags.PasswordIsSmartCardPin,
            domain, userName, passwordUtf16, AlternateShell, WorkingDirectory, ExtraInfo);

    /// <summary>Encodes the PDU as a TPKT frame. The frame holds the password: the caller wipes it after sending.</summary>
    /// <exception cref="ObjectDisposedException">After dispose.</exception>
    public byte[] Encode()
    {
        ObjectDisposedException.ThrowIf(_disposed, this);
        byte[] domain = Encoding.Unicode.GetBytes(Domain);
        byte[] user = Encoding.Unicode.GetBytes(UserName);
        byte[] shell = Encoding.Unicode.GetBytes(AlternateShell);
        byte[] directory = Encoding.Unicode.GetBytes(WorkingDirectory);
        int infoLength = FixedPartLength + domain.Length + user.Length + _password.Length + shell.Length + directory.Length + (5 * 2) + ExtraInfo.Length;
        int userDataLength = 4 + infoLength;
        int perLength = userDataLength < 0x80 ? 1 : 2;
        int frameLength = Tpkt.HeaderLength + 3 + 1 + 2 + 2 + 1 + perLength + userDataLength;
        if (userDataLength > 0x3FFF || frameLength > Tpkt.MaximumFrameLength)
        {
            throw new InvalidOperationException("The Client Info PDU exceeds an MCS Send Data Request.");
        }

        byte[] frame = new byte[frameLength];
        Span<byte> span = frame;
        Tpkt.WriteHeader(span, frameLength);
        int p = Tpkt.HeaderLength;
        span[p++] = 0x02;
        span[p++] = 0xF0;
        span[p++] = 0x80;
        span[p++] = SendDataRequest;
        BinaryPrimitives.WriteUInt16BigEndian(span[p..], (ushort)(Initiator - 1001));
        p += 2;
        BinaryPrimitives.WriteUInt16BigEndian(span[p..], ChannelId);
        p += 2;
        span[p++] = 0x70; // dataPriority high, segmentation begin|end (as every RDP client sends).
        if (perLength == 1)
        {
            span[p++] = (byte)userDataLength;
        }
        else
        {
            BinaryPrimitives.WriteUInt16BigEndian(span[p..], (ushort)(0x8000 | userDataLength));
            p += 2;
        }

        BinaryPrimitives.WriteUInt16LittleEndian(span[p..], SecInfoPacket);
        BinaryPrimitives.WriteUInt16LittleEndian(span[(p + 2)..], SecurityFlagsHi);
        p += 4;
        BinaryPrimitives.WriteUInt32LittleEndian(span[p..], CodePage);
        BinaryPrimitives.WriteUInt32LittleEndian(span[(p + 4)..], (uint)Flags);
        BinaryPrimitives.WriteUInt16LittleEndian(span[(p + 8)..], (ushort)domain.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(span[(p + 10)..], (ushort)user.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(span[(p + 12)..], (ushort)_password.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(span[(p + 14)..], (ushort)shell.Length);
        BinaryPrimitives.WriteUInt16LittleEndian(span[(p + 16)..], (ushort)directory.Length);
        p += FixedPartLength;
        foreach (byte[] field in (ReadOnlySpan<byte[]>)[domain, user, _password, shell, directory])
        {
            field.CopyTo(span[p..]);
            p += field.Length + 2; // the UTF-16 NUL terminator is already zero.
        }

        ExtraInfo.CopyTo(span[p..]);
        return frame;
    }

    /// <summary>Wipes the password.</summary>
    public void Dispose()
    {
        if (!_disposed)
        {
            _disposed = true;
            CryptographicOperations.ZeroMemory(_password);
        }
    }

    private static ReadOnlySpan<byte> ReadSendDataRequest(ReadOnlySpan<byte> frame, out ushort initiator, out ushort channelId)
    {
        ReadOnlySpan<byte> tpdu = Tpkt.GetPayload(frame);
        if (tpdu.Length < 3 + 7 || tpdu[0] != 0x02 || tpdu[1] != 0xF0 || tpdu[2] != 0x80)
        {
            throw Malformed("not an X.224 Data TPDU carrying an MCS PDU");
        }

        if ((tpdu[3] & 0xFC) != SendDataRequest)
        {
            throw new NlaProtocolException(NlaFailureReason.UnexpectedMessage, $"MCS PDU type {tpdu[3] >> 2} is not a Send Data Request (25).", Spec);
        }

        initiator = (ushort)(BinaryPrimitives.ReadUInt16BigEndian(tpdu[4..]) + 1001);
        channelId = BinaryPrimitives.ReadUInt16BigEndian(tpdu[6..]);
        if ((tpdu[8] & 0x30) != 0x30)
        {
            throw Malformed("the Send Data Request is a segment (segmentation begin|end not both set)");
        }

        int position = 9;
        int length = tpdu[position++];
        if ((length & 0x80) != 0)
        {
            if ((length & 0x40) != 0 || position >= tpdu.Length)
            {
                throw Malformed("the Send Data Request's PER length is fragmented or truncated");
            }

            length = ((length & 0x3F) << 8) | tpdu[position++];
        }

        if (length != tpdu.Length - position)
        {
            throw Malformed($"the Send Data Request announces {length} bytes of user data but {tpdu.Length - position} follow");
        }

        return tpdu[position..];
    }

    private static ReadOnlySpan<byte> ReadField(ReadOnlySpan<byte> info, ref int position, int length, string name)
    {
        if ((ulong)position + (ulong)length + 2 > (ulong)info.Length)
        {
            throw Malformed($"TS_INFO_PACKET.{name} ({length} bytes and its terminator) runs past the end");
        }

        ReadOnlySpan<byte> field = info.Slice(position, length);
        position += length + 2;
        return field;
    }

    private static string ReadString(ReadOnlySpan<byte> info, ref int position, int length, string name)
    {
        ReadOnlySpan<byte> field = ReadField(info, ref position, length, name);
        string value = Encoding.Unicode.GetString(field);
        int nul = value.IndexOf('\0', StringComparison.Ordinal);
        return nul < 0 ? value : value[..nul];
    }

    private static void CheckField(string value, string name)
    {
        if (value.Length * 2 > MaxFieldBytes || value.Contains('\0', StringComparison.Ordinal))
        {
            throw new ArgumentException($"{name} must be at most {MaxFieldBytes / 2} characters without NUL.", name);
        }
    }

    private static NlaProtocolException Malformed(string what) => new(NlaFailureReason.Malformed, $"Client Info PDU: {what}.", Spec);
}
