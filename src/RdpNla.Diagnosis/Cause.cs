namespace RdpNla.Diagnosis;

/// <summary>Why a Remote Desktop connection fails (or proceeds without NLA): one value per catalogue entry.</summary>
/// <remarks>The stable text id of each value (used in JSON, docs and exit codes) is in <see cref="Catalogue.CauseCatalogue"/>.</remarks>
public enum Cause
{
    /// <summary>name-not-resolved: the host name does not resolve.</summary>
    NameNotResolved,

    /// <summary>connection-refused: TCP RST (service stopped, Remote Desktop disabled, firewall rejecting).</summary>
    ConnectionRefused,

    /// <summary>no-answer: nothing answers (firewall dropping, host offline or unreachable).</summary>
    NoAnswer,

    /// <summary>not-rdp-server: something answers, but not RDP.</summary>
    NotRdpServer,

    /// <summary>tls-handshake-failed: protocol or cipher mismatch, e.g. a server limited to TLS 1.0.</summary>
    TlsHandshakeFailed,

    /// <summary>tls-certificate-problem: no usable certificate, or one the client cannot trust.</summary>
    TlsCertificateProblem,

    /// <summary>nla-required-client-unsupported: the server requires NLA and the client cannot do CredSSP (XP SP3 without tspkg/credssp.dll).</summary>
    NlaRequiredClientUnsupported,

    /// <summary>tls-required-client-unsupported: the server requires TLS and the client offered Standard RDP Security only.</summary>
    TlsRequiredClientUnsupported,

    /// <summary>server-refuses-nla: SecurityLayer 0, the server selects Standard RDP Security whatever the client offers.</summary>
    ServerRefusesNla,

    /// <summary>no-nla-tls-only: the server does not require NLA and the client does not offer it: TLS without pre-authentication.</summary>
    NoNlaTlsOnly,

    /// <summary>encryption-oracle-server-unpatched: an updated client refuses a server without the CVE-2018-0886 fix.</summary>
    EncryptionOracleServerUnpatched,

    /// <summary>encryption-oracle-client-unpatched: a "Force Updated Clients" server refuses a client without the fix.</summary>
    EncryptionOracleClientUnpatched,

    /// <summary>wrong-credentials: unknown user or wrong password (STATUS_LOGON_FAILURE).</summary>
    WrongCredentials,

    /// <summary>account-locked: STATUS_ACCOUNT_LOCKED_OUT.</summary>
    AccountLocked,

    /// <summary>account-disabled: STATUS_ACCOUNT_DISABLED.</summary>
    AccountDisabled,

    /// <summary>password-expired: STATUS_PASSWORD_EXPIRED; NLA cannot change it.</summary>
    PasswordExpired,

    /// <summary>password-must-change: STATUS_PASSWORD_MUST_CHANGE; NLA cannot change it.</summary>
    PasswordMustChange,

    /// <summary>remote-logon-denied: authenticated, but no right to log on remotely.</summary>
    RemoteLogonDenied,

    /// <summary>authentication-failed: CredSSP ended without a status the client could read.</summary>
    AuthenticationFailed,

    /// <summary>unexpected-failure: an observation no other entry explains.</summary>
    UnexpectedFailure,

    /// <summary>kerberos-spn-unknown: the KDC knows no such service principal (KDC_ERR_S_PRINCIPAL_UNKNOWN).</summary>
    KerberosSpnUnknown,

    /// <summary>kerberos-key-mismatch: the server refused the Kerberos ticket (KRB_AP_ERR_MODIFIED: its keytab's key is not the KDC's).</summary>
    KerberosKeyMismatch,

    /// <summary>kerberos-clock-skew: the clocks differ too much (KRB_AP_ERR_SKEW, STATUS_TIME_DIFFERENCE_AT_DC).</summary>
    KerberosClockSkew,

    /// <summary>kerberos-kdc-unreachable: no KDC of the realm answered.</summary>
    KerberosKdcUnreachable,

    /// <summary>kerberos-realm-unknown: the service is in a realm the client has no way to (no KDC, no trust path).</summary>
    KerberosRealmUnknown,

    /// <summary>second-factor-not-approved: the server held the connection for a second-factor approval that did not come in time.</summary>
    SecondFactorNotApproved,

    /// <summary>ntlm-blocked: the server refuses NTLM (STATUS_NTLM_BLOCKED) and the client did not use Kerberos.</summary>
    NtlmBlocked,

    /// <summary>account-restricted: the password was right, and a restriction of the account refuses the logon (expired account, logon hours, allowed workstations, smart card required, blank password).</summary>
    AccountRestricted,

    /// <summary>logon-servers-unavailable: the server could not reach a domain controller to check the logon (STATUS_NO_LOGON_SERVERS, a broken trust, Netlogon stopped).</summary>
    LogonServersUnavailable,

    /// <summary>account-database-failed: the server's account database failed while checking the logon (STATUS_INTERNAL_DB_ERROR).</summary>
    AccountDatabaseFailed,

    /// <summary>logon-refused: the server refused the logon with an NTSTATUS that no other entry explains.</summary>
    LogonRefused,
}

/// <summary>Groups of causes; each has its own process exit code (<see cref="DoctorExitCodes"/>).</summary>
public enum CauseClass
{
    /// <summary>Name resolution and TCP.</summary>
    Network,

    /// <summary>The port does not speak RDP.</summary>
    NotRdp,

    /// <summary>TLS handshake or certificate.</summary>
    Tls,

    /// <summary>The server's SecurityLayer/UserAuthentication and the client's abilities do not meet on NLA.</summary>
    SecurityLayer,

    /// <summary>CredSSP version refused by Encryption Oracle Remediation (CVE-2018-0886).</summary>
    CredSspVersion,

    /// <summary>User name or password.</summary>
    Credentials,

    /// <summary>The account's state: locked, disabled, password expired or to be changed.</summary>
    AccountState,

    /// <summary>Authenticated but not authorised to log on remotely.</summary>
    Authorization,

    /// <summary>The server could not check the logon: its domain controller or its account database failed.</summary>
    ServerFault,

    /// <summary>Anything else.</summary>
    Unexpected,
}

/// <summary>
/// Exit codes of <c>rdpnla doctor</c>. 0–3 are shared with the other commands (<c>ExitCodes</c> in the CLI);
/// diagnoses use 10 and up, one per <see cref="CauseClass"/>.
/// </summary>
public static class DoctorExitCodes
{
    /// <summary>The connection would succeed (offline) or succeeded (live), with NLA.</summary>
    public const int Success = 0;

    /// <summary>Usage error, unreadable or malformed .reg file (line-numbered message).</summary>
    public const int UserError = 1;

    /// <summary>Reserved (shared with the other commands): "not available". No longer returned since the live walk landed.</summary>
    public const int Unavailable = 3;

    /// <summary>The exit code of a cause class.</summary>
    public static int For(CauseClass causeClass) => causeClass switch
    {
        CauseClass.Network => 10,
        CauseClass.NotRdp => 11,
        CauseClass.Tls => 12,
        CauseClass.SecurityLayer => 13,
        CauseClass.CredSspVersion => 14,
        CauseClass.Credentials => 15,
        CauseClass.AccountState => 16,
        CauseClass.Authorization => 17,
        CauseClass.ServerFault => 19,
        _ => 18,
    };
}
