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

    public static async Task<int> RunAsync(string[] args)
    {
        RootCommand root = BuildRootCommand();
        ParseResult parse = root.Parse(args);
        // serve handles SIGTERM and Ctrl+C itself and drains relayed sessions for Gateway:DrainTimeout; System.CommandLine's
        // own handling would end the process after its ProcessTerminationTimeout (two seconds), in the middle of the drain.
        var configuration = new InvocationConfiguration();
        if (parse.CommandResult.Command.Name == "serve")
        {
            configuration.ProcessTerminationTimeout = null;
        }

        return await parse.InvokeAsync(configuration);
    }
}
