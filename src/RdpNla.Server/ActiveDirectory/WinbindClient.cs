namespace RdpNla.Server.ActiveDirectory;

/// <summary>What winbind answered to one NTLM pass-through logon.</summary>
internal sealed class WinbindLogon : IDisposable
{
    /// <summary>The DC's NTSTATUS (Success when verified); STATUS_NO_LOGON_SERVERS when winbind or the DC did not answer.</summary>
    public required NtStatus Status { get; init; }

    /// <summary>The wbcErr of the call (AuthError with a DC status, WinbindNotAvailable, ...).</summary>
    public required WbcErr Error { get; init; }

    /// <summary>The NTLMv2 SessionBaseKey (MS-NLMP §3.3.2), when verified. Wiped by <see cref="Dispose"/>.</summary>
    public byte[]? SessionBaseKey { get; init; }

    /// <summary>The account's name and domain as the DC spells them.</summary>
    public string? AccountName { get; init; }

    public string? DomainName { get; init; }

    /// <summary>The user's SID, its primary group and every group SID of the logon (MS-PAC KERB_VALIDATION_INFO, as in NETLOGON_VALIDATION_SAM_INFO).</summary>
    public IReadOnlyList<string> Sids { get; init; } = [];

    public void Dispose()
    {
        if (SessionBaseKey is not null)
        {
            CryptographicOperations.ZeroMemory(SessionBaseKey);
        }
    }
}

/// <summary>
/// Talks to the host's winbind through libwbclient on one dedicated thread. With a run folder configured, that thread
/// first leaves the host's mount namespace (unshare(2) CLONE_NEWNS, which a thread may do alone) and binds the folder on
/// <c>/run/samba</c>, the only place Debian's libwbclient looks for winbind's socket (docs/active-directory.md): the
/// rest of the process, and the host, are unaffected. Calls are queued; one call is in flight at a time.
/// </summary>
internal sealed class WinbindClient : IDisposable
{
    private readonly BlockingCollection<Action> _queue = new();
    private readonly Thread _thread;
    private readonly TaskCompletionSource<string?> _ready = new(TaskCreationOptions.RunContinuationsAsynchronously);

    public WinbindClient(string? runDirectory)
    {
        _thread = new Thread(() => Run(runDirectory)) { IsBackground = true, Name = "winbind" };
        _thread.Start();
    }

    /// <summary>Null when the thread is ready; else why the namespace could not be set up.</summary>
    public Task<string?> Ready => _ready.Task;

    /// <summary>The NetBIOS and DNS names of the domain winbind serves (wbcInterfaceDetails), or the error.</summary>
    public Task<(WbcErr Error, string? NetBiosDomain, string? DnsDomain)> DomainNamesAsync() => InvokeAsync(() =>
    {
        WbcErr error = WinbindNative.InterfaceDetails(out IntPtr details);
        if (error != WbcErr.Success)
        {
            return (error, (string?)null, (string?)null);
        }

        try
        {
            return (error, Marshal.PtrToStringUTF8(Marshal.ReadIntPtr(details, WinbindNative.DetailsNetbiosDomain)), Marshal.PtrToStringUTF8(Marshal.ReadIntPtr(details, WinbindNative.DetailsDnsDomain)));
        }
        finally
        {
            WinbindNative.FreeMemory(details);
        }
    });

    /// <summary>Resolves DOMAIN\name to its SID text (wbcLookupName).</summary>
    public Task<(WbcErr Error, string? Sid)> LookupNameAsync(string domain, string name) => InvokeAsync(() =>
    {
        IntPtr domainText = Marshal.StringToCoTaskMemUTF8(domain);
        IntPtr nameText = Marshal.StringToCoTaskMemUTF8(name);
        IntPtr sid = Marshal.AllocHGlobal(WinbindNative.DomainSidSize);
        try
        {
            WbcErr error = WinbindNative.LookupName(domainText, nameText, sid, out _);
            return (error, error == WbcErr.Success ? WinbindNative.SidText(sid) : null);
        }
        finally
        {
            Marshal.FreeCoTaskMem(domainText);
            Marshal.FreeCoTaskMem(nameText);
            Marshal.FreeHGlobal(sid);
        }
    });

