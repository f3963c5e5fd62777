using System.Diagnostics;
using System.Net;
using System.Text;
using System.Text.Json;
using OpenQA.Selenium;
using RdpNla.Protocol;
using RdpNla.Server.Accounts;
using RdpNla.Server.Audit;
using RdpNla.Tests.Gateway;
using RdpNla.Tests.Support;

namespace RdpNla.Tests.Portal;

/// <summary>xrdp behind a front door whose portal has an admin page for the group <c>rdpadmins</c>.</summary>
public sealed class PortalAdminXrdpFixture : XrdpGatewayFixture
{
    public const string AdminGroup = "rdpadmins";
    public const string Admin = "portaladmin";
    public const string AdminPassword = "Adm1n-Passw0rd";

    protected override void Configure(Server.FrontDoor.FrontDoorOptions options)
    {
        options.Portal.Listen = "127.0.0.1:0";
        options.Portal.AdminGroup = AdminGroup;
        options.Portal.AdminAttemptsPerMinute = 100;
    }
}

/// <summary>
/// The admin page end to end: xfreerdp fails a logon, another xfreerdp holds a session relayed to xrdp, and in headless
/// Chromium an administrator sees the failed attempt's audit row and the live session; a user outside the group is
/// refused, and the JSON twin returns the same rows and session.
/// </summary>
[Collection(GatewayXrdpCollection.Name)]
public class PortalAdminXrdpTests(PortalAdminXrdpFixture fixture, XvfbDisplay display) : IClassFixture<PortalAdminXrdpFixture>
{
    [Fact]
    public async Task Admin_SeesTheFailedXfreerdpLogon_AndTheLiveXrdpSession_NonAdminIsRefused_JsonTwinAgrees()
    {
        TestFrontDoor door = fixture.Door;
        string user = fixture.Backend.UserName;
        await door.AddUserAsync(PortalAdminXrdpFixture.Admin, PortalAdminXrdpFixture.AdminPassword);
        await door.Database.Gateway.AddGroupAsync(PortalAdminXrdpFixture.AdminGroup, null, TestContext.Current.CancellationToken);
        Assert.True(await door.Database.Gateway.AddMemberAsync(PortalAdminXrdpFixture.AdminGroup, PortalAdminXrdpFixture.Admin, TestContext.Current.CancellationToken));

        // A failed logon: xfreerdp with a wrong password gets STATUS_LOGON_FAILURE.
        ProcessResult failed = await Xfreerdp.RunAsync(
            display,
            [$"/v:{door.Address}", "/cert:ignore", "+auth-only", $"/u:{user}", "/p:Wrong-Passw0rd", "/sec:nla"],
            TestContext.Current.CancellationToken,
            TimeSpan.FromSeconds(90));
        Assert.True(failed.HasLine("STATUS_LOGON_FAILURE"), failed.Output);
        AuditEntry failure = await door.LastAuditAsync(r => r.UserName == user && r.Outcome == AuditOutcome.Failure);
        Assert.Equal(NtStatus.LogonFailure, failure.Status);

        var output = new StringBuilder();
        (FrameBufferXvfb xvfb, Process client) = await GatewayPeers.StartXfreerdpSessionAsync(door.Address, user, fixture.Backend.Password, output);
        try
        {
            Assert.True(
                await fixture.Backend.WaitForSesmanLineAsync($"Session started successfully for user {user}", TimeSpan.FromSeconds(45)),
                $"sesman:\n{fixture.Backend.SesmanLog}\nxfreerdp:\n{GatewayPeers.Snapshot(output)}\ngateway:\n{door.LogText}");

            using HeadlessChromium browser = HeadlessChromium.Start();
            browser.Open(door.PortalUrl());
            Assert.NotEmpty(browser.Driver.FindElements(By.CssSelector("a[href='/admin']")));

            // Outside the group: the right password is not enough.
            browser.Open(door.PortalUrl() + "admin");
            browser.Fill("user", user);
            browser.Fill("password", fixture.Backend.Password);
            browser.Submit();
            Assert.Equal($"{user} is not an administrator of this portal", browser.Text("result"));
            Assert.Empty(browser.Driver.FindElements(By.Id("audit")));
            Assert.Empty(browser.Driver.FindElements(By.Id("sessions")));

            // The administrator: every row, then the failures of the user.
            browser.Fill("user", PortalAdminXrdpFixture.Admin);
            browser.Fill("password", PortalAdminXrdpFixture.AdminPassword);
            browser.Submit();
            string sessions = browser.Text("sessions");
            Assert.Contains(user, sessions, StringComparison.Ordinal);
            Assert.Contains(fixture.Backend.Address, sessions, StringComparison.Ordinal);
            Assert.Contains("relaying", sessions, StringComparison.Ordinal);
            Assert.Contains("127.0.0.1:", sessions, StringComparison.Ordinal);
            string audit = browser.Text("audit");
            Assert.Contains("STATUS_LOGON_FAILURE", audit, StringComparison.Ordinal);
            Assert.Contains(failure.Reason, audit, StringComparison.Ordinal);
            Assert.Contains($"not a member of {PortalAdminXrdpFixture.AdminGroup}", audit, StringComparison.Ordinal);
            browser.Driver.Manage().Window.Size = new System.Drawing.Size(1600, 1000);
            browser.Screenshot("portal-admin.png");

            browser.Fill("password", PortalAdminXrdpFixture.AdminPassword);
            browser.Fill("filterUser", user);
            browser.Driver.FindElement(By.CssSelector("#outcome option[value='failure']")).Click();
            browser.Submit();
            IReadOnlyList<IWebElement> pageRows = browser.Driver.FindElements(By.CssSelector("#audit tbody tr"));
            Assert.NotEmpty(pageRows);
            Assert.All(pageRows, r => Assert.Contains("failure", r.Text, StringComparison.Ordinal));
            List<string> pageReasons = [.. pageRows.Select(r => r.FindElements(By.TagName("td"))[7].Text)];
            Assert.Equal(failure.Reason, pageReasons[0]);

            // The JSON twin: the same filtered rows, the same live session, and nothing for a non-admin.
            using HttpClient api = door.Client();
            (int status, JsonElement body) = await api.PostJsonAsync("api/admin/overview", new { user = PortalAdminXrdpFixture.Admin, password = PortalAdminXrdpFixture.AdminPassword, filterUser = user, outcome = "failure" });
            Assert.Equal(200, status);
            List<JsonElement> rows = [.. body.GetProperty("audit").EnumerateArray()];
            Assert.Equal(pageReasons, rows.Select(r => r.GetProperty("reason").GetString()));
            Assert.Equal(failure.ConnectionId, rows[0].GetProperty("connectionId").GetString());
            Assert.Equal("STATUS_LOGON_FAILURE", rows[0].GetProperty("status").GetString());
            Assert.Equal("127.0.0.1", rows[0].GetProperty("clientAddress").GetString());
            Assert.Equal(door.Host.CurrentOptions.EffectiveInstanceName, rows[0].GetProperty("instance").GetString());
            JsonElement session = Assert.Single(body.GetProperty("sessions").EnumerateArray(), s => s.GetProperty("user").GetString() == user);
            Assert.Equal(fixture.Backend.Address, session.GetProperty("backend").GetString());
            Assert.Equal("relaying", session.GetProperty("state").GetString());
            Assert.True(session.GetProperty("bytesToBackend").GetInt64() > 0 && session.GetProperty("bytesToClient").GetInt64() > 0, session.ToString());
            Assert.DoesNotContain(fixture.Backend.Password, body.ToString(), StringComparison.Ordinal);
            Assert.DoesNotContain(PortalAdminXrdpFixture.AdminPassword, body.ToString(), StringComparison.Ordinal);

            (int refused, JsonElement refusal) = await api.PostJsonAsync("api/admin/overview", new { user, password = fixture.Backend.Password });
            Assert.Equal((403, "not-admin"), (refused, refusal.GetProperty("error").GetString()));
            Assert.False(client.HasExited, GatewayPeers.Snapshot(output));
        }
        finally
        {
            await ExternalProcess.StopAsync(client);
            await xvfb.DisposeAsync();
        }

        IReadOnlyList<AuditEntry> all = await door.AuditAsync();
        Assert.Contains(all, r => r.UserName == PortalAdminXrdpFixture.Admin && r.SecurityProtocol == "PORTAL" && r.Outcome == AuditOutcome.Success && r.Reason.StartsWith("portal admin page viewed (", StringComparison.Ordinal));
        Assert.Equal(2, all.Count(r => r.UserName == user && r.SecurityProtocol == "PORTAL" && r.Outcome == AuditOutcome.Refused && r.Reason == $"portal admin page refused: not a member of {PortalAdminXrdpFixture.AdminGroup} (Portal:AdminGroup)"));
    }
}

