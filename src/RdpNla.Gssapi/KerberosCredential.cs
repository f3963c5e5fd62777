using static RdpNla.Gssapi.GssNative;

namespace RdpNla.Gssapi;

/// <summary>
/// Kerberos credentials held by the system GSSAPI: an acceptor's keys from a keytab, or an initiator's tickets from a
/// credential cache (KRB5CCNAME) or from a user name and password (a TGT requested from the KDC). Thread-safe to share:
/// each <see cref="KerberosContext"/> uses it read-only.
/// </summary>
public sealed unsafe class KerberosCredential : IDisposable
{
    private IntPtr _handle;

    private KerberosCredential(IntPtr handle, string description)
    {
        _handle = handle;
        Description = description;
    }

    /// <summary>What the credential is, for logs ("keytab /etc/rdpnla.keytab, TERMSRV/host@REALM").</summary>
    public string Description { get; }

    internal IntPtr Handle => _handle;

    /// <summary>The credential's principal (e.g. <c>alice@LAB.TEST</c> for a ticket cache); null when it has none (a keytab for any principal).</summary>
    public string? PrincipalName
    {
        get
        {
            uint minor;
            IntPtr name;
            uint lifetime;
            int usage;
            if (IsError(InquireCred(&minor, _handle, &name, &lifetime, &usage, IntPtr.Zero)) || name == IntPtr.Zero)
            {
                return null;
            }

            try
            {
                var buffer = default(GssBuffer);
                return IsError(DisplayName(&minor, name, &buffer, IntPtr.Zero)) ? null : Encoding.UTF8.GetString(TakeBuffer(ref buffer));
            }
            finally
            {
                ReleaseImportedName(name);
            }
        }
    }

    /// <summary>
    /// Acceptor credentials from <paramref name="keytabPath"/> (MIT's gss_acquire_cred_from with a "keytab" store). With
    /// <paramref name="servicePrincipal"/> null, any principal in the keytab is accepted. With
    /// <paramref name="replayCache"/>, authenticators are remembered in that file (the store's "rcache" element, MIT's
    /// file2 replay cache), whatever KRB5RCACHETYPE says, so a replayed AP-REQ is refused (RFC 4120 §3.2.3).
    /// </summary>
    /// <exception cref="GssException">The keytab cannot be read or lacks the principal.</exception>
    public static KerberosCredential ForAcceptor(string keytabPath, string? servicePrincipal, string? replayCache = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(keytabPath);
        IntPtr name = servicePrincipal is null ? IntPtr.Zero : ImportPrincipal(servicePrincipal);
        try
        {
            IntPtr handle = AcquireFrom(name, CredentialAccept, "keytab", "FILE:" + Path.GetFullPath(keytabPath), replayCache is null ? null : "file2:" + Path.GetFullPath(replayCache));
            return new KerberosCredential(handle, $"keytab {keytabPath}, {servicePrincipal ?? "any principal in it"}");
        }
        finally
        {
            ReleaseImportedName(name);
        }
    }

    /// <summary>Initiator credentials from the default credential cache (KRB5CCNAME), or from <paramref name="credentialCache"/>.</summary>
    /// <exception cref="GssException">No usable ticket-granting ticket.</exception>
    public static KerberosCredential ForInitiator(string? credentialCache = null)
    {
        IntPtr handle = credentialCache is null
            ? AcquireFrom(IntPtr.Zero, CredentialInitiate, null, null)
            : AcquireFrom(IntPtr.Zero, CredentialInitiate, "ccache", credentialCache);
        return new KerberosCredential(handle, credentialCache is null ? "the default credential cache" : $"credential cache {credentialCache}");
    }

