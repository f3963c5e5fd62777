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

    private static void AppendSessions(StringBuilder body, AdminOverview overview) =>
        AppendRows(
            body,
            string.Create(CultureInfo.InvariantCulture, $"<h2>Relayed sessions now (this instance, {E(overview.Instance)})</h2>"),
            "sessions",
            "No session is relayed now.",
            ["Connection", "User", "Client", "Backend", "Protocols (client / backend)", "Started (UTC)", "Bytes to backend", "Bytes to client", "State"],
            overview.Sessions,
            session => string.Create(CultureInfo.InvariantCulture, $"""<td>{E(session.ConnectionId)}</td><td>{E(session.UserName)}</td><td>{E(Endpoint(session.ClientAddress, session.ClientPort))}</td><td>{E(session.Backend)}</td><td>{E(session.FrontProtocol)} / {E(session.BackendProtocol ?? "-")}</td><td>{E(Time(session.Started))}</td><td class="num">{session.BytesToBackend:N0}</td><td class="num">{session.BytesToClient:N0}</td><td>{(session.Relaying ? "relaying" : "connecting to the backend")}</td>"""));

    private static void AppendAudit(StringBuilder body, AdminOverview overview)
    {
        string filters = (overview.FilterUser is null ? string.Empty : $" of user {overview.FilterUser}") + (overview.Outcome is { } o ? $" with outcome {SqliteAuditLog.OutcomeText(o)}" : string.Empty);
        AppendRows(
            body,
            string.Create(CultureInfo.InvariantCulture, $"<h2>Audit: the newest {overview.Audit.Count} rows{E(filters)} (every instance of the store; at most {overview.Limit})</h2>"),
            "audit",
            "No audit row matches.",
            ["Time (UTC)", "Instance", "Client", "User", "Protocol", "Outcome", "Status", "Reason"],
            overview.Audit,
            row =>
            {
                string user = string.IsNullOrEmpty(row.Domain) ? row.UserName ?? string.Empty : $"{row.Domain}\\{row.UserName}";
                return string.Create(CultureInfo.InvariantCulture, $"""<td>{E(Time(row.Time))}</td><td>{E(row.InstanceName ?? "-")}</td><td>{E(row.ClientAddress is null ? "-" : Endpoint(row.ClientAddress, row.ClientPort))}</td><td>{E(user)}</td><td>{E(row.SecurityProtocol ?? "-")}</td><td>{E(SqliteAuditLog.OutcomeText(row.Outcome))}</td><td>{E(row.StatusName ?? "-")}</td><td>{E(row.Reason)}</td>""");
            });
    }

    /// <summary>
    /// A section of the admin page: its heading, then its rows as a table with element id <paramref name="id"/> (each
    /// row's cells from <paramref name="cells"/>), or, with no rows, a paragraph with that id saying so.
    /// </summary>
    private static void AppendRows<T>(StringBuilder body, string heading, string id, string noRows, string[] columns, IReadOnlyList<T> rows, Func<T, string> cells)
    {
        body.Append(heading);
        if (rows.Count == 0)
        {
            body.Append(CultureInfo.InvariantCulture, $"""<p id="{id}">{noRows}</p>""");
            return;
        }

        body.Append(CultureInfo.InvariantCulture, $"""<table class="rows" id="{id}"><thead><tr>""");
        foreach (string column in columns)
        {
            body.Append(CultureInfo.InvariantCulture, $"<th>{column}</th>");
        }

        body.Append("</tr></thead><tbody>");
        foreach (T row in rows)
        {
            body.Append(CultureInfo.InvariantCulture, $"<tr>{cells(row)}</tr>");
        }

        body.Append("</tbody></table>");
    }

    private static string Time(DateTimeOffset time) => time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture);

    private static string Endpoint(string address, int? port) =>
        port is null ? address : address.Contains(':', StringComparison.Ordinal) ? $"[{address}]:{port}" : $"{address}:{port}";
}
