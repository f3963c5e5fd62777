using RdpNla.Tests.Accounts;
using RdpNla.Tests.Support;
using RdpNla.Protocol.Ntlm;
using RdpNla.Server.Accounts;
using RdpNla.Server.Portal;
using RdpNla.Server.Storage;

namespace RdpNla.Tests.Storage;

/// <summary>
/// The contract of <see cref="SelfServiceStore"/> (second-factor requirements, password history, TOTP authenticators),
/// run against SQLite and a real PostgreSQL 15; what one handle writes, another handle on the same store reads.
/// </summary>
public abstract class SelfServiceStoreContractTests : StoreTestBase
{
    private SelfServiceStore SelfService => Store.SelfService;

    [Fact]
    public async Task MfaRequired_OnTheUserOrOneOfItsGroups_SeenByAnotherInstance()
    {
        await Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw"), Ct);
        await Users.AddAsync("bob", NtlmCrypto.NtOwfV1("pw"), Ct);
        await Store.Gateway.AddGroupAsync("Admins", null, Ct);
        await Store.Gateway.AddMemberAsync("admins", "bob", Ct);
        RdpNlaStore other = await OpenAnotherAsync();

        Assert.True(await SelfService.SetUserMfaRequiredAsync("ALICE", true, Ct));
        Assert.False(await SelfService.SetUserMfaRequiredAsync("nobody", true, Ct));
        Assert.True(await SelfService.SetGroupMfaRequiredAsync("ADMINS", true, Ct));
        Assert.False(await SelfService.SetGroupMfaRequiredAsync("nogroup", true, Ct));

        Assert.True(await other.SelfService.IsMfaRequiredAsync("alice", Ct));
        Assert.True(await other.SelfService.IsMfaRequiredAsync("Bob", Ct));
        Assert.False(await other.SelfService.IsMfaRequiredAsync("nobody", Ct));
        await SelfService.SetUserMfaRequiredAsync("alice", false, Ct);
        await SelfService.SetGroupMfaRequiredAsync("admins", false, Ct);
        Assert.False(await other.SelfService.IsMfaRequiredAsync("alice", Ct));
        Assert.False(await other.SelfService.IsMfaRequiredAsync("bob", Ct));
    }

    [Fact]
    public async Task PasswordHistory_KeepsTheMostRecentAndFindsOnlyThose()
    {
        UserAccount alice = await Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw0"), Ct);
        RdpNlaStore other = await OpenAnotherAsync();
        for (int i = 1; i <= 4; i++)
        {
            await (i % 2 == 0 ? other : Store).SelfService.RecordReplacedAsync(alice.Id, NtlmCrypto.NtOwfV1("pw" + i), keep: 3, Ct);
        }

        Assert.False(await SelfService.IsInHistoryAsync(alice.Id, NtlmCrypto.NtOwfV1("pw1"), 10, Ct));
        Assert.True(await SelfService.IsInHistoryAsync(alice.Id, NtlmCrypto.NtOwfV1("pw2"), 3, Ct));
        Assert.False(await SelfService.IsInHistoryAsync(alice.Id, NtlmCrypto.NtOwfV1("pw2"), 2, Ct));
        Assert.True(await other.SelfService.IsInHistoryAsync(alice.Id, NtlmCrypto.NtOwfV1("pw4"), 1, Ct));
        Assert.False(await SelfService.IsInHistoryAsync(alice.Id, NtlmCrypto.NtOwfV1("pw4"), 0, Ct));
        await SelfService.RecordReplacedAsync(alice.Id, NtlmCrypto.NtOwfV1("pw5"), keep: 0, Ct);
        Assert.False(await SelfService.IsInHistoryAsync(alice.Id, NtlmCrypto.NtOwfV1("pw4"), 10, Ct));
    }

    [Fact]
    public async Task Totp_PendingConfirmedThenEachStepOnce_AcrossInstances()
    {
        await Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw"), Ct);
        RdpNlaStore other = await OpenAnotherAsync();

        Assert.True(await SelfService.SetPendingTotpAsync("alice", [1, 2, 3], Ct));
        Assert.False(await SelfService.SetPendingTotpAsync("nobody", [1], Ct));
        Assert.True(await SelfService.SetPendingTotpAsync("ALICE", [4, 5, 6], Ct));
        Assert.Equal(("040506", false, 0L), Unpack(await other.SelfService.GetTotpAsync("alice", Ct)));
        Assert.False(await other.SelfService.ConsumeStepAsync("alice", 100, confirm: false, Ct));
        Assert.True(await other.SelfService.ConsumeStepAsync("alice", 100, confirm: true, Ct));
        Assert.False(await SelfService.ConsumeStepAsync("alice", 101, confirm: true, Ct));
        Assert.False(await SelfService.SetPendingTotpAsync("alice", [7], Ct));
        Assert.Equal(("040506", true, 100L), Unpack(await SelfService.GetTotpAsync("alice", Ct)));

        Assert.False(await SelfService.ConsumeStepAsync("alice", 100, confirm: false, Ct));
        Assert.True(await SelfService.ConsumeStepAsync("alice", 102, confirm: false, Ct));
        Assert.False(await other.SelfService.ConsumeStepAsync("alice", 102, confirm: false, Ct));
        Assert.False(await other.SelfService.ConsumeStepAsync("alice", 101, confirm: false, Ct));

        Assert.True(await other.SelfService.RemoveTotpAsync("alice", Ct));
        Assert.False(await SelfService.RemoveTotpAsync("alice", Ct));
        Assert.Null(await SelfService.GetTotpAsync("alice", Ct));
    }

    [Fact]
    public async Task RemovingTheUser_RemovesItsHistoryAndAuthenticator()
    {
        UserAccount alice = await Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw"), Ct);
        await SelfService.RecordReplacedAsync(alice.Id, NtlmCrypto.NtOwfV1("old"), keep: 5, Ct);
        await SelfService.SetPendingTotpAsync("alice", [1], Ct);

        await Users.RemoveAsync("alice", Ct);
        UserAccount again = await Users.AddAsync("alice", NtlmCrypto.NtOwfV1("pw"), Ct);

        Assert.Null(await SelfService.GetTotpAsync("alice", Ct));
        Assert.False(await SelfService.IsInHistoryAsync(again.Id, NtlmCrypto.NtOwfV1("old"), 5, Ct));
        Assert.False(await SelfService.IsInHistoryAsync(alice.Id, NtlmCrypto.NtOwfV1("old"), 5, Ct));
    }

    private static (string, bool, long) Unpack(StoredTotp? totp) => (Convert.ToHexString(totp!.SealedSecret), totp.Confirmed, totp.LastStep);
}
