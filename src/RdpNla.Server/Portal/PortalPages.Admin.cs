namespace RdpNla.Server.Portal;

/// <summary>The read-only admin page: a credentials form with the filters, then the live sessions and the audit rows, every value HTML-encoded.</summary>
internal static partial class PortalPages
{
    private static readonly string[] Outcomes = ["success", "failure", "refused", "error"];

    public static string AdminPage(string token, AdminRequest? request, PortalOutcome? outcome, AdminOverview? overview, int maxRows)
    {
        var body = new StringBuilder();
        if (outcome is not null && (overview is null || !outcome.Succeeded))
        {
            body.Append(Message(outcome));
        }

        string selected = overview?.Outcome is { } o ? SqliteAuditLog.OutcomeText(o) : request?.Outcome?.Trim().ToLowerInvariant() ?? string.Empty;
        var options = new StringBuilder($"""<option value=""{(selected.Length == 0 ? " selected" : string.Empty)}>all</option>""");
        foreach (string name in Outcomes)
        {
            options.Append(CultureInfo.InvariantCulture, $"""<option value="{name}"{(selected == name ? " selected" : string.Empty)}>{name}</option>""");
        }

        int limit = overview?.Limit ?? request?.Limit ?? maxRows;
        body.Append(CultureInfo.InvariantCulture, $"""
            <p>Members of the portal's administrators group prove their password (and a current code when they have an authenticator) for every view; nothing here can be changed.</p>
            <form method="post" action="/admin">
            <input type="hidden" name="{CsrfField}" value="{E(token)}">
            <div class="fields">
            <div><label for="user">User name</label><input id="user" name="user" autocomplete="username" required maxlength="360" value="{E(request?.User)}"></div>
            <div><label for="password">Password</label><input id="password" name="password" type="password" autocomplete="current-password" required maxlength="1024"></div>
            <div><label for="code">Code (if you have an authenticator)</label><input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="8"></div>
            <div><label for="filterUser">Audit rows of user</label><input id="filterUser" name="filterUser" maxlength="360" value="{E(overview?.FilterUser ?? request?.FilterUser)}"></div>
            <div><label for="outcome">Outcome</label><select id="outcome" name="outcome">{options}</select></div>
            <div><label for="limit">Rows (1 to {maxRows})</label><input id="limit" name="limit" type="number" min="1" max="{maxRows}" value="{limit}"></div>
            </div>
            <button type="submit" id="submit">Show</button>
            </form>
            """);

        if (overview is not null)
        {
            body.Append(CultureInfo.InvariantCulture, $"""<p class="ok" id="result">Instance {E(overview.Instance)}, {E(Time(overview.At))} UTC.</p>""");
            AppendSessions(body, overview);
            AppendAudit(body, overview);
        }

        return Layout("Administration", body.ToString(), wide: true);
    }

    private static void AppendSessions(StringBuilder body, AdminOverview overview)
    {
        body.Append(CultureInfo.InvariantCulture, $"<h2>Relayed sessions now (this instance, {E(overview.Instance)})</h2>");
        if (overview.Sessions.Count == 0)
        {
            body.Append("""<p id="sessions">No session is relayed now.</p>""");
            return;
        }

        body.Append("""<table class="rows" id="sessions"><thead><tr><th>Connection</th><th>User</th><th>Client</th><th>Backend</th><th>Protocols (client / backend)</th><th>Started (UTC)</th><th>Bytes to backend</th><th>Bytes to client</th><th>State</th></tr></thead><tbody>""");
        foreach (LiveSession session in overview.Sessions)
        {
            body.Append(CultureInfo.InvariantCulture, $"""<tr><td>{E(session.ConnectionId)}</td><td>{E(session.UserName)}</td><td>{E(Endpoint(session.ClientAddress, session.ClientPort))}</td><td>{E(session.Backend)}</td><td>{E(session.FrontProtocol)} / {E(session.BackendProtocol ?? "-")}</td><td>{E(Time(session.Started))}</td><td class="num">{session.BytesToBackend:N0}</td><td class="num">{session.BytesToClient:N0}</td><td>{(session.Relaying ? "relaying" : "connecting to the backend")}</td></tr>""");
        }

        body.Append("</tbody></table>");
    }

    private static void AppendAudit(StringBuilder body, AdminOverview overview)
    {
        string filters = (overview.FilterUser is null ? string.Empty : $" of user {overview.FilterUser}") + (overview.Outcome is { } o ? $" with outcome {SqliteAuditLog.OutcomeText(o)}" : string.Empty);
        body.Append(CultureInfo.InvariantCulture, $"<h2>Audit: the newest {overview.Audit.Count} rows{E(filters)} (every instance of the store; at most {overview.Limit})</h2>");
        if (overview.Audit.Count == 0)
        {
            body.Append("""<p id="audit">No audit row matches.</p>""");
            return;
        }

        body.Append("""<table class="rows" id="audit"><thead><tr><th>Time (UTC)</th><th>Instance</th><th>Client</th><th>User</th><th>Protocol</th><th>Outcome</th><th>Status</th><th>Reason</th></tr></thead><tbody>""");
        foreach (AuditEntry row in overview.Audit)
        {
            string user = string.IsNullOrEmpty(row.Domain) ? row.UserName ?? string.Empty : $"{row.Domain}\\{row.UserName}";
            body.Append(CultureInfo.InvariantCulture, $"""<tr><td>{E(Time(row.Time))}</td><td>{E(row.InstanceName ?? "-")}</td><td>{E(row.ClientAddress is null ? "-" : Endpoint(row.ClientAddress, row.ClientPort))}</td><td>{E(user)}</td><td>{E(row.SecurityProtocol ?? "-")}</td><td>{E(SqliteAuditLog.OutcomeText(row.Outcome))}</td><td>{E(row.StatusName ?? "-")}</td><td>{E(row.Reason)}</td></tr>""");
        }

        body.Append("</tbody></table>");
    }

    private static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private static string Endpoint(string address, int? port) =>
        port is null ? address : address.Contains(':', StringComparison.Ordinal) ? $"[{address}]:{port}" : $"{address}:{port}";
}
