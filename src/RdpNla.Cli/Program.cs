return await CliApplication.RunAsync(args);
