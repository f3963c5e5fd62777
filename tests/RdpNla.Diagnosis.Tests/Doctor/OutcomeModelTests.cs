using RdpNla.Diagnosis;
using RdpNla.Diagnosis.Model;
using RdpNla.Protocol;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Rdp;

namespace RdpNla.Tests.Doctor;

public class OutcomeModelTests
{
    private static readonly EncryptionOraclePolicy Force = EncryptionOraclePolicy.ForceUpdatedClients;
    private static readonly EncryptionOraclePolicy Mitigated = EncryptionOraclePolicy.Mitigated;
    private static readonly EncryptionOraclePolicy Vulnerable = EncryptionOraclePolicy.Vulnerable;

    private static ServerSettings Server(int version, EncryptionOraclePolicy policy, SecurityLayer layer = SecurityLayer.Negotiate, bool ua = true) => new(layer, ua, version, policy);

    private static string Label(ServerSettings server, ClientSettings client, AccountState account = AccountState.Ok) => OutcomeModel.Predict(server, client, account).Label;

    [Fact]
    public void EnumerateCells_CoversEveryCombinationOnce()
    {
        List<ModelCell> cells = [.. OutcomeModel.EnumerateCells()];

        Assert.Equal(3 * 2 * 2 * 3 * 3 * 3 * 7, cells.Count);
        Assert.Equal(cells.Count, cells.Select(c => c.Key).Distinct().Count());
        Assert.All(cells, c => Assert.NotNull(OutcomeModel.Predict(c).Label));
    }

    // KB4093492 compatibility table (docs/interop.md#encryption-oracle): rows = server, columns = client.
    [Theory]
    [InlineData(4, 1, "unpatched", 1, "success")] // unpatched both: allowed (vulnerable)
    [InlineData(4, 1, "patched", 0, "encryption-oracle-server-unpatched")] // client Force: blocked
    [InlineData(4, 1, "patched", 1, "encryption-oracle-server-unpatched")] // client Mitigated: blocked
    [InlineData(4, 1, "patched", 2, "success")] // client Vulnerable: allowed (exposed)
    [InlineData(6, 0, "unpatched", 1, "encryption-oracle-client-unpatched")] // server Force: blocked
    [InlineData(6, 0, "patched", 0, "success")]
    [InlineData(6, 0, "patched", 1, "success")]
    [InlineData(6, 0, "patched", 2, "success")]
    [InlineData(6, 1, "unpatched", 1, "success")] // server Mitigated accepts unpatched clients
    [InlineData(6, 1, "patched", 0, "success")]
    [InlineData(6, 2, "unpatched", 1, "success")]
    [InlineData(6, 2, "patched", 2, "success")]
    [InlineData(4, 0, "unpatched", 0, "success")] // an unpatched server has no policy to apply
    public void Predict_Kb4093492Matrix(int serverVersion, int serverPolicy, string client, int clientPolicy, string expected)
    {
        var clientSettings = new ClientSettings(client == "patched" ? ClientCredSsp.Patched : ClientCredSsp.Unpatched, (EncryptionOraclePolicy)clientPolicy);

        Assert.Equal(expected, Label(Server(serverVersion, (EncryptionOraclePolicy)serverPolicy), clientSettings));
    }

    [Fact]
    public void Predict_ForceServerRefusesUnpatchedClient_BeforeAnyAccountCheckWithNotSupported()
    {
        foreach (AccountState account in Enum.GetValues<AccountState>())
        {
            PredictedOutcome outcome = OutcomeModel.Predict(Server(6, Force), new ClientSettings(ClientCredSsp.Unpatched, Mitigated), account);
            Assert.Equal(Cause.EncryptionOracleClientUnpatched, outcome.Cause);
            Assert.Equal(NtStatus.NotSupported, outcome.ErrorCode);
        }
    }

    [Fact]
    public void Predict_PatchedClientRefusesUnpatchedServer_BeforeAnyAccountCheck()
    {
        foreach (AccountState account in Enum.GetValues<AccountState>())
        {
            PredictedOutcome outcome = OutcomeModel.Predict(Server(4, Mitigated), ClientSettings.WindowsDefault, account);
            Assert.Equal((Cause.EncryptionOracleServerUnpatched, 4), (outcome.Cause, outcome.ServerCredSspVersion));
        }
    }

