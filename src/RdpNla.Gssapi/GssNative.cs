namespace RdpNla.Gssapi;

/// <summary>
/// The C bindings of the GSS-API (RFC 2744) and the MIT krb5 extensions used here (gss_acquire_cred_from,
/// gss_acquire_cred_with_password, gss_wrap_iov from RFC 4121's IOV interface as MIT documents it), for x86-64 and
/// arm64 Linux (LP64: size_t and pointers are 64-bit, OM_uint32 is 32-bit).
/// </summary>
internal static unsafe partial class GssNative
{
    private const string Library = "libgssapi_krb5.so.2";

    public const uint Complete = 0;
    public const uint ContinueNeededBit = 1;

    public const int CredentialBoth = 0;
    public const int CredentialInitiate = 1;
    public const int CredentialAccept = 2;

    public const int StatusTypeGss = 1;
    public const int StatusTypeMech = 2;

    public const uint DelegFlag = 1;
    public const uint MutualFlag = 2;
    public const uint ReplayFlag = 4;
    public const uint SequenceFlag = 8;
    public const uint ConfFlag = 16;
    public const uint IntegFlag = 32;

    public const uint IovData = 1;
    public const uint IovHeader = 2;
    public const uint IovPadding = 9;
    public const uint IovFlagAllocate = 0x00010000;

    /// <summary>Kerberos V5 mechanism, RFC 1964: 1.2.840.113554.1.2.2.</summary>
    public static readonly GssOidDesc* KerberosMechanism = AllocateOid([0x2A, 0x86, 0x48, 0x86, 0xF7, 0x12, 0x01, 0x02, 0x02]);

    /// <summary>GSS_KRB5_NT_PRINCIPAL_NAME, RFC 1964 §2.1.1: 1.2.840.113554.1.2.2.1 ("service/host@REALM").</summary>
    public static readonly GssOidDesc* KerberosPrincipalName = AllocateOid([0x2A, 0x86, 0x48, 0x86, 0xF7, 0x12, 0x01, 0x02, 0x02, 0x01]);

    /// <summary>A one-element set holding the Kerberos mechanism.</summary>
    public static readonly GssOidSet* KerberosOnly = AllocateSet(KerberosMechanism);

    public static bool IsError(uint major) => (major & 0xFFFF0000) != 0;

