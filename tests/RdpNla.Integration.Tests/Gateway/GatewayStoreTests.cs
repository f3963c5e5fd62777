using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;
using RdpNla.Protocol.Ntlm;
using RdpNla.Server.Gateway;
using RdpNla.Server.Storage;

namespace RdpNla.Integration.Tests.Gateway;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class GatewayStoreTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "rdpnla-gw-store-" + Guid.NewGuid().ToString("N")[..8]);

    public GatewayStoreTests() => Directory.CreateDirectory(_directory);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Migration_Version1DatabaseWithUsers_UpgradesToVersion2AndKeepsThem()
    {
        string path = Path.Combine(_directory, "rdpnla.db");
        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            await connection.OpenAsync(Ct);
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = SchemaMigrations.Scripts[0] +
                "\nINSERT INTO users (name, name_key, nt_hash, password_last_set, created_at, updated_at) VALUES ('alice', 'ALICE', zeroblob(16), 'x', 'x', 'x');\nPRAGMA user_version = 1;";
            await command.ExecuteNonQueryAsync(Ct);
        }

        await using RdpNlaDatabase database = await RdpNlaDatabase.OpenAsync(path, cancellationToken: Ct);

        Assert.Equal(SchemaMigrations.LatestVersion, database.SchemaVersion);
        Assert.True(await database.Gateway.SetUserBackendAsync("alice", "10.0.0.5:3389", Ct));
        Assert.Equal("10.0.0.5:3389", await database.Gateway.GetUserBackendAsync("ALICE", Ct));
    }

    [Fact]
    public async Task MappedCredential_IsSealedWithTheKeyFileAndBoundToTheUser_AndGoneWithTheUser()
    {
        await using RdpNlaDatabase database = await RdpNlaDatabase.OpenAsync(Path.Combine(_directory, "rdpnla.db"), cancellationToken: Ct);
        await database.Users.AddAsync("carol", NtlmCrypto.NtOwfV1("x"), Ct);
        using GatewayKey key = GatewayKey.Load(_directory, null, create: true);
        await database.Gateway.SetMappedCredentialAsync("carol", "svc", "LAB", Encoding.Unicode.GetBytes("Backend-Secret1"), key, Ct);

        MappedCredential stored = (await database.Gateway.GetMappedCredentialAsync("carol", Ct))!;

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_directory, GatewayKey.DefaultFileName)));
        Assert.DoesNotContain("Backend-Secret1", Encoding.Unicode.GetString(stored.SealedPassword));
        Assert.Equal("Backend-Secret1", Encoding.Unicode.GetString(GatewayStore.OpenPassword(stored, "carol", key)));
        Assert.Throws<AuthenticationTagMismatchException>(() => GatewayStore.OpenPassword(stored, "dave", key));
        string other = Path.Combine(_directory, "other");
        Directory.CreateDirectory(other);
        using (GatewayKey otherKey = GatewayKey.Load(other, null, create: true))
        {
            Assert.Throws<AuthenticationTagMismatchException>(() => GatewayStore.OpenPassword(stored, "carol", otherKey));
        }

        await database.Users.RemoveAsync("carol", Ct);
        Assert.Null(await database.Gateway.GetMappedCredentialAsync("carol", Ct));
    }

    [Fact]
    public void KeyFile_ReadableByOthers_IsRefused()
    {
        using (GatewayKey.Load(_directory, null, create: true))
        {
        }

        string path = Path.Combine(_directory, GatewayKey.DefaultFileName);
        File.SetUnixFileMode(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.OtherRead);

        InvalidOperationException error = Assert.Throws<InvalidOperationException>(() => GatewayKey.Load(_directory, null, create: false));
        Assert.Contains("chmod 600", error.Message);
    }

    [Theory]
    [InlineData("10.0.0.5", "10.0.0.5:3389")]
    [InlineData("host:3390", "host:3390")]
    [InlineData("[::1]:3391", "[::1]:3391")]
    public void BackendAddress_Parses(string text, string canonical)
    {
        Assert.True(BackendAddress.TryParse(text, out BackendAddress? address, out _));
        Assert.Equal(canonical, address.ToString());
    }

    [Theory]
    [InlineData("")]
    [InlineData("host:0")]
    [InlineData("host:x")]
    [InlineData("::1:3389")]
    public void BackendAddress_RefusesInvalid(string text) => Assert.False(BackendAddress.TryParse(text, out _, out _));

    public void Dispose() => Directory.Delete(_directory, recursive: true);
}
