using RdpNla.Cli;

return await CliApplication.RunAsync(args);
