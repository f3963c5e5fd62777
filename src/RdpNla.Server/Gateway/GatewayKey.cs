namespace RdpNla.Server.Gateway;

/// <summary>
/// The key that seals mapped backend passwords at rest (AES-256-GCM). It is kept apart from the database: the environment
/// variable <c>RDPNLA_GATEWAY_KEY</c> (base64 of 32 bytes) or a key file (default <c>gateway.key</c> in the data folder),
/// created with mode 0600 on first use. Copying the database alone does not reveal any password.
/// </summary>
public sealed class GatewayKey : IDisposable
{
    /// <summary>The environment variable that holds the key (base64), taking precedence over the key file.</summary>
    public const string EnvironmentVariable = "RDPNLA_GATEWAY_KEY";

    /// <summary>The key file's name in the data folder.</summary>
    public const string DefaultFileName = "gateway.key";

    // Version 1 bound a password to its user only; version 2 binds it to the user, the backend and the backend account.
    private const byte LegacyFormatVersion = 1;
    private const byte FormatVersion = 2;
    private const int NonceSize = 12;
    private const int TagSize = 16;
    private readonly AesGcm _aes;

    private GatewayKey(byte[] key, string origin)
    {
        _aes = new AesGcm(key, TagSize);
        CryptographicOperations.ZeroMemory(key);
        Origin = origin;
    }

    /// <summary>Where the key came from (for messages; never the key).</summary>
    public string Origin { get; }

    /// <summary>
    /// Loads the key from the environment or <paramref name="keyFile"/> (default: <c>gateway.key</c> in <paramref name="dataDirectory"/>);
    /// with <paramref name="create"/>, writes a new random key file (0600) when neither exists.
    /// </summary>
    /// <exception cref="InvalidOperationException">The key is missing (and not to be created), malformed, or the file is readable by others.</exception>
    public static GatewayKey Load(string dataDirectory, string? keyFile, bool create)
    {
        string? fromEnvironment = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (!string.IsNullOrWhiteSpace(fromEnvironment))
        {
            byte[] key;
            try
            {
                key = Convert.FromBase64String(fromEnvironment.Trim());
            }
            catch (FormatException)
            {
                throw new InvalidOperationException($"{EnvironmentVariable} is not base64; generate a key with: head -c 32 /dev/urandom | base64");
            }

            return key.Length == 32 ? new GatewayKey(key, $"environment variable {EnvironmentVariable}")
                : throw new InvalidOperationException($"{EnvironmentVariable} must hold 32 bytes (base64), not {key.Length}.");
        }

        string path = Path.GetFullPath(keyFile ?? Path.Combine(dataDirectory, DefaultFileName));
        if (!File.Exists(path))
        {
            if (!create)
            {
                throw new InvalidOperationException($"the gateway key file '{path}' does not exist and {EnvironmentVariable} is not set; mapped credentials cannot be read");
            }

            byte[] fresh = RandomNumberGenerator.GetBytes(32);
            var options = new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, Share = FileShare.None };
            if (!OperatingSystem.IsWindows())
            {
                options.UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite;
            }

            try
            {
                using var stream = new FileStream(path, options);
                stream.Write(Encoding.ASCII.GetBytes(Convert.ToBase64String(fresh) + "\n"));
            }
            catch (IOException) when (File.Exists(path))
            {
                // Another process created it first: use theirs.
                CryptographicOperations.ZeroMemory(fresh);
                return Load(dataDirectory, keyFile, create: false);
            }

            return new GatewayKey(fresh, $"key file {path} (created now)");
        }

        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(path) & (UnixFileMode.GroupRead | UnixFileMode.OtherRead | UnixFileMode.GroupWrite | UnixFileMode.OtherWrite)) != 0)
        {
            throw new InvalidOperationException($"the gateway key file '{path}' is accessible by group or others; run: chmod 600 '{path}'");
        }

        byte[] stored;
        try
        {
            stored = Convert.FromBase64String(File.ReadAllText(path).Trim());
        }
        catch (FormatException)
        {
            throw new InvalidOperationException($"the gateway key file '{path}' does not hold base64");
        }

        return stored.Length == 32 ? new GatewayKey(stored, $"key file {path}")
            : throw new InvalidOperationException($"the gateway key file '{path}' must hold 32 bytes (base64), not {stored.Length}");
    }

    /// <summary>
    /// Seals a UTF-16LE password bound to <paramref name="binding"/> (associated data of AES-GCM): the user it belongs
    /// to, the backend it is for, and the backend account. A sealed value moved to another user, or whose backend or
    /// account is changed in the database, no longer opens.
    /// </summary>
    public byte[] Seal(ReadOnlySpan<byte> plaintext, ISealedValueBinding binding)
    {
        ArgumentNullException.ThrowIfNull(binding);
        byte[] sealedData = new byte[1 + NonceSize + TagSize + plaintext.Length];
        sealedData[0] = FormatVersion;
        Span<byte> nonce = sealedData.AsSpan(1, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        _aes.Encrypt(nonce, plaintext, sealedData.AsSpan(1 + NonceSize + TagSize), sealedData.AsSpan(1 + NonceSize, TagSize), binding.AssociatedData());
        return sealedData;
    }

    /// <summary>Opens what <see cref="Seal"/> produced for the same <paramref name="binding"/>. The caller wipes the result.</summary>
    /// <exception cref="CryptographicException">Wrong key, another binding, tampered data, or a value sealed before passwords were bound to their backend.</exception>
    public byte[] Open(ReadOnlySpan<byte> sealedData, ISealedValueBinding binding)
    {
        ArgumentNullException.ThrowIfNull(binding);
        if (sealedData.Length >= 1 && sealedData[0] == LegacyFormatVersion)
        {
            throw new CryptographicException("The sealed credential predates the binding to its backend; set the user's mapped credential again.");
        }

        if (sealedData.Length < 1 + NonceSize + TagSize || sealedData[0] != FormatVersion)
        {
            throw new CryptographicException("The sealed credential has an unknown format.");
        }

        byte[] plaintext = new byte[sealedData.Length - 1 - NonceSize - TagSize];
        try
        {
            _aes.Decrypt(sealedData.Slice(1, NonceSize), sealedData[(1 + NonceSize + TagSize)..], sealedData.Slice(1 + NonceSize, TagSize), plaintext, binding.AssociatedData());
            return plaintext;
        }
        catch
        {
            CryptographicOperations.ZeroMemory(plaintext);
            throw;
        }
    }

    public void Dispose() => _aes.Dispose();
}

