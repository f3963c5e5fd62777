namespace RdpNla.Server.Portal;

/// <summary>The portal's HTML: plain server-rendered pages, no script, every value HTML-encoded.</summary>
internal static partial class PortalPages
{
    /// <summary>The antiforgery token's form field.</summary>
    public const string CsrfField = "csrf";

    /// <summary>The only stylesheet (served from this origin, as the CSP requires).</summary>
    public const string Stylesheet = """
        body { font-family: system-ui, sans-serif; max-width: 40rem; margin: 2rem auto; padding: 0 1rem; color: #1b1b1b; background: #fff; }
        header a { font-weight: bold; text-decoration: none; color: #0b4f8a; }
        label { display: block; margin-top: 0.8rem; }
        input { display: block; width: 100%; padding: 0.4rem; font-size: 1rem; box-sizing: border-box; }
        button { margin-top: 1rem; padding: 0.5rem 1.2rem; font-size: 1rem; }
        .ok { border-left: 4px solid #1a7f37; padding: 0.5rem 1rem; background: #eef8f0; }
        .error { border-left: 4px solid #b42318; padding: 0.5rem 1rem; background: #fdf0ef; }
        table { border-collapse: collapse; width: 100%; margin-top: 1rem; }
        th, td { text-align: left; padding: 0.3rem 0.5rem; border-bottom: 1px solid #ddd; }
        code { word-break: break-all; }
        img.qr { display: block; margin: 1rem 0; image-rendering: pixelated; }
        body.wide { max-width: 96rem; }
        table.rows { font-size: 0.85rem; }
        table.rows td { vertical-align: top; }
        td.num { text-align: right; font-variant-numeric: tabular-nums; }
        select { display: block; width: 100%; padding: 0.4rem; font-size: 1rem; }
        .fields { display: grid; grid-template-columns: repeat(auto-fit, minmax(10rem, 1fr)); gap: 0 1rem; }
        """;

    private static readonly HtmlEncoder Encoder = HtmlEncoder.Default;

    public static string E(string? text) => Encoder.Encode(text ?? string.Empty);

    public static string Layout(string title, string body, bool wide = false) => $"""
        <!DOCTYPE html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>{E(title)} – rdpnla</title>
        <link rel="stylesheet" href="/portal.css">
        </head>
        <body{(wide ? " class=\"wide\"" : string.Empty)}>
        <header><a href="/">rdpnla self-service</a></header>
        <main>
        <h1>{E(title)}</h1>
        {body}
        </main>
        </body>
        </html>
        """;

    public static string Index(bool admin = false) => Layout("Self-service", $"""
        <ul>
        <li><a href="/password">Change your password</a> (also when it expired or must be changed)</li>
        <li><a href="/totp">Enrol an authenticator app</a> (second factor)</li>
        <li><a href="/approve">Approve a waiting connection</a> with a code from your authenticator</li>
        {(admin ? "<li><a href=\"/admin\">Administrators</a>: recent audit rows and live relayed sessions</li>" : string.Empty)}
        </ul>
        """);

    public static string Message(PortalOutcome outcome) =>
        $"""<p class="{(outcome.Succeeded ? "ok" : "error")}" id="result">{E(outcome.Message)}</p>""";

