using static RdpNla.Gssapi.GssNative;

namespace RdpNla.Gssapi;

/// <summary>
/// One Kerberos V5 GSS-API security context (RFC 4121) in the system library, as the acceptor (server role, keys from a
/// keytab) or the initiator (client role, tickets from a credential cache). The library does all Kerberos work: ticket
/// decryption, replay cache, clock-skew check, AP-REP, sequence numbers. This class only moves bytes and maps errors.
/// </summary>
public sealed unsafe class KerberosContext : IGssContext
{
    /// <summary>What CredSSP initiators request (MS-CSSP §3.1.5; FreeRDP's credssp flags): mutual authentication, sealing.</summary>
    private const uint InitiatorFlags = MutualFlag | ReplayFlag | SequenceFlag | ConfFlag | IntegFlag;

    private readonly KerberosCredential? _credential;
    private readonly bool _acceptor;
    private readonly object _gate = new();
    private IntPtr _target;
    private IntPtr _context;
    private bool _established;

    private KerberosContext(KerberosCredential? credential, bool acceptor, IntPtr target)
    {
        _credential = credential;
        _acceptor = acceptor;
        _target = target;
    }

    public string PackageName => "Kerberos";

    public string? PeerPrincipal { get; private set; }

    public NtStatus FailureStatus { get; private set; } = NtStatus.LogonFailure;

    public string? FailureMessage { get; private set; }

    /// <summary>The krb5 error code of the failure (the GSS minor status), 0 when none.</summary>
    public uint FailureCode { get; private set; }

    /// <summary>True once the peer proved itself too (the acceptor's AP-REP was verified, or the initiator asked for it).</summary>
    public bool MutualAuthentication { get; private set; }

    /// <summary>An acceptor context using <paramref name="credential"/> (the keytab's keys).</summary>
    public static KerberosContext CreateAcceptor(KerberosCredential credential)
    {
        ArgumentNullException.ThrowIfNull(credential);
        return new KerberosContext(credential, acceptor: true, IntPtr.Zero);
    }

    /// <summary>An initiator context for <paramref name="servicePrincipal"/> (e.g. <c>TERMSRV/host.example.com</c>).</summary>
    /// <param name="servicePrincipal">The target's service principal name; the default realm applies when it has none.</param>
    /// <param name="credential">Tickets to use; null for the default credential cache (KRB5CCNAME).</param>
    /// <exception cref="GssException">The name is not a valid principal name.</exception>
    public static KerberosContext CreateInitiator(string servicePrincipal, KerberosCredential? credential = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(servicePrincipal);
        return new KerberosContext(credential, acceptor: false, KerberosCredential.ImportPrincipal(servicePrincipal));
    }

    public GssStepStatus Step(ReadOnlySpan<byte> inputToken, out byte[]? outputToken)
    {
        lock (_gate)
        {
            return _acceptor ? Accept(inputToken, out outputToken) : Initiate(inputToken, out outputToken);
        }
    }

    private GssStepStatus Accept(ReadOnlySpan<byte> inputToken, out byte[]? outputToken)
    {
        fixed (byte* input = inputToken)
        {
            var inputBuffer = new GssBuffer { Length = (nuint)inputToken.Length, Value = (IntPtr)input };
            var output = default(GssBuffer);
            uint minor;
            uint flags;
            IntPtr source = IntPtr.Zero;
            IntPtr context = _context;
            uint major = AcceptSecContext(&minor, &context, _credential!.Handle, &inputBuffer, IntPtr.Zero, &source, IntPtr.Zero, &output, &flags, IntPtr.Zero, IntPtr.Zero);
            _context = context;
            outputToken = output.Length == 0 ? TakeEmpty(ref output) : TakeBuffer(ref output);
            try
            {
                if (IsError(major))
                {
                    return Failed(major, minor, ref outputToken);
                }

                if ((major & ContinueNeededBit) != 0)
                {
                    return GssStepStatus.ContinueNeeded;
                }

                PeerPrincipal = DisplayName(source);
                MutualAuthentication = (flags & MutualFlag) != 0;
                _established = true;
                return GssStepStatus.Completed;
            }
            finally
            {
                ReleaseImportedName(source);
            }
        }
    }

