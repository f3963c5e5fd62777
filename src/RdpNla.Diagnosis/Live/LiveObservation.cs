namespace RdpNla.Diagnosis.Live;

/// <summary>
/// What the live walk measured: the client run that emulated the client being diagnosed (every phase it reached is in
/// the <see cref="NlaClientResult"/>), and, when TLS 1.2/1.3 failed, what the server does with older TLS versions.
/// <see cref="LiveDiagnoser"/> maps it to a cause.
/// </summary>
/// <param name="Run">The emulating client run.</param>
/// <param name="Time">When the walk ran: the certificate's validity is judged at this time.</param>
public sealed record LiveObservation(NlaClientResult Run, DateTimeOffset Time)
{
    /// <summary>Set when TLS 1.2/1.3 failed and the walk tried the old versions.</summary>
    public LegacyTlsObservation? LegacyTls { get; init; }
}

/// <summary>What the server did with TLS 1.0/1.1 after a TLS 1.2/1.3 handshake failed.</summary>
/// <param name="Handshake">A handshake offering only TLS 1.0 and 1.1 (this machine's TLS library may refuse them itself).</param>
/// <param name="RawServerVersion">The version of the ServerHello to a raw ClientHello (0x0301 = TLS 1.0), when that probe ran and got one.</param>
/// <param name="RawProbe">What the raw ClientHello probe saw, in one sentence, when it ran.</param>
public sealed record LegacyTlsObservation(NlaClientResult Handshake, int? RawServerVersion, string? RawProbe)
{
    /// <summary>The server completes a handshake only with TLS 1.0/1.1, or answers a raw ClientHello with an older version.</summary>
    public bool ServerOffersOnlyLegacyTls => Handshake.Outcome == NlaOutcome.Success || RawServerVersion is > 0 and < 0x0303;
}
