namespace RdpNla.Cli.Interaction;

/// <summary>
/// The password options every command that needs a password shares (<c>login</c>, <c>doctor</c>, <c>bench</c>,
/// <c>users add|set-password|set-credentials</c>), so they cannot drift: <c>-p</c>/<c>--password-prompt</c> prompts
/// without echo, <c>--password-stdin</c> reads the first line of standard input, and <c>RDPNLA_PASSWORD</c> is used when
/// neither is given. A password is never taken from the command line (docs/login.md, "Giving the password").
/// </summary>
public sealed class PasswordOptions
{
    /// <summary>The one line a password given on the command line gets; the value itself is never used nor echoed.</summary>
    public const string ValueRefused =
        UsageErrors.Prefix + "-p (--password-prompt) takes no value and rdpnla never takes a password on the command line, where every user of this machine can read it (ps, /proc); " +
        "give -p alone after the other arguments to be prompted, pipe the password with --password-stdin, or set " + PasswordInput.EnvironmentVariable;

    /// <summary>Creates the options; <paramref name="what"/> qualifies the descriptions (e.g. "live" for doctor).</summary>
    public PasswordOptions(string? what = null)
    {
        string suffix = what is null ? "" : $" ({what})";
        Stdin = new Option<bool>("--password-stdin") { Description = $"Read the password from the first line of standard input{suffix}." };

        // A string option with an optional value, so that a value after -p is caught and refused rather than taken as
        // another argument (a host name, looked up in DNS).
        Prompt = new Option<string?>("--password-prompt", "-p")
        {
            Description = $"Prompt for the password without echo{suffix}; takes no value (a value is refused). Without -p or --password-stdin: {PasswordInput.EnvironmentVariable} when set, else the prompt.",
            Arity = ArgumentArity.ZeroOrOne,
        };

        // The old form `login -p PASS` also had `--password PASS`: recognised only to be refused with the same line.
        Legacy = new Option<string?>("--password") { Hidden = true, Arity = ArgumentArity.ZeroOrOne };
    }

    public Option<bool> Stdin { get; }

    public Option<string?> Prompt { get; }

    public Option<string?> Legacy { get; }

    /// <summary>Adds the options to <paramref name="command"/>, with the validator that refuses a password given as a value.</summary>
    public void AddTo(Command command)
    {
        ArgumentNullException.ThrowIfNull(command);
        command.Options.Add(Stdin);
        command.Options.Add(Prompt);
        command.Options.Add(Legacy);
        command.Validators.Add(Validate);
    }

    /// <summary>Whether the command line names a password source (-p or --password-stdin).</summary>
    public bool IsGiven(ParseResult parse)
    {
        ArgumentNullException.ThrowIfNull(parse);
        return parse.GetValue(Stdin) || parse.GetResult(Prompt) is not null;
    }

    /// <summary>Whether a password is given at all: -p, --password-stdin, or RDPNLA_PASSWORD set and not empty.</summary>
    public bool HasSource(ParseResult parse) =>
        IsGiven(parse) || !string.IsNullOrEmpty(Environment.GetEnvironmentVariable(PasswordInput.EnvironmentVariable));

    /// <summary>
    /// Where the password comes from: --password-stdin or -p when given (one of them at most), else RDPNLA_PASSWORD when
    /// set and not empty, else a prompt.
    /// </summary>
    /// <exception cref="CliException">Both --password-stdin and -p are given.</exception>
    public PasswordSource GetSource(ParseResult parse, ICliConsole console)
    {
        ArgumentNullException.ThrowIfNull(parse);
        ArgumentNullException.ThrowIfNull(console);
        bool stdin = parse.GetValue(Stdin);
        bool prompt = parse.GetResult(Prompt) is not null;
        if (stdin && prompt)
        {
            throw new CliException($"give one password source: -p (prompt) or --password-stdin, not both ({PasswordInput.EnvironmentVariable} is used only when neither is given)");
        }

        if (prompt && console.IsInputRedirected)
        {
            throw new CliException($"-p prompts on a terminal and standard input is not one; pipe the password with --password-stdin, or set {PasswordInput.EnvironmentVariable}");
        }

        return stdin ? PasswordSource.Stdin
            : prompt ? PasswordSource.Prompt
            : string.IsNullOrEmpty(console.GetEnvironmentVariable(PasswordInput.EnvironmentVariable)) ? PasswordSource.Prompt
            : PasswordSource.Environment;
    }

    private void Validate(CommandResult result)
    {
        if (result.GetResult(Prompt) is { Tokens.Count: > 0 } || result.GetResult(Legacy) is not null)
        {
            result.AddError(ValueRefused);
        }
    }
}