    /// <summary>
    /// Has the domain controller verify an NTLMv2 response to <paramref name="challenge"/> (wbcAuthenticateUserEx at
    /// WBC_AUTH_USER_LEVEL_RESPONSE; winbind forwards it with MS-NRPC NetrLogonSamLogonEx).
    /// </summary>
    public Task<WinbindLogon> AuthenticateAsync(string userName, string domainName, string workstation, ReadOnlyMemory<byte> challenge, ReadOnlyMemory<byte> ntResponse, ReadOnlyMemory<byte> lmResponse) => InvokeAsync(() =>
    {
        IntPtr parameters = Marshal.AllocHGlobal(WinbindNative.AuthUserParamsSize);
        IntPtr user = Marshal.StringToCoTaskMemUTF8(userName);
        IntPtr domain = Marshal.StringToCoTaskMemUTF8(domainName);
        IntPtr station = Marshal.StringToCoTaskMemUTF8(workstation);
        IntPtr nt = Marshal.AllocHGlobal(Math.Max(1, ntResponse.Length));
        IntPtr lm = Marshal.AllocHGlobal(Math.Max(1, lmResponse.Length));
        try
        {
            Span(parameters, WinbindNative.AuthUserParamsSize).Clear();
            Marshal.WriteIntPtr(parameters, WinbindNative.ParamsAccountName, user);
            Marshal.WriteIntPtr(parameters, WinbindNative.ParamsDomainName, domain);
            Marshal.WriteIntPtr(parameters, WinbindNative.ParamsWorkstation, station);
            Marshal.WriteInt32(parameters, WinbindNative.ParamsParameterControl, (int)WinbindNative.ParameterControl);
            Marshal.WriteInt32(parameters, WinbindNative.ParamsLevel, WinbindNative.LevelResponse);
            challenge.Span.CopyTo(Span(parameters + WinbindNative.ParamsChallenge, 8));
            ntResponse.Span.CopyTo(Span(nt, ntResponse.Length));
            lmResponse.Span.CopyTo(Span(lm, lmResponse.Length));
            Marshal.WriteInt32(parameters, WinbindNative.ParamsNtLength, ntResponse.Length);
            Marshal.WriteIntPtr(parameters, WinbindNative.ParamsNtData, nt);
            Marshal.WriteInt32(parameters, WinbindNative.ParamsLmLength, lmResponse.Length);
            Marshal.WriteIntPtr(parameters, WinbindNative.ParamsLmData, lm);

            WbcErr error = WinbindNative.AuthenticateUserEx(parameters, out IntPtr info, out IntPtr errorInfo);
            try
            {
                if (error == WbcErr.Success && info != IntPtr.Zero)
                {
                    byte[] key = new byte[16];
                    Marshal.Copy(info + WinbindNative.InfoUserSessionKey, key, 0, key.Length);
                    int count = Marshal.ReadInt32(info, WinbindNative.InfoNumSids);
                    IntPtr sids = Marshal.ReadIntPtr(info, WinbindNative.InfoSids);
                    var list = new List<string>(Math.Clamp(count, 0, 4096));
                    for (int i = 0; i < count && i < 4096 && sids != IntPtr.Zero; i++)
                    {
                        if (WinbindNative.SidText(sids + (i * WinbindNative.SidWithAttrSize)) is { } text)
                        {
                            list.Add(text);
                        }
                    }

                    return new WinbindLogon
                    {
                        Status = NtStatus.Success,
                        Error = error,
                        SessionBaseKey = key,
                        AccountName = Marshal.PtrToStringUTF8(Marshal.ReadIntPtr(info, WinbindNative.InfoAccountName)),
                        DomainName = Marshal.PtrToStringUTF8(Marshal.ReadIntPtr(info, WinbindNative.InfoDomainName)),
                        Sids = list,
                    };
                }

                NtStatus status = error == WbcErr.AuthError && errorInfo != IntPtr.Zero
                    ? (NtStatus)(uint)Marshal.ReadInt32(errorInfo, WinbindNative.ErrorNtStatus)
                    : NtStatus.NoLogonServers;
                return new WinbindLogon { Status = status == NtStatus.Success ? NtStatus.LogonFailure : status, Error = error };
            }
            finally
            {
                if (info != IntPtr.Zero)
                {
                    Span(info + WinbindNative.InfoUserSessionKey, 16).Clear();
                    WinbindNative.FreeMemory(info);
                }

                if (errorInfo != IntPtr.Zero)
                {
                    WinbindNative.FreeMemory(errorInfo);
                }
            }
        }
        finally
        {
            Marshal.FreeHGlobal(parameters);
            Marshal.FreeCoTaskMem(user);
            Marshal.FreeCoTaskMem(domain);
            Marshal.FreeCoTaskMem(station);
            Marshal.FreeHGlobal(nt);
            Marshal.FreeHGlobal(lm);
        }
    });

