namespace RdpNla.Server.Hosting;

/// <summary>
/// The known name nearest to a misspelt one, for "did you mean" hints: the CLI's options and subcommands, and the
/// settings file's names (<see cref="ServeSettingsShape"/>).
/// </summary>
internal static class NearestName
{
    /// <summary>
    /// The name of <paramref name="names"/> at most two edits from <paramref name="word"/> (and at most half its own
    /// length), nearest first, then in ordinal order; none for a word longer than 64 characters, as no name is that
    /// long and the distance table grows with the word.
    /// </summary>
    public static string? Find(string word, IEnumerable<string> names, bool ignoreCase = false)
    {
        ArgumentNullException.ThrowIfNull(word);
        ArgumentNullException.ThrowIfNull(names);
        if (word.Length > 64)
        {
            return null;
        }

        string key = ignoreCase ? word.ToUpperInvariant() : word;
        return names
            .Select(name => (Name: name, Distance: Distance(key, ignoreCase ? name.ToUpperInvariant() : name)))
            .Where(candidate => candidate.Distance <= 2 && candidate.Distance <= candidate.Name.Length / 2)
            .OrderBy(candidate => candidate.Distance)
            .ThenBy(candidate => candidate.Name, StringComparer.Ordinal)
            .Select(candidate => candidate.Name)
            .FirstOrDefault();
    }

    /// <summary>Levenshtein distance, with a swap of two neighbours counted as one edit (optimal string alignment).</summary>
    public static int Distance(string a, string b)
    {
        ArgumentNullException.ThrowIfNull(a);
        ArgumentNullException.ThrowIfNull(b);
        var d = new int[a.Length + 1, b.Length + 1];
        for (int i = 0; i <= a.Length; i++)
        {
            d[i, 0] = i;
        }

        for (int j = 0; j <= b.Length; j++)
        {
            d[0, j] = j;
        }

        for (int i = 1; i <= a.Length; i++)
        {
            for (int j = 1; j <= b.Length; j++)
            {
                int cost = a[i - 1] == b[j - 1] ? 0 : 1;
                d[i, j] = Math.Min(Math.Min(d[i - 1, j] + 1, d[i, j - 1] + 1), d[i - 1, j - 1] + cost);
                if (i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1])
                {
                    d[i, j] = Math.Min(d[i, j], d[i - 2, j - 2] + 1);
                }
            }
        }

        return d[a.Length, b.Length];
    }
}