    /// <summary>Initiator credentials for <paramref name="principal"/> obtained from the KDC with a password (kept in memory).</summary>
    /// <exception cref="GssException">The KDC refused the password, or cannot be reached.</exception>
    public static KerberosCredential ForInitiatorWithPassword(string principal, ReadOnlySpan<char> password)
    {
        ArgumentException.ThrowIfNullOrEmpty(principal);
        IntPtr name = ImportPrincipal(principal);
        byte[] secret = new byte[Encoding.UTF8.GetMaxByteCount(password.Length)];
        try
        {
            int length = Encoding.UTF8.GetBytes(password, secret);
            fixed (byte* bytes = secret)
            {
                var buffer = new GssBuffer { Length = (nuint)length, Value = (IntPtr)bytes };
                uint minor;
                IntPtr handle;
                uint major = AcquireCredWithPassword(&minor, name, &buffer, 0, KerberosOnly, CredentialInitiate, &handle, IntPtr.Zero, IntPtr.Zero);
                if (IsError(major))
                {
                    throw new GssException($"Cannot get a Kerberos ticket for {principal}", major, minor);
                }

                return new KerberosCredential(handle, $"a ticket for {principal}");
            }
        }
        finally
        {
            System.Security.Cryptography.CryptographicOperations.ZeroMemory(secret);
            ReleaseImportedName(name);
        }
    }

    internal static IntPtr ImportPrincipal(string principal)
    {
        byte[] text = Encoding.UTF8.GetBytes(principal);
        fixed (byte* bytes = text)
        {
            var buffer = new GssBuffer { Length = (nuint)text.Length, Value = (IntPtr)bytes };
            uint minor;
            IntPtr name;
            uint major = GssNative.ImportName(&minor, &buffer, KerberosPrincipalName, &name);
            return IsError(major) ? throw new GssException($"Invalid Kerberos principal name '{principal}'", major, minor) : name;
        }
    }

    internal static void ReleaseImportedName(IntPtr name)
    {
        if (name != IntPtr.Zero)
        {
            uint minor;
            ReleaseName(&minor, &name);
        }
    }

    private static IntPtr AcquireFrom(IntPtr name, int usage, string? storeKey, string? storeValue, string? replayCache = null)
    {
        IntPtr key = storeKey is null ? IntPtr.Zero : Marshal.StringToCoTaskMemUTF8(storeKey);
        IntPtr value = storeValue is null ? IntPtr.Zero : Marshal.StringToCoTaskMemUTF8(storeValue);
        IntPtr rcacheKey = replayCache is null ? IntPtr.Zero : Marshal.StringToCoTaskMemUTF8("rcache");
        IntPtr rcacheValue = replayCache is null ? IntPtr.Zero : Marshal.StringToCoTaskMemUTF8(replayCache);
        try
        {
            GssKeyValue* elements = stackalloc GssKeyValue[2];
            elements[0] = new GssKeyValue { Key = key, Value = value };
            elements[1] = new GssKeyValue { Key = rcacheKey, Value = rcacheValue };
            uint count = storeKey is null ? 0u : replayCache is null ? 1u : 2u;
            var store = new GssKeyValueSet { Count = count, Elements = elements };
            uint minor;
            IntPtr handle;
            uint major = AcquireCredFrom(&minor, name, 0, KerberosOnly, usage, &store, &handle, IntPtr.Zero, IntPtr.Zero);
            if (IsError(major))
            {
                string what = usage == CredentialAccept ? $"Cannot use the Kerberos keytab {storeValue}" : "No usable Kerberos ticket";
                throw new GssException(what, major, minor);
            }

            return handle;
        }
        finally
        {
            Marshal.FreeCoTaskMem(key);
            Marshal.FreeCoTaskMem(value);
            Marshal.FreeCoTaskMem(rcacheKey);
            Marshal.FreeCoTaskMem(rcacheValue);
        }
    }

    public void Dispose()
    {
        IntPtr handle = Interlocked.Exchange(ref _handle, IntPtr.Zero);
        if (handle != IntPtr.Zero)
        {
            uint minor;
            ReleaseCred(&minor, &handle);
        }
    }
}
