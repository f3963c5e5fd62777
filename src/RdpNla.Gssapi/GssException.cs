namespace RdpNla.Gssapi;

/// <summary>A GSS-API call failed outside a security context (acquiring credentials, importing a name).</summary>
public sealed class GssException : Exception
{
    public GssException()
    {
    }

    public GssException(string message)
        : base(message)
    {
    }

    public GssException(string message, Exception inner)
        : base(message, inner)
    {
    }

    internal GssException(string operation, uint major, uint minor)
        : base($"{operation}: {GssNative.DescribeStatus(major, minor)}")
    {
        MajorStatus = major;
        MinorStatus = minor;
    }

    /// <summary>The GSS major status (RFC 2744 §3.9.1).</summary>
    public uint MajorStatus { get; }

    /// <summary>The mechanism's minor status (for Kerberos, a krb5 error code).</summary>
    public uint MinorStatus { get; }
}
