namespace RdpNla.Cli.Commands;

/// <summary><c>rdpnla users ...</c>: manage the local user store in the data directory.</summary>
public static partial class UsersCommand
{
    private delegate Task<int> UserAction(UserCommandContext context);

    /// <summary>One user command's inputs; <c>IsDomainAccount</c>: the name is a domain account as typed (DOMAIN\user, user@domain), for the commands that accept one.</summary>
    private sealed record UserCommandContext(ParseResult ParseResult, RdpNlaStore Database, string UserName, TextWriter Output, CancellationToken CancellationToken, bool IsDomainAccount = false);

    public static Command Create()
    {
        var users = new Command("users", "Manage the users rdpnla authenticates (the local user store).");
        users.Subcommands.Add(CreateAdd());
        users.Subcommands.Add(CreateSetPassword());
        users.Subcommands.Add(CreateUserCommand("remove", "Delete a user.", async c =>
        {
            UserAccount account = await c.Database.Users.FindAsync(c.UserName, c.CancellationToken) ?? throw NoSuchUser(c.UserName);
            if (!await c.Database.Users.RemoveAsync(account.UserName, c.CancellationToken))
            {
                throw NoSuchUser(c.UserName);
            }

            await c.Output.WriteLineAsync($"user '{account.UserName}' removed");
            return ExitCodes.Success;
        }));
        users.Subcommands.Add(CreateList());
        users.Subcommands.Add(CreateShow());
        users.Subcommands.Add(CreateLock());
        users.Subcommands.Add(CreateUserCommand("unlock", "Unlock a locked-out user and reset the failed-attempt counter.",
            c => UpdateAsync(c, a => a with { LockedUntil = null, FailedLogonCount = 0, LastFailedLogon = null }, "unlocked")));
        users.Subcommands.Add(CreateUserCommand("disable", "Disable a user (STATUS_ACCOUNT_DISABLED after a correct password).",
            c => UpdateAsync(c, a => a with { Disabled = true }, "disabled")));
        users.Subcommands.Add(CreateUserCommand("enable", "Enable a disabled user.",
            c => UpdateAsync(c, a => a with { Disabled = false }, "enabled")));
        users.Subcommands.Add(CreateUserCommand("expire-password", "Mark the password expired (STATUS_PASSWORD_EXPIRED after a correct password) until set-password.",
            c => UpdateAsync(c, a => a with { PasswordExpired = true }, "password marked expired")));
        users.Subcommands.Add(CreateUserCommand("require-password-change", "Require a password change (STATUS_PASSWORD_MUST_CHANGE after a correct password) until set-password.",
            c => UpdateAsync(c, a => a with { MustChangePassword = true }, "must change the password")));
        users.Subcommands.Add(CreateUserCommand("deny-logon", "Deny remote logon: the user authenticates but the connection is refused.",
            c => UpdateAsync(c, a => a with { RemoteLogonDenied = true }, "denied remote logon")));
        users.Subcommands.Add(CreateUserCommand("allow-logon", "Allow remote logon again.",
            c => UpdateAsync(c, a => a with { RemoteLogonDenied = false }, "allowed remote logon")));
        AddGatewayCommands(users);
        AddMfaCommands(users);
        users.Options.Add(StoreOption.Create(recursive: true));
        return users;
    }

    private static Command CreateAdd()
    {
        var password = new PasswordOptions();
        return WithPassword(password, CreateUserCommand("add", "Add a user; the password is read from a prompt, --password-stdin or RDPNLA_PASSWORD and only its NT hash is stored.", async c =>
        {
            if (await c.Database.Users.FindAsync(c.UserName, c.CancellationToken) is { } existing)
            {
                throw AlreadyExists(existing.UserName);
            }

            byte[] hash = ReadPassword(c, password, $"rdpnla users add {c.UserName}");
            try
            {
                UserAccount account = await c.Database.Users.AddAsync(c.UserName, hash, c.CancellationToken);
                await c.Output.WriteLineAsync($"user '{account.UserName}' added");
                return ExitCodes.Success;
            }
            catch (UserAlreadyExistsException ex)
            {
                throw AlreadyExists(ex.UserName);
            }
            finally
            {
                CryptographicOperations.ZeroMemory(hash);
            }
        }));
    }