/// <summary>The admin page's refusals and bounds over real HTTPS, without a backend.</summary>
public class PortalAdminApiTests
{
    private const string Password = "Adm1n-Passw0rd";

    private static async Task<TestFrontDoor> StartAsync(Action<Server.FrontDoor.FrontDoorOptions>? configure = null, AccountPolicyOptions? policy = null)
    {
        TestFrontDoor door = await PortalTestSupport.StartAsync(o =>
        {
            o.Portal.AdminGroup = "Admins";
            configure?.Invoke(o);
        }, policy);
        await door.AddUserAsync("root1", Password);
        await door.AddUserAsync("plain", Password);
        await door.Database.Gateway.AddGroupAsync("admins", null, TestContext.Current.CancellationToken);
        await door.Database.Gateway.AddMemberAsync("admins", "root1", TestContext.Current.CancellationToken);
        return door;
    }

    [Fact]
    public async Task WithoutAdminGroup_ThePageAndItsTwinAre404_AndTheIndexDoesNotLinkThem()
    {
        await using TestFrontDoor door = await PortalTestSupport.StartAsync();
        await door.AddUserAsync("root1", Password);
        using HttpClient client = door.Client();

        using HttpResponseMessage page = await client.GetAsync("admin", TestContext.Current.CancellationToken);
        using var json = new StringContent(JsonSerializer.Serialize(new { user = "root1", password = Password }), Encoding.UTF8, "application/json");
        using HttpResponseMessage api = await client.PostAsync("api/admin/overview", json, TestContext.Current.CancellationToken);
        string index = await client.GetStringAsync(string.Empty, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.NotFound, page.StatusCode);
        Assert.Equal(HttpStatusCode.NotFound, api.StatusCode);
        Assert.DoesNotContain("/admin", index, StringComparison.Ordinal);
        Assert.DoesNotContain(await door.AuditAsync(), r => r.SecurityProtocol == "PORTAL");
    }

