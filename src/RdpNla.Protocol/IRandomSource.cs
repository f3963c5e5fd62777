namespace RdpNla.Protocol;

/// <summary>
/// Randomness injected into the protocol layer (client and server challenges, nonces, session keys).
/// The protocol layer has none of its own so that the MS-NLMP examples reproduce byte for byte.
/// Production code supplies a cryptographically secure source.
/// </summary>
public interface IRandomSource
{
    /// <summary>Fills <paramref name="destination"/> with random bytes.</summary>
    void Fill(Span<byte> destination);
}