    private static Command CreateSetPassword()
    {
        var password = new PasswordOptions();
        var mustChange = new Option<bool>("--must-change")
        {
            Description = "Keep (or set) the must-change flag; by default a new password clears it and the expired flag.",
        };
        return WithPassword(password, CreateUserCommand("set-password", "Set a user's password; clears the expired and must-change flags.", async c =>
        {
            UserAccount account = await c.Database.Users.FindAsync(c.UserName, c.CancellationToken) ?? throw NoSuchUser(c.UserName);
            byte[] hash = ReadPassword(c, password, $"rdpnla users set-password {account.UserName}");
            try
            {
                _ = await c.Database.Users.SetNtHashAsync(account.UserName, hash, c.ParseResult.GetValue(mustChange), c.CancellationToken)
                    ?? throw NoSuchUser(c.UserName);
                await c.Output.WriteLineAsync($"password of user '{account.UserName}' set");
                return ExitCodes.Success;
            }
            finally
            {
                CryptographicOperations.ZeroMemory(hash);
            }
        }, mustChange));
    }

    private static Command CreateList()
    {
        var data = DataDirectoryOption.Create();
        var json = JsonOption();
        var command = new Command("list", "List the users and their account state.") { data, json };
        command.SetAction((parseResult, cancellationToken) => DataDirectoryOption.RunAsync(parseResult, async output =>
        {
            await using RdpNlaStore database = await DataDirectoryOption.OpenDatabaseAsync(parseResult, data, cancellationToken, existing: true);
            IReadOnlyList<UserAccount> accounts = await database.Users.ListAsync(cancellationToken);
            DateTimeOffset now = TimeProvider.System.GetUtcNow();
            if (parseResult.GetValue(json))
            {
                await output.WriteLineAsync(ToJson(accounts, now));
            }
            else if (accounts.Count == 0)
            {
                await output.WriteLineAsync("no users; add one with 'rdpnla users add NAME'");
            }
            else
            {
                WriteTable(output, accounts, now);
            }

            return ExitCodes.Success;
        }));
        return command;
    }

    private static Command CreateShow()
    {
        var json = JsonOption();
        return CreateUserCommand("show", "Show one user's account state.", async c =>
        {
            UserAccount account = await c.Database.Users.FindAsync(c.UserName, c.CancellationToken) ?? throw NoSuchUser(c.UserName);
            DateTimeOffset now = TimeProvider.System.GetUtcNow();
            if (c.ParseResult.GetValue(json))
            {
                await c.Output.WriteLineAsync(ToJson(account, now));
            }
            else
            {
                WriteDetails(c.Output, account, now);
            }

            return ExitCodes.Success;
        }, json);
    }

    private static Command CreateLock()
    {
        var duration = new Option<string?>("--for")
        {
            Description = "How long to lock, e.g. 30m, 2h, 1d or 01:30:00 (default: until 'rdpnla users unlock').",
            HelpName = "DURATION",
        };
        return CreateUserCommand("lock", "Lock a user out (STATUS_ACCOUNT_LOCKED_OUT whatever the password).", c =>
        {
            string? text = c.ParseResult.GetValue(duration);
            DateTimeOffset until = DateTimeOffset.MaxValue;
            if (text is not null)
            {
                TimeSpan span = TimeInput.ParseDuration(text, "--for");
                until = TimeProvider.System.GetUtcNow() + span;
            }

            string what = until == DateTimeOffset.MaxValue
                ? "locked until unlocked"
                : $"locked until {until.ToString("u", CultureInfo.InvariantCulture)}";
            return UpdateAsync(c, a => a with { LockedUntil = until }, what);
        }, duration);
    }

    private static Command CreateUserCommand(string name, string description, UserAction action, params Option[] options) =>
        CreateUserCommand(name, description, action, [], options);

