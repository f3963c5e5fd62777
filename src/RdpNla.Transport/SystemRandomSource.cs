namespace RdpNla.Transport;

/// <summary>The operating system's cryptographically secure random number generator.</summary>
public sealed class SystemRandomSource : IRandomSource
{
    /// <summary>The shared instance; it holds no state and is thread-safe.</summary>
    public static SystemRandomSource Instance { get; } = new();

    /// <summary>Fills <paramref name="destination"/> from <see cref="RandomNumberGenerator"/>.</summary>
    public void Fill(Span<byte> destination) => RandomNumberGenerator.Fill(destination);
}