    /// <summary>The SIDs of DOMAIN\user and of all its groups (wbcLookupName, wbcLookupUserSids), e.g. for a Kerberos logon.</summary>
    public Task<(WbcErr Error, IReadOnlyList<string> Sids)> UserGroupsAsync(string userDomain, string userName) => InvokeAsync(() =>
    {
        IntPtr domainText = Marshal.StringToCoTaskMemUTF8(userDomain);
        IntPtr nameText = Marshal.StringToCoTaskMemUTF8(userName);
        IntPtr sid = Marshal.AllocHGlobal(WinbindNative.DomainSidSize);
        try
        {
            WbcErr error = WinbindNative.LookupName(domainText, nameText, sid, out _);
            if (error != WbcErr.Success)
            {
                return (error, (IReadOnlyList<string>)[]);
            }

            var list = new List<string>();
            if (WinbindNative.SidText(sid) is { } self)
            {
                list.Add(self);
            }

            error = WinbindNative.LookupUserSids(sid, false, out uint count, out IntPtr sids);
            if (error != WbcErr.Success)
            {
                return (error, (IReadOnlyList<string>)[]);
            }

            try
            {
                for (int i = 0; i < count && i < 4096; i++)
                {
                    if (WinbindNative.SidText(sids + (i * WinbindNative.DomainSidSize)) is { } text)
                    {
                        list.Add(text);
                    }
                }
            }
            finally
            {
                WinbindNative.FreeMemory(sids);
            }

            return (error, (IReadOnlyList<string>)list);
        }
        finally
        {
            Marshal.FreeCoTaskMem(domainText);
            Marshal.FreeCoTaskMem(nameText);
            Marshal.FreeHGlobal(sid);
        }
    });

    /// <summary>
    /// Changes the password of DOMAIN\user at the domain controller, proving the old one (wbcChangeUserPasswordEx at
    /// WBC_CHANGE_PASSWORD_LEVEL_PLAIN; winbind sends it to a DC over MS-SAMR (SamrUnicodeChangePasswordUser3), which
    /// works for a password that expired or must change). The DC applies its own policy and counts a wrong old password.
    /// The passwords are copied into native memory only for the call and wiped afterwards.
    /// </summary>
    public Task<WinbindPasswordChange> ChangePasswordAsync(string domainName, string userName, string oldPassword, string newPassword) => InvokeAsync(() =>
    {
        IntPtr parameters = Marshal.AllocHGlobal(WinbindNative.ChangePasswordParamsSize);
        IntPtr user = Marshal.StringToCoTaskMemUTF8(userName);
        IntPtr domain = Marshal.StringToCoTaskMemUTF8(domainName);
        (IntPtr oldText, int oldLength) = SecretUtf8(oldPassword);
        (IntPtr newText, int newLength) = SecretUtf8(newPassword);
        try
        {
            Span(parameters, WinbindNative.ChangePasswordParamsSize).Clear();
            Marshal.WriteIntPtr(parameters, WinbindNative.ChangeAccountName, user);
            Marshal.WriteIntPtr(parameters, WinbindNative.ChangeDomainName, domain);
            Marshal.WriteInt32(parameters, WinbindNative.ChangeLevel, WinbindNative.ChangePasswordLevelPlain);
            Marshal.WriteIntPtr(parameters, WinbindNative.ChangeOldPassword, oldText);
            Marshal.WriteIntPtr(parameters, WinbindNative.ChangeNewPassword, newText);

            WbcErr error = WinbindNative.ChangeUserPasswordEx(parameters, out IntPtr errorInfo, out int reject, out IntPtr policy);
            try
            {
                // libwbclient answers every failure with WBC_ERR_PWD_CHANGE_FAILED and fills the error information only
                // when winbind returned the DC's NTSTATUS; without it nobody answered (winbind or every DC down).
                NtStatus status = error == WbcErr.Success ? NtStatus.Success
                    : errorInfo != IntPtr.Zero ? (NtStatus)(uint)Marshal.ReadInt32(errorInfo, WinbindNative.ErrorNtStatus)
                    : NtStatus.NoLogonServers;
                return new WinbindPasswordChange(
                    error,
                    error != WbcErr.Success && status == NtStatus.Success ? NtStatus.NoLogonServers : status,
                    (PasswordRejectReason)reject,
                    policy == IntPtr.Zero ? 0 : (uint)Marshal.ReadInt32(policy, WinbindNative.PolicyMinLength),
                    policy == IntPtr.Zero ? 0 : (uint)Marshal.ReadInt32(policy, WinbindNative.PolicyHistory));
            }
            finally
            {
                if (errorInfo != IntPtr.Zero)
                {
                    WinbindNative.FreeMemory(errorInfo);
                }

                if (policy != IntPtr.Zero)
                {
                    WinbindNative.FreeMemory(policy);
                }
            }
        }
        finally
        {
            Span(oldText, oldLength).Clear();
            Span(newText, newLength).Clear();
            Marshal.FreeHGlobal(oldText);
            Marshal.FreeHGlobal(newText);
            Marshal.FreeHGlobal(parameters);
            Marshal.FreeCoTaskMem(user);
            Marshal.FreeCoTaskMem(domain);
        }
    });

