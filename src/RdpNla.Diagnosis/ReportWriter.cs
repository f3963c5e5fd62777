namespace RdpNla.Diagnosis;

/// <summary>Renders a <see cref="DoctorReport"/> as text (for people) or JSON (for scripts).</summary>
public static class ReportWriter
{
    /// <summary>The text report: verdict, what the user saw, evidence, fixes (safe first, INSECURE with revert), notes.</summary>
    /// <param name="report">The report.</param>
    /// <param name="howToCheckCredentials">
    /// When the credentials were not checked: how to give them, in the caller's words (a command line names its options);
    /// null to only say that they were not checked.
    /// </param>
    public static string ToText(DoctorReport report, string? howToCheckCredentials = null)
    {
        ArgumentNullException.ThrowIfNull(report);
        var text = new StringBuilder();
        string how = report.Mode == "offline" ? "predicted from the registry exports (no network used)" : "measured";
        if (report.Entry is not { } entry)
        {
            if (report.CredentialsChecked)
            {
                text.Append("OK: the connection ").Append(report.Mode == "offline" ? "would succeed" : "succeeded").Append(" with Network Level Authentication, ").Append(how).Append(".\n");
            }
            else
            {
                text.Append("OK so far: the server requires and speaks Network Level Authentication (it answered with an NTLM CHALLENGE), ").Append(how)
                    .Append(". The credentials were not checked").Append(howToCheckCredentials is null ? "" : ": " + howToCheckCredentials).Append(".\n");
            }

            AppendList(text, "Evidence", report.Evidence);
        }
        else
        {
            text.Append("Cause: ").Append(entry.Title).Append(" [").Append(entry.Id).Append("], ").Append(how).Append('\n');
            if (entry.MessagesSeen.Count > 0)
            {
                text.Append("\nWhat the Windows client shows:\n");
                foreach (ClientMessage message in entry.MessagesSeen)
                {
                    text.Append("  \"").Append(Evidence.FillCommand(message.Text, null, report.Host)).Append('"').Append(message.Confirmed ? "" : " (unconfirmed)").Append('\n');
                }
            }

            text.Append("\nWhy: ").Append(entry.Explanation).Append('\n');
            AppendList(text, "Evidence", report.Evidence);
            foreach (Fix fix in entry.Fixes)
            {
                text.Append('\n').Append(fix.Safety == FixSafety.Insecure ? "INSECURE workaround" : "Fix").Append(" (").Append(CatalogueMarkdown.SideText(fix.Side)).Append("): ").Append(fix.Title).Append('\n');
                AppendSteps(text, fix.Steps, report);
                if (fix.Revert.Count > 0)
                {
                    text.Append("  Revert afterwards:\n");
                    AppendSteps(text, fix.Revert, report);
                }
            }
        }

        foreach (Cause warning in report.Warnings)
        {
            CatalogueEntry w = CauseCatalogue.Get(warning);
            text.Append("\nWarning: ").Append(w.Title).Append(" [").Append(w.Id).Append("]: see docs/troubleshooting.md#").Append(w.Id).Append('\n');
        }

        AppendList(text, "Notes", report.Notes);
        text.Append(string.Create(System.Globalization.CultureInfo.InvariantCulture, $"\nexit code {report.ExitCode}\n"));
        return text.ToString();
    }

    /// <summary>The JSON report.</summary>
    public static string ToJson(DoctorReport report)
    {
        ArgumentNullException.ThrowIfNull(report);
        using var buffer = new MemoryStream();
        using (var json = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            json.WriteStartObject();
            json.WriteString("mode", report.Mode);
            json.WriteBoolean("success", report.IsSuccess);
            json.WriteString("result", report.Label);
            json.WriteNumber("exitCode", report.ExitCode);
            json.WriteString("phase", report.Phase.ToString());
            json.WriteBoolean("credentialsChecked", report.CredentialsChecked);
            if (report.Entry is { } entry)
            {
                json.WriteStartObject("cause");
                json.WriteString("id", entry.Id);
                json.WriteString("title", entry.Title);
                json.WriteString("class", entry.Class.ToString());
                json.WriteString("explanation", entry.Explanation);
                json.WriteStartArray("messagesSeen");
                foreach (ClientMessage message in entry.MessagesSeen)
                {
                    json.WriteStartObject();
                    json.WriteString("text", Evidence.FillCommand(message.Text, null, report.Host));
                    json.WriteString("source", message.Source);
                    json.WriteBoolean("confirmed", message.Confirmed);
                    json.WriteEndObject();
                }

                json.WriteEndArray();
                json.WriteStartArray("fixes");
                foreach (Fix fix in entry.Fixes)
                {
                    json.WriteStartObject();
                    json.WriteString("side", fix.Side.ToString());
                    json.WriteString("safety", fix.Safety.ToString());
                    json.WriteString("title", fix.Title);
                    WriteSteps(json, "steps", fix.Steps, report);
                    WriteSteps(json, "revert", fix.Revert, report);
                    json.WriteEndObject();
                }

                json.WriteEndArray();
                json.WriteEndObject();
            }
            else
            {
                json.WriteNull("cause");
            }

            WriteStrings(json, "evidence", report.Evidence);
            WriteStrings(json, "warnings", report.Warnings.Select(w => CauseCatalogue.Get(w).Id));
            WriteStrings(json, "notes", report.Notes);
            json.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void AppendList(StringBuilder text, string title, IReadOnlyList<string> lines)
    {
        if (lines.Count == 0)
        {
            return;
        }

        text.Append('\n').Append(title).Append(":\n");
        foreach (string line in lines)
        {
            text.Append("  - ").Append(line).Append('\n');
        }
    }

    private static void AppendSteps(StringBuilder text, IReadOnlyList<FixStep> steps, DoctorReport report)
    {
        foreach (FixStep step in steps)
        {
            string body = Evidence.FillCommand(step.Text, report.User, report.Host);
            text.Append("  ").Append(step.Kind == FixStepKind.Note ? "" : CatalogueMarkdown.KindText(step.Kind) + "> ").Append(body).Append('\n');
        }
    }

    private static void WriteSteps(Utf8JsonWriter json, string name, IReadOnlyList<FixStep> steps, DoctorReport report)
    {
        json.WriteStartArray(name);
        foreach (FixStep step in steps)
        {
            json.WriteStartObject();
            json.WriteString("kind", step.Kind.ToString());
            json.WriteString("text", Evidence.FillCommand(step.Text, report.User, report.Host));
            json.WriteEndObject();
        }

        json.WriteEndArray();
    }

    private static void WriteStrings(Utf8JsonWriter json, string name, IEnumerable<string> values)
    {
        json.WriteStartArray(name);
        foreach (string value in values)
        {
            json.WriteStringValue(value);
        }

        json.WriteEndArray();
    }
}