/// <summary>
/// What a mapped backend password is bound to: the gateway user (normalized name), the backend (<c>host:port</c>,
/// canonical, case-insensitive) and the backend account (user and domain, exactly as stored).
/// </summary>
internal sealed record MappedCredentialBinding(string UserKey, string Backend, string BackendUser, string BackendDomain) : ISealedValueBinding
{
    /// <inheritdoc/>
    public byte[] AssociatedData() => SealedValueBinding.Encode("rdpnla mapped credential v2\0"u8, [UserKey, Backend.ToLowerInvariant(), BackendUser, BackendDomain]);
}

/// <summary>What a TOTP secret is bound to: its user (normalized name), so a sealed secret moved to another user no longer opens.</summary>
internal sealed record TotpSecretBinding(string UserKey) : ISealedValueBinding
{
    /// <inheritdoc/>
    public byte[] AssociatedData() => SealedValueBinding.Encode("rdpnla totp secret v1\0"u8, [UserKey]);
}

/// <summary>What a value sealed with the gateway key is bound to: the AES-GCM associated data.</summary>
public interface ISealedValueBinding
{
    /// <summary>The associated data: a label naming the kind of value, then its binding fields.</summary>
    byte[] AssociatedData();
}

internal static class SealedValueBinding
{
    /// <summary>A label, then each field as a 4-byte big-endian length and its UTF-8 bytes (no field can run into the next).</summary>
    public static byte[] Encode(ReadOnlySpan<byte> label, ReadOnlySpan<string> fields)
    {
        using var stream = new MemoryStream();
        stream.Write(label);
        Span<byte> length = stackalloc byte[4];
        foreach (string field in fields)
        {
            byte[] bytes = Encoding.UTF8.GetBytes(field);
            System.Buffers.Binary.BinaryPrimitives.WriteInt32BigEndian(length, bytes.Length);
            stream.Write(length);
            stream.Write(bytes);
        }

        return stream.ToArray();
    }
}
