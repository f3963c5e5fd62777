using static RdpNla.Diagnosis.Catalogue.CatalogueText;
using static RdpNla.Diagnosis.Catalogue.NamedFixes;

namespace RdpNla.Diagnosis.Catalogue;

/// <summary>
/// The cause catalogue: every cause doctor can name, with the message the Windows client showed, the evidence
/// doctor prints and the fixes. docs/troubleshooting.md is generated from it (<see cref="CatalogueMarkdown"/>).
/// </summary>
/// <remarks>
/// Sources: Microsoft KB951608 (CredSSP on Windows XP SP3), KB4093492 (the CredSSP encryption oracle), MS-RDPBCGR,
/// MS-CSSP and docs/interop.md (#windows-security-layer, #errorcode, #encryption-oracle, #mstsc-messages). A message whose link to the
/// cause those sources do not confirm is marked <see cref="ClientMessage.Confirmed"/> = false.
/// </remarks>
internal static class CauseCatalogue
{
    private static readonly FrozenDictionary<Cause, CatalogueEntry> s_entries = Build().ToFrozenDictionary(e => e.Cause);
    private static readonly FrozenDictionary<string, CatalogueEntry> s_byId = s_entries.Values.ToFrozenDictionary(e => e.Id, StringComparer.Ordinal);

    /// <summary>Every entry, in <see cref="Cause"/> order (the order of the walk: network first, account last).</summary>
    public static IReadOnlyList<CatalogueEntry> All { get; } = [.. s_entries.Values.OrderBy(e => e.Cause)];

    /// <summary>The entry of a cause.</summary>
    public static CatalogueEntry Get(Cause cause) => s_entries[cause];

    /// <summary>The entry with a text id, or null.</summary>
    public static CatalogueEntry? Find(string id) => s_byId.GetValueOrDefault(id);

