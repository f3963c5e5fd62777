namespace RdpNla.Server.Accounts;

/// <summary>A user's account state together with a private copy of its NT hash, wiped on <see cref="Dispose"/>.</summary>
public sealed class UserCredential : IDisposable
{
    private readonly byte[] _ntHash;

    /// <summary>Takes ownership of <paramref name="ntHash"/> (16 bytes); it is zeroed on dispose.</summary>
    public UserCredential(UserAccount account, byte[] ntHash)
    {
        ArgumentNullException.ThrowIfNull(account);
        ArgumentNullException.ThrowIfNull(ntHash);
        if (ntHash.Length != NtlmCrypto.NtOwfSize)
        {
            throw new ArgumentException($"An NT hash is {NtlmCrypto.NtOwfSize} bytes.", nameof(ntHash));
        }

        Account = account;
        _ntHash = ntHash;
    }

    /// <summary>The account state read in the same query as the hash.</summary>
    public UserAccount Account { get; }

    /// <summary>The NT hash (NTOWFv1 = MD4 of the UTF-16LE password). Empty after dispose.</summary>
    public ReadOnlySpan<byte> NtHash => IsDisposed ? default : _ntHash;

    private bool IsDisposed { get; set; }

    /// <summary>Zeroes the hash.</summary>
    public void Dispose()
    {
        CryptographicOperations.ZeroMemory(_ntHash);
        IsDisposed = true;
    }
}
