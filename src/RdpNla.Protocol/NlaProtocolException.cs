namespace RdpNla.Protocol;

/// <summary>
/// The one exception type the protocol layer raises for bytes from a peer that cannot be decoded or that break
/// a protocol rule. Every decoder in this assembly is total: any input decodes or raises this exception.
/// The message never contains secret material (passwords, hashes, keys or raw tokens).
/// </summary>
public sealed class NlaProtocolException : Exception
{
    /// <summary>Creates the exception for a broken rule.</summary>
    /// <param name="reason">Why the input was refused.</param>
    /// <param name="message">What is wrong, in one sentence without secret material.</param>
    /// <param name="specReference">The specification section of the rule (e.g. "MS-CSSP §2.2.1"), appended to the message.</param>
    public NlaProtocolException(NlaFailureReason reason, string message, string? specReference = null)
        : base(specReference is null ? message : $"{message} ({specReference})")
    {
        Reason = reason;
        SpecReference = specReference;
    }

    /// <summary>Creates the exception for a malformed message (<see cref="NlaFailureReason.Malformed"/>).</summary>
    public NlaProtocolException()
        : this(NlaFailureReason.Malformed, "Malformed protocol message.")
    {
    }

    /// <summary>Creates the exception for a malformed message (<see cref="NlaFailureReason.Malformed"/>).</summary>
    /// <param name="message">What is wrong, in one sentence without secret material.</param>
    public NlaProtocolException(string message)
        : this(NlaFailureReason.Malformed, message)
    {
    }

    /// <summary>Creates the exception for a malformed message (<see cref="NlaFailureReason.Malformed"/>) that a lower layer detected.</summary>
    /// <param name="message">What is wrong, in one sentence without secret material.</param>
    /// <param name="innerException">The exception of the lower layer (for example a BCL decoder).</param>
    public NlaProtocolException(string message, Exception innerException)
        : base(message, innerException)
    {
        Reason = NlaFailureReason.Malformed;
    }

    /// <summary>Why the input was refused.</summary>
    public NlaFailureReason Reason { get; }

    /// <summary>The specification section the rule comes from, when there is one (e.g. "MS-CSSP §2.2.1").</summary>
    public string? SpecReference { get; }
}
