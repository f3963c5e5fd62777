using System.Security.Cryptography;
using RdpNla.Protocol;

namespace RdpNla.Transport;

/// <summary>The operating system's cryptographically secure random number generator.</summary>
public sealed class SystemRandomSource : IRandomSource
{
    public static SystemRandomSource Instance { get; } = new();

    public void Fill(Span<byte> destination) => RandomNumberGenerator.Fill(destination);
}