    [Fact]
    public async Task WrongPasswordsCountTowardLockout_TheFormNeedsItsToken_AndTheFiltersAreBounded()
    {
        await using TestFrontDoor door = await StartAsync(o => o.Portal.AdminMaxRows = 3, new AccountPolicyOptions { LockoutThreshold = 3 });
        using HttpClient client = door.Client();

        (int ok, JsonElement body) = await client.PostJsonAsync("api/admin/overview", new { user = "ROOT1", password = Password, limit = 3 });
        Assert.Equal(200, ok);
        Assert.Equal(3, body.GetProperty("limit").GetInt32());
        Assert.Empty(body.GetProperty("sessions").EnumerateArray());
        Assert.InRange(body.GetProperty("audit").GetArrayLength(), 0, 3);
        foreach ((object request, string problem) in new (object, string)[]
        {
            (new { user = "root1", password = Password, limit = 4 }, "limit is 1 to 3 rows (Portal:AdminMaxRows)"),
            (new { user = "root1", password = Password, limit = 0 }, "limit is 1 to 3 rows (Portal:AdminMaxRows)"),
            (new { user = "root1", password = Password, outcome = "bogus" }, "outcome is one of success, failure, refused, error (or empty for all)"),
        })
        {
            (int status, JsonElement refusal) = await client.PostJsonAsync("api/admin/overview", request);
            Assert.Equal((400, "invalid-request", problem), (status, refusal.GetProperty("error").GetString(), refusal.GetProperty("message").GetString()));
        }

        using var forged = new FormUrlEncodedContent(new Dictionary<string, string> { ["user"] = "root1", ["password"] = Password });
        using HttpResponseMessage csrf = await client.PostAsync("admin", forged, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.BadRequest, csrf.StatusCode);

        for (int i = 0; i < 3; i++)
        {
            (int status, JsonElement wrong) = await client.PostJsonAsync("api/admin/overview", new { user = "root1", password = "wrong" });
            Assert.Equal((401, "wrong-credentials"), (status, wrong.GetProperty("error").GetString()));
        }

        (int locked, JsonElement lockedBody) = await client.PostJsonAsync("api/admin/overview", new { user = "root1", password = Password });
        Assert.Equal((403, "locked-out"), (locked, lockedBody.GetProperty("error").GetString()));
        IReadOnlyList<AuditEntry> rows = await door.AuditAsync();
        Assert.Equal(3, rows.Count(r => r.UserName == "root1" && r.Outcome == AuditOutcome.Failure && r.Status == NtStatus.LogonFailure && r.Reason.StartsWith("portal admin page: wrong password", StringComparison.Ordinal)));
        Assert.Contains(rows, r => r.UserName == "root1" && r.Status == NtStatus.AccountLockedOut);
        Assert.All(rows.Where(r => r.SecurityProtocol == "PORTAL"), r => Assert.Equal(door.Host.CurrentOptions.EffectiveInstanceName, r.InstanceName));
    }

