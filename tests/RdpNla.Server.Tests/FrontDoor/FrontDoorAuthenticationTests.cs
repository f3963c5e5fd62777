using Microsoft.Extensions.Time.Testing;
using RdpNla.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Protocol.Rdp;
using RdpNla.Server.Accounts;
using RdpNla.Server.Audit;

namespace RdpNla.Tests.FrontDoor;

/// <summary>The front door end to end with our own client: CredSSP, account policy, HYBRID_EX, audit.</summary>
public class FrontDoorAuthenticationTests
{
    private const string Password = "Passw0rd!";
    private const SecurityProtocols Nla = SecurityProtocols.Ssl | SecurityProtocols.Hybrid;
    private const SecurityProtocols NlaEx = SecurityProtocols.Ssl | SecurityProtocols.Hybrid | SecurityProtocols.HybridEx;

    private static async Task<TestFrontDoor> StartWithUsersAsync(TimeProvider? timeProvider = null, AccountPolicyOptions? policy = null)
    {
        TestFrontDoor door = await TestFrontDoor.StartAsync(policy: policy, timeProvider: timeProvider);
        await door.AddUserAsync("alice", Password);
        await door.AddUserAsync("locked", Password, a => a with { LockedUntil = DateTimeOffset.MaxValue });
        await door.AddUserAsync("disabled", Password, a => a with { Disabled = true });
        await door.AddUserAsync("expired", Password, a => a with { PasswordExpired = true });
        await door.AddUserAsync("mustchange", Password, a => a with { MustChangePassword = true });
        await door.AddUserAsync("denied", Password, a => a with { RemoteLogonDenied = true });
        return door;
    }

