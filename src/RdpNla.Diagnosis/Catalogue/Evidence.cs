namespace RdpNla.Diagnosis.Catalogue;

/// <summary>Fills the <c>{name}</c> placeholders of evidence templates and <c>&lt;name&gt;</c> placeholders of fix commands.</summary>
internal static class Evidence
{
    /// <summary>
    /// Replaces every <c>{name}</c> in <paramref name="template"/> with <paramref name="values"/>[name]; placeholders
    /// without a value stay as they are, so a missing measurement is visible rather than silently blank.
    /// </summary>
    public static string Fill(string template, IReadOnlyDictionary<string, string> values)
    {
        ArgumentNullException.ThrowIfNull(template);
        ArgumentNullException.ThrowIfNull(values);
        var builder = new StringBuilder(template.Length + 64);
        int i = 0;
        while (i < template.Length)
        {
            int open = template.IndexOf('{', i);
            int close = open < 0 ? -1 : template.IndexOf('}', open + 1);
            if (open < 0 || close < 0)
            {
                builder.Append(template, i, template.Length - i);
                break;
            }

            builder.Append(template, i, open - i);
            string name = template.Substring(open + 1, close - open - 1);
            builder.Append(values.TryGetValue(name, out string? value) ? value : template.Substring(open, close - open + 1));
            i = close + 1;
        }

        return builder.ToString();
    }

    /// <summary>The placeholder names of a template, in order.</summary>
    public static IReadOnlyList<string> Placeholders(string template)
    {
        ArgumentNullException.ThrowIfNull(template);
        var names = new List<string>();
        int i = 0;
        while (true)
        {
            int open = template.IndexOf('{', i);
            int close = open < 0 ? -1 : template.IndexOf('}', open + 1);
            if (open < 0 || close < 0)
            {
                return names;
            }

            names.Add(template.Substring(open + 1, close - open - 1));
            i = close + 1;
        }
    }

    /// <summary>Replaces <c>&lt;user&gt;</c> and <c>&lt;host&gt;</c> in a fix command when they are known.</summary>
    public static string FillCommand(string text, string? user, string? host)
    {
        ArgumentNullException.ThrowIfNull(text);
        if (!string.IsNullOrEmpty(user))
        {
            text = text.Replace("<user>", user, StringComparison.Ordinal);
        }

        if (!string.IsNullOrEmpty(host))
        {
            text = text.Replace("<host>", host, StringComparison.Ordinal);
        }

        return text;
    }
}