    [StructLayout(LayoutKind.Sequential)]
    public struct GssBuffer
    {
        public nuint Length;
        public IntPtr Value;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct GssOidDesc
    {
        public uint Length;
        public IntPtr Elements;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct GssOidSet
    {
        public nuint Count;
        public GssOidDesc* Elements;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct GssKeyValue
    {
        public IntPtr Key;
        public IntPtr Value;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct GssKeyValueSet
    {
        public uint Count;
        public GssKeyValue* Elements;
    }

    [StructLayout(LayoutKind.Sequential)]
    public struct GssIovBuffer
    {
        public uint Type;
        public GssBuffer Buffer;
    }

    [LibraryImport(Library, EntryPoint = "gss_import_name")]
    public static partial uint ImportName(uint* minor, GssBuffer* name, GssOidDesc* nameType, IntPtr* output);

    [LibraryImport(Library, EntryPoint = "gss_display_name")]
    public static partial uint DisplayName(uint* minor, IntPtr name, GssBuffer* output, IntPtr outputType);

    [LibraryImport(Library, EntryPoint = "gss_release_name")]
    public static partial uint ReleaseName(uint* minor, IntPtr* name);

    [LibraryImport(Library, EntryPoint = "gss_acquire_cred_from")]
    public static partial uint AcquireCredFrom(uint* minor, IntPtr name, uint timeRequired, GssOidSet* mechanisms, int usage, GssKeyValueSet* store, IntPtr* credential, IntPtr actualMechanisms, IntPtr timeReceived);

    [LibraryImport(Library, EntryPoint = "gss_acquire_cred_with_password")]
    public static partial uint AcquireCredWithPassword(uint* minor, IntPtr name, GssBuffer* password, uint timeRequired, GssOidSet* mechanisms, int usage, IntPtr* credential, IntPtr actualMechanisms, IntPtr timeReceived);

    [LibraryImport(Library, EntryPoint = "gss_inquire_cred")]
    public static partial uint InquireCred(uint* minor, IntPtr credential, IntPtr* name, uint* lifetime, int* usage, IntPtr mechanisms);

    [LibraryImport(Library, EntryPoint = "gss_release_cred")]
    public static partial uint ReleaseCred(uint* minor, IntPtr* credential);

    [LibraryImport(Library, EntryPoint = "gss_accept_sec_context")]
    public static partial uint AcceptSecContext(uint* minor, IntPtr* context, IntPtr credential, GssBuffer* input, IntPtr channelBindings, IntPtr* sourceName, IntPtr mechType, GssBuffer* output, uint* returnedFlags, IntPtr timeReceived, IntPtr delegatedCredential);

    [LibraryImport(Library, EntryPoint = "gss_init_sec_context")]
    public static partial uint InitSecContext(uint* minor, IntPtr credential, IntPtr* context, IntPtr target, GssOidDesc* mechanism, uint requestFlags, uint timeRequired, IntPtr channelBindings, GssBuffer* input, IntPtr actualMechanism, GssBuffer* output, uint* returnedFlags, IntPtr timeReceived);

    [LibraryImport(Library, EntryPoint = "gss_delete_sec_context")]
    public static partial uint DeleteSecContext(uint* minor, IntPtr* context, IntPtr outputToken);

    [LibraryImport(Library, EntryPoint = "gss_wrap_iov")]
    public static partial uint WrapIov(uint* minor, IntPtr context, int confidentiality, uint qop, int* confidentialityState, GssIovBuffer* iov, int count);

    [LibraryImport(Library, EntryPoint = "gss_release_iov_buffer")]
    public static partial uint ReleaseIovBuffer(uint* minor, GssIovBuffer* iov, int count);

    [LibraryImport(Library, EntryPoint = "gss_unwrap")]
    public static partial uint Unwrap(uint* minor, IntPtr context, GssBuffer* input, GssBuffer* output, int* confidentialityState, uint* qop);

    [LibraryImport(Library, EntryPoint = "gss_get_mic")]
    public static partial uint GetMic(uint* minor, IntPtr context, uint qop, GssBuffer* message, GssBuffer* token);

    [LibraryImport(Library, EntryPoint = "gss_verify_mic")]
    public static partial uint VerifyMic(uint* minor, IntPtr context, GssBuffer* message, GssBuffer* token, uint* qop);

    [LibraryImport(Library, EntryPoint = "gss_display_status")]
    public static partial uint DisplayStatus(uint* minor, uint status, int statusType, IntPtr mechanism, uint* messageContext, GssBuffer* output);

    [LibraryImport(Library, EntryPoint = "gss_release_buffer")]
    public static partial uint ReleaseBuffer(uint* minor, GssBuffer* buffer);

    /// <summary>Copies a buffer the library allocated and releases it.</summary>
    public static byte[] TakeBuffer(ref GssBuffer buffer)
    {
        byte[] bytes = buffer.Length == 0 ? [] : new ReadOnlySpan<byte>((void*)buffer.Value, checked((int)buffer.Length)).ToArray();
        uint minor;
        fixed (GssBuffer* pointer = &buffer)
        {
            ReleaseBuffer(&minor, pointer);
        }

        return bytes;
    }

    /// <summary>The library's text for a major and minor status (RFC 2744 §5.11), all messages joined.</summary>
    public static string DescribeStatus(uint major, uint minor)
    {
        var parts = new List<string>();
        Describe(major, StatusTypeGss, parts);
        if (minor != 0)
        {
            Describe(minor, StatusTypeMech, parts);
        }

        return string.Join(": ", parts);
    }

    private static void Describe(uint status, int type, List<string> parts)
    {
        uint context = 0;
        for (int i = 0; i < 8; i++)
        {
            uint minor;
            var buffer = default(GssBuffer);
            uint result = DisplayStatus(&minor, status, type, (IntPtr)KerberosMechanism, &context, &buffer);
            if (IsError(result))
            {
                return;
            }

            string text = Encoding.UTF8.GetString(TakeBuffer(ref buffer)).Trim();
            if (text.Length > 0)
            {
                parts.Add(text);
            }

            if (context == 0)
            {
                return;
            }
        }
    }

    private static GssOidDesc* AllocateOid(ReadOnlySpan<byte> der)
    {
        // Static lifetime: the OIDs live as long as the process, as GSS_C_NT_* constants do in C.
        byte* elements = (byte*)NativeMemory.Alloc((nuint)der.Length);
        der.CopyTo(new Span<byte>(elements, der.Length));
        var oid = (GssOidDesc*)NativeMemory.Alloc((nuint)sizeof(GssOidDesc));
        oid->Length = (uint)der.Length;
        oid->Elements = (IntPtr)elements;
        return oid;
    }

    private static GssOidSet* AllocateSet(GssOidDesc* oid)
    {
        var set = (GssOidSet*)NativeMemory.Alloc((nuint)sizeof(GssOidSet));
        set->Count = 1;
        set->Elements = oid;
        return set;
    }
}
