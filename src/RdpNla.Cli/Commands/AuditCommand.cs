namespace RdpNla.Cli.Commands;

/// <summary><c>rdpnla audit</c>: show the authentication audit trail, newest first.</summary>
public static class AuditCommand
{
    /// <summary>Entries shown when --limit is not given.</summary>
    public const int DefaultLimit = 50;

    public static Command Create()
    {
        var data = DataDirectoryOption.Create();
        var user = new Option<string?>("--user") { Description = "Only attempts for this user, in any form it was sent (alice, LAB\\alice, alice@host).", HelpName = "USER" };
        var address = new Option<string?>("--address") { Description = "Only attempts from this client IP address.", HelpName = "ADDRESS" };
        var outcome = new Option<string?>("--outcome") { Description = "Only this outcome: success, failure, refused or error.", HelpName = "OUTCOME" };
        var since = new Option<string?>("--since") { Description = "Only attempts at or after TIME: ISO 8601 (2026-01-31T08:00:00Z) or a duration ago (30m, 24h, 7d).", HelpName = "TIME" };
        var until = new Option<string?>("--until") { Description = "Only attempts before TIME (same forms as --since).", HelpName = "TIME" };
        var limit = new Option<int>("--limit") { Description = $"At most N entries (default {DefaultLimit}).", HelpName = "N", DefaultValueFactory = _ => DefaultLimit };
        var json = new Option<bool>("--json") { Description = "Write JSON instead of a table." };
        var command = new Command("audit", "Show authentication attempts recorded by 'rdpnla serve', newest first.")
        {
            user, address, outcome, since, until, limit, json, data, StoreOption.Create(),
        };

        command.SetAction((parseResult, cancellationToken) => DataDirectoryOption.RunAsync(parseResult, async output =>
        {
            DateTimeOffset now = TimeProvider.System.GetUtcNow();
            AuditOutcome? outcomeFilter = null;
            if (parseResult.GetValue(outcome) is { } outcomeText)
            {
                outcomeFilter = SqliteAuditLog.TryParseOutcome(outcomeText, out AuditOutcome parsed)
                    ? parsed
                    : throw new CliException($"--outcome '{outcomeText}' is not an outcome; use success, failure, refused or error");
            }

            int limitValue = parseResult.GetValue(limit);
            if (limitValue < 1)
            {
                throw new CliException($"--limit {limitValue} is not a positive number; give e.g. --limit 100");
            }

            var query = new AuditQuery
            {
                UserName = parseResult.GetValue(user),
                ClientAddress = parseResult.GetValue(address),
                Outcome = outcomeFilter,
                Since = parseResult.GetValue(since) is { } s ? TimeInput.ParseTime(s, now, "--since") : null,
                Until = parseResult.GetValue(until) is { } u ? TimeInput.ParseTime(u, now, "--until") : null,
                Limit = Math.Min(limitValue, SqliteAuditLog.MaxLimit),
            };

            await using RdpNlaStore database = await DataDirectoryOption.OpenDatabaseAsync(parseResult, data, cancellationToken, existing: true);
            IReadOnlyList<AuditEntry> entries = await database.Audit.QueryAsync(query, cancellationToken);
            if (parseResult.GetValue(json))
            {
                await output.WriteLineAsync(ToJson(entries));
            }
            else if (entries.Count == 0)
            {
                await output.WriteLineAsync("no matching authentication attempts");
            }
            else
            {
                WriteTable(output, entries);
            }

            return ExitCodes.Success;
        }));
        return command;
    }

    private static void WriteTable(TextWriter output, IReadOnlyList<AuditEntry> entries)
    {
        var table = new Table().AddColumns("Time (UTC)", "Client", "User", "Domain", "Outcome", "Status", "Reason", "CredSSP", "Protocol", "Connection", "Instance");
        foreach (AuditEntry entry in entries)
        {
            string client = entry.ClientAddress is null ? "-"
                : entry.ClientPort is { } port ? (entry.ClientAddress.Contains(':', StringComparison.Ordinal) ? $"[{entry.ClientAddress}]:{port}" : $"{entry.ClientAddress}:{port}")
                : entry.ClientAddress;
            table.AddRow(TableCells.Row(
                [

                    entry.Time.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss", CultureInfo.InvariantCulture),
                    client,
                    entry.UserName ?? "-",
                    entry.Domain ?? "-",
                    SqliteAuditLog.OutcomeText(entry.Outcome),
                    entry.StatusName ?? "-",
                    entry.Reason,
                    entry.CredSspVersion?.ToString(CultureInfo.InvariantCulture) ?? "-",
                    entry.SecurityProtocol ?? "-",
                    entry.ConnectionId,
                    entry.InstanceName ?? "-",
                ]));
        }

        UsersCommand.CreateAnsiConsole(output).Write(table);
    }

    private static string ToJson(IReadOnlyList<AuditEntry> entries) => UsersCommand.WriteJson(writer =>
    {
        writer.WriteStartArray();
        foreach (AuditEntry entry in entries)
        {
            writer.WriteStartObject();
            writer.WriteNumber("id", entry.Id);
            UsersCommand.WriteTime(writer, "time", entry.Time);
            WriteStringOrNull(writer, "clientAddress", entry.ClientAddress);
            WriteNumberOrNull(writer, "clientPort", entry.ClientPort);
            WriteStringOrNull(writer, "user", entry.UserName);
            WriteStringOrNull(writer, "domain", entry.Domain);
            WriteNumberOrNull(writer, "credSspVersion", entry.CredSspVersion);
            WriteStringOrNull(writer, "securityProtocol", entry.SecurityProtocol);
            writer.WriteString("outcome", SqliteAuditLog.OutcomeText(entry.Outcome));
            WriteStringOrNull(writer, "ntStatus", entry.StatusName);
            if (entry.Status is { } status)
            {
                writer.WriteString("ntStatusValue", $"0x{(uint)status:X8}");
            }
            else
            {
                writer.WriteNull("ntStatusValue");
            }

            writer.WriteString("reason", entry.Reason);
            writer.WriteString("connectionId", entry.ConnectionId);
            WriteStringOrNull(writer, "instance", entry.InstanceName);
            writer.WriteEndObject();
        }

        writer.WriteEndArray();
    });

    private static void WriteStringOrNull(Utf8JsonWriter writer, string name, string? value)
    {
        if (value is null)
        {
            writer.WriteNull(name);
        }
        else
        {
            writer.WriteString(name, value);
        }
    }

    private static void WriteNumberOrNull(Utf8JsonWriter writer, string name, int? value)
    {
        if (value is { } v)
        {
            writer.WriteNumber(name, v);
        }
        else
        {
            writer.WriteNull(name);
        }
    }
}
