namespace RdpNla.Cli;

/// <summary>The <c>rdpnla</c> command line: one root command, one subcommand per task.</summary>
public static class CliApplication
{
    public static RootCommand BuildRootCommand()
    {
        var root = new RootCommand("RdpNla: Remote Desktop Network Level Authentication (CredSSP) server and tools.");
        root.Subcommands.Add(ServeCommand.Create());
        root.Subcommands.Add(UsersCommand.Create());
        root.Subcommands.Add(AuditCommand.Create());
        root.Subcommands.Add(DoctorCommand.Create());
        root.Subcommands.Add(LoginCommand.Create());
        root.Subcommands.Add(ProbeCommand.Create());
        root.Subcommands.Add(GroupsCommand.Create());
        root.Subcommands.Add(BackendsCommand.Create());
        root.Subcommands.Add(StoreCommand.Create());
        root.Subcommands.Add(BenchCommand.Create());
        return root;
    }

    public static Task<int> RunAsync(string[] args) => InvokeAsync(args, new InvocationConfiguration(), CancellationToken.None);

    /// <summary>
    /// Parses <paramref name="args"/> and runs the command, writing to <paramref name="configuration"/>'s writers. A command
    /// line that does not parse gets one line per error on the error writer and exit code 1 (<see cref="UsageErrors"/>).
    /// </summary>
    public static Task<int> InvokeAsync(string[] args, InvocationConfiguration configuration, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ParseResult parse = BuildRootCommand().Parse(args);
        if (parse.Action is System.CommandLine.Invocation.ParseErrorAction)
        {
            return Task.FromResult(UsageErrors.Write(parse, configuration.Error));
        }

        // serve handles SIGTERM and Ctrl+C itself and drains relayed sessions for Gateway:DrainTimeout; System.CommandLine's
        // own handling would end the process after its ProcessTerminationTimeout (two seconds), in the middle of the drain.
        if (parse.CommandResult.Command.Name == "serve")
        {
            configuration.ProcessTerminationTimeout = null;
        }

        return parse.InvokeAsync(configuration, cancellationToken);
    }
}