    public static string PasswordForm(string token, string? user, PortalOutcome? outcome, PasswordPolicyOptions policy, string? domain = null)
    {
        string rules = $"At least {policy.MinLength} characters"
            + (policy.RequireComplexity ? "; three of: upper case, lower case, digits, other characters; not containing your user name" : string.Empty)
            + (policy.History > 0 ? $"; not one of your last {policy.History} passwords" : string.Empty) + "."
            + (domain is null ? string.Empty : $" Domain users ({domain}\\name or name@domain): the domain controller changes the password and applies the domain's policy.");
        return Layout("Change your password", $"""
            {(outcome is null ? string.Empty : Message(outcome))}
            <form method="post" action="/password">
            <input type="hidden" name="{CsrfField}" value="{E(token)}">
            <label for="user">User name</label><input id="user" name="user" autocomplete="username" required maxlength="360" value="{E(user)}">
            <label for="oldPassword">Current password</label><input id="oldPassword" name="oldPassword" type="password" autocomplete="current-password" required maxlength="1024">
            <label for="newPassword">New password</label><input id="newPassword" name="newPassword" type="password" autocomplete="new-password" required maxlength="1024">
            <label for="confirmPassword">New password again</label><input id="confirmPassword" name="confirmPassword" type="password" autocomplete="new-password" required maxlength="1024">
            <p>{E(rules)}</p>
            <button type="submit" id="submit">Change password</button>
            </form>
            """);
    }

    public static string TotpForm(string token, string? user, PortalOutcome? outcome) => Layout("Enrol an authenticator", $"""
        {(outcome is null ? string.Empty : Message(outcome))}
        <p>Prove your password; the next page shows a QR code for your authenticator app.</p>
        <form method="post" action="/totp">
        <input type="hidden" name="{CsrfField}" value="{E(token)}">
        <label for="user">User name</label><input id="user" name="user" autocomplete="username" required maxlength="360" value="{E(user)}">
        <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024">
        <button type="submit" id="submit">Continue</button>
        </form>
        """);

    public static string TotpConfirm(string token, string user, string otpAuthUri, string qrPngBase64) => Layout("Enrol an authenticator", $"""
        <p>Scan this code with your authenticator app, then enter your password again and the code the app shows.</p>
        <img class="qr" id="qr" alt="QR code of the authenticator key" width="240" height="240" src="data:image/png;base64,{qrPngBase64}">
        <p>Or enter the key by hand: <code id="otpauth">{E(otpAuthUri)}</code></p>
        <form method="post" action="/totp">
        <input type="hidden" name="{CsrfField}" value="{E(token)}">
        <label for="user">User name</label><input id="user" name="user" autocomplete="username" required maxlength="360" value="{E(user)}">
        <label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024">
        <label for="code">Code from the app</label><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required maxlength="8" pattern="[0-9]{"{6}"}">
        <button type="submit" id="submit">Confirm</button>
        </form>
        """);

    public static string ApproveForm(string token, string? user, PortalOutcome? outcome, IReadOnlyList<PendingConnection> pending)
    {
        var table = new StringBuilder();
        if (!string.IsNullOrEmpty(user))
        {
            if (pending.Count == 0)
            {
                table.Append(CultureInfo.InvariantCulture, $"""<p id="pending">No connection of {E(user)} waits for approval.</p>""");
            }
            else
            {
                table.Append("""<table id="pending"><thead><tr><th>Client address</th><th>Since (UTC)</th><th>Backend</th></tr></thead><tbody>""");
                foreach (PendingConnection connection in pending)
                {
                    table.Append(CultureInfo.InvariantCulture, $"<tr><td>{E(connection.Client.Address.ToString())}</td><td>{E(connection.Since.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture))}</td><td>{E(connection.Backend)}</td></tr>");
                }

                table.Append("</tbody></table><p>The code approves the oldest one.</p>");
            }
        }

        return Layout("Approve a connection", $"""
            {(outcome is null ? string.Empty : Message(outcome))}
            <form method="get" action="/approve">
            <label for="show-user">Show waiting connections of</label><input id="show-user" name="user" autocomplete="username" maxlength="360" value="{E(user)}">
            <button type="submit" id="show">Show</button>
            </form>
            {table}
            <form method="post" action="/approve">
            <input type="hidden" name="{CsrfField}" value="{E(token)}">
            <label for="user">User name</label><input id="user" name="user" autocomplete="username" required maxlength="360" value="{E(user)}">
            <label for="code">Code from your authenticator</label><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" required maxlength="8">
            <button type="submit" id="submit">Approve</button>
            </form>
            """);
    }
}