    public void Dispose() => _queue.CompleteAdding();

    private static unsafe Span<byte> Span(IntPtr pointer, int length) => new((void*)pointer, length);

    // A NUL-terminated UTF-8 copy of a secret in native memory, written without an intermediate managed byte array;
    // the caller clears its bytes before freeing it.
    private static unsafe (IntPtr Text, int Length) SecretUtf8(string secret)
    {
        int length = System.Text.Encoding.UTF8.GetByteCount(secret) + 1;
        IntPtr text = Marshal.AllocHGlobal(length);
        Span<byte> bytes = Span(text, length);
        bytes[System.Text.Encoding.UTF8.GetBytes(secret, bytes)] = 0;
        return (text, length);
    }

    private Task<T> InvokeAsync<T>(Func<T> call)
    {
        var completion = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        try
        {
            _queue.Add(() =>
            {
                try
                {
                    completion.SetResult(call());
                }
                catch (Exception exception) when (exception is DllNotFoundException or EntryPointNotFoundException)
                {
                    completion.SetException(new InvalidOperationException($"{WinbindNative.Library} cannot be loaded ({exception.Message}); install Debian's libwbclient0 (apt-get install libwbclient0 winbind).", exception));
                }
            });
        }
        catch (InvalidOperationException)
        {
            completion.SetException(new ObjectDisposedException(nameof(WinbindClient)));
        }

        return completion.Task;
    }

    private void Run(string? runDirectory)
    {
        _ready.SetResult(runDirectory is null ? null : EnterPrivateNamespace(runDirectory));
        foreach (Action work in _queue.GetConsumingEnumerable())
        {
            work();
        }

        _queue.Dispose();
    }

    private static string? EnterPrivateNamespace(string runDirectory)
    {
        if (WinbindNative.Unshare(WinbindNative.CloneNewNs) != 0)
        {
            return $"unshare(CLONE_NEWNS) failed (errno {Marshal.GetLastPInvokeError()}); binding a winbind run folder needs root (CAP_SYS_ADMIN).";
        }

        if (WinbindNative.Mount(null, "/", null, WinbindNative.MountRecursivePrivate, IntPtr.Zero) != 0)
        {
            return $"making the private mount namespace private failed (errno {Marshal.GetLastPInvokeError()}).";
        }

        if (WinbindNative.Mount(runDirectory, "/run/samba", null, WinbindNative.MountBind, IntPtr.Zero) != 0)
        {
            return $"binding {runDirectory} on /run/samba failed (errno {Marshal.GetLastPInvokeError()}); /run/samba must exist.";
        }

        return null;
    }
}
