namespace RdpNla.Server.Limits;

/// <summary>Why a connection was refused before its handshake (metric tag and log text).</summary>
public enum RejectionReason
{
    /// <summary>The total cap on unauthenticated connections is reached.</summary>
    TotalUnauthenticated,

    /// <summary>Random early drop between the start and the full threshold (OpenSSH MaxStartups).</summary>
    RandomEarlyDrop,

    /// <summary>Too many unauthenticated connections from one address.</summary>
    PerAddress,

    /// <summary>Too many unauthenticated connections from one network prefix.</summary>
    PerPrefix,

    /// <summary>The address opens connections faster than allowed.</summary>
    ConnectionRate,

    /// <summary>The address is serving a penalty for earlier failures (OpenSSH PerSourcePenalties).</summary>
    Penalty,

    /// <summary>A PROXY protocol header was missing, malformed or sent by an untrusted address.</summary>
    ProxyProtocol,
}

/// <summary>
/// Admission control before authentication, modelled on OpenSSH (MaxStartups random early drop, PerSourcePenalties)
/// and Kestrel's limits: a total cap with random early drop, per-address and per-prefix caps, a per-address connection
/// rate, and penalties that grow with an address's failures. Thread-safe; time and randomness are injected.
/// </summary>
public sealed class ConnectionGate
{
    private readonly FrontDoorLimits _limits;
    private readonly TimeProvider _timeProvider;
    private readonly Func<double> _random;
    private readonly Lock _lock = new();
    private readonly Dictionary<IPAddress, int> _perAddress = [];
    private readonly Dictionary<IPAddress, int> _perPrefix = [];
    private readonly Dictionary<IPAddress, TokenBucket> _rates = [];
    private readonly Dictionary<IPAddress, Penalty> _penalties = [];
    private int _unauthenticated;

    public ConnectionGate(FrontDoorLimits limits, TimeProvider timeProvider, Func<double> random)
    {
        _limits = limits;
        _timeProvider = timeProvider;
        _random = random;
    }

    /// <summary>Unauthenticated connections admitted and not yet released.</summary>
    public int Unauthenticated => Volatile.Read(ref _unauthenticated);

    /// <summary>First check, at accept, for every connection: the total cap and random early drop.</summary>
    public RejectionReason? TryEnter()
    {
        lock (_lock)
        {
            int current = _unauthenticated;
            if (current >= _limits.MaxUnauthenticatedConnections)
            {
                return RejectionReason.TotalUnauthenticated;
            }

            // OpenSSH MaxStartups start:rate:full — from `start` on, refuse with probability `rate`, rising linearly to
            // 100 % at `full`.
            int start = _limits.RandomEarlyDropStart;
            if (start > 0 && current >= start)
            {
                int full = _limits.MaxUnauthenticatedConnections;
                double rate = _limits.RandomEarlyDropRate;
                double probability = full <= start ? 1 : rate + ((1 - rate) * (current - start) / (full - start));
                if (_random() < probability)
                {
                    return RejectionReason.RandomEarlyDrop;
                }
            }

            _unauthenticated++;
            return null;
        }
    }

    /// <summary>Undoes <see cref="TryEnter"/> (the handshake ended, or a later check refused).</summary>
    public void Leave()
    {
        lock (_lock)
        {
            _unauthenticated--;
        }
    }

    /// <summary>
    /// Second check, once the client's real address is known (at accept, or after a PROXY protocol header): penalties,
    /// the per-address connection rate, and the per-address and per-prefix caps. On success the caller must call
    /// <see cref="ReleaseSource"/> when the connection is authenticated or closed.
    /// </summary>
    public RejectionReason? TryAdmitSource(IPAddress address)
    {
        address = Normalize(address);
        IPAddress prefix = Prefix(address);
        DateTimeOffset now = _timeProvider.GetUtcNow();
        lock (_lock)
        {
            if (_limits.PenaltiesEnabled && !_limits.IsExempt(address)
                && _penalties.TryGetValue(address, out Penalty? penalty) && penalty.BlockedUntil > now)
            {
                return RejectionReason.Penalty;
            }

            if (_limits.MaxConnectionRatePerAddress > 0)
            {
                if (!_rates.TryGetValue(address, out TokenBucket? bucket))
                {
                    bucket = new TokenBucket(_limits.ConnectionRateBurst, now);
                    _rates[address] = bucket;
                }

                if (!bucket.TryTake(now, _limits.MaxConnectionRatePerAddress, _limits.ConnectionRateBurst))
                {
                    return RejectionReason.ConnectionRate;
                }
            }

            if (_perAddress.GetValueOrDefault(address) >= _limits.MaxUnauthenticatedConnectionsPerAddress)
            {
                return RejectionReason.PerAddress;
            }

            if (_perPrefix.GetValueOrDefault(prefix) >= _limits.MaxUnauthenticatedConnectionsPerPrefix)
            {
                return RejectionReason.PerPrefix;
            }

            _perAddress[address] = _perAddress.GetValueOrDefault(address) + 1;
            _perPrefix[prefix] = _perPrefix.GetValueOrDefault(prefix) + 1;
            if (_rates.Count > 65536)
            {
                PruneRates(now);
            }

            return null;
        }
    }

