using System.Net;
using System.Text;
using System.Text.Json;
using Microsoft.Extensions.Logging;
using RdpNla.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Protocol.Ntlm;
using RdpNla.Server.Accounts;
using RdpNla.Server.Audit;
using RdpNla.Server.Portal;

namespace RdpNla.Tests.Portal;

/// <summary>The portal's JSON API and its protections, over real HTTPS against the portal inside the front door.</summary>
public class PortalApiTests
{
    private const string Password = "Old-Passw0rd";

    [Fact]
    public async Task Pages_CarryTheSecurityHeaders_AndFormsWithoutTheAntiforgeryTokenAreRefused()
    {
        await using TestFrontDoor door = await PortalTestSupport.StartAsync();
        await door.AddUserAsync("alice", Password);
        using HttpClient client = door.Client();

        using HttpResponseMessage page = await client.GetAsync("password", TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.OK, page.StatusCode);
        Assert.Equal("default-src 'none'; style-src 'self'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'", Assert.Single(page.Headers.GetValues("Content-Security-Policy")));
        Assert.Equal("max-age=31536000", Assert.Single(page.Headers.GetValues("Strict-Transport-Security")));
        Assert.Equal("nosniff", Assert.Single(page.Headers.GetValues("X-Content-Type-Options")));
        Assert.Equal("no-referrer", Assert.Single(page.Headers.GetValues("Referrer-Policy")));
        Assert.Equal("DENY", Assert.Single(page.Headers.GetValues("X-Frame-Options")));
        string html = await page.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.DoesNotContain("<script", html, StringComparison.OrdinalIgnoreCase);
        Assert.Contains("name=\"csrf\"", html, StringComparison.Ordinal);

        // A cross-site form post: the browser would send the form, but not this site's token.
        using var forged = new FormUrlEncodedContent(new Dictionary<string, string> { ["user"] = "alice", ["oldPassword"] = Password, ["newPassword"] = "N3w-Passw0rd!", ["confirmPassword"] = "N3w-Passw0rd!" });
        using HttpResponseMessage refused = await client.PostAsync("password", forged, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        Assert.Contains("came from another site", await refused.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);

        // The JSON twin takes application/json only (no simple cross-site request can send it) and bounds the body.
        using var plain = new StringContent("{\"user\":\"alice\"}", Encoding.UTF8, "text/plain");
        using HttpResponseMessage notJson = await client.PostAsync("api/password", plain, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, notJson.StatusCode);
        // Expect: 100-continue, as clients that send large bodies do: the portal answers 413 from the headers, so the body is
        // never sent into a connection the server is closing (sent anyway, it could end in a broken pipe instead of the answer).
        using var huge = new HttpRequestMessage(HttpMethod.Post, "api/password") { Content = new StringContent("{\"user\":\"" + new string('a', 64 * 1024) + "\"}", Encoding.UTF8, "application/json") };
        huge.Headers.ExpectContinue = true;
        using HttpResponseMessage tooLarge = await client.SendAsync(huge, TestContext.Current.CancellationToken);
        Assert.Equal(HttpStatusCode.RequestEntityTooLarge, tooLarge.StatusCode);

        using UserCredential? unchanged = await door.Database.Users.FindCredentialAsync("alice", TestContext.Current.CancellationToken);
        Assert.True(unchanged!.NtHash.SequenceEqual(NtlmCrypto.NtOwfV1(Password)));
    }

    [Fact]
    public async Task FormPastItsLimits_IsToldSo_NotThatItExpired_AndPageViewsLogNoWarning()
    {
        await using TestFrontDoor door = await PortalTestSupport.StartAsync();
        using HttpClient client = door.Client();

        // Two views of a form page: antiforgery's no-cache headers replace nothing, so nothing is logged at Warning.
        using HttpResponseMessage first = await client.GetAsync("password", TestContext.Current.CancellationToken);
        using HttpResponseMessage page = await client.GetAsync("password", TestContext.Current.CancellationToken);
        Assert.Contains("no-store", page.Headers.CacheControl?.ToString(), StringComparison.Ordinal);
        using HttpResponseMessage index = await client.GetAsync("", TestContext.Current.CancellationToken);
        Assert.Equal("no-store", index.Headers.CacheControl?.ToString());
        Assert.DoesNotContain(door.LogRecords, r => r.Level >= LogLevel.Warning && r.Category?.StartsWith("Microsoft.AspNetCore", StringComparison.Ordinal) == true);

        // The page's own token, and 17 fields: one more than docs/portal.md allows.
        string html = await page.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        string token = System.Text.RegularExpressions.Regex.Match(html, "name=\"csrf\" value=\"([^\"]+)\"").Groups[1].Value;
        var fields = new Dictionary<string, string> { ["csrf"] = token, ["user"] = "alice" };
        for (int i = 0; fields.Count < 17; i++)
        {
            fields[$"extra{i}"] = "x";
        }

        using var tooMany = new FormUrlEncodedContent(fields);
        using HttpResponseMessage refused = await client.PostAsync("password", tooMany, TestContext.Current.CancellationToken);

        Assert.Equal(HttpStatusCode.BadRequest, refused.StatusCode);
        string answer = await refused.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        Assert.Contains("the form has more than 16 fields or a value longer than 4 KiB", answer, StringComparison.Ordinal);
        Assert.DoesNotContain("expired", answer, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("alice", HttpStatusCode.OK, "{\"pending\":[]}")]
    [InlineData("\u001B[31malice", HttpStatusCode.BadRequest, "the user name is not valid")]
    public async Task ApiPending_TakesTheNamesApiPasswordTakes(string user, HttpStatusCode status, string answer)
    {
        await using TestFrontDoor door = await PortalTestSupport.StartAsync();
        using HttpClient client = door.Client();

        using HttpResponseMessage response = await client.GetAsync("api/pending?user=" + Uri.EscapeDataString(user), TestContext.Current.CancellationToken);

        Assert.Equal(status, response.StatusCode);
        Assert.Contains(answer, await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken), StringComparison.Ordinal);
    }

    [Fact]
    public async Task ApiPassword_WrongOldPasswordCountsTowardLockout_AndIsAudited()
    {
        await using TestFrontDoor door = await PortalTestSupport.StartAsync(policy: new AccountPolicyOptions { LockoutThreshold = 3 });
        await door.AddUserAsync("bob", Password);
        using HttpClient client = door.Client();

        for (int i = 0; i < 3; i++)
        {
            (int status, JsonElement body) = await client.PostJsonAsync("api/password", new { user = "bob", oldPassword = "wrong", newPassword = "N3w-Passw0rd!" });
            Assert.Equal(401, status);
            Assert.Equal("wrong-credentials", body.GetProperty("error").GetString());
        }

        UserAccount? locked = await door.Database.Users.FindAsync("bob", TestContext.Current.CancellationToken);
        Assert.True(locked!.IsLockedOut(DateTimeOffset.UtcNow));
        (int lockedStatus, JsonElement lockedBody) = await client.PostJsonAsync("api/password", new { user = "bob", oldPassword = Password, newPassword = "N3w-Passw0rd!" });
        Assert.Equal(403, lockedStatus);
        Assert.Equal("locked-out", lockedBody.GetProperty("error").GetString());

        IReadOnlyList<AuditEntry> rows = await door.AuditAsync();
        Assert.Equal(3, rows.Count(r => r.Reason.StartsWith("portal password change: wrong password", StringComparison.Ordinal) && r.Outcome == AuditOutcome.Failure && r.SecurityProtocol == "PORTAL"));
        Assert.Contains(rows, r => r.Reason == "portal password change: wrong password; account locked out");
        Assert.Contains(rows, r => r.Status == NtStatus.AccountLockedOut && r.Reason.StartsWith("portal password change: account locked out", StringComparison.Ordinal));
    }

    [Fact]
    public async Task ApiPassword_AppliesLengthComplexityAndHistory_ThenChangesAnExpiredPassword()
    {
        await using TestFrontDoor door = await PortalTestSupport.StartAsync(o => o.Portal.Password.History = 2);
        await door.AddUserAsync("carol", Password, a => a with { PasswordExpired = true });
        using HttpClient client = door.Client();

        (int shortStatus, JsonElement shortBody) = await client.PostJsonAsync("api/password", new { user = "carol", oldPassword = Password, newPassword = "Sh0rt!" });
        (int simpleStatus, JsonElement simpleBody) = await client.PostJsonAsync("api/password", new { user = "carol", oldPassword = Password, newPassword = "alllowercase" });
        (int nameStatus, JsonElement nameBody) = await client.PostJsonAsync("api/password", new { user = "carol", oldPassword = Password, newPassword = "Carol-2026!" });
        (int sameStatus, JsonElement sameBody) = await client.PostJsonAsync("api/password", new { user = "carol", oldPassword = Password, newPassword = Password });
        Assert.Equal((422, "password-policy"), (shortStatus, shortBody.GetProperty("error").GetString()));
        Assert.Contains("MinLength", shortBody.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(422, simpleStatus);
        Assert.Contains("three of these kinds", simpleBody.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(422, nameStatus);
        Assert.Contains("user name", nameBody.GetProperty("message").GetString(), StringComparison.Ordinal);
        Assert.Equal(422, sameStatus);
        Assert.Contains("History", sameBody.GetProperty("message").GetString(), StringComparison.Ordinal);

        (int changed, _) = await client.PostJsonAsync("api/password", new { user = "carol", oldPassword = Password, newPassword = "Second-Passw0rd" });
        Assert.Equal(200, changed);
        UserAccount? account = await door.Database.Users.FindAsync("carol", TestContext.Current.CancellationToken);
        Assert.False(account!.PasswordExpired);

        // History 2: the password before the current one is refused, and is accepted again once it drops out.
        (int back, JsonElement backBody) = await client.PostJsonAsync("api/password", new { user = "carol", oldPassword = "Second-Passw0rd", newPassword = Password });
        Assert.Equal(422, back);
        Assert.Contains("History", backBody.GetProperty("message").GetString(), StringComparison.Ordinal);
        (int third, _) = await client.PostJsonAsync("api/password", new { user = "carol", oldPassword = "Second-Passw0rd", newPassword = "Third-Passw0rd" });
        (int again, _) = await client.PostJsonAsync("api/password", new { user = "carol", oldPassword = "Third-Passw0rd", newPassword = Password });
        Assert.Equal((200, 200), (third, again));
    }

    [Fact]
    public async Task ApiTotp_EnrolsConfirmsOnceAndSealsTheSecret_CodesAreSingleUse()
    {
        await using TestFrontDoor door = await PortalTestSupport.StartAsync();
        await door.AddUserAsync("dave", Password);
        using HttpClient client = door.Client();

        (int started, JsonElement enrolment) = await client.PostJsonAsync("api/totp", new { user = "dave", password = Password });
        Assert.Equal(200, started);
        string uri = enrolment.GetProperty("otpauthUri").GetString()!;
        Assert.StartsWith("otpauth://totp/rdpnla:dave?secret=", uri, StringComparison.Ordinal);
        var app = TestAuthenticator.FromUri(uri);

        string code = app.NextCode();
        (int confirmed, _) = await client.PostJsonAsync("api/totp", new { user = "dave", password = Password, code });
        Assert.Equal(200, confirmed);

        // Enrolled: the password alone cannot replace the authenticator.
        (int again, JsonElement againBody) = await client.PostJsonAsync("api/totp", new { user = "dave", password = Password });
        Assert.Equal((409, "already-enrolled"), (again, againBody.GetProperty("error").GetString()));

        // The secret at rest is sealed (AES-GCM with the gateway key), not the base32 of the URI.
        StoredTotp? stored = await new SelfServiceStore(door.Database, TimeProvider.System).GetTotpAsync("dave", TestContext.Current.CancellationToken);
        Assert.True(stored!.Confirmed);
        Assert.True(stored.SealedSecret.AsSpan().IndexOf(app.Secret) < 0);
        Assert.Equal(1 + 12 + 16 + 20, stored.SealedSecret.Length);

        // Approving with no connection held is refused, and does not use the code up.
        (int none, JsonElement noneBody) = await client.PostJsonAsync("api/approve", new { user = "dave", code = app.NextCode() });
        Assert.Equal((404, "no-pending-connection"), (none, noneBody.GetProperty("error").GetString()));
    }

    [Fact]
    public async Task ApiApprove_ACodeIsAcceptedOnce_WrongCodesDenyAndCount_AttemptsAreRateLimited()
    {
        await using TestFrontDoor door = await PortalTestSupport.StartAsync();
        TestAuthenticator app = await PortalTestSupport.EnrolAsync(door, "erin", Password);
        using HttpClient client = door.Client();
        Server.Mfa.ConnectionApprovals approvals = door.Host.SecondFactor!.Approvals;
        var held = new Server.Mfa.PendingConnection(1, "erin", new IPEndPoint(IPAddress.Loopback, 5000), DateTimeOffset.UtcNow, "(test)");
        CancellationToken token = TestContext.Current.CancellationToken;

        Task<Server.Mfa.ApprovalOutcome> first = approvals.WaitAsync(held, TimeSpan.FromSeconds(60), token);
        string code = app.NextCode();
        (int approved, _) = await client.PostJsonAsync("api/approve", new { user = "erin", code });
        Assert.Equal(200, approved);
        Assert.Equal(Server.Mfa.ApprovalOutcome.Approved, await first);

        // The same code again (a replay) is refused, denies the waiting connection and counts as a failure.
        Task<Server.Mfa.ApprovalOutcome> second = approvals.WaitAsync(held with { ConnectionId = 2 }, TimeSpan.FromSeconds(60), token);
        (int replayed, JsonElement replayBody) = await client.PostJsonAsync("api/approve", new { user = "erin", code });
        Assert.Equal((401, "wrong-code"), (replayed, replayBody.GetProperty("error").GetString()));
        Assert.Equal(Server.Mfa.ApprovalOutcome.Denied, await second);
        Assert.Equal(1, (await door.Database.Users.FindAsync("erin", token))!.FailedLogonCount);

        // Five code checks a minute per user (the enrolment's confirmation was the first): the sixth is refused unchecked.
        for (int i = 3; i <= 4; i++)
        {
            Task<Server.Mfa.ApprovalOutcome> wrong = approvals.WaitAsync(held with { ConnectionId = i }, TimeSpan.FromSeconds(60), token);
            (int status, _) = await client.PostJsonAsync("api/approve", new { user = "erin", code = app.WrongCode() });
            Assert.Equal(401, status);
            Assert.Equal(Server.Mfa.ApprovalOutcome.Denied, await wrong);
        }

        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(token);
        Task<Server.Mfa.ApprovalOutcome> limited = approvals.WaitAsync(held with { ConnectionId = 5 }, TimeSpan.FromSeconds(60), cancel.Token);
        (int tooMany, JsonElement tooManyBody) = await client.PostJsonAsync("api/approve", new { user = "erin", code = app.NextCode() });
        Assert.Equal((429, "rate-limited"), (tooMany, tooManyBody.GetProperty("error").GetString()));
        Assert.False(limited.IsCompleted);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => limited);

        IReadOnlyList<AuditEntry> rows = await door.AuditAsync();
        Assert.Contains(rows, r => r.Reason == "portal connection approval: code already used" && r.Outcome == AuditOutcome.Failure);
        Assert.Contains(rows, r => r.Reason == "portal connection approval: too many code attempts" && r.Outcome == AuditOutcome.Refused);
    }

    [Fact]
    public async Task ApiApprove_AWrongCodeKeepsAnInFlightLogonsReservation_AndTheLockoutBoundHoldsExactly()
    {
        var options = new AccountPolicyOptions { LockoutThreshold = 3 };
        await using TestFrontDoor door = await PortalTestSupport.StartAsync(policy: options);
        TestAuthenticator app = await PortalTestSupport.EnrolAsync(door, "frank", Password);
        using HttpClient client = door.Client();
        Server.Mfa.ConnectionApprovals approvals = door.Host.SecondFactor!.Approvals;
        var held = new Server.Mfa.PendingConnection(1, "frank", new IPEndPoint(IPAddress.Loopback, 5000), DateTimeOffset.UtcNow, "(test)");
        CancellationToken token = TestContext.Current.CancellationToken;
        var rules = new LockoutRules(options.LockoutThreshold, options.LockoutWindow, options.LockoutDuration, AccountPolicy.ReservationLifetime);

        // A logon of frank's is in flight: its attempt is reserved, its password not verified yet.
        using AttemptReservation inFlight = await door.Database.Users.ReserveAttemptAsync("frank", rules, DateTimeOffset.UtcNow, token);
        Assert.Equal(AttemptAdmission.Admitted, inFlight.Admission);

        // Two wrong codes: each counts one failure, and the in-flight logon's reservation survives both.
        for (int i = 1; i <= 2; i++)
        {
            Task<Server.Mfa.ApprovalOutcome> wrong = approvals.WaitAsync(held with { ConnectionId = i }, TimeSpan.FromSeconds(60), token);
            (int status, JsonElement body) = await client.PostJsonAsync("api/approve", new { user = "frank", code = app.WrongCode() });
            Assert.Equal((401, "wrong-code"), (status, body.GetProperty("error").GetString()));
            Assert.Equal(Server.Mfa.ApprovalOutcome.Denied, await wrong);
            UserAccount after = (await door.Database.Users.FindAsync("frank", token))!;
            Assert.Equal((i, 1), (after.FailedLogonCount, LockoutRules.AttemptsInProgress(after, DateTimeOffset.UtcNow)));
        }

        // Two failures counted and one attempt in progress reach the threshold of 3: no further verification, neither a
        // code nor a logon, until the in-flight one is recorded.
        using var cancel = CancellationTokenSource.CreateLinkedTokenSource(token);
        Task<Server.Mfa.ApprovalOutcome> third = approvals.WaitAsync(held with { ConnectionId = 3 }, TimeSpan.FromSeconds(60), cancel.Token);
        (int refused, JsonElement refusedBody) = await client.PostJsonAsync("api/approve", new { user = "frank", code = app.NextCode() });
        Assert.Equal((403, "locked-out"), (refused, refusedBody.GetProperty("error").GetString()));
        using (AttemptReservation another = await door.Database.Users.ReserveAttemptAsync("frank", rules, DateTimeOffset.UtcNow, token))
        {
            Assert.Equal(AttemptAdmission.ThresholdInProgress, another.Admission);
        }

        // The in-flight logon's password was wrong: the third failure locks the account. Three verifications, three failures.
        AttemptRecord record = await door.Database.Users.RecordFailedAttemptAsync("frank", rules, DateTimeOffset.UtcNow, token);
        Assert.True(record.LockedNow);
        Assert.Equal((3, 0), (record.Account!.FailedLogonCount, LockoutRules.AttemptsInProgress(record.Account, DateTimeOffset.UtcNow)));
        Assert.False(third.IsCompleted);
        await cancel.CancelAsync();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => third);
    }
}