    [Theory]
    [InlineData("alice", Password, "", null)]
    [InlineData("alice", Password, "LAB", null)]
    [InlineData("ALICE", Password, "lab", null)]
    [InlineData("alice@LAB", Password, "", null)]
    [InlineData("alice", "wrong", "", NtStatus.LogonFailure)]
    [InlineData("nobody", Password, "", NtStatus.LogonFailure)]
    [InlineData("alice", Password, "OTHERDOMAIN", NtStatus.LogonFailure)]
    [InlineData("locked", Password, "", NtStatus.AccountLockedOut)]
    [InlineData("locked", "wrong", "", NtStatus.AccountLockedOut)]
    [InlineData("disabled", Password, "", NtStatus.AccountDisabled)]
    [InlineData("disabled", "wrong", "", NtStatus.LogonFailure)]
    [InlineData("expired", Password, "", NtStatus.PasswordExpired)]
    [InlineData("mustchange", Password, "", NtStatus.PasswordMustChange)]
    public async Task Connect_AccountStates_AnswerWithTheWindowsNtStatusAndAudit(string user, string password, string domain, NtStatus? expected)
    {
        await using TestFrontDoor door = await StartWithUsersAsync();

        TestRdpOutcome outcome = await TestRdpClient.ConnectAsync(door.Port, Nla, user, password, domain, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(SecurityProtocols.Hybrid, outcome.Confirm!.Response!.SelectedProtocol);
        Assert.Equal(6, outcome.ServerCredSspVersion);
        AuditEntry row = Assert.Single(await door.WaitForAuditAsync(1));
        Assert.Equal(user, row.UserName);
        Assert.Equal(domain, row.Domain);
        Assert.Equal(6, row.CredSspVersion);
        Assert.Equal("HYBRID", row.SecurityProtocol);
        Assert.Equal("127.0.0.1", row.ClientAddress);
        if (expected is null)
        {
            Assert.Equal(NlaStatus.Completed, outcome.CredSspStatus);
            Assert.Equal(AuditOutcome.Success, row.Outcome);
        }
        else
        {
            Assert.Equal(NlaStatus.Failed, outcome.CredSspStatus);
            Assert.Equal(expected, outcome.ServerErrorCode);
            Assert.Equal(AuditOutcome.Failure, row.Outcome);
            Assert.Equal(expected, row.Status);
        }
    }

    [Theory]
    [InlineData("alice", true)]
    [InlineData("denied", false)]
    public async Task Connect_HybridEx_SendsEarlyUserAuthorizationResult(string user, bool allowed)
    {
        await using TestFrontDoor door = await StartWithUsersAsync();

        TestRdpOutcome outcome = await TestRdpClient.ConnectAsync(door.Port, NlaEx, user, Password, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(SecurityProtocols.HybridEx, outcome.Confirm!.Response!.SelectedProtocol);
        Assert.Equal(NlaStatus.Completed, outcome.CredSspStatus);
        Assert.NotNull(outcome.EarlyUserAuthorization);
        Assert.Equal(allowed, outcome.EarlyUserAuthorization.Value.IsSuccess);
        if (!allowed)
        {
            Assert.Equal(EarlyUserAuthorizationResult.AuthzAccessDenied, outcome.EarlyUserAuthorization.Value.AuthorizationResult);
        }

        AuditEntry row = Assert.Single(await door.WaitForAuditAsync(1));
        Assert.Equal(allowed ? AuditOutcome.Success : AuditOutcome.Refused, row.Outcome);
        Assert.Equal("HYBRID_EX", row.SecurityProtocol);
    }

    [Fact]
    public async Task Connect_DeniedLogonOverHybrid_AuthenticatesThenIsDisconnectedAndAudited()
    {
        await using TestFrontDoor door = await StartWithUsersAsync();

        TestRdpOutcome outcome = await TestRdpClient.ConnectAsync(door.Port, Nla, "denied", Password, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(NlaStatus.Completed, outcome.CredSspStatus);
        AuditEntry row = Assert.Single(await door.WaitForAuditAsync(1));
        Assert.Equal(AuditOutcome.Refused, row.Outcome);
        Assert.Equal(NtStatus.LogonTypeNotGranted, row.Status);
        Assert.Contains("remote logon denied", row.Reason, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Connect_WrongPasswordsReachThreshold_LocksOutAndReleasesAfterDuration()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var policy = new AccountPolicyOptions { LockoutThreshold = 3, LockoutWindow = TimeSpan.FromMinutes(10), LockoutDuration = TimeSpan.FromMinutes(30) };
        await using TestFrontDoor door = await StartWithUsersAsync(clock, policy);
        CancellationToken ct = TestContext.Current.CancellationToken;

        // Wrong passwords at t = 0, 1 and 2 minutes: the third reaches the threshold and locks until t = 32.
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(NtStatus.LogonFailure, (await TestRdpClient.ConnectAsync(door.Port, Nla, "alice", "wrong", cancellationToken: ct)).ServerErrorCode);
            clock.Advance(TimeSpan.FromMinutes(1));
        }

        // Locked now, even with the right password (Windows reports a lockout whatever the password); still at t = 31.
        Assert.Equal(NtStatus.AccountLockedOut, (await TestRdpClient.ConnectAsync(door.Port, Nla, "alice", Password, cancellationToken: ct)).ServerErrorCode);
        clock.Advance(TimeSpan.FromMinutes(28));
        Assert.Equal(NtStatus.AccountLockedOut, (await TestRdpClient.ConnectAsync(door.Port, Nla, "alice", Password, cancellationToken: ct)).ServerErrorCode);
        clock.Advance(TimeSpan.FromMinutes(1));
        Assert.Equal(NlaStatus.Completed, (await TestRdpClient.ConnectAsync(door.Port, Nla, "alice", Password, cancellationToken: ct)).CredSspStatus);

        IReadOnlyList<AuditEntry> rows = await door.WaitForAuditAsync(6);
        Assert.Equal(
            [NtStatus.LogonFailure, NtStatus.LogonFailure, NtStatus.LogonFailure, NtStatus.AccountLockedOut, NtStatus.AccountLockedOut, NtStatus.Success],
            rows.Select(r => r.Status).ToArray());
    }

    [Fact]
    public async Task Connect_FailuresSpreadBeyondTheWindow_NeverLockOut()
    {
        var clock = new FakeTimeProvider(DateTimeOffset.UtcNow);
        var policy = new AccountPolicyOptions { LockoutThreshold = 2, LockoutWindow = TimeSpan.FromMinutes(5), LockoutDuration = TimeSpan.FromMinutes(30) };
        await using TestFrontDoor door = await StartWithUsersAsync(clock, policy);
        CancellationToken ct = TestContext.Current.CancellationToken;

        for (int i = 0; i < 4; i++)
        {
            Assert.Equal(NtStatus.LogonFailure, (await TestRdpClient.ConnectAsync(door.Port, Nla, "alice", "wrong", cancellationToken: ct)).ServerErrorCode);
            clock.Advance(TimeSpan.FromMinutes(6));
        }

        Assert.Equal(NlaStatus.Completed, (await TestRdpClient.ConnectAsync(door.Port, Nla, "alice", Password, cancellationToken: ct)).CredSspStatus);
    }

    [Theory]
    [InlineData(2)]
    [InlineData(4)]
    public async Task Connect_UnpatchedClientAgainstForceUpdatedClients_IsRefusedWithNotSupported(int clientVersion)
    {
        await using TestFrontDoor door = await TestFrontDoor.StartAsync(o => o.AllowEncryptionOracle = Protocol.CredSsp.EncryptionOraclePolicy.ForceUpdatedClients);
        await door.AddUserAsync("alice", Password);

        TestRdpOutcome outcome = await TestRdpClient.ConnectAsync(door.Port, Nla, "alice", Password, maxVersion: clientVersion, cancellationToken: TestContext.Current.CancellationToken);

        Assert.Equal(NlaStatus.Failed, outcome.CredSspStatus);
        // errorCode reaches only clients whose version understands it (3, 4, 6): a version 2 client sees the close.
        Assert.Equal(clientVersion is 3 or 4 ? NtStatus.NotSupported : null, outcome.ServerErrorCode);
        AuditEntry row = Assert.Single(await door.WaitForAuditAsync(1));
        Assert.Equal(NtStatus.NotSupported, row.Status);
        Assert.Equal(clientVersion, row.CredSspVersion);
    }
}
