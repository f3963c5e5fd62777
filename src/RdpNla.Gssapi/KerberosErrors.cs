namespace RdpNla.Gssapi;

/// <summary>
/// krb5 error codes as MIT reports them in the GSS minor status (the com_err table "krb5", base -1765328384, whose
/// offsets are the RFC 4120 §7.5.9 error numbers), and the NTSTATUS a Windows server sends for them.
/// </summary>
public static class KerberosErrors
{
    private const uint TableBase = 0x96C73A00;

    /// <summary>KRB_AP_ERR_TKT_EXPIRED (32): the service ticket has expired.</summary>
    public const uint TicketExpired = TableBase + 32;

    /// <summary>KRB_AP_ERR_TKT_NYV (33): the ticket is not yet valid (clocks differ).</summary>
    public const uint TicketNotYetValid = TableBase + 33;

    /// <summary>KRB_AP_ERR_REPEAT (34): the authenticator was seen before (a replay).</summary>
    public const uint Replay = TableBase + 34;

    /// <summary>KRB_AP_ERR_NOT_US (35): the ticket is for another service.</summary>
    public const uint NotUs = TableBase + 35;

    /// <summary>KRB_AP_ERR_SKEW (37): the clocks of client and server differ by more than the allowed skew.</summary>
    public const uint Skew = TableBase + 37;

    /// <summary>KRB_AP_ERR_MODIFIED (41): the ticket does not decrypt with the keytab's key (wrong key or password changed).</summary>
    public const uint Modified = TableBase + 41;

    /// <summary>KRB_AP_ERR_BADKEYVER (44): the keytab has no key with the ticket's version number.</summary>
    public const uint BadKeyVersion = TableBase + 44;

    /// <summary>KRB_AP_ERR_NOKEY (45): the keytab has no key of the ticket's encryption type.</summary>
    public const uint NoKey = TableBase + 45;

    /// <summary>KDC_ERR_S_PRINCIPAL_UNKNOWN (7): the KDC knows no such service principal (no such SPN).</summary>
    public const uint ServerPrincipalUnknown = TableBase + 7;

    /// <summary>KRB5_KDC_UNREACH (156 in MIT's krb5 table): "Cannot contact any KDC for requested realm".</summary>
    public const uint KdcUnreachable = TableBase + 156;

    /// <summary>KRB5_REALM_UNKNOWN (154 in MIT's krb5 table): "Cannot find KDC for requested realm" (not configured in krb5.conf, no DNS).</summary>
    public const uint RealmUnknown = TableBase + 154;

    /// <summary>
    /// The one table from a rejected AP-REQ to the NTSTATUS a Windows server sends in errorCode: clock problems are
    /// STATUS_TIME_DIFFERENCE_AT_DC (SSPI's SEC_E_TIME_SKEW), every other rejection of the ticket or authenticator is
    /// STATUS_LOGON_FAILURE (SEC_E_LOGON_DENIED; MS-KILE §3.4.5). Samba's krb5_to_nt_status table
    /// (source3/libads/krb5_errs.c) maps the same way. docs/kerberos.md, "Failures", lists the causes and fixes.
    /// </summary>
    public static NtStatus ToNtStatus(uint minor) => minor switch
    {
        Skew => NtStatus.TimeDifferenceAtDc,
        TicketNotYetValid => NtStatus.TimeDifferenceAtDc,
        TicketExpired => NtStatus.LogonFailure,
        Replay => NtStatus.LogonFailure,
        NotUs => NtStatus.LogonFailure,
        Modified => NtStatus.LogonFailure,
        BadKeyVersion => NtStatus.LogonFailure,
        NoKey => NtStatus.LogonFailure,
        KdcUnreachable => NtStatus.NoLogonServers,
        _ => NtStatus.LogonFailure,
    };
}
