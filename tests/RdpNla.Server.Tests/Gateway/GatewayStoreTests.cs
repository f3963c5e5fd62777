using System.Security.Cryptography;
using System.Text;
using Microsoft.Data.Sqlite;
using RdpNla.Protocol.Ntlm;
using RdpNla.Server.Gateway;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Gateway;

[System.Runtime.Versioning.UnsupportedOSPlatform("windows")]
public sealed class GatewayStoreTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "rdpnla-gw-store-" + Guid.NewGuid().ToString("N")[..8]);

    public GatewayStoreTests() => Directory.CreateDirectory(_directory);

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Migration_Version1DatabaseWithUsers_UpgradesToTheLatestVersionAndKeepsThem()
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
        await database.Gateway.SetMappedCredentialAsync("carol", "10.0.0.5:3389", "svc", "LAB", Encoding.Unicode.GetBytes("Backend-Secret1"), key, Ct);

        MappedCredential stored = (await database.Gateway.GetMappedCredentialAsync("carol", Ct))!;

        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(Path.Combine(_directory, GatewayKey.DefaultFileName)));
        Assert.DoesNotContain("Backend-Secret1", Encoding.Unicode.GetString(stored.SealedPassword));
        Assert.Equal("Backend-Secret1", Encoding.Unicode.GetString(GatewayStore.OpenPassword(stored, "carol", "10.0.0.5:3389", key)));
        Assert.Equal("10.0.0.5:3389", stored.Backend);
        Assert.Throws<AuthenticationTagMismatchException>(() => GatewayStore.OpenPassword(stored, "dave", "10.0.0.5:3389", key));
        string other = Path.Combine(_directory, "other");
        Directory.CreateDirectory(other);
        using (GatewayKey otherKey = GatewayKey.Load(other, null, create: true))
        {
            Assert.Throws<AuthenticationTagMismatchException>(() => GatewayStore.OpenPassword(stored, "carol", "10.0.0.5:3389", otherKey));
        }

        await database.Users.RemoveAsync("carol", Ct);
        Assert.Null(await database.Gateway.GetMappedCredentialAsync("carol", Ct));
    }

    [Theory]
    [InlineData("UPDATE mapped_credentials SET user_id = (SELECT id FROM users WHERE name_key = 'DAVE');", "dave")] // moved to another user
    [InlineData("UPDATE users SET backend = '10.0.0.66:3389' WHERE name_key = 'CAROL';", "carol")] // the user relayed elsewhere
    [InlineData("UPDATE mapped_credentials SET backend = '10.0.0.66:3389'; UPDATE users SET backend = '10.0.0.66:3389' WHERE name_key = 'CAROL';", "carol")] // both
    [InlineData("UPDATE mapped_credentials SET backend_user = 'administrator';", "carol")]
    [InlineData("UPDATE mapped_credentials SET backend_domain = 'OTHER';", "carol")]
    public async Task MappedCredential_ABoundValueChangedInTheDatabase_NoLongerOpens(string tampering, string user)
    {
        string path = Path.Combine(_directory, "rdpnla.db");
        await using (RdpNlaDatabase database = await RdpNlaDatabase.OpenAsync(path, cancellationToken: Ct))
        {
            await database.Users.AddAsync("carol", NtlmCrypto.NtOwfV1("x"), Ct);
            await database.Users.AddAsync("dave", NtlmCrypto.NtOwfV1("x"), Ct);
            await database.Gateway.SetUserBackendAsync("carol", "10.0.0.5:3389", Ct);
            await database.Gateway.SetUserBackendAsync("dave", "10.0.0.5:3389", Ct);
            using GatewayKey key = GatewayKey.Load(_directory, null, create: true);
            await database.Gateway.SetMappedCredentialAsync("carol", "10.0.0.5:3389", "svc", "LAB", Encoding.Unicode.GetBytes("Backend-Secret1"), key, Ct);
            Assert.Equal("Backend-Secret1", Encoding.Unicode.GetString(await OpenAsync(database, "carol", key)));
        }

        using (var connection = new SqliteConnection($"Data Source={path};Pooling=False"))
        {
            await connection.OpenAsync(Ct);
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = tampering;
            Assert.True(await command.ExecuteNonQueryAsync(Ct) > 0);
        }

        await using (RdpNlaDatabase database = await RdpNlaDatabase.OpenAsync(path, cancellationToken: Ct))
        {
            using GatewayKey key = GatewayKey.Load(_directory, null, create: false);
            await Assert.ThrowsAnyAsync<CryptographicException>(() => OpenAsync(database, user, key));
        }
    }

    /// <summary>A domain account's mapped password (docs/active-directory.md) is bound like a local user's, to its account key.</summary>
    [Theory]
    [InlineData(null, "LAB\\ALICE", "10.0.0.5:3389")]
    [InlineData("UPDATE domain_mapped_credentials SET account_key = 'LAB\\BOB';", "LAB\\BOB", "10.0.0.5:3389")] // moved to another account
    [InlineData("UPDATE domain_mapped_credentials SET backend_user = 'administrator';", "LAB\\ALICE", "10.0.0.5:3389")]
    [InlineData(null, "LAB\\ALICE", "10.0.0.66:3389")] // the account relayed to another backend
    [InlineData(null, "ALICE", "10.0.0.5:3389")] // the local user of the same name
    public async Task DomainMappedCredential_IsBoundToTheAccountKeyBackendAndBackendAccount(string? tampering, string account, string backend)
    {
        string path = Path.Combine(_directory, "rdpnla.db");
        await using RdpNlaDatabase database = await RdpNlaDatabase.OpenAsync(path, cancellationToken: Ct);
        using GatewayKey key = GatewayKey.Load(_directory, null, create: true);
        await database.Gateway.SetDomainMappedCredentialAsync("LAB\\ALICE", "alice@lab.test", "10.0.0.5:3389", "svc", "BACKEND", Encoding.Unicode.GetBytes("Backend-Secret1"), key, Ct);
        if (tampering is not null)
        {
            using var connection = new SqliteConnection($"Data Source={path};Pooling=False");
            await connection.OpenAsync(Ct);
            using SqliteCommand command = connection.CreateCommand();
            command.CommandText = tampering;
            Assert.True(await command.ExecuteNonQueryAsync(Ct) > 0);
        }

        MappedCredential? stored = await database.Gateway.GetDomainMappedCredentialAsync(account, Ct) ?? await database.Gateway.GetDomainMappedCredentialAsync("LAB\\ALICE", Ct);
        Assert.NotNull(stored);
        Assert.DoesNotContain("Backend-Secret1", Encoding.Unicode.GetString(stored.SealedPassword));
        if (tampering is null && account == "LAB\\ALICE" && backend == "10.0.0.5:3389")
        {
            Assert.Equal("Backend-Secret1", Encoding.Unicode.GetString(GatewayStore.OpenPassword(stored, account, backend, key)));
            Assert.Equal([new DomainMappedAccount("LAB\\ALICE", "alice@lab.test", "svc", "BACKEND", "10.0.0.5:3389", stored.Updated)], await database.Gateway.ListDomainMappedCredentialsAsync(Ct));
            Assert.True(await database.Gateway.RemoveDomainMappedCredentialAsync("LAB\\ALICE", Ct));
            Assert.Null(await database.Gateway.GetDomainMappedCredentialAsync("LAB\\ALICE", Ct));
            return;
        }

        Assert.ThrowsAny<CryptographicException>(() => GatewayStore.OpenPassword(stored, account, backend, key));
    }

    [Fact]
    public async Task MappedCredential_SealedBeforeTheBackendBinding_IsRefusedWithWhatToDo()
    {
        await using RdpNlaDatabase database = await RdpNlaDatabase.OpenAsync(Path.Combine(_directory, "rdpnla.db"), cancellationToken: Ct);
        using GatewayKey key = GatewayKey.Load(_directory, null, create: true);
        var legacy = new MappedCredential("svc", "", [1, .. new byte[12 + 16 + 4]], DateTimeOffset.UnixEpoch);

        CryptographicException error = Assert.Throws<CryptographicException>(() => GatewayStore.OpenPassword(legacy, "carol", "10.0.0.5:3389", key));

        Assert.Contains("set the user's mapped credential again", error.Message, StringComparison.Ordinal);
    }

    /// <summary>What the gateway does: the password of the user's mapped credentials, for the backend the user is relayed to now.</summary>
    private static async Task<byte[]> OpenAsync(RdpNlaDatabase database, string user, GatewayKey key)
    {
        MappedCredential stored = (await database.Gateway.GetMappedCredentialAsync(user, Ct))!;
        string backend = (await database.Gateway.GetUserBackendAsync(user, Ct))!;
        return GatewayStore.OpenPassword(stored, user, backend, key);
    }

    [Fact]
    public async Task ProtocolPin_KeepsTheStrongestSelection_AndForgettingItKeepsTheSecuritySetting()
    {
        await using RdpNlaDatabase database = await RdpNlaDatabase.OpenAsync(Path.Combine(_directory, "rdpnla.db"), cancellationToken: Ct);
        await database.Gateway.SetBackendSecurityAsync("Host:3389", BackendSecurity.Negotiate, Ct);
        await database.Gateway.RecordProtocolAsync("host:3389", "HYBRID_EX", 3, new string('A', 64), Ct);
        await database.Gateway.RecordProtocolAsync("host:3389", "SSL", 1, new string('B', 64), Ct);

        BackendSecurityRecord pinned = (await database.Gateway.GetBackendSecurityAsync("HOST:3389", Ct))!;
        Assert.Equal((BackendSecurity?)BackendSecurity.Negotiate, pinned.Security);
        Assert.Equal(("HYBRID_EX", 3, new string('A', 64)), (pinned.StrongestProtocol, pinned.StrongestRank, pinned.StrongestSha256));

        Assert.True(await database.Gateway.ForgetProtocolAsync("host:3389", Ct));
        Assert.False(await database.Gateway.ForgetProtocolAsync("host:3389", Ct));
        BackendSecurityRecord forgotten = (await database.Gateway.GetBackendSecurityAsync("host:3389", Ct))!;
        Assert.Equal((BackendSecurity?)BackendSecurity.Negotiate, forgotten.Security);
        Assert.Null(forgotten.StrongestProtocol);
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
