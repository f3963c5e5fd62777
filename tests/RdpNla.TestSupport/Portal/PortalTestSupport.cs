using System.Net.Http.Json;
using System.Text.Json;
using RdpNla.Tests.Support;
using RdpNla.Server.FrontDoor;
using RdpNla.Server.Mfa;
using RdpNla.Server.Portal;

namespace RdpNla.Tests.Portal;

/// <summary>A front door with its portal on a loopback port, and an HTTPS client pinned to the front door's certificate.</summary>
public static class PortalTestSupport
{
    public static Task<TestFrontDoor> StartAsync(Action<FrontDoorOptions>? configure = null, Server.Accounts.AccountPolicyOptions? policy = null) =>
        TestFrontDoor.StartAsync(o =>
        {
            o.Portal.Listen = "127.0.0.1:0";
            configure?.Invoke(o);
        }, policy);

    public static string PortalUrl(this TestFrontDoor door) => door.Host.SecondFactor!.PortalUrl!;

    /// <summary>Adds a user, enrols an authenticator through the JSON API and requires the second factor.</summary>
    public static async Task<TestAuthenticator> EnrolAsync(TestFrontDoor door, string user, string password)
    {
        await door.AddUserAsync(user, password);
        using HttpClient client = door.Client();
        (int started, JsonElement body) = await client.PostJsonAsync("api/totp", new { user, password });
        Assert.Equal(200, started);
        var app = TestAuthenticator.FromUri(body.GetProperty("otpauthUri").GetString()!);
        (int confirmed, _) = await client.PostJsonAsync("api/totp", new { user, password, code = app.NextCode() });
        Assert.Equal(200, confirmed);
        Assert.True(await new SelfServiceStore(door.Database, TimeProvider.System).SetUserMfaRequiredAsync(user, true));
        return app;
    }

    /// <summary>An HTTP client that trusts exactly the front door's (self-signed) certificate.</summary>
    public static HttpClient Client(this TestFrontDoor door)
    {
        byte[] pinned = door.Host.Certificate.RawData;
        var handler = new SocketsHttpHandler
        {
            SslOptions = { RemoteCertificateValidationCallback = (_, certificate, _, _) => certificate is not null && certificate.GetRawCertData().AsSpan().SequenceEqual(pinned) },
            UseCookies = true,

            // A request sent with Expect: 100-continue waits for the server's verdict on its headers before the body
            // (RFC 9110 §10.1.1): a body the portal refuses by its length is then never half sent into a closing connection.
            Expect100ContinueTimeout = TimeSpan.FromSeconds(30),
        };
        return new HttpClient(handler) { BaseAddress = new Uri(door.PortalUrl()), Timeout = TimeSpan.FromSeconds(30) };
    }

    public static async Task<(int Status, JsonElement Body)> PostJsonAsync(this HttpClient client, string path, object body)
    {
        using HttpResponseMessage response = await client.PostAsJsonAsync(path, body, TestContext.Current.CancellationToken);
        string text = await response.Content.ReadAsStringAsync(TestContext.Current.CancellationToken);
        return ((int)response.StatusCode, JsonDocument.Parse(text).RootElement.Clone());
    }

    /// <summary>The newest audit row matching <paramref name="match"/>, waiting for it (rows are written as connections end).</summary>
    public static async Task<Server.Audit.AuditEntry> LastAuditAsync(this TestFrontDoor door, Func<Server.Audit.AuditEntry, bool> match)
    {
        for (int i = 0; i < 400; i++)
        {
            if ((await door.AuditAsync()).LastOrDefault(match) is { } row)
            {
                return row;
            }

            await Task.Delay(25, TestContext.Current.CancellationToken);
        }

        throw new InvalidOperationException($"no such audit row\n{door.LogText}");
    }

    /// <summary>Waits until <paramref name="user"/> has a connection held for approval.</summary>
    public static async Task<PendingConnection> WaitForPendingAsync(this TestFrontDoor door, string user, Func<string>? context = null)
    {
        for (int i = 0; i < 600; i++)
        {
            if (door.Host.SecondFactor!.Approvals.Pending(user) is [var first, ..])
            {
                return first;
            }

            await Task.Delay(50, TestContext.Current.CancellationToken);
        }

        throw new InvalidOperationException($"no connection of {user} was held\n{context?.Invoke()}\n{door.LogText}");
    }
}

/// <summary>An authenticator app: the secret of an otpauth URI, giving each code once (a step after the last one used).</summary>
public sealed class TestAuthenticator(byte[] secret)
{
    private long _lastStep = long.MinValue;

    public byte[] Secret => secret;

    public static TestAuthenticator FromUri(string otpAuthUri)
    {
        string query = new Uri(otpAuthUri).Query.TrimStart('?');
        string base32 = query.Split('&').Single(p => p.StartsWith("secret=", StringComparison.Ordinal))["secret=".Length..];
        return new TestAuthenticator(FromBase32(base32));
    }

    /// <summary>
    /// A code the server accepts now and has not seen: the current step, or the next one when the current one was used
    /// already (the server accepts one step either side, RFC 6238 §5.2).
    /// </summary>
    public string NextCode()
    {
        long step = Math.Max(Totp.TimeStep(DateTimeOffset.UtcNow, Totp.DefaultStep), _lastStep + 1);
        _lastStep = step;
        return Totp.Code(secret, step);
    }

    /// <summary>A code that is not any of the accepted ones.</summary>
    public string WrongCode()
    {
        long now = Totp.TimeStep(DateTimeOffset.UtcNow, Totp.DefaultStep);
        HashSet<string> valid = [Totp.Code(secret, now - 1), Totp.Code(secret, now), Totp.Code(secret, now + 1), Totp.Code(secret, now + 2)];
        for (int candidate = 0; ; candidate++)
        {
            string code = candidate.ToString("D6", System.Globalization.CultureInfo.InvariantCulture);
            if (!valid.Contains(code))
            {
                return code;
            }
        }
    }

    private static byte[] FromBase32(string text)
    {
        const string Alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
        var bytes = new List<byte>();
        int buffer = 0;
        int bits = 0;
        foreach (char c in text)
        {
            buffer = (buffer << 5) | Alphabet.IndexOf(c, StringComparison.Ordinal);
            bits += 5;
            if (bits >= 8)
            {
                bytes.Add((byte)(buffer >> (bits - 8)));
                bits -= 8;
            }
        }

        return [.. bytes];
    }
}