    /// <summary>Undoes <see cref="TryAdmitSource"/>.</summary>
    public void ReleaseSource(IPAddress address)
    {
        address = Normalize(address);
        IPAddress prefix = Prefix(address);
        lock (_lock)
        {
            Decrement(_perAddress, address);
            Decrement(_perPrefix, prefix);
        }
    }

    /// <summary>
    /// Records a failure of an address (wrong password, protocol violation, handshake timeout): its penalty grows by
    /// <paramref name="cost"/>; once the accrued penalty exceeds the threshold the address is refused for that long,
    /// up to the maximum (OpenSSH PerSourcePenalties: authfail, noauth, crash; min, max).
    /// </summary>
    /// <returns>True when this failure started (or extended) a block.</returns>
    public bool Penalize(IPAddress address, TimeSpan cost)
    {
        if (!_limits.PenaltiesEnabled)
        {
            return false;
        }

        address = Normalize(address);
        if (_limits.IsExempt(address))
        {
            return false;
        }

        DateTimeOffset now = _timeProvider.GetUtcNow();
        lock (_lock)
        {
            if (!_penalties.TryGetValue(address, out Penalty? penalty))
            {
                if (_penalties.Count >= 65536)
                {
                    PrunePenalties(now);
                }

                penalty = new Penalty();
                _penalties[address] = penalty;
            }

            // The accrued penalty decays in real time, like a leaky bucket.
            TimeSpan elapsed = now - penalty.LastUpdate;
            penalty.Accrued = TimeSpan.FromTicks(Math.Max(0, penalty.Accrued.Ticks - elapsed.Ticks)) + cost;
            if (penalty.Accrued > _limits.PenaltyMaximum)
            {
                penalty.Accrued = _limits.PenaltyMaximum;
            }

            penalty.LastUpdate = now;
            if (penalty.Accrued >= _limits.PenaltyThreshold)
            {
                penalty.BlockedUntil = now + penalty.Accrued;
                return true;
            }

            return false;
        }
    }

    /// <summary>The addresses currently blocked and until when (for diagnostics and tests).</summary>
    public IReadOnlyDictionary<IPAddress, DateTimeOffset> BlockedSources()
    {
        DateTimeOffset now = _timeProvider.GetUtcNow();
        lock (_lock)
        {
            return _penalties.Where(p => p.Value.BlockedUntil > now).ToDictionary(p => p.Key, p => p.Value.BlockedUntil);
        }
    }

    private IPAddress Prefix(IPAddress address)
    {
        byte[] bytes = address.GetAddressBytes();
        int bits = address.AddressFamily == AddressFamily.InterNetwork ? _limits.IPv4PrefixLength : _limits.IPv6PrefixLength;
        for (int i = 0; i < bytes.Length; i++)
        {
            int keep = Math.Clamp(bits - (i * 8), 0, 8);
            bytes[i] &= (byte)(0xFF << (8 - keep));
        }

        return new IPAddress(bytes);
    }

    private static IPAddress Normalize(IPAddress address) => address.IsIPv4MappedToIPv6 ? address.MapToIPv4() : address;

    private static void Decrement(Dictionary<IPAddress, int> counts, IPAddress key)
    {
        if (counts.TryGetValue(key, out int count))
        {
            if (count <= 1)
            {
                counts.Remove(key);
            }
            else
            {
                counts[key] = count - 1;
            }
        }
    }

    private void PruneRates(DateTimeOffset now)
    {
        foreach (IPAddress key in _rates.Where(r => now - r.Value.LastRefill > TimeSpan.FromMinutes(1)).Select(r => r.Key).ToList())
        {
            _rates.Remove(key);
        }
    }

    private void PrunePenalties(DateTimeOffset now)
    {
        foreach (IPAddress key in _penalties.Where(p => p.Value.BlockedUntil <= now && now - p.Value.LastUpdate > p.Value.Accrued).Select(p => p.Key).ToList())
        {
            _penalties.Remove(key);
        }
    }

    private sealed class Penalty
    {
        public TimeSpan Accrued { get; set; }

        public DateTimeOffset LastUpdate { get; set; }

        public DateTimeOffset BlockedUntil { get; set; }
    }

    private sealed class TokenBucket(double tokens, DateTimeOffset now)
    {
        private double _tokens = tokens;

        public DateTimeOffset LastRefill { get; private set; } = now;

        public bool TryTake(DateTimeOffset now, double ratePerSecond, double burst)
        {
            _tokens = Math.Min(burst, _tokens + ((now - LastRefill).TotalSeconds * ratePerSecond));
            LastRefill = now;
            if (_tokens < 1)
            {
                return false;
            }

            _tokens--;
            return true;
        }
    }
}
