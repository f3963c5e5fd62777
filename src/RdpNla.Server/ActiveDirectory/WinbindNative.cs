namespace RdpNla.Server.ActiveDirectory;

/// <summary>
/// The few calls of Samba's libwbclient (<c>wbclient.h</c>, Debian <c>libwbclient0</c>) the pass-through needs, with the
/// structures laid out by hand for LP64 Linux (x86-64, arm64: pointers and size_t are 64-bit). No struct is marshalled:
/// inputs are written into native memory and outputs read at their offsets.
/// </summary>
internal static class WinbindNative
{
    public const string Library = "libwbclient.so.0";

    /// <summary>wbcAuthUserParams.level: WBC_AUTH_USER_LEVEL_RESPONSE (challenge and responses).</summary>
    public const int LevelResponse = 3;

    /// <summary>WBC_MSV1_0_ALLOW_WORKSTATION_TRUST_ACCOUNT | WBC_MSV1_0_ALLOW_SERVER_TRUST_ACCOUNT, as Samba's ntlm_auth sets them.</summary>
    public const uint ParameterControl = 0x00000800 | 0x00000020;

    /// <summary>sizeof(struct wbcAuthUserParams).</summary>
    public const int AuthUserParamsSize = 80;

    /// <summary>sizeof(struct wbcDomainSid): revision, count, 6-byte authority, 15 sub-authorities.</summary>
    public const int DomainSidSize = 68;

    /// <summary>sizeof(struct wbcSidWithAttr).</summary>
    public const int SidWithAttrSize = DomainSidSize + 4;

    // struct wbcAuthUserParams offsets.
    public const int ParamsAccountName = 0;
    public const int ParamsDomainName = 8;
    public const int ParamsWorkstation = 16;
    public const int ParamsFlags = 24;
    public const int ParamsParameterControl = 28;
    public const int ParamsLevel = 32;
    public const int ParamsChallenge = 40;
    public const int ParamsNtLength = 48;
    public const int ParamsNtData = 56;
    public const int ParamsLmLength = 64;
    public const int ParamsLmData = 72;

    // struct wbcAuthUserInfo offsets.
    public const int InfoAccountName = 8;
    public const int InfoDomainName = 32;
    public const int InfoDnsDomainName = 40;
    public const int InfoUserSessionKey = 52;
    public const int InfoNumSids = 168;
    public const int InfoSids = 176;

    // struct wbcAuthErrorInfo offsets.
    public const int ErrorNtStatus = 0;

    // struct wbcInterfaceDetails offsets.
    public const int DetailsNetbiosDomain = 32;
    public const int DetailsDnsDomain = 40;

    [DllImport(Library, EntryPoint = "wbcAuthenticateUserEx")]
    public static extern WbcErr AuthenticateUserEx(IntPtr parameters, out IntPtr info, out IntPtr error);

    [DllImport(Library, EntryPoint = "wbcInterfaceDetails")]
    public static extern WbcErr InterfaceDetails(out IntPtr details);

    [DllImport(Library, EntryPoint = "wbcLookupName")]
    public static extern WbcErr LookupName(IntPtr domain, IntPtr name, IntPtr sid, out int type);

    [DllImport(Library, EntryPoint = "wbcLookupUserSids")]
    public static extern WbcErr LookupUserSids(IntPtr userSid, [MarshalAs(UnmanagedType.U1)] bool domainGroupsOnly, out uint count, out IntPtr sids);

    [DllImport(Library, EntryPoint = "wbcSidToString")]
    public static extern WbcErr SidToString(IntPtr sid, out IntPtr text);

    /// <summary>sizeof(struct wbcChangePasswordParams): two names, flags, level, then two unions of 32 bytes.</summary>
    public const int ChangePasswordParamsSize = 88;

    /// <summary>wbcChangePasswordParams.level: WBC_CHANGE_PASSWORD_LEVEL_PLAIN (the old and new passwords as text).</summary>
    public const int ChangePasswordLevelPlain = 1;

    // struct wbcChangePasswordParams offsets.
    public const int ChangeAccountName = 0;
    public const int ChangeDomainName = 8;
    public const int ChangeLevel = 20;
    public const int ChangeOldPassword = 24;
    public const int ChangeNewPassword = 56;

    // struct wbcUserPasswordPolicyInfo offsets.
    public const int PolicyMinLength = 0;
    public const int PolicyHistory = 4;

    [DllImport(Library, EntryPoint = "wbcChangeUserPasswordEx")]
    public static extern WbcErr ChangeUserPasswordEx(IntPtr parameters, out IntPtr error, out int rejectReason, out IntPtr policy);

    [DllImport(Library, EntryPoint = "wbcFreeMemory")]
    public static extern void FreeMemory(IntPtr memory);

    /// <summary>CLONE_NEWNS (unshare(2)): this thread gets its own copy of the mount namespace.</summary>
    public const int CloneNewNs = 0x00020000;

    /// <summary>MS_BIND (mount(2)).</summary>
    public const ulong MountBind = 4096;

    /// <summary>MS_REC | MS_PRIVATE (mount(2)): nothing mounted here propagates back to the host.</summary>
    public const ulong MountRecursivePrivate = 0x4000 | 0x40000;

    [DllImport("libc", EntryPoint = "unshare", SetLastError = true)]
    public static extern int Unshare(int flags);

    [DllImport("libc", EntryPoint = "mount", SetLastError = true)]
    public static extern int Mount(string? source, string target, string? fileSystemType, ulong flags, IntPtr data);

    /// <summary>Reads the SID at <paramref name="sid"/> as text (S-1-5-21-...).</summary>
    public static string? SidText(IntPtr sid)
    {
        if (SidToString(sid, out IntPtr text) != WbcErr.Success)
        {
            return null;
        }

        try
        {
            return Marshal.PtrToStringUTF8(text);
        }
        finally
        {
            FreeMemory(text);
        }
    }
}

/// <summary>wbcErr (wbclient.h).</summary>
internal enum WbcErr
{
    Success = 0,
    NotImplemented,
    UnknownFailure,
    NoMemory,
    InvalidSid,
    InvalidParam,
    WinbindNotAvailable,
    DomainNotFound,
    InvalidResponse,
    NssError,
    AuthError,
    UnknownUser,
    UnknownGroup,
    PasswordChangeFailed,
    NotMapped,
}
