namespace RdpNla.Diagnosis.Catalogue;

/// <summary>
/// Renders the catalogue as docs/troubleshooting.md. The file is generated: <c>rdpnla doctor --catalogue-markdown</c>
/// prints it, and a test fails when the committed file differs.
/// </summary>
public static class CatalogueMarkdown
{
    /// <summary>The whole document (LF line endings, ends with one newline).</summary>
    public static string Render()
    {
        var md = new StringBuilder();
        md.Append("# Troubleshooting Remote Desktop connections\n\n");
        md.Append("<!-- GENERATED from src/RdpNla.Diagnosis/Catalogue/CauseCatalogue.cs by `rdpnla doctor --catalogue-markdown`.\n");
        md.Append("     Do not edit by hand: change the catalogue and regenerate (the doc test fails until you do). -->\n\n");
        md.Append("One section per cause `rdpnla doctor` can name (see [doctor.md](doctor.md)). Each section gives the message the\n");
        md.Append("Windows client showed, what doctor measures, and the fixes: the safe fix first; an insecure workaround is marked\n");
        md.Append("**INSECURE** and comes with the command that reverts it. Run the commands in an elevated prompt; `<user>`,\n");
        md.Append("`<host>` and `<thumbprint>` are placeholders. Messages marked *(unconfirmed)* are the usual wording, but the\n");
        md.Append("public sources do not confirm that this cause produces them ([interop.md](interop.md#mstsc-messages)).\n\n");
        md.Append("| id | cause | exit code |\n| --- | --- | --- |\n");
        foreach (CatalogueEntry entry in CauseCatalogue.All)
        {
            md.Append(CultureInfo.InvariantCulture, $"| [`{entry.Id}`](#{entry.Id}) | {Escape(entry.Title)} | {entry.ExitCode} |\n");
        }

        foreach (CatalogueEntry entry in CauseCatalogue.All)
        {
            md.Append('\n');
            md.Append(CultureInfo.InvariantCulture, $"<a id=\"{entry.Id}\"></a>\n## {entry.Title}\n\n");
            md.Append(CultureInfo.InvariantCulture, $"id `{entry.Id}` · class {entry.Class} · exit code {entry.ExitCode}\n\n");
            md.Append("**What the user saw**\n\n");
            if (entry.MessagesSeen.Count == 0)
            {
                md.Append("- (no Windows client message is documented for this case)\n");
            }

            foreach (ClientMessage message in entry.MessagesSeen)
            {
                md.Append(CultureInfo.InvariantCulture, $"- \"{Escape(message.Text)}\"{(message.Confirmed ? "" : " *(unconfirmed)*")} — {Escape(message.Source)}\n");
            }

            md.Append("\n**What is going on**\n\n").Append(Escape(entry.Explanation)).Append("\n\n");
            md.Append("**Evidence doctor prints**\n\n").Append("    ").Append(entry.EvidenceTemplate).Append("\n\n");
            md.Append("**Fixes**\n");
            foreach (Fix fix in entry.Fixes)
            {
                md.Append('\n');
                string label = fix.Safety == FixSafety.Insecure ? "**INSECURE** workaround" : "Fix";
                md.Append(CultureInfo.InvariantCulture, $"{label} ({SideText(fix.Side)}): {Escape(fix.Title)}\n\n");
                AppendSteps(md, fix.Steps);
                if (fix.Revert.Count > 0)
                {
                    md.Append("\nRevert:\n\n");
                    AppendSteps(md, fix.Revert);
                }
            }
        }

        return md.ToString();
    }

    /// <summary>Words for a fix side.</summary>
    public static string SideText(FixSide side) => side switch
    {
        FixSide.Server => "server side",
        FixSide.Client => "client side",
        FixSide.RdpNlaServer => "when the server is rdpnla serve",
        _ => "network",
    };

    /// <summary>A label for a step kind.</summary>
    public static string KindText(FixStepKind kind) => kind switch
    {
        FixStepKind.Registry => "reg",
        FixStepKind.GroupPolicy => "Group Policy",
        FixStepKind.PowerShell => "PowerShell",
        FixStepKind.Command => "cmd",
        FixStepKind.RdpNla => "rdpnla",
        _ => "note",
    };

    private static void AppendSteps(StringBuilder md, IReadOnlyList<FixStep> steps)
    {
        foreach (FixStep step in steps)
        {
            switch (step.Kind)
            {
                case FixStepKind.Note:
                    md.Append("- ").Append(Escape(step.Text)).Append('\n');
                    break;
                case FixStepKind.GroupPolicy:
                    md.Append("- Group Policy: ").Append(Escape(step.Text)).Append('\n');
                    break;
                default:
                    md.Append("- ").Append(KindText(step.Kind)).Append(": `").Append(step.Text.Replace("`", "'", StringComparison.Ordinal)).Append("`\n");
                    break;
            }
        }
    }

    private static string Escape(string text) => text.Replace("<", "&lt;", StringComparison.Ordinal).Replace(">", "&gt;", StringComparison.Ordinal).Replace("|", "\\|", StringComparison.Ordinal);
}