    [Fact]
    public async Task AnAdminWithAnAuthenticator_NeedsACurrentCode_AndRequestsAreRateLimited()
    {
        await using TestFrontDoor door = await StartAsync(o => o.Portal.AdminAttemptsPerMinute = 4);
        TestAuthenticator app = await PortalTestSupport.EnrolAsync(door, "root2", Password);
        await door.Database.Gateway.AddMemberAsync("admins", "root2", TestContext.Current.CancellationToken);
        using HttpClient client = door.Client();

        (int noCode, JsonElement noCodeBody) = await client.PostJsonAsync("api/admin/overview", new { user = "root2", password = Password });
        (int wrongCode, JsonElement wrongBody) = await client.PostJsonAsync("api/admin/overview", new { user = "root2", password = Password, code = app.WrongCode() });
        (int ok, JsonElement body) = await client.PostJsonAsync("api/admin/overview", new { user = "root2", password = Password, code = app.NextCode(), filterUser = "root2" });
        Assert.Equal((401, "code-required"), (noCode, noCodeBody.GetProperty("error").GetString()));
        Assert.Equal((401, "wrong-code"), (wrongCode, wrongBody.GetProperty("error").GetString()));
        Assert.Equal(200, ok);
        string text = body.ToString();
        Assert.Contains("portal admin page: wrong code", text, StringComparison.Ordinal);
        Assert.DoesNotContain(Convert.ToBase64String(app.Secret), text, StringComparison.Ordinal);
        Assert.DoesNotContain(Password, text, StringComparison.Ordinal);

        // The fourth request of this address in the minute is the last one; the fifth gets 429 without any check.
        (int fourth, _) = await client.PostJsonAsync("api/admin/overview", new { user = "plain", password = Password });
        (int fifth, JsonElement limited) = await client.PostJsonAsync("api/admin/overview", new { user = "root1", password = Password });
        Assert.Equal(403, fourth);
        Assert.Equal((429, "rate-limited"), (fifth, limited.GetProperty("error").GetString()));
        Assert.Contains(await door.AuditAsync(), r => r.UserName == "root1" && r.Reason == "portal admin page: too many attempts");
    }
}