    private GssStepStatus Initiate(ReadOnlySpan<byte> inputToken, out byte[]? outputToken)
    {
        fixed (byte* input = inputToken)
        {
            var inputBuffer = new GssBuffer { Length = (nuint)inputToken.Length, Value = (IntPtr)input };
            var output = default(GssBuffer);
            uint minor;
            uint flags;
            IntPtr context = _context;
            uint major = InitSecContext(
                &minor,
                _credential?.Handle ?? IntPtr.Zero,
                &context,
                _target,
                KerberosMechanism,
                InitiatorFlags,
                0,
                IntPtr.Zero,
                inputToken.IsEmpty ? null : &inputBuffer,
                IntPtr.Zero,
                &output,
                &flags,
                IntPtr.Zero);
            _context = context;
            outputToken = output.Length == 0 ? TakeEmpty(ref output) : TakeBuffer(ref output);
            if (IsError(major))
            {
                return Failed(major, minor, ref outputToken);
            }

            if ((major & ContinueNeededBit) != 0)
            {
                return GssStepStatus.ContinueNeeded;
            }

            MutualAuthentication = (flags & MutualFlag) != 0;
            _established = true;
            return GssStepStatus.Completed;
        }
    }

    /// <summary>
    /// RFC 4121 §4.2.6.2 wrap token in the layout of SSPI EncryptMessage with a separate security trailer, which is what
    /// CredSSP carries (MS-CSSP §2.2.1): MIT's gss_wrap_iov with HEADER, DATA and PADDING buffers and no TRAILER buffer
    /// rotates the encrypted header copy and checksum in front of the data (RRC = their length, RFC 4121 §4.2.5), so
    /// the token is header ‖ encrypted data, as Windows' Kerberos package emits it (RRC 28 with AES).
    /// </summary>
    public byte[] Wrap(ReadOnlySpan<byte> plaintext)
    {
        lock (_gate)
        {
            EnsureEstablished();
            byte[] data = plaintext.ToArray();
            try
            {
                fixed (byte* dataPointer = data)
                {
                    GssIovBuffer* iov = stackalloc GssIovBuffer[3];
                    iov[0] = new GssIovBuffer { Type = IovHeader | IovFlagAllocate };
                    iov[1] = new GssIovBuffer { Type = IovData, Buffer = new GssBuffer { Length = (nuint)data.Length, Value = (IntPtr)dataPointer } };
                    iov[2] = new GssIovBuffer { Type = IovPadding | IovFlagAllocate };
                    uint minor;
                    int sealed_;
                    uint major = WrapIov(&minor, _context, 1, 0, &sealed_, iov, 3);
                    try
                    {
                        if (IsError(major) || sealed_ == 0)
                        {
                            throw new NlaProtocolException(NlaFailureReason.DecryptionFailed, $"Kerberos wrap failed: {DescribeStatus(major, minor)}", "RFC 4121 §4.2.6.2");
                        }

                        int header = checked((int)iov[0].Buffer.Length);
                        int padding = checked((int)iov[2].Buffer.Length);
                        byte[] token = new byte[header + data.Length + padding];
                        new ReadOnlySpan<byte>((void*)iov[0].Buffer.Value, header).CopyTo(token);
                        data.CopyTo(token, header);
                        if (padding > 0)
                        {
                            new ReadOnlySpan<byte>((void*)iov[2].Buffer.Value, padding).CopyTo(token.AsSpan(header + data.Length));
                        }

                        return token;
                    }
                    finally
                    {
                        uint ignored;
                        iov[1].Type = 0;
                        ReleaseIovBuffer(&ignored, iov, 3);
                    }
                }
            }
            finally
            {
                CryptographicOperations.ZeroMemory(data);
            }
        }
    }