    private static Command CreateUserCommand(string name, string description, UserAction action, Argument[] arguments, params Option[] options) =>
        CreateUserCommand(false, name, description, action, arguments, options);

    /// <summary>A command on one user; with <paramref name="domainAccounts"/> it also takes a domain account (docs/active-directory.md).</summary>
    private static Command CreateUserCommand(bool domainAccounts, string name, string description, UserAction action, Argument[] arguments, params Option[] options)
    {
        var data = DataDirectoryOption.Create();
        var userArgument = new Argument<string>("name")
        {
            Description = domainAccounts
                ? "The user: NAME, .\\NAME, HOST\\NAME or NAME@HOST (this server's), or a domain account DOMAIN\\NAME or NAME@DNS.DOMAIN (the host's domain, through winbind)."
                : "The user: NAME, .\\NAME, HOST\\NAME or NAME@HOST (this server's names only).",
        };
        var command = new Command(name, description) { userArgument, data };
        foreach (Argument argument in arguments)
        {
            command.Arguments.Add(argument);
        }

        foreach (Option option in options)
        {
            command.Options.Add(option);
        }

        command.SetAction((parseResult, cancellationToken) => DataDirectoryOption.RunAsync(parseResult, async output =>
        {
            string typed = parseResult.GetValue(userArgument) ?? string.Empty;
            bool domain = domainAccounts && IsDomainAccountName(typed);
            string userName = domain ? typed : ResolveLocalUserName(typed);

            // Every command on a local user but add needs the user, so its database: a mistyped --data is named, not created.
            await using RdpNlaStore database = await DataDirectoryOption.OpenDatabaseAsync(parseResult, data, cancellationToken, existing: name != "add" && !domain);
            return await action(new UserCommandContext(parseResult, database, userName, output, cancellationToken, domain));
        }));
        return command;
    }

    /// <summary>Whether a typed name is qualified with a domain that is not this server's (a domain account).</summary>
    internal static bool IsDomainAccountName(string typed) =>
        Server.ActiveDirectory.DomainAccountName.TrySplit(typed, out string domain, out _) && !LocalDomainNames.FromEnvironment().IsLocal(domain);

    /// <summary>The user part of a typed name, which must designate this server.</summary>
    internal static string ResolveLocalUserName(string typed)
    {
        if (!AccountName.TryParse(typed, out AccountName name, out string? error))
        {
            throw new CliException(error ?? "the user name is not valid");
        }

        if (!name.IsLocalTo(LocalDomainNames.FromEnvironment()))
        {
            throw new CliException($"'{PrintableText.Escape(typed)}' names domain '{PrintableText.Escape(name.Domain)}', which is not this server; the local store holds this server's users only, so give the name as '{name.UserName}' or '.\\{name.UserName}'");
        }

        return name.UserName;
    }

    private static async Task<int> UpdateAsync(UserCommandContext context, Func<UserAccount, UserAccount> update, string what)
    {
        UserAccount account = await context.Database.Users.UpdateAsync(context.UserName, update, context.CancellationToken)
            ?? throw NoSuchUser(context.UserName);
        await context.Output.WriteLineAsync($"user '{account.UserName}' {what}");
        return ExitCodes.Success;
    }

    private static byte[] ReadPassword(UserCommandContext context, PasswordOptions password, string commandHint) =>
        PasswordInput.ReadNtHash(
            CliConsole.Current,
            context.ParseResult.InvocationConfiguration.Error,
            password.GetSource(context.ParseResult, CliConsole.Current),
            context.UserName,
            commandHint);

    private static Command WithPassword(PasswordOptions password, Command command)
    {
        password.AddTo(command);
        return command;
    }

    private static Option<bool> JsonOption() => new("--json") { Description = "Write JSON instead of a table." };

    internal static CliException NoSuchUser(string userName) =>
        new($"no user '{userName}'; run 'rdpnla users list' to see the users, or 'rdpnla users add {userName}' to create it");

    private static CliException AlreadyExists(string userName) =>
        new($"user '{userName}' already exists; use 'rdpnla users set-password {userName}' to change the password");
}