    [Theory]
    [InlineData(nameof(AccountState.Ok), null, null)]
    [InlineData(nameof(AccountState.WrongPassword), Cause.WrongCredentials, NtStatus.LogonFailure)]
    [InlineData(nameof(AccountState.LockedOut), Cause.AccountLocked, NtStatus.AccountLockedOut)]
    [InlineData(nameof(AccountState.Disabled), Cause.AccountDisabled, NtStatus.AccountDisabled)]
    [InlineData(nameof(AccountState.PasswordExpired), Cause.PasswordExpired, NtStatus.PasswordExpired)]
    [InlineData(nameof(AccountState.MustChangePassword), Cause.PasswordMustChange, NtStatus.PasswordMustChange)]
    [InlineData(nameof(AccountState.RemoteLogonDenied), Cause.RemoteLogonDenied, null)]
    public void Predict_AccountStates(string accountName, Cause? cause, NtStatus? status)
    {
        // AccountState is internal, so a public theory takes its name.
        AccountState account = Enum.Parse<AccountState>(accountName);
        PredictedOutcome outcome = OutcomeModel.Predict(ServerSettings.WindowsDefault, ClientSettings.WindowsDefault, account);

        Assert.Equal((cause, status), (outcome.Cause, outcome.ErrorCode));
        Assert.True(outcome.StatusDelivered);
    }

    [Fact]
    public void Predict_RemoteLogonDenied_EuarWithHybridExClosedWithHybrid()
    {
        PredictedOutcome ex = OutcomeModel.Predict(ServerSettings.WindowsDefault, ClientSettings.WindowsDefault, AccountState.RemoteLogonDenied);
        PredictedOutcome hybrid = OutcomeModel.Predict(ServerSettings.WindowsDefault, ClientSettings.WindowsDefault with { RequestHybridEx = false }, AccountState.RemoteLogonDenied);

        Assert.Equal((SecurityProtocols.HybridEx, EarlyUserAuthorizationResult.AuthzAccessDenied, ConnectionPhase.Authorization), (ex.Selected!.Value, ex.EarlyUserAuthorizationResult!.Value, ex.Phase));
        Assert.Equal((SecurityProtocols.Hybrid, (uint?)null, Cause.RemoteLogonDenied), (hybrid.Selected!.Value, hybrid.EarlyUserAuthorizationResult, hybrid.Cause));
    }

    [Theory]
    [InlineData(SecurityLayer.Rdp, false, "none", "server-refuses-nla")]
    [InlineData(SecurityLayer.Rdp, false, "patched", "server-refuses-nla")]
    [InlineData(SecurityLayer.Rdp, true, "none", "nla-required-client-unsupported")] // layer 0 + UA=1 behaves as UA=1 (undocumented for Windows)
    [InlineData(SecurityLayer.Rdp, true, "patched", "success")]
    [InlineData(SecurityLayer.Negotiate, false, "none", "no-nla-tls-only")]
    [InlineData(SecurityLayer.Tls, false, "none", "no-nla-tls-only")]
    [InlineData(SecurityLayer.Negotiate, true, "none", "nla-required-client-unsupported")]
    [InlineData(SecurityLayer.Tls, true, "none", "nla-required-client-unsupported")]
    [InlineData(SecurityLayer.Tls, false, "patched", "success")]
    public void Predict_SecurityLayerAndUserAuthentication(SecurityLayer layer, bool ua, string client, string expected)
    {
        var clientSettings = new ClientSettings(client == "none" ? ClientCredSsp.None : ClientCredSsp.Patched, Mitigated);

        Assert.Equal(expected, Label(Server(6, Mitigated, layer, ua), clientSettings));
    }

    [Fact]
    public void Predict_NoCredSspClient_RequestsSslOnlyAndGetsHybridRequired()
    {
        PredictedOutcome outcome = OutcomeModel.Predict(ServerSettings.WindowsDefault, new ClientSettings(ClientCredSsp.None, Mitigated), AccountState.Ok);

        Assert.Equal((SecurityProtocols.Ssl, NegotiationFailureCode.HybridRequiredByServer), (outcome.Requested, outcome.FailureCode!.Value));
    }

    [Fact]
    public void Predict_Version2Or5WithoutErrorCode_AccountFailureIsNotObservable()
    {
        // Windows XP SP3 with CredSSP (version 2) against a patched server: errorCode cannot be carried.
        PredictedOutcome outcome = OutcomeModel.Predict(ServerSettings.WindowsDefault, new ClientSettings(ClientCredSsp.Unpatched, Mitigated) { Version = 2 }, AccountState.WrongPassword);

        Assert.Equal((Cause.WrongCredentials, false, Cause.AuthenticationFailed), (outcome.Cause, outcome.StatusDelivered, outcome.ObservableCause));
    }

    [Fact]
    public void Predict_ClientVulnerableAgainstUnpatchedServer_SucceedsWithEchoBinding()
    {
        PredictedOutcome outcome = OutcomeModel.Predict(Server(4, Force), new ClientSettings(ClientCredSsp.Patched, Vulnerable), AccountState.Ok);

        Assert.Null(outcome.Cause);
        Assert.Contains(outcome.Reasoning, r => r.Contains("public-key echo", StringComparison.Ordinal));
    }
}
