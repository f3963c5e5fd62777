using System.Security.Cryptography;

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

    private const byte FormatVersion = 1;
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
                stream.Write(System.Text.Encoding.ASCII.GetBytes(Convert.ToBase64String(fresh) + "\n"));
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

    /// <summary>Seals a UTF-16LE password, bound to <paramref name="context"/> (the user it belongs to) as associated data.</summary>
    public byte[] Seal(ReadOnlySpan<byte> plaintext, string context)
    {
        byte[] sealedData = new byte[1 + NonceSize + TagSize + plaintext.Length];
        sealedData[0] = FormatVersion;
        Span<byte> nonce = sealedData.AsSpan(1, NonceSize);
        RandomNumberGenerator.Fill(nonce);
        _aes.Encrypt(nonce, plaintext, sealedData.AsSpan(1 + NonceSize + TagSize), sealedData.AsSpan(1 + NonceSize, TagSize), AssociatedData(context));
        return sealedData;
    }

    /// <summary>Opens what <see cref="Seal"/> produced for the same <paramref name="context"/>. The caller wipes the result.</summary>
    /// <exception cref="CryptographicException">Wrong key, wrong context or tampered data.</exception>
    public byte[] Open(ReadOnlySpan<byte> sealedData, string context)
    {
        if (sealedData.Length < 1 + NonceSize + TagSize || sealedData[0] != FormatVersion)
        {
            throw new CryptographicException("The sealed credential has an unknown format.");
        }

        byte[] plaintext = new byte[sealedData.Length - 1 - NonceSize - TagSize];
        try
        {
            _aes.Decrypt(sealedData.Slice(1, NonceSize), sealedData[(1 + NonceSize + TagSize)..], sealedData.Slice(1 + NonceSize, TagSize), plaintext, AssociatedData(context));
            return plaintext;
        }
        catch
        {
            CryptographicOperations.ZeroMemory(plaintext);
            throw;
        }
    }

    private static byte[] AssociatedData(string context) => System.Text.Encoding.UTF8.GetBytes("rdpnla mapped credential v1\0" + context);

    public void Dispose() => _aes.Dispose();
}