    private static IEnumerable<CatalogueEntry> Build()
    {
        yield return new(
            Cause.NameNotResolved, "name-not-resolved", "The computer name does not resolve", CauseClass.Network,
            [new("Remote Desktop can't find the computer \"<host>\". This might mean that \"<host>\" does not belong to the specified network. Verify the computer name and domain that you are trying to connect to.", MstscNotInSources, false)],
            "The client could not turn the name into an address (DNS, hosts file, NetBIOS). Nothing reached the server.",
            "Name resolution of {host} failed: {error}.",
            [
                Fix.Safe(FixSide.Client, "Check the name, or connect by address or fully qualified name",
                    Ps("Resolve-DnsName <host>"),
                    Cmd("nslookup <host>"),
                    Cmd("ipconfig /flushdns"),
                    Note("Use the fully qualified name (host.example.com) or the IP address in the Remote Desktop client.")),
                Fix.Safe(FixSide.Server, "Register the server's name in DNS",
                    Cmd("ipconfig /registerdns"),
                    Ps("Register-DnsClient")),
            ]);

        yield return new(
            Cause.ConnectionRefused, "connection-refused", "The connection is refused (Remote Desktop off, service stopped, or a firewall rejecting)", CauseClass.Network,
            [new(CantConnectMessage, MstscNotInSources, false)],
            "The address answered with a TCP reset: nothing listens on the port (Remote Desktop disabled, TermService stopped, another port configured) or a firewall rejects the connection.",
            "TCP connection to {endpoint} was refused.",
            [
                Fix.Safe(FixSide.Server, "Enable Remote Desktop, start the service and open the firewall",
                    [
                        Reg("reg add \"HKLM\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\" /v fDenyTSConnections /t REG_DWORD /d 0 /f"),
                        Cmd("sc config TermService start= demand && net start TermService"),
                        .. Use("open-rdp-firewall"),
                        Gpo(GpoConnections + "Allow users to connect remotely by using Remote Desktop Services = Enabled"),
                        Ps("Set-ItemProperty -Path 'HKLM:\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server' -Name fDenyTSConnections -Value 0 -Type DWord; Start-Service TermService; Enable-NetFirewallRule -DisplayGroup 'Remote Desktop'"),
                        .. Use("query-rdp-port"),
                        Note("If PortNumber is not 3389 (0xd3d), connect to HOST:PORT."),
                    ]),
                Fix.Safe(FixSide.RdpNlaServer, "Listen on an address the client can reach (the default is 127.0.0.1 only)",
                    Rdpnla("rdpnla serve --listen 0.0.0.0:3389")),
            ]);

        yield return new(
            Cause.NoAnswer, "no-answer", "Nothing answers (firewall dropping, host offline or unreachable)", CauseClass.Network,
            [new(CantConnectMessage, MstscNotInSources, false)],
            "The TCP connection attempt timed out or the network reported the host unreachable: the computer is off or not on this network, or a firewall silently drops the connection.",
            "TCP connection to {endpoint}: {error}.",
            [
                Fix.Safe(FixSide.Network, "Check that the host is up and the port is reachable",
                    Ps("Test-NetConnection <host> -Port 3389"),
                    Note("Start the computer, connect it to the network, or connect through the VPN or gateway it is behind.")),
                Fix.Safe(FixSide.Server, "Allow Remote Desktop through the server's firewall",
                    [
                        .. Use("open-rdp-firewall"),
                        Gpo("Computer Configuration > Administrative Templates > Network > Network Connections > Windows Defender Firewall > Domain Profile > Windows Defender Firewall: Allow inbound Remote Desktop exceptions = Enabled"),
                        Ps("Enable-NetFirewallRule -DisplayGroup 'Remote Desktop'"),
                    ]),
            ]);

        yield return new(
            Cause.NotRdpServer, "not-rdp-server", "Something answers, but it is not a Remote Desktop server", CauseClass.NotRdp,
            [new("This computer can't connect to the remote computer. Try connecting again. If the problem continues, contact the owner of the remote computer or your network administrator.", MstscNotInSources, false)],
            "The port accepted the connection but did not answer the X.224 Connection Request with a Connection Confirm: another service (web server, SSH, a proxy) listens there, or RDP listens on another port.",
            "{endpoint} answered the X.224 Connection Request with {answer}.",
            [
                Fix.Safe(FixSide.Server, "Find which program owns the port and which port RDP uses",
                    [
                        Cmd("netstat -ano | findstr :3389"),
                        .. Use("query-rdp-port"),
                        Ps("Get-NetTCPConnection -LocalPort 3389 -State Listen | Select-Object OwningProcess; (Get-ItemProperty '" + RdpTcpKeyPs + "').PortNumber"),
                    ]),
                Fix.Safe(FixSide.Client, "Connect to the port Remote Desktop really uses",
                    Note("Connect to HOST:PORT with the PortNumber found above.")),
            ]);

        yield return new(
            Cause.TlsHandshakeFailed, "tls-handshake-failed", "The TLS handshake fails (protocol or cipher mismatch, e.g. a server limited to TLS 1.0)", CauseClass.Tls,
            [new("An internal error has occurred.", MstscNotInSources, false)],
            "Both sides agreed on TLS in the X.224 negotiation, but share no TLS version or cipher suite. Typically a Windows 7 / Server 2008 R2 server without the update that adds TLS 1.1/1.2 to Remote Desktop (KB3080079) talks TLS 1.0 only, and the client has TLS 1.0 disabled.",
            "TLS handshake with {endpoint} failed: {error}.",
            [
                Fix.Safe(FixSide.Server, "Enable TLS 1.2 for Remote Desktop on the server",
                    [
                        Note("Windows 7 / Server 2008 R2: install KB3080079 (TLS 1.1/1.2 for Remote Desktop), then:"),
                        .. Use("enable-tls-1.2-server"),
                        Gpo("Computer Configuration > Administrative Templates > Network > SSL Configuration Settings > SSL Cipher Suite Order (keep at least one ECDHE/AES-GCM suite the client has)"),
                        .. Use("restart-computer"),
                    ]),
                Fix.Safe(FixSide.Client, "Enable TLS 1.2 on the client",
                    Use("enable-tls-1.2-client")),
                Fix.Insecure(FixSide.Client, "Temporarily re-enable TLS 1.0 on the client to reach a TLS-1.0-only server (then update the server)",
                    Use("enable-tls-1.0-client"),
                    Use("disable-tls-1.0-client")),
                Fix.Safe(FixSide.RdpNlaServer, "rdpnla serve speaks TLS 1.2 and 1.3 only: the client needs TLS 1.2",
                    Note("Enable TLS 1.2 on the client (above); rdpnla serve never offers TLS 1.0.")),
            ]);

        yield return new(
            Cause.TlsCertificateProblem, "tls-certificate-problem", "The server has no usable TLS certificate, or one the client cannot trust", CauseClass.Tls,
            [
                new("The remote computer could not be authenticated due to problems with its security certificate. It may be unsafe to proceed.", MstscNotInSources, false),
                new("The identity of the remote computer cannot be verified. Do you want to connect anyway?", MstscNotInSources, false),
            ],
            "Either the server answered SSL_CERT_NOT_ON_SERVER (it cannot start TLS at all), or its certificate is expired, self-signed and untrusted, or issued to another name. NLA binds the credentials to this certificate's key, so it matters.",
            "{certificateProblem}",
            [
                Fix.Safe(FixSide.Server, "Give Remote Desktop a valid certificate",
                    Note("Let Windows regenerate its self-signed certificate: delete it and restart the service."),
                    Ps("Get-ChildItem 'Cert:\\LocalMachine\\Remote Desktop' | Remove-Item; Restart-Service TermService -Force"),
                    Note("Or bind a CA-issued certificate (its thumbprint) to the RDP-Tcp listener:"),
                    Cmd("wmic /namespace:\\\\root\\cimv2\\TerminalServices PATH Win32_TSGeneralSetting Set SSLCertificateSHA1Hash=\"<thumbprint>\""),
                    Ps("Set-CimInstance -InputObject (Get-CimInstance -Namespace root\\cimv2\\TerminalServices -ClassName Win32_TSGeneralSetting -Filter \"TerminalName='RDP-tcp'\") -Property @{SSLCertificateSHA1Hash='<thumbprint>'}"),
                    Gpo(GpoSecurity + "Server authentication certificate template = (your template)")),
                Fix.Safe(FixSide.Client, "Connect with the name the certificate was issued to, and check its fingerprint",
                    Note("Compare the SHA-256 fingerprint doctor prints with the one on the server before trusting it.")),
                Fix.Safe(FixSide.RdpNlaServer, "Give rdpnla serve a certificate",
                    Rdpnla("rdpnla serve --cert server.pem --key server.key"),
                    Rdpnla("rdpnla serve --pfx server.pfx")),
            ]);

        yield return new(
            Cause.NlaRequiredClientUnsupported, "nla-required-client-unsupported", "The server requires NLA and the client cannot do it (XP SP3: CredSSP provider not enabled)", CauseClass.SecurityLayer,
            [
                new("The remote computer requires Network Level Authentication, which your computer does not support. For assistance, contact your system administrator or technical support.", "MS-RDPBCGR §2.2.1.2.2 (HYBRID_REQUIRED_BY_SERVER); KB951608; docs/interop.md#mstsc-messages"),
                new("Authentication error (code 0x507)", "user reports (XP SP3 after the KB951608 registry change, before the restart); 0x507 = ERROR_UNIDENTIFIED_ERROR, docs/interop.md#mstsc-messages", false),
            ],
            "The server requires Network Level Authentication (UserAuthentication=1) and answered RDP_NEG_FAILURE HYBRID_REQUIRED_BY_SERVER because the client did not offer CredSSP. Windows XP SP3 has CredSSP but does not enable it: the tspkg package and credssp.dll provider must be added to the registry and the computer restarted (KB951608). Other clients may have CredSSP turned off (enablecredsspsupport:i:0 in the .rdp file).",
            "The server answered RDP_NEG_FAILURE HYBRID_REQUIRED_BY_SERVER to a request for {requested}: it requires NLA ({serverSetting}) and the client did not offer CredSSP{clientDetail}.",
            [
                Fix.Safe(FixSide.Client, "Enable the CredSSP provider on Windows XP SP3 (KB951608), then restart",
                    [
                        Reg("reg query \"" + LsaKey + "\" /v \"Security Packages\""),
                        Note("reg add replaces the whole list: keep every package the query showed and add tspkg. The XP SP3 default list plus tspkg is:"),
                        Reg("reg add \"" + LsaKey + "\" /v \"Security Packages\" /t REG_MULTI_SZ /d \"kerberos\\0msv1_0\\0schannel\\0wdigest\\0tspkg\" /f"),
                        Reg("reg query \"" + SecurityProvidersKey + "\" /v SecurityProviders"),
                        Note("SecurityProviders is one comma-separated string: keep its entries and append credssp.dll. The XP SP3 default plus credssp.dll is:"),
                        Reg("reg add \"" + SecurityProvidersKey + "\" /v SecurityProviders /t REG_SZ /d \"msapsspc.dll, schannel.dll, digest.dll, msnsspc.dll, credssp.dll\" /f"),
                        Ps("$p = @((Get-ItemProperty '" + LsaKeyPs + "').'Security Packages'); if ($p -notcontains 'tspkg') { Set-ItemProperty -Path '" + LsaKeyPs + "' -Name 'Security Packages' -Value ($p + 'tspkg') -Type MultiString }; $s = (Get-ItemProperty '" + SecurityProvidersKeyPs + "').SecurityProviders; if ($s -notmatch 'credssp\\.dll') { Set-ItemProperty -Path '" + SecurityProvidersKeyPs + "' -Name SecurityProviders -Value ($s.TrimEnd(', ') + ', credssp.dll') }"),
                        .. Use("restart-computer"),
                        Note("Without the restart the client asks for credentials and then fails with \"Authentication error (code 0x507)\". The Remote Desktop client must be version 6.1 or later (XP SP3 ships it)."),
                    ]),
                Fix.Safe(FixSide.Client, "Turn CredSSP back on in the connection settings",
                    Note("In the .rdp file, set enablecredsspsupport:i:1 (or remove the line); in third-party clients enable NLA/CredSSP (FreeRDP: /sec:nla).")),
                Fix.Insecure(FixSide.Server, "Stop requiring NLA on the server (every client then reaches the logon screen unauthenticated)",
                    Use("stop-requiring-nla"),
                    Use("require-nla")),
                Fix.Safe(FixSide.RdpNlaServer, "rdpnla serve serves NLA clients only",
                    Note("Enable CredSSP on the client (above); rdpnla serve --user-authentication 0 does not help, it closes every connection without NLA.")),
            ]);

        yield return new(
            Cause.TlsRequiredClientUnsupported, "tls-required-client-unsupported", "The server requires TLS and the client offered Standard RDP Security only", CauseClass.SecurityLayer,
            [],
            "The server's SecurityLayer is 2 (TLS) and the client asked for Standard RDP Security only (no RDP_NEG_REQ, or requestedProtocols 0), so the server answered SSL_REQUIRED_BY_SERVER. Old clients (before Remote Desktop Connection 6.0) and clients configured for RDP security do this.",
            "The server answered RDP_NEG_FAILURE SSL_REQUIRED_BY_SERVER to a request for {requested}.",
            [
                Fix.Safe(FixSide.Client, "Use a client that offers TLS and NLA",
                    Note("Update the Remote Desktop client (6.1 or later), or in third-party clients select TLS/NLA security (FreeRDP: /sec:nla).")),
                Fix.Insecure(FixSide.Server, "Let the server negotiate (SecurityLayer 1), which also allows Standard RDP Security",
                    Use("security-layer-negotiate"),
                    Use("security-layer-tls")),
            ]);

        yield return new(
            Cause.ServerRefusesNla, "server-refuses-nla", "The server refuses NLA and TLS (SecurityLayer 0): Standard RDP Security only", CauseClass.SecurityLayer,
            [
                new("You cannot proceed because authentication is required", "docs/interop.md#mstsc-messages: the link to Standard RDP Security is a hypothesis (client set to 'Do not connect' when the server cannot be authenticated)", false),
                new("(no error: the Windows logon screen of the server appears instead of the client's credential prompt)", "MS-RDPBCGR §3.3.5.3.2, §5.3; docs/interop.md#standard-rdp-security (mstsc proceeds with Standard RDP Security)", false),
            ],
            "SecurityLayer 0 makes the server answer PROTOCOL_RDP (Standard RDP Security) whatever the client offers: no TLS, no NLA, the server is not authenticated and the password travels under RC4. A client that insists on server authentication refuses to proceed. Advice found on the web to set SecurityLayer to 0 produces this insecure configuration; it is not a fix.",
            "The server selected {selected} although the client offered {requested}{serverSetting}.",
            [
                Fix.Safe(FixSide.Server, "Require TLS and NLA on the server",
                    [
                        .. Use("require-tls-and-nla"),
                        Note("Also check the Group Policy value (it overrides RDP-Tcp):"),
                        Reg("reg query \"" + TsPolicyKey + "\" /v SecurityLayer"),
                    ]),
                Fix.Insecure(FixSide.Client, "Let the client connect to a server it cannot authenticate",
                    [Note("In the .rdp file: authentication level:i:2 (warn) instead of authentication level:i:1 (do not connect).")],
                    [Note("In the .rdp file: authentication level:i:1 (or the Windows default, authentication level:i:2 with the warning heeded).")]),
                Fix.Safe(FixSide.RdpNlaServer, "rdpnla serve does not serve Standard RDP Security sessions",
                    Rdpnla("rdpnla serve --security-layer 2 --user-authentication 1")),
            ]);

        yield return new(
            Cause.NoNlaTlsOnly, "no-nla-tls-only", "Neither side insists on NLA: the connection uses TLS without pre-authentication", CauseClass.SecurityLayer,
            [new("(no error on a Windows server: its logon screen appears instead of the client's credential prompt; rdpnla serve closes the connection after TLS)", "docs/interop.md#windows-security-layer (RSP PROTOCOL_SSL)", false)],
            "The server does not require NLA (UserAuthentication=0) and the client did not offer CredSSP, so the server selected PROTOCOL_SSL: the session starts before the user is authenticated. rdpnla serve serves NLA only and closes such connections.",
            "The server selected {selected} for a request of {requested}: no NLA{serverSetting}.",
            [
                Fix.Safe(FixSide.Client, "Enable CredSSP on the client",
                    Note("As for nla-required-client-unsupported: on XP SP3 add tspkg and credssp.dll and restart; in .rdp files set enablecredsspsupport:i:1.")),
                Fix.Safe(FixSide.Server, "Require NLA on the server",
                    Use("require-nla")),
                Fix.Safe(FixSide.RdpNlaServer, "rdpnla serve needs NLA",
                    Rdpnla("rdpnla serve --user-authentication 1")),
            ]);

        yield return new(
            Cause.EncryptionOracleServerUnpatched, "encryption-oracle-server-unpatched", "CredSSP encryption oracle: an updated client refuses a server without the CVE-2018-0886 fix", CauseClass.CredSspVersion,
            [
                new("An authentication error has occurred. The function requested is not supported. Remote computer: <host>. This could be due to CredSSP encryption oracle remediation. For more information, see https://go.microsoft.com/fwlink/?linkid=866660", "KB4093492; docs/interop.md#encryption-oracle"),
                new("An authentication error occurred. The specified function is not supported. Remote computer: <host>", "KB4093492, Windows 7 wording; docs/interop.md#encryption-oracle"),
                new("System event 6041 (LsaSrv): A CredSSP authentication to <host> failed to negotiate a common protocol version. The remote host offered version <v> which is not permitted by Encryption Oracle Remediation.", "KB4093492; docs/interop.md#encryption-oracle"),
            ],
            "Since May 2018 an updated Windows client (AllowEncryptionOracle 1 'Mitigated', the default, or 0 'Force Updated Clients') refuses a server whose CredSSP is older than version 5, i.e. a server without the March 2018 update. The client stops right after the server's first CredSSP message, before sending the password.",
            "The server announced CredSSP version {serverVersion} (below 5: no CVE-2018-0886 fix) and the client's AllowEncryptionOracle is {clientPolicy}, which does not allow falling back.",
            [
                Fix.Safe(FixSide.Server, "Install the CredSSP update on the server (the real fix)",
                    [
                        Note("Install any cumulative update since March 2018 (KB4093492 lists the update per Windows version); reach the server through its console (iLO, hypervisor, cloud console) if RDP is the only way in."),
                        .. Use("list-recent-updates"),
                    ]),
                Fix.Safe(FixSide.RdpNlaServer, "Let rdpnla serve speak CredSSP 6",
                    Rdpnla("rdpnla serve --max-credssp-version 6"),
                    Note("(Versions 2-4 only emulate an unpatched server; 6 is the default.)")),
                Fix.Insecure(FixSide.Client, "Temporarily let this client fall back to the vulnerable CredSSP (Vulnerable), to reach the server and update it",
                    AllowEncryptionOracle.Set(2, "Vulnerable", createKey: true),
                    [
                        .. AllowEncryptionOracle.Set(1, "Mitigated (or Force Updated Clients once every server is updated)"),
                        Note("The CredSSP article reverts to 0 (Force Updated Clients), stricter than the default 1: use 0 when every server you connect to is updated."),
                    ]),
                Fix.Insecure(FixSide.Server, "Or temporarily stop requiring NLA on the server (needs console access to the server)",
                    Use("stop-requiring-nla"),
                    Use("require-nla")),
            ]);

        yield return new(
            Cause.EncryptionOracleClientUnpatched, "encryption-oracle-client-unpatched", "CredSSP encryption oracle: a \"Force Updated Clients\" server refuses a client without the CVE-2018-0886 fix", CauseClass.CredSspVersion,
            [new("An authentication error has occurred. The function requested is not supported.", "docs/interop.md#encryption-oracle: the message for this direction is not documented (a generic authentication error is expected)", false)],
            "The server's AllowEncryptionOracle is 0 (Force Updated Clients): it refuses CredSSP clients older than version 5, i.e. clients without the March 2018 update. It says so with errorCode STATUS_NOT_SUPPORTED when the client understands errorCode, otherwise it just closes the connection.",
            "The server refused the client's CredSSP version {clientVersion} (below 5): {serverAnswer}.",
            [
                Fix.Safe(FixSide.Client, "Install the CredSSP update on the client (the real fix)",
                    [
                        Note("Install any cumulative update since March 2018 (KB4093492 lists the update per Windows version); Windows XP never received it: use a supported client."),
                        .. Use("list-recent-updates"),
                    ]),
                Fix.Insecure(FixSide.Server, "Temporarily let the server accept unpatched clients (Mitigated)",
                    AllowEncryptionOracle.Set(1, "Mitigated", createKey: true),
                    AllowEncryptionOracle.Set(0, "Force Updated Clients")),
                Fix.Insecure(FixSide.RdpNlaServer, "Temporarily let rdpnla serve accept unpatched clients",
                    [Rdpnla("rdpnla serve --allow-encryption-oracle 1")],
                    [Rdpnla("rdpnla serve --allow-encryption-oracle 0")]),
            ]);

        yield return new(
            Cause.WrongCredentials, "wrong-credentials", "Wrong user name or password", CauseClass.Credentials,
            [
                new("Your credentials did not work. The credentials that were used to connect to <host> did not work. Please enter new credentials.", MstscNotInSources, false),
                new("The logon attempt failed", MstscNotInSources, false),
            ],
            "The server answered STATUS_LOGON_FAILURE. Windows gives the same answer for an unknown user and a wrong password, so doctor cannot tell them apart. A local account on a workgroup server is HOST\\user or .\\user; a saved credential may be stale.",
            "The server answered CredSSP errorCode {status} for {user}.",
            [
                Fix.Safe(FixSide.Client, "Retype the password; check the user name form; remove stale saved credentials",
                    Note("Use .\\user or HOST\\user for a local account, DOMAIN\\user or user@domain for a domain account."),
                    Cmd("cmdkey /list"),
                    Cmd("cmdkey /delete:TERMSRV/<host>")),
                Fix.Safe(FixSide.Server, "Reset the password",
                    Use("reset-password")),
                Fix.Safe(FixSide.RdpNlaServer, "Check the user and reset its password",
                    [
                        Rdpnla("rdpnla users list"),
                        .. Use("rdpnla-set-password"),
                        .. Use("rdpnla-audit"),
                    ]),
            ]);

        yield return new(
            Cause.AccountLocked, "account-locked", "The account is locked out", CauseClass.AccountState,
            [new("As a security precaution, the user account has been locked because there were too many logon attempts or password change attempts. Wait a while before trying again, or contact your system administrator or technical support.", MstscNotInSources, false)],
            "The server answered STATUS_ACCOUNT_LOCKED_OUT: too many wrong passwords. Windows reports the lockout whatever password is sent, so this says nothing about whether the password was right.",
            "The server answered CredSSP errorCode {status} for {user}.",
            [
                Fix.Safe(FixSide.Server, "Unlock the account (or wait for the lockout duration)",
                    Ps("Unlock-ADAccount -Identity <user>"),
                    Ps("Get-CimInstance Win32_UserAccount -Filter \"LocalAccount=True AND Name='<user>'\" | Set-CimInstance -Property @{Lockout=$false}"),
                    Cmd("net accounts"),
                    Gpo("Computer Configuration > Windows Settings > Security Settings > Account Policies > Account Lockout Policy"),
                    Note("Then find what keeps sending the old password (a saved credential, a mapped drive, a service).")),
                Fix.Safe(FixSide.RdpNlaServer, "Unlock the user",
                    Rdpnla("rdpnla users unlock <user>")),
            ]);

        yield return new(
            Cause.AccountDisabled, "account-disabled", "The account is disabled", CauseClass.AccountState,
            [new("Your account has been disabled. Please see your system administrator.", MstscNotInSources, false)],
            "The password was right, and the server answered STATUS_ACCOUNT_DISABLED (Windows reveals this only after a correct password).",
            "The server answered CredSSP errorCode {status} for {user}.",
            [
                Fix.Safe(FixSide.Server, "Enable the account",
                    Cmd("net user <user> /active:yes"),
                    Ps("Enable-LocalUser -Name <user>"),
                    Ps("Enable-ADAccount -Identity <user>")),
                Fix.Safe(FixSide.RdpNlaServer, "Enable the user",
                    Rdpnla("rdpnla users enable <user>")),
            ]);

        var passwordChangeWays = Fix.Safe(FixSide.Client, "Change the password another way: NLA cannot change it",
            Note("CredSSP only checks the password; it has no way to set a new one, so the Remote Desktop connection cannot offer the change."),
            Note("Domain account: on any domain-joined computer press Ctrl+Alt+Del > Change a password, or use the organisation's password page."),
            Note("Local account on the server: an administrator sets a new password (below), or the user signs in at the console."));
        yield return new(
            Cause.PasswordExpired, "password-expired", "The password has expired (NLA cannot change it)", CauseClass.AccountState,
            [
                new("An authentication error has occurred. The Local Security Authority cannot be contacted", "docs/interop.md#mstsc-messages (user reports; inferred)", false),
                new("The remote computer that you are trying to connect to requires Network Level Authentication (NLA), but your Windows domain controller cannot be contacted to perform NLA.", "docs/interop.md#mstsc-messages (user reports tie it to expired passwords; not confirmed)", false),
            ],
            "The password was right but has expired: the server answered STATUS_PASSWORD_EXPIRED. With NLA the user cannot change it during the connection (a known limit of NLA: docs/interop.md#errorcode).",
            "The server answered CredSSP errorCode {status} for {user}.",
            [
                passwordChangeWays,
                Fix.Safe(FixSide.Server, "Set a new password as an administrator",
                    Use("reset-password")),
                Fix.Insecure(FixSide.Server, "Temporarily stop requiring NLA so the Windows logon screen offers the change",
                    Use("stop-requiring-nla-locally"),
                    Use("require-nla-locally")),
                Fix.Safe(FixSide.RdpNlaServer, "Set a new password (clears the expired flag)",
                    Use("rdpnla-set-password")),
            ]);

        yield return new(
            Cause.PasswordMustChange, "password-must-change", "The password must be changed at next logon (NLA cannot change it)", CauseClass.AccountState,
            [new("An authentication error has occurred. The Local Security Authority cannot be contacted", "docs/interop.md#mstsc-messages (user reports; inferred)", false)],
            "The password was right but the account is flagged 'User must change password at next logon': the server answered STATUS_PASSWORD_MUST_CHANGE. NLA cannot perform the change.",
            "The server answered CredSSP errorCode {status} for {user}.",
            [
                passwordChangeWays,
                Fix.Safe(FixSide.Server, "Set a new password, or clear the flag",
                    Cmd("net user <user> *"),
                    Cmd("net user <user> /logonpasswordchg:no"),
                    Ps("Set-ADUser -Identity <user> -ChangePasswordAtLogon $false")),
                Fix.Safe(FixSide.RdpNlaServer, "Set a new password (clears the must-change flag)",
                    Use("rdpnla-set-password")),
            ]);

        yield return new(
            Cause.RemoteLogonDenied, "remote-logon-denied", "The user has no right to log on remotely", CauseClass.Authorization,
            [new("The connection was denied because the user account is not authorized for remote login.", "docs/interop.md#mstsc-messages (inferred)", false)],
            "The user authenticated (CredSSP succeeded) but may not open a Remote Desktop session: not in Remote Desktop Users / 'Allow log on through Remote Desktop Services', or listed in 'Deny log on through Remote Desktop Services'. With HYBRID_EX the server says so in the Early User Authorization Result (AUTHZ_ACCESS_DENIED); with HYBRID it disconnects.",
            "CredSSP succeeded for {user}, then {authorization}.",
            [
                Fix.Safe(FixSide.Server, "Grant the remote logon right",
                    Cmd("net localgroup \"Remote Desktop Users\" <user> /add"),
                    Ps("Add-LocalGroupMember -Group 'Remote Desktop Users' -Member <user>"),
                    Ps("Add-ADGroupMember -Identity 'Remote Desktop Users' -Members <user>"),
                    Gpo("Computer Configuration > Windows Settings > Security Settings > Local Policies > User Rights Assignment > Allow log on through Remote Desktop Services (add the user or group) and Deny log on through Remote Desktop Services (remove them)")),
                Fix.Safe(FixSide.RdpNlaServer, "Allow the user to log on",
                    Rdpnla("rdpnla users allow-logon <user>")),
            ]);

        // The server's own record of why it refused: for a refusal without errorCode and for a status no entry explains.
        Fix[] readTheReason =
        [
            Fix.Safe(FixSide.Server, "Read the reason in the server's security log",
                Use("read-failed-logons")),
            Fix.Safe(FixSide.RdpNlaServer, "Read the reason in the audit log",
                Use("rdpnla-audit")),
        ];
        yield return new(
            Cause.AuthenticationFailed, "authentication-failed", "CredSSP failed without saying why", CauseClass.Credentials,
            [new("An authentication error has occurred (Code: 0x507)", "docs/interop.md#mstsc-messages: 0x507 = ERROR_UNIDENTIFIED_ERROR; the wire trigger is not confirmed", false)],
            "The server ended CredSSP without an errorCode (CredSSP versions 2 and 5 cannot carry one, and some servers just close TLS). The reason is only in the server's logs.",
            "The server closed the connection during CredSSP {stage} without an errorCode (server CredSSP version {serverVersion}).",
            readTheReason);

        yield return new(
            Cause.UnexpectedFailure, "unexpected-failure", "An unexpected failure", CauseClass.Unexpected,
            [],
            "doctor saw something no catalogue entry explains.",
            "{detail}",
            [
                Fix.Safe(FixSide.Client, "Collect the details",
                    Rdpnla("rdpnla doctor <host> --json"),
                    Note("Keep the JSON output and the server's event log for the report.")),
            ]);

        yield return new(
            Cause.KerberosSpnUnknown, "kerberos-spn-unknown", "Kerberos: the KDC knows no such service principal (SPN)", CauseClass.Credentials,
            [],
            "The client asked the KDC for a ticket to the server's service principal (TERMSRV/<host> by default) and the KDC answered KDC_ERR_S_PRINCIPAL_UNKNOWN: no account has that SPN. Windows then falls back to NTLM (when policy allows it); a Kerberos-only client fails. Connecting by a name that is not the one registered (an alias, an address) has the same effect.",
            "{detail}",
            [
                Fix.Safe(FixSide.Server, "Register the SPN on the account that holds the server's keys",
                    Cmd("setspn -Q TERMSRV/<host>"),
                    Cmd("setspn -S TERMSRV/<host> <account>"),
                    Note("Connect by the name the SPN was registered for (the fully qualified name), not by an alias or an address.")),
                Fix.Safe(FixSide.RdpNlaServer, "Register the SPN of rdpnla serve and export its keytab (docs/kerberos.md)",
                    [
                        Cmd("samba-tool spn add TERMSRV/<host> <account>"),
                        .. Use("export-keytab"),
                        Rdpnla("rdpnla doctor <host> --auth kerberos --spn TERMSRV/<host>"),
                    ]),
            ]);

        yield return new(
            Cause.KerberosKeyMismatch, "kerberos-key-mismatch", "Kerberos: the server cannot decrypt the ticket (wrong key in its keytab)", CauseClass.Credentials,
            [],
            "The client got a ticket from the KDC and sent it, and the server refused it with STATUS_LOGON_FAILURE before any password was involved: the ticket does not decrypt with the server's key (KRB_AP_ERR_MODIFIED, or KRB_AP_ERR_BADKEYVER after a password change). The keytab was exported before the account's last password change, from another account, or ktpass reset the password after it. A principal of a realm the server does not map gets the same answer.",
            "{detail}",
            [
                Fix.Safe(FixSide.Server, "Export the keytab again, after the last password change of the account that holds the SPN",
                    Cmd("klist -k -t -e <keytab>"),
                    Cmd("kvno TERMSRV/<host>"),
                    Cmd("ktpass /princ TERMSRV/<host>@<REALM> /mapuser <account> /crypto AES256-SHA1 /ptype KRB5_NT_PRINCIPAL /pass * /out rdpgw.keytab"),
                    Note("The key version (kvno) the KDC reports must be in the keytab.")),
                Fix.Safe(FixSide.RdpNlaServer, "Give rdpnla serve the current keytab",
                    [
                        .. Use("export-keytab"),
                        Rdpnla("rdpnla serve --keytab rdpgw.keytab"),
                        Note("Users of another realm are refused unless Kerberos:Realm (--kerberos-realm) names their realm."),
                    ]),
            ]);

        yield return new(
            Cause.KerberosClockSkew, "kerberos-clock-skew", "Kerberos: the clocks differ too much", CauseClass.Credentials,
            [new("There is a time and/or date difference between the client and server.", MstscNotInSources, false)],
            "Kerberos tickets and authenticators carry timestamps; a server (or KDC) whose clock differs from the client's by more than the allowed skew (5 minutes by default) refuses them with KRB_AP_ERR_SKEW, which a Windows server reports as STATUS_TIME_DIFFERENCE_AT_DC.",
            "{detail}",
            [
                Fix.Safe(FixSide.Client, "Synchronise the client's clock",
                    Cmd("w32tm /resync"),
                    Cmd("w32tm /stripchart /computer:<host> /samples:3 /dataonly")),
                Fix.Safe(FixSide.Server, "Synchronise the server's clock with the domain",
                    Cmd("w32tm /config /syncfromflags:domhier /update && w32tm /resync"),
                    Note("On Linux: timedatectl set-ntp true (or chrony) on the host of rdpnla serve and on the KDC.")),
            ]);

        yield return new(
            Cause.KerberosKdcUnreachable, "kerberos-kdc-unreachable", "Kerberos: no KDC answers", CauseClass.Network,
            [],
            "The client needs a ticket for the server and no KDC of the realm answered (KRB5_KDC_UNREACH): a wrong or missing kdc entry in krb5.conf, DNS SRV records that do not resolve, or a firewall dropping port 88. Windows falls back to NTLM when policy allows it; a Kerberos-only client fails.",
            "{detail}",
            [
                Fix.Safe(FixSide.Client, "Check that a KDC of the realm can be reached on port 88",
                    Cmd("nltest /dsgetdc:<domain> /kdc"),
                    Cmd("nslookup -type=SRV _kerberos._tcp.<domain>"),
                    Ps("Test-NetConnection <dc> -Port 88"),
                    Note("On Linux: the realm's kdc = HOST:PORT in the file KRB5_CONFIG names (default /etc/krb5.conf); kinit USER@REALM shows the same error.")),
            ]);

        yield return new(
            Cause.KerberosRealmUnknown, "kerberos-realm-unknown", "Kerberos: the server is in a realm the client cannot reach", CauseClass.Credentials,
            [],
            "The ticket is for another realm than the client's, and the client has no way there: the realm is not configured (KRB5_REALM_UNKNOWN) or there is no trust between the realms. A server of another realm also refuses principals it does not map.",
            "{detail}",
            [
                Fix.Safe(FixSide.Client, "Use an account of the server's realm, or configure the realm and the trust",
                    Cmd("klist"),
                    Note("Log on as USER@<REALM> of the server's realm, or add the realm (kdc, domain_realm) to krb5.conf, or create the trust between the domains.")),
                Fix.Safe(FixSide.RdpNlaServer, "Map the users' realm in rdpnla serve",
                    Rdpnla("rdpnla serve --keytab rdpgw.keytab --kerberos-realm <REALM>")),
            ]);

        yield return new(
            Cause.SecondFactorNotApproved, "second-factor-not-approved", "The second factor was not approved in time", CauseClass.Authorization,
            [],
            "The server verified the password, then held the connection for the user to approve it with a current TOTP code on its portal (rdpnla serve, Mfa), and nobody approved it within Mfa:ApprovalTimeout: the server refused the logon (AUTHZ_ACCESS_DENIED for HYBRID_EX, a closed connection for HYBRID). See docs/portal.md.",
            "{authorization}",
            [
                Fix.Safe(FixSide.Client, "Approve the connection on the portal while the client waits",
                    Note("Open the portal's /approve page, sign in and enter the current code of the authenticator; the pending connection shows the client address and time.")),
                Fix.Safe(FixSide.RdpNlaServer, "Give users more time to approve, or check the portal's address",
                    [
                        Note("Raise Mfa:ApprovalTimeout (default 60 s) in the settings file; the portal's address is in the log line of each held connection."),
                        .. Use("rdpnla-audit"),
                    ]),
            ]);

        yield return new(
            Cause.NtlmBlocked, "ntlm-blocked", "The server refuses NTLM, and the client did not use Kerberos", CauseClass.Credentials,
            [],
            "The server answered the NTLM logon with STATUS_NTLM_BLOCKED: its policy refuses incoming NTLM (Windows: \"Network security: Restrict NTLM: Incoming NTLM traffic\" = Deny all accounts; members of Protected Users cannot use NTLM at all; rdpnla serve: Ntlm:Incoming = Deny). Only Kerberos can log on there. A client falls back to NTLM when it has no Kerberos ticket, cannot reach a KDC, or asks for a service principal the KDC does not know, which is what happens when it connects by IP address or by an alias.",
            "{detail}",
            [
                Fix.Safe(FixSide.Client, "Log on with Kerberos: a ticket, and the server's name as registered in its SPN",
                    Cmd("klist"),
                    Cmd("klist get TERMSRV/<host>"),
                    Rdpnla("rdpnla doctor <host> --auth kerberos --spn TERMSRV/<host>"),
                    Note("Connect by the fully qualified name (TERMSRV/<host> must be registered), not by IP address; on Linux, kinit USER@REALM first.")),
                Fix.Insecure(FixSide.Server, "Allow incoming NTLM on the server again (NTLM is weaker than Kerberos; Protected Users still cannot use it)",
                    Use("allow-incoming-ntlm"),
                    Use("deny-incoming-ntlm")),
                Fix.Safe(FixSide.RdpNlaServer, "rdpnla serve refuses NTLM only when Ntlm:Incoming is Deny (docs/kerberos.md)",
                    Note("Set Ntlm:Incoming to Allow in the settings of rdpnla serve, or give the users Kerberos tickets for the service principal of the server's keytab.")),
            ]);

        yield return new(
            Cause.AccountRestricted, "account-restricted", "A restriction of the account refuses the logon", CauseClass.AccountState,
            [],
            "The server refused the logon for a restriction of the account, not for its password: the account has expired, may not log on at this hour or from this computer, must log on with a smart card, or has a blank password (Windows lets a blank password log on at the console only). The status says which.",
            "The server answered CredSSP errorCode {status} for {user}.",
            [
                Fix.Safe(FixSide.Server, "See the account's restrictions",
                    Cmd("net user <user> /domain"),
                    Ps("Get-ADUser <user> -Properties AccountExpirationDate, LogonHours, LogonWorkstations, SmartcardLogonRequired"),
                    Note("net user shows 'Account expires', 'Workstations allowed' and 'Logon hours allowed'; drop /domain for a local account.")),
                Fix.Safe(FixSide.Server, "Lift the restriction that refuses the logon",
                    Cmd("net user <user> /expires:never /domain"),
                    Cmd("net user <user> /times:all /domain"),
                    Ps("Set-ADUser <user> -LogonWorkstations $null"),
                    Ps("Clear-ADAccountExpiration -Identity <user>"),
                    Note("A blank password: set one (net user <user> *). A smart card requirement: log on with the card, or clear 'Smart card is required for interactive logon' on the account.")),
                Fix.Safe(FixSide.RdpNlaServer, "Domain users of rdpnla serve: the restriction is the domain controller's (docs/active-directory.md)",
                    Cmd("samba-tool user show <user>"),
                    Cmd("samba-tool user setexpiry <user> --noexpiry")),
            ]);

        yield return new(
            Cause.LogonServersUnavailable, "logon-servers-unavailable", "The server cannot reach a domain controller to check the logon", CauseClass.ServerFault,
            [],
            "The server could not check the logon: no domain controller answered it (STATUS_NO_LOGON_SERVERS), its secure channel to the domain is broken (STATUS_TRUSTED_RELATIONSHIP_FAILURE), or its Netlogon service is stopped. Nothing is wrong with the client or the password; every domain user is refused until the server reaches its domain again.",
            "The server answered CredSSP errorCode {status} for {user}.",
            [
                Fix.Safe(FixSide.Server, "Check the server's link to its domain controller and repair its secure channel",
                    Cmd("sc query netlogon"),
                    Cmd("nltest /sc_verify:%USERDOMAIN%"),
                    Ps("Test-ComputerSecureChannel -Verbose"),
                    Ps("Test-ComputerSecureChannel -Repair -Credential (Get-Credential)"),
                    Note("Check the server's DNS servers (they must be the domain's), the network path to a domain controller, and the clock.")),
                Fix.Safe(FixSide.RdpNlaServer, "rdpnla serve checks domain users through winbind: check that winbind and the domain controller answer (docs/active-directory.md)",
                    Cmd("wbinfo -p"),
                    Cmd("wbinfo -P"),
                    Cmd("systemctl status winbind"),
                    Note("Users of rdpnla's own store log on meanwhile; domain users log on again as soon as the domain controller answers.")),
            ]);

        yield return new(
            Cause.AccountDatabaseFailed, "account-database-failed", "The server's account database failed", CauseClass.ServerFault,
            [],
            "The server could not check the logon because its own account database failed (STATUS_INTERNAL_DB_ERROR): for rdpnla serve, a full disk, a file it cannot write or an unreachable PostgreSQL; for Windows, its security account database. The password was not checked and nothing was counted against the account; the logon works again once the database does.",
            "The server answered CredSSP errorCode {status} for {user}.",
            [
                Fix.Safe(FixSide.RdpNlaServer, "Find the store's fault in the log of rdpnla serve and repair it (docs/hardening.md)",
                    Note("The line 'The account database failed during ...' names the error: free space on the data folder's file system, correct its permissions, or start PostgreSQL. Logons resume by themselves."),
                    Rdpnla("rdpnla users list")),
                Fix.Safe(FixSide.Server, "Read the server's system log for database and disk errors",
                    Ps("Get-WinEvent -LogName System -MaxEvents 50 | Where-Object LevelDisplayName -in 'Error','Critical' | Format-List TimeCreated, ProviderName, Message")),
            ]);

        yield return new(
            Cause.LogonRefused, "logon-refused", "The server refused the logon with a status this catalogue has no entry for", CauseClass.Credentials,
            [],
            "The server answered CredSSP with an NTSTATUS errorCode (MS-CSSP §2.2.1) that no other entry here explains. The status is the server's reason; its logs say more.",
            "The server answered CredSSP errorCode {status} for {user}.",
            readTheReason);
    }
}
