using RdpNla.Protocol;

namespace RdpNla.Tests.Support;

/// <summary>A seeded random source, so a failing run can be replayed.</summary>
public sealed class DeterministicRandom(int seed) : IRandomSource
{
    private readonly Random _random = new(seed);

    public void Fill(Span<byte> destination) => _random.NextBytes(destination);
}