/// <summary>
/// Domain administrators: <c>Portal:AdminGroup</c> names a domain group; the Samba AD DC proves the password (through
/// winbind, as for a front door logon) and gives the groups.
/// </summary>
[Collection(DomainControllerCollection.Name)]
public sealed class PortalAdminDomainTests(SambaDomainController dc)
{
    [Fact]
    public async Task A_domain_group_names_the_admins_the_DC_proves_the_password_and_a_domain_user_outside_it_is_refused()
    {
        const string Wrong = "padmwrong";
        await dc.AddUserAsync(Wrong, SambaDomainController.AlicePassword);
        string group = $"LAB\\{SambaDomainController.AllowedGroup}";
        await using TestFrontDoor door = await PortalTestSupport.StartAsync(o =>
        {
            o.Directory.NtlmPassthrough = "winbind";
            o.Directory.AllowedGroups = [group];
            o.Directory.WinbindRunDirectory = dc.RunDirectory;
            o.Portal.AdminGroup = group;
        });
        using HttpClient client = door.Client();

        (int ok, JsonElement body) = await client.PostJsonAsync("api/admin/overview", new { user = "alice@lab.test", password = SambaDomainController.AlicePassword });
        (int wrong, JsonElement wrongBody) = await client.PostJsonAsync("api/admin/overview", new { user = $"LAB\\{Wrong}", password = "Not-The-Passw0rd" });
        (int outsider, JsonElement outsiderBody) = await client.PostJsonAsync("api/admin/overview", new { user = $"LAB\\{SambaDomainController.Users.Outsider}", password = SambaDomainController.AlicePassword });

        Assert.True(ok == 200, body.ToString() + door.LogText);
        Assert.Equal((401, "wrong-credentials"), (wrong, wrongBody.GetProperty("error").GetString()));
        Assert.Equal((403, "not-admin"), (outsider, outsiderBody.GetProperty("error").GetString()));
        IReadOnlyList<AuditEntry> rows = await door.AuditAsync();
        Assert.Contains(rows, r => r.UserName == "LAB\\alice" && r.Outcome == AuditOutcome.Success && r.Reason.StartsWith("portal admin page viewed (", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.UserName == $"LAB\\{Wrong}" && r.Outcome == AuditOutcome.Failure && r.Status == NtStatus.LogonFailure && r.Reason.StartsWith("portal admin page: the domain controller refused the logon (STATUS_", StringComparison.Ordinal));
        Assert.Contains(rows, r => r.UserName == $"LAB\\{SambaDomainController.Users.Outsider}" && r.Outcome == AuditOutcome.Refused && r.Reason == $"portal admin page refused: not a member of {group} (Portal:AdminGroup)");
    }
}

/// <summary>Two instances sharing one PostgreSQL store: the admin page of one shows the audit rows written by both.</summary>
public sealed class PortalAdminPostgresTests(PostgresServer postgres)
{
    [Fact]
    public async Task On_a_shared_PostgreSQL_store_the_admin_page_of_one_instance_shows_the_rows_of_every_instance()
    {
        string store = await postgres.CreateDatabaseAsync();
        string setup = Directory.CreateTempSubdirectory("rdpnla-admin-pg-").FullName;
        try
        {
            await using Server.Storage.RdpNlaStore shared = await Server.Storage.RdpNlaStore.OpenAsync(Server.Storage.StoreLocation.Parse(store, setup), setup, cancellationToken: TestContext.Current.CancellationToken);
            await shared.Users.AddAsync("root1", Protocol.Ntlm.NtlmCrypto.NtOwfV1("Adm1n-Passw0rd"), TestContext.Current.CancellationToken);
            await shared.Users.AddAsync("alice", Protocol.Ntlm.NtlmCrypto.NtOwfV1("Al1ce-Passw0rd"), TestContext.Current.CancellationToken);
            await shared.Gateway.AddGroupAsync("admins", null, TestContext.Current.CancellationToken);
            Assert.True(await shared.Gateway.AddMemberAsync("admins", "root1", TestContext.Current.CancellationToken));
        }
        finally
        {
            Directory.Delete(setup, recursive: true);
        }

        await using TestFrontDoor a = await PortalTestSupport.StartAsync(o =>
        {
            o.Store.ConnectionString = store;
            o.InstanceName = "gw-a";
            o.Portal.AdminGroup = "admins";
        });
        await using TestFrontDoor b = await TestFrontDoor.StartAsync(o =>
        {
            o.Store.ConnectionString = store;
            o.InstanceName = "gw-b";
        });

        Accounts.CliResult failed = await Client.ClientCli.LoginAsync(b.Address, "alice", "Wrong-Passw0rd");
        Accounts.CliResult succeeded = await Client.ClientCli.LoginAsync(a.Address, "alice", "Al1ce-Passw0rd");
        Assert.NotEqual(0, failed.ExitCode);
        Assert.True(succeeded.ExitCode == 0, succeeded.Output + succeeded.Error);

        using HttpClient client = a.Client();
        (int status, JsonElement body) = await client.PostJsonAsync("api/admin/overview", new { user = "root1", password = "Adm1n-Passw0rd", filterUser = "alice" });
        Assert.True(status == 200, body.ToString());
        Assert.Equal("gw-a", body.GetProperty("instance").GetString());
        List<JsonElement> rows = [.. body.GetProperty("audit").EnumerateArray()];
        Assert.Equal(2, rows.Count);
        Assert.Equal(("gw-a", "success", "STATUS_SUCCESS"), (rows[0].GetProperty("instance").GetString(), rows[0].GetProperty("outcome").GetString(), rows[0].GetProperty("status").GetString()));
        Assert.Equal(("gw-b", "failure", "STATUS_LOGON_FAILURE"), (rows[1].GetProperty("instance").GetString(), rows[1].GetProperty("outcome").GetString(), rows[1].GetProperty("status").GetString()));
    }
}
