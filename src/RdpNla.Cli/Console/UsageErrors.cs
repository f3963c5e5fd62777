using System.Text.RegularExpressions;
using System.CommandLine.Invocation;

namespace RdpNla.Cli.Interaction;

/// <summary>
/// A command line that does not parse: one line per error on standard error, naming the command whose help lists what
/// it takes, with the nearest name when a word looks like a misspelt subcommand or option; nothing on standard output,
/// so a script reading <c>--json</c> gets no help text in place of the object it parses.
/// </summary>
internal static partial class UsageErrors
{
    /// <summary>
    /// How every error line of rdpnla starts. A validator of rdpnla's own writes its whole line, this prefix included, and
    /// it is written as it is; the parser's messages get the prefix and the command whose help to read.
    /// </summary>
    public const string Prefix = "error: ";

    /// <summary>
    /// Writes the errors of <paramref name="parse"/>, which has some, and returns the exit code for them. rdpnla's own
    /// errors come first and alone (a password given as a value is refused before anything else is said). Then a word the
    /// command does not know is reported alone, the first one: the words after it are often its value, and a missing
    /// subcommand is then the same mistake.
    /// </summary>
    public static int Write(ParseResult parse, TextWriter error)
    {
        List<string> own = [.. parse.Errors.Select(e => e.Message).Where(m => m.StartsWith(Prefix, StringComparison.Ordinal))];
        if (own.Count > 0)
        {
            own.ForEach(line => error.WriteLine(PrintableText.Escape(line)));
            return ExitCodes.UserError;
        }

        string command = CommandPath(parse.CommandResult);
        string? unmatched = parse.UnmatchedTokens.FirstOrDefault();
        ParseError? unknownWord = unmatched is null ? null : parse.Errors.FirstOrDefault(e => e.Message.Contains($"'{unmatched}'", StringComparison.Ordinal));
        // The parser's errors, all on one line (two missing options are one mistake to fix before the next run).
        var messages = new List<string>();
        foreach (ParseError parseError in unknownWord is null ? parse.Errors : [unknownWord])
        {
            if (unknownWord is null && parseError.SymbolResult is CommandResult { Command: { Subcommands.Count: > 0, Action: null } } group)
            {
                // A command that only groups others (rdpnla, rdpnla users): name them.
                error.WriteLine($"{Prefix}'{command}' needs a subcommand: {string.Join(", ", group.Command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name))}; '{command} --help' describes them.");
                continue;
            }

            string? option = parseError.SymbolResult switch
            {
                OptionResult result => result.Option.Name,
                ArgumentResult { Parent: OptionResult result } => result.Option.Name,
                _ => null,
            };
            messages.Add(Rephrase(parseError.Message, option));
        }

        if (messages.Count > 0)
        {
            string message = PrintableText.Escape(string.Join("; ", messages));
            string? suggestion = unknownWord is null ? null : Nearest(unmatched!, parse.CommandResult.Command);
            error.WriteLine(suggestion is null
                ? $"{Prefix}{message}; '{command} --help' lists what it takes."
                : $"{Prefix}{message}; did you mean '{suggestion}'? '{command} --help' lists what it takes.");
        }

        return ExitCodes.UserError;
    }

    /// <summary>
    /// The parser's message in the user's words, on one line: a value that does not convert names what the option takes
    /// ("a whole number"), not a .NET type (<c>System.Nullable`1[System.Int32]</c>), and the choices of a value that is not
    /// one of them are listed on the line.
    /// </summary>
    internal static string Rephrase(string message, string? option = null)
    {
        Match cannotParse = CannotParse().Match(message);
        if (cannotParse.Success)
        {
            string choices = cannotParse.Groups["choices"].Value;
            string expected = choices.Length > 0
                ? "one of " + string.Join(", ", choices.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries))
                : Expected(cannotParse.Groups["type"].Value);
            return $"{cannotParse.Groups["option"].Value}: '{cannotParse.Groups["value"].Value}' is not {expected}";
        }

        Match notAmong = NotAmong().Match(message);
        if (notAmong.Success)
        {
            IEnumerable<string> choices = notAmong.Groups["choices"].Value.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(c => c.Trim('\''));
            string value = $"'{notAmong.Groups["value"].Value}' is not one of {string.Join(", ", choices)}";
            return option is null ? value : $"{option}: {value}";
        }

        return message.ReplaceLineEndings(" ").TrimEnd('.');
    }

    private static string Expected(string type) => type switch
    {
        "System.Int32" or "System.Int64" or "System.Nullable`1[System.Int32]" or "System.Nullable`1[System.Int64]" => "a whole number",
        "System.Double" or "System.Nullable`1[System.Double]" => "a number",
        "System.TimeSpan" or "System.Nullable`1[System.TimeSpan]" => "a time span such as 00:00:30",
        "System.Boolean" or "System.Nullable`1[System.Boolean]" => "true or false",
        _ => "a value it takes",
    };

    [GeneratedRegex(@"^Cannot parse argument '(?<value>.*)' for option '(?<option>[^']+)' as expected type '(?<type>[^']+)'\.(?: Did you mean one of the following\?\r?\n(?<choices>.*))?$", RegexOptions.Singleline)]
    private static partial Regex CannotParse();

    [GeneratedRegex(@"^Argument '(?<value>.*)' not recognized\. Must be one of:\r?\n(?<choices>.*)$", RegexOptions.Singleline)]
    private static partial Regex NotAmong();

    /// <summary><c>rdpnla</c> and the subcommands down to the one parsed, e.g. <c>rdpnla users add</c>.</summary>
    private static string CommandPath(CommandResult result)
    {
        var names = new Stack<string>();
        for (SymbolResult? at = result; at is CommandResult { Parent: not null } command; at = command.Parent)
        {
            names.Push(command.Command.Name);
        }

        return string.Join(' ', ["rdpnla", .. names]);
    }

    /// <summary>The subcommand or option name of <paramref name="command"/> nearest to <paramref name="token"/>: at most two edits, or none.</summary>
    internal static string? Nearest(string token, Command command)
    {
        IEnumerable<string> names = token.StartsWith('-')
            ? command.Options.Concat(command.Parents.OfType<Command>().SelectMany(p => p.Options.Where(o => o.Recursive)))
                .Where(o => !o.Hidden)
                .SelectMany(o => o.Aliases.Prepend(o.Name))
                .Where(name => name.StartsWith("--", StringComparison.Ordinal))
            : command.Subcommands.Where(c => !c.Hidden).Select(c => c.Name);
        return NearestName.Find(token, names);
    }

    /// <summary>
    /// The line for <paramref name="word"/>, an option <paramref name="command"/> does not have that its positional
    /// argument took as a value (probe's TARGET list takes every word).
    /// </summary>
    internal static string UnknownOption(string word, Command command, string commandPath) =>
        Nearest(word, command) is { } suggestion
            ? $"{Prefix}Unrecognized command or argument '{word}'; did you mean '{suggestion}'? '{commandPath} --help' lists what it takes."
            : $"{Prefix}Unrecognized command or argument '{word}'; '{commandPath} --help' lists what it takes.";
}