    /// <summary>Opens a wrap token with any RRC (Windows' rotated layout or RFC 4121's plain one); it must be sealed.</summary>
    public byte[] Unwrap(ReadOnlySpan<byte> token)
    {
        lock (_gate)
        {
            EnsureEstablished();
            fixed (byte* input = token)
            {
                var inputBuffer = new GssBuffer { Length = (nuint)token.Length, Value = (IntPtr)input };
                var output = default(GssBuffer);
                uint minor;
                int sealed_;
                uint qop;
                uint major = GssNative.Unwrap(&minor, _context, &inputBuffer, &output, &sealed_, &qop);
                if (IsError(major))
                {
                    throw new NlaProtocolException(NlaFailureReason.DecryptionFailed, $"The Kerberos wrap token does not verify: {DescribeStatus(major, minor)}", "RFC 4121 §4.2.6.2");
                }

                byte[] plaintext = TakeBuffer(ref output);
                if (sealed_ == 0)
                {
                    CryptographicOperations.ZeroMemory(plaintext);
                    throw new NlaProtocolException(NlaFailureReason.DecryptionFailed, "The Kerberos wrap token is signed but not sealed.", "MS-CSSP §3.1.5");
                }

                return plaintext;
            }
        }
    }

    public byte[] GetMic(ReadOnlySpan<byte> message)
    {
        lock (_gate)
        {
            EnsureEstablished();
            fixed (byte* input = message)
            {
                var messageBuffer = new GssBuffer { Length = (nuint)message.Length, Value = (IntPtr)input };
                var token = default(GssBuffer);
                uint minor;
                uint major = GssNative.GetMic(&minor, _context, 0, &messageBuffer, &token);
                return IsError(major)
                    ? throw new NlaProtocolException(NlaFailureReason.IntegrityCheckFailed, $"Kerberos GetMIC failed: {DescribeStatus(major, minor)}", "RFC 4121 §4.2.6.1")
                    : TakeBuffer(ref token);
            }
        }
    }

    public bool VerifyMic(ReadOnlySpan<byte> message, ReadOnlySpan<byte> mic)
    {
        lock (_gate)
        {
            EnsureEstablished();
            fixed (byte* messagePointer = message)
            fixed (byte* micPointer = mic)
            {
                var messageBuffer = new GssBuffer { Length = (nuint)message.Length, Value = (IntPtr)messagePointer };
                var micBuffer = new GssBuffer { Length = (nuint)mic.Length, Value = (IntPtr)micPointer };
                uint minor;
                uint qop;
                return !IsError(GssNative.VerifyMic(&minor, _context, &messageBuffer, &micBuffer, &qop));
            }
        }
    }

    private GssStepStatus Failed(uint major, uint minor, ref byte[]? outputToken)
    {
        // An acceptor's error token (a KRB-ERROR) is not sent: CredSSP reports failures with errorCode (MS-CSSP §2.2.1).
        outputToken = _acceptor ? null : outputToken;
        FailureCode = minor;
        FailureStatus = KerberosErrors.ToNtStatus(minor);
        FailureMessage = $"Kerberos: {DescribeStatus(major, minor)}";
        return GssStepStatus.Failed;
    }

    private void EnsureEstablished()
    {
        if (!_established)
        {
            throw new InvalidOperationException("The Kerberos context is not established.");
        }
    }

    private static byte[]? TakeEmpty(ref GssBuffer buffer)
    {
        if (buffer.Value != IntPtr.Zero)
        {
            TakeBuffer(ref buffer);
        }

        return null;
    }

    private static string? DisplayName(IntPtr name)
    {
        if (name == IntPtr.Zero)
        {
            return null;
        }

        var buffer = default(GssBuffer);
        uint minor;
        return IsError(GssNative.DisplayName(&minor, name, &buffer, IntPtr.Zero)) ? null : Encoding.UTF8.GetString(TakeBuffer(ref buffer));
    }

    private static void ReleaseImportedName(IntPtr name) => KerberosCredential.ReleaseImportedName(name);

    public void Dispose()
    {
        lock (_gate)
        {
            uint minor;
            if (_context != IntPtr.Zero)
            {
                IntPtr context = _context;
                DeleteSecContext(&minor, &context, IntPtr.Zero);
                _context = IntPtr.Zero;
            }

            ReleaseImportedName(_target);
            _target = IntPtr.Zero;
            _established = false;
        }
    }
}
