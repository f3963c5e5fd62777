namespace RdpNla.Cli.Commands;

/// <summary><c>rdpnla users set-backend|clear-backend|set-credentials|clear-credentials</c>: the gateway's per-user settings.</summary>
public static partial class UsersCommand
{
    internal static void AddGatewayCommands(Command users)
    {
        var backend = new Argument<string>("backend") { Description = "The backend, HOST:PORT (port 3389 when omitted)." };
        users.Subcommands.Add(CreateUserCommand("set-backend", "Relay this user to its own backend (before its groups' and the default backend).", async c =>
        {
            string text = c.ParseResult.GetValue(backend) ?? string.Empty;
            if (!BackendAddress.TryParse(text, out BackendAddress? address, out string? problem))
            {
                throw new CliException($"backend '{text}': {problem}");
            }

            UserAccount account = await c.Database.Users.FindAsync(c.UserName, c.CancellationToken) ?? throw NoSuchUser(c.UserName);
            await c.Database.Gateway.SetUserBackendAsync(account.UserName, address.ToString(), c.CancellationToken);
            await c.Output.WriteLineAsync($"user '{account.UserName}' relayed to {address}");
            return ExitCodes.Success;
        }, arguments: [backend]));

        users.Subcommands.Add(CreateUserCommand("clear-backend", "Remove the user's own backend (its groups' or the default backend apply).", async c =>
        {
            UserAccount account = await c.Database.Users.FindAsync(c.UserName, c.CancellationToken) ?? throw NoSuchUser(c.UserName);
            await c.Database.Gateway.SetUserBackendAsync(account.UserName, null, c.CancellationToken);
            await c.Output.WriteLineAsync($"user '{account.UserName}' has no backend of its own");
            return ExitCodes.Success;
        }));

        var backendUser = new Option<string>("--backend-user") { Description = "The account on the backend.", Required = true, HelpName = "NAME" };
        var backendDomain = new Option<string?>("--backend-domain") { Description = "The backend account's domain (default: none).", HelpName = "DOMAIN" };
        var forBackend = new Option<string?>("--backend")
        {
            Description = "The backend these credentials are for, HOST:PORT; the sealed password opens only for it (default: the user's own backend, else its first group's). Gateway:DefaultBackend is not read here: give it with --backend.",
            HelpName = "HOST:PORT",
        };
        var backendPassword = new PasswordOptions();
        var winbindRun = WinbindRunOption();
        users.Subcommands.Add(WithPassword(backendPassword, CreateUserCommand(
            true,
            "set-credentials",
            "Map the user, or a domain account (DOMAIN\\NAME, NAME@DNS.DOMAIN; needs --backend), to backend credentials (the user never types them); the password is sealed with the gateway key (AES-256-GCM; key file gateway.key in the data folder or RDPNLA_GATEWAY_KEY), bound to the user, the backend and the backend account.",
            async c =>
            {
                (string user, string domain) = BackendAccount(c.ParseResult.GetValue(backendUser), c.ParseResult.GetValue(backendDomain));
                string owner;
                string target;
                string? accountKey = null;
                if (c.IsDomainAccount)
                {
                    accountKey = await DomainAccountKeyAsync(c.UserName, c.ParseResult.GetValue(winbindRun), mustExist: true);
                    owner = c.UserName;
                    target = ParseBackend(c.ParseResult.GetValue(forBackend)
                        ?? throw new CliException($"domain account '{owner}': give the backend these credentials are for: --backend HOST:PORT"));
                }
                else
                {
                    UserAccount account = await c.Database.Users.FindAsync(c.UserName, c.CancellationToken) ?? throw NoSuchUser(c.UserName);
                    owner = account.UserName;
                    target = await MappedCredentialBackendAsync(c.Database.Gateway, owner, c.ParseResult.GetValue(forBackend), c.CancellationToken);
                }

                string dataDirectory = c.Database.DataDirectory;
                GatewayKey key;
                try
                {
                    key = GatewayKey.Load(dataDirectory, null, create: true);
                }
                catch (InvalidOperationException ex)
                {
                    throw new CliException(ex.Message, ExitCodes.DataError);
                }

                using (key)
                {
                    byte[] password = PasswordInput.ReadUtf16(CliConsole.Current, c.ParseResult.InvocationConfiguration.Error, backendPassword.GetSource(c.ParseResult, CliConsole.Current), user, $"rdpnla users set-credentials {owner}");
                    try
                    {
                        await (accountKey is null
                            ? c.Database.Gateway.SetMappedCredentialAsync(owner, target, user, domain, password, key, c.CancellationToken)
                            : c.Database.Gateway.SetDomainMappedCredentialAsync(accountKey, owner, target, user, domain, password, key, c.CancellationToken));
                    }
                    finally
                    {
                        CryptographicOperations.ZeroMemory(password);
                    }

                    string which = accountKey is null ? $"user '{owner}'" : $"domain account '{owner}' ({accountKey})";
                    await c.Output.WriteLineAsync($"{which} mapped to backend account '{user}' on {target} (password sealed with the {key.Origin})");
                }

                return ExitCodes.Success;
            },
            [],
            backendUser,
            backendDomain,
            forBackend,
            winbindRun)));

        var clearWinbindRun = WinbindRunOption();
        users.Subcommands.Add(CreateUserCommand(true, "clear-credentials", "Remove the mapped credentials of the user or domain account (back to pass-through of the user's own).", async c =>
        {
            if (c.IsDomainAccount)
            {
                string accountKey = await DomainAccountKeyAsync(c.UserName, c.ParseResult.GetValue(clearWinbindRun), mustExist: false);
                bool removedDomain = await c.Database.Gateway.RemoveDomainMappedCredentialAsync(accountKey, c.CancellationToken);
                await c.Output.WriteLineAsync(removedDomain ? $"domain account '{c.UserName}' uses pass-through credentials again" : $"domain account '{c.UserName}' ({accountKey}) had no mapped credentials");
                return ExitCodes.Success;
            }

            UserAccount account = await c.Database.Users.FindAsync(c.UserName, c.CancellationToken) ?? throw NoSuchUser(c.UserName);
            bool removed = await c.Database.Gateway.RemoveMappedCredentialAsync(account.UserName, c.CancellationToken);
            await c.Output.WriteLineAsync(removed ? $"user '{account.UserName}' uses pass-through credentials again" : $"user '{account.UserName}' had no mapped credentials");
            return ExitCodes.Success;
        }, [], clearWinbindRun));
    }

    /// <summary>
    /// The backend account of set-credentials, checked before anything is read or stored: the user must be named, and
    /// neither it nor the domain may hold a control character (both are printed, and sent to the backend at each session).
    /// An empty domain is none.
    /// </summary>
    private static (string User, string Domain) BackendAccount(string? user, string? domain)
    {
        if (string.IsNullOrWhiteSpace(user))
        {
            throw new CliException($"--backend-user is {(string.IsNullOrEmpty(user) ? "empty" : "blank")}; give the account on the backend, e.g. --backend-user svc");
        }

        domain ??= string.Empty;
        if (domain.Length > 0 && string.IsNullOrWhiteSpace(domain))
        {
            throw new CliException("--backend-domain is blank; give the backend account's domain, or leave the option out for none");
        }

        foreach ((string option, string value) in new[] { ("--backend-user", user), ("--backend-domain", domain) })
        {
            if (value.Any(char.IsControl))
            {
                throw new CliException($"{option} '{PrintableText.Escape(value)}' contains a control character; give the name as the backend knows it");
            }
        }

        return (user, domain);
    }

    /// <summary><c>--winbind-run-dir</c> of the commands that name domain accounts or groups.</summary>
    internal static Option<string?> WinbindRunOption() => new("--winbind-run-dir")
    {
        Description = "Folder to bind on /run/samba, in a mount namespace of the thread that asks winbind (needs root), when winbind's socket is elsewhere (as serve's --winbind-run-dir).",
        HelpName = "FOLDER",
    };

    /// <summary>Runs <paramref name="lookup"/> on the host's winbind; its failures become one command-line error.</summary>
    internal static async Task<T> WithWinbindAsync<T>(string? runDirectory, Func<Server.ActiveDirectory.WinbindDirectory, Task<T>> lookup)
    {
        try
        {
            using Server.ActiveDirectory.WinbindDirectory directory = await Server.ActiveDirectory.WinbindDirectory.OpenAsync(runDirectory, "--winbind-run-dir");
            return await lookup(directory);
        }
        catch (InvalidOperationException ex)
        {
            throw new CliException($"domain names are resolved through the host's winbind: {ex.Message}");
        }
    }

    private static Task<string> DomainAccountKeyAsync(string name, string? runDirectory, bool mustExist) =>
        WithWinbindAsync(runDirectory, directory => mustExist
            ? directory.AccountKeyAsync(name)
            : Task.FromResult(Server.ActiveDirectory.DomainAccountName.Normalize(name, directory.NetBiosDomain, directory.DnsDomain, out string? error) ?? throw new InvalidOperationException(error)));

    internal static string ParseBackend(string text) =>
        BackendAddress.TryParse(text, out BackendAddress? address, out string? problem) ? address.ToString() : throw new CliException($"backend '{text}': {problem}");

    /// <summary>The backend mapped credentials are sealed for: <c>--backend</c>, else the user's own, else its first group's.</summary>
    private static async Task<string> MappedCredentialBackendAsync(GatewayStore gateway, string userName, string? option, CancellationToken cancellationToken)
    {
        string? text = option ?? await gateway.GetUserBackendAsync(userName, cancellationToken) ?? (await gateway.GetGroupBackendAsync(userName, cancellationToken))?.Backend;
        if (text is null)
        {
            throw new CliException($"user '{userName}' has no backend of its own or of a group; give the backend these credentials are for: --backend HOST:PORT");
        }

        return ParseBackend(text);
    }
}

/// <summary><c>rdpnla groups ...</c>: groups of users sharing a backend.</summary>
public static class GroupsCommand
{
    public static Command Create()
    {
        var groups = new Command("groups", "Manage groups of users and their backends (a user's own backend comes first, then its groups' by name, then Gateway:DefaultBackend), and the backends of domain groups (DOMAIN\\group or a SID: a domain user goes to its first domain group by name with a backend, then Gateway:DefaultBackend).");
        groups.Subcommands.Add(GroupCommand("add", "Create a group, optionally with a backend; its name follows Windows' rules for group names (no control characters, none of \" / \\ [ ] : ; | = , + * ? < > @, at most 256 characters).", async (c, name, value) =>
        {
            if (IsDomainGroup(name))
            {
                throw new CliException($"'{PrintableText.Escape(name)}' names a domain group, whose members are the domain controller's: give it a backend with: rdpnla groups set-backend '{PrintableText.Escape(name)}' HOST:PORT");
            }

            if (LocalGroupName.Validate(name) is { } problem)
            {
                throw new CliException(problem);
            }

            string? backend = value is null ? null : Parse(value);
            if (!await c.Gateway.AddGroupAsync(name, backend, c.Token))
            {
                throw new CliException($"group '{name}' already exists");
            }

            return $"group '{name}' added" + (backend is null ? string.Empty : $" with backend {backend}");
        }, optionalValue: "backend", checkName: false));
        groups.Subcommands.Add(GroupCommand("remove", "Delete a group (its members stay); for a domain group, remove its backend.", async (c, name, _) =>
        {
            if (IsDomainGroup(name))
            {
                string sid = await UsersCommand.WithWinbindAsync(c.WinbindRunDirectory, directory => directory.GroupSidAsync(name));
                return await c.Gateway.RemoveDomainGroupBackendAsync(sid, c.Token) ? $"domain group '{name}' ({sid}) has no backend any more" : throw new CliException($"domain group '{PrintableText.Escape(name)}' ({sid}) has no backend; run 'rdpnla groups list'");
            }

            return await c.Gateway.RemoveGroupAsync(name, c.Token) ? $"group '{name}' removed" : throw NoSuchGroup(name);
        }, domainGroups: true));
        groups.Subcommands.Add(GroupCommand("set-backend", "Set a group's backend, HOST:PORT; for a domain group (DOMAIN\\group, resolved to its SID through winbind, or a SID) the backend of its members.", async (c, name, value) =>
        {
            string backend = Parse(value!);
            if (IsDomainGroup(name))
            {
                string sid = await UsersCommand.WithWinbindAsync(c.WinbindRunDirectory, directory => directory.GroupSidAsync(name));
                await c.Gateway.SetDomainGroupBackendAsync(sid, name, backend, c.Token);
                return $"domain group '{name}' ({sid}) relayed to {backend}";
            }

            return await c.Gateway.SetGroupBackendAsync(name, backend, c.Token) ? $"group '{name}' relayed to {backend}" : throw NoSuchGroup(name);
        }, requiredValue: "backend", domainGroups: true));
        groups.Subcommands.Add(GroupCommand("add-member", "Add a user to a group; a user who is a member already stays one (the command says so and succeeds).", async (c, name, value) =>
        {
            (GatewayGroup group, UserAccount user) = await GroupAndUserAsync(c, name, value!);
            if (IsMember(group, user))
            {
                return $"user '{user.UserName}' is already a member of group '{group.Name}'";
            }

            return await c.Gateway.AddMemberAsync(group.Name, user.UserName, c.Token)
                ? $"user '{user.UserName}' added to group '{group.Name}'"
                : throw ChangedMeanwhile(group, user);
        }, requiredValue: "user"));
        groups.Subcommands.Add(GroupCommand("remove-member", "Remove a user from a group; a user who is not a member is left so (the command says so and succeeds).", async (c, name, value) =>
        {
            (GatewayGroup group, UserAccount user) = await GroupAndUserAsync(c, name, value!);
            return await c.Gateway.RemoveMemberAsync(group.Name, user.UserName, c.Token)
                ? $"user '{user.UserName}' removed from group '{group.Name}'"
                : $"user '{user.UserName}' was not a member of group '{group.Name}'";
        }, requiredValue: "user"));

        var data = DataDirectoryOption.Create();
        var list = new Command("list", "List the groups, their backends and members.") { data };
        list.SetAction((parseResult, cancellationToken) => DataDirectoryOption.RunAsync(parseResult, async output =>
        {
            await using RdpNlaStore database = await DataDirectoryOption.OpenDatabaseAsync(parseResult, data, cancellationToken, existing: true);
            IReadOnlyList<GatewayGroup> all = await database.Gateway.ListGroupsAsync(cancellationToken);
            IReadOnlyList<DomainGroupBackend> domainGroups = await database.Gateway.ListDomainGroupBackendsAsync(cancellationToken);
            if (all.Count == 0 && domainGroups.Count == 0)
            {
                await output.WriteLineAsync("no groups; add one with 'rdpnla groups add NAME [HOST:PORT]'");
            }

            // A name stored by an older version, which took any name, can hold control characters: each field is escaped
            // (docs/hardening.md), so one group stays one line and its tabs stay the separators.
            foreach (GatewayGroup group in all)
            {
                await output.WriteLineAsync($"{PrintableText.Escape(group.Name)}\tbackend {PrintableText.Escape(group.Backend ?? "(none)")}\tmembers {(group.Members.Count == 0 ? "(none)" : string.Join(", ", group.Members.Select(PrintableText.Escape)))}");
            }

            foreach (DomainGroupBackend group in domainGroups)
            {
                await output.WriteLineAsync($"{PrintableText.Escape(group.Name)}\tbackend {PrintableText.Escape(group.Backend)}\tdomain group {PrintableText.Escape(group.Sid)} (members from the domain controller)");
            }

            return ExitCodes.Success;
        }));
        groups.Subcommands.Add(list);
        UsersCommand.AddGroupMfaCommands(groups);
        groups.Options.Add(StoreOption.Create(recursive: true));
        return groups;
    }

    /// <summary>
    /// The local group named <paramref name="name"/> for <c>rdpnla groups <paramref name="command"/></c>: a name
    /// <c>groups add</c> would refuse is refused with the reason, unless a group of that name is stored (added by an
    /// older version, which took any name), so that it can still be removed or changed.
    /// </summary>
    internal static async Task CheckLocalGroupNameAsync(GatewayStore gateway, string name, string command, CancellationToken cancellationToken)
    {
        if (LocalGroupName.Validate(name) is not { } problem || await gateway.FindGroupAsync(name, cancellationToken) is not null)
        {
            return;
        }

        throw new CliException(IsDomainGroup(name)
            ? $"'{PrintableText.Escape(name)}' names a domain group, whose members are the domain controller's; 'rdpnla groups {command}' is for the groups of the local store (a domain group only gets a backend: rdpnla groups set-backend)"
            : problem);
    }

    private sealed record GroupContext(GatewayStore Gateway, IUserStore Users, CancellationToken Token, string? WinbindRunDirectory);

    /// <summary>The group and the user of add-member and remove-member, each looked up so that the error names the one missing.</summary>
    private static async Task<(GatewayGroup Group, UserAccount User)> GroupAndUserAsync(GroupContext context, string groupName, string typedUser)
    {
        string userName = UsersCommand.ResolveLocalUserName(typedUser);
        GatewayGroup group = await context.Gateway.FindGroupAsync(groupName, context.Token) ?? throw NoSuchGroup(groupName);
        UserAccount user = await context.Users.FindAsync(userName, context.Token) ?? throw UsersCommand.NoSuchUser(userName);
        return (group, user);
    }

    private static bool IsMember(GatewayGroup group, UserAccount user) =>
        group.Members.Any(member => string.Equals(AccountName.NormalizeUserName(member), AccountName.NormalizeUserName(user.UserName), StringComparison.Ordinal));

    /// <summary>The membership changed between the look-up and the change: another command ran at the same time.</summary>
    private static CliException ChangedMeanwhile(GatewayGroup group, UserAccount user) =>
        new($"group '{PrintableText.Escape(group.Name)}' or user '{user.UserName}' was changed by another command meanwhile; run 'rdpnla groups list' and try again");

    /// <summary>A domain group is written DOMAIN\group or as a SID; local group names have neither.</summary>
    private static bool IsDomainGroup(string name) => name.Contains('\\', StringComparison.Ordinal) || Server.ActiveDirectory.DirectoryOptions.IsSid(name);

    /// <summary>
    /// A command on one group: the group's name is checked (<see cref="CheckLocalGroupNameAsync"/>) unless
    /// <paramref name="checkName"/> is false (<c>add</c> checks it itself) or, with <paramref name="domainGroups"/>,
    /// it names a domain group; the line the action returns is printed with any control character escaped.
    /// </summary>
    private static Command GroupCommand(string name, string description, Func<GroupContext, string, string?, Task<string>> action, string? requiredValue = null, string? optionalValue = null, bool domainGroups = false, bool checkName = true)
    {
        var data = DataDirectoryOption.Create();
        var group = new Argument<string>("group") { Description = domainGroups ? "The group's name (case-insensitive), or a domain group: DOMAIN\\group or its SID." : "The group's name (case-insensitive)." };
        var command = new Command(name, description) { group, data };
        Option<string?>? winbindRun = domainGroups ? UsersCommand.WinbindRunOption() : null;
        if (winbindRun is not null)
        {
            command.Options.Add(winbindRun);
        }

        Argument<string?>? value = null;
        if ((requiredValue ?? optionalValue) is not null)
        {
            value = new Argument<string?>(requiredValue ?? optionalValue!) { Arity = requiredValue is null ? ArgumentArity.ZeroOrOne : ArgumentArity.ExactlyOne };
            command.Arguments.Add(value);
        }

        command.SetAction((parseResult, cancellationToken) => DataDirectoryOption.RunAsync(parseResult, async output =>
        {
            string groupName = parseResult.GetValue(group) ?? string.Empty;
            await using RdpNlaStore database = await DataDirectoryOption.OpenDatabaseAsync(parseResult, data, cancellationToken);
            if (checkName && !(domainGroups && IsDomainGroup(groupName)))
            {
                await CheckLocalGroupNameAsync(database.Gateway, groupName, name, cancellationToken);
            }

            string message = await action(new GroupContext(database.Gateway, database.Users, cancellationToken, winbindRun is null ? null : parseResult.GetValue(winbindRun)), groupName, value is null ? null : parseResult.GetValue(value));
            await output.WriteLineAsync(PrintableText.Escape(message));
            return ExitCodes.Success;
        }));
        return command;
    }

    private static string Parse(string text) => UsersCommand.ParseBackend(text);

    internal static CliException NoSuchGroup(string name) => new($"no group '{PrintableText.Escape(name)}'; run 'rdpnla groups list'");
}

/// <summary><c>rdpnla backends ...</c>: backend security settings and protocol pins, certificates trusted on first use, and the session audit.</summary>
public static class BackendsCommand
{
    public static Command Create()
    {
        var backends = new Command("backends", "Backend security settings and protocol pins, certificates recorded on first use, and the relayed sessions.");
        backends.Subcommands.Add(BackendCommand("forget-certificate", "Forget the certificate recorded for a backend; the next session records the one it presents.", async (gateway, address, _, cancellationToken) =>
            await gateway.ForgetCertificateAsync(address.ToString(), cancellationToken) ? $"certificate of {address} forgotten" : $"no certificate recorded for {address}"));

        var securityValue = new Argument<string>("security")
        {
            Description = "nla: NLA (HYBRID or HYBRID_EX) only, the password never leaves CredSSP; tls: a TLS-only backend (xrdp), the password goes in the Client Info PDU; negotiate: whatever the backend selects, except a downgrade below what it selected before; default: back to Gateway:BackendSecurity.",
            HelpName = "nla|tls|negotiate|default",
        };
        backends.Subcommands.Add(BackendCommand("set-security", "Set the security protocols accepted from a backend (docs/gateway.md, \"Backend security and downgrades\").", async (gateway, address, parseResult, cancellationToken) =>
        {
            string text = parseResult.GetValue(securityValue) ?? string.Empty;
            BackendSecurity? security = null;
            if (!string.Equals(text, "default", StringComparison.OrdinalIgnoreCase))
            {
                security = BackendSecurityNames.TryParse(text, out BackendSecurity parsed) ? parsed
                    : throw new CliException($"security '{text}' is not one of nla, tls, negotiate, default");
            }

            await gateway.SetBackendSecurityAsync(address.ToString(), security, cancellationToken);
            return security is { } value ? $"backend {address}: security {value.Name()}" : $"backend {address}: security from Gateway:BackendSecurity";
        }, securityValue));

        backends.Subcommands.Add(BackendCommand("forget-protocol", "Forget the strongest protocol recorded for a backend (its protocol pin), after its security was lowered on purpose; the next session records what it selects.", async (gateway, address, _, cancellationToken) =>
            await gateway.ForgetProtocolAsync(address.ToString(), cancellationToken) ? $"protocol pin of {address} forgotten" : $"no protocol recorded for {address}"));

        var listData = DataDirectoryOption.Create();
        var list = new Command("list", "The backends with a security setting or a recorded protocol: setting, strongest protocol selected, with which certificate, since when.") { listData };
        list.SetAction((parseResult, cancellationToken) => DataDirectoryOption.RunAsync(parseResult, async output =>
        {
            await using RdpNlaStore database = await DataDirectoryOption.OpenDatabaseAsync(parseResult, listData, cancellationToken, existing: true);
            IReadOnlyList<BackendSecurityRecord> rows = await database.Gateway.ListBackendSecurityAsync(null, cancellationToken);
            if (rows.Count == 0)
            {
                await output.WriteLineAsync("no backend has a security setting or a recorded protocol yet");
            }

            foreach (BackendSecurityRecord row in rows)
            {
                await output.WriteLineAsync(
                    $"{row.Backend}\tsecurity {row.Security?.Name() ?? "(Gateway:BackendSecurity)"}\tstrongest {row.StrongestProtocol ?? "-"}" +
                    (row.StrongestProtocol is null ? string.Empty : $" since {row.StrongestAt:u} (certificate SHA-256 {row.StrongestSha256})"));
            }

            return ExitCodes.Success;
        }));
        backends.Subcommands.Add(list);

        var sessionsData = DataDirectoryOption.Create();
        var user = new Option<string?>("--user") { Description = "Only this user's sessions." };
        var limit = new Option<int>("--limit") { Description = "At most N rows, newest first (default 50).", HelpName = "N", DefaultValueFactory = _ => 50 };
        var sessions = new Command("sessions", "The relayed sessions: user, client, backend, protocol per leg, start, end, bytes each way, how it ended.") { sessionsData, user, limit };
        sessions.SetAction((parseResult, cancellationToken) => DataDirectoryOption.RunAsync(parseResult, async output =>
        {
            // As audit's --limit: 0 or a negative number is a mistake, not "no limit" or "one row".
            int limitValue = parseResult.GetValue(limit);
            if (limitValue < 1)
            {
                throw new CliException($"--limit {limitValue} is not a positive number; give e.g. --limit 100");
            }

            await using RdpNlaStore database = await DataDirectoryOption.OpenDatabaseAsync(parseResult, sessionsData, cancellationToken, existing: true);
            foreach (GatewaySessionRecord row in await database.Gateway.ListSessionsAsync(parseResult.GetValue(user), limitValue, cancellationToken))
            {
                // The reason can quote what a client or a backend sent (docs/hardening.md, control characters).
                await output.WriteLineAsync(PrintableText.Escape(
                    $"{row.Started:u}  {row.Ended - row.Started:hh\\:mm\\:ss}  {row.UserName} from {row.ClientAddress}:{row.ClientPort} -> {row.Backend} as {row.BackendAccount} ({row.CredentialMode}) " +
                    $"front {row.FrontProtocol} backend {row.BackendProtocol ?? "-"}  up {row.BytesToBackend} B down {row.BytesToClient} B  {row.Outcome}: {row.Reason}"));
            }

            return ExitCodes.Success;
        }));
        backends.Subcommands.Add(sessions);
        backends.Options.Add(StoreOption.Create(recursive: true));
        return backends;
    }

    /// <summary>A command on one backend (HOST:PORT argument, then <paramref name="extra"/>) that prints one line.</summary>
    private static Command BackendCommand(string name, string description, Func<GatewayStore, BackendAddress, ParseResult, CancellationToken, Task<string>> action, params Argument[] extra)
    {
        var data = DataDirectoryOption.Create();
        var backend = new Argument<string>("backend") { Description = "HOST:PORT as configured." };
        var command = new Command(name, description) { backend };
        foreach (Argument argument in extra)
        {
            command.Arguments.Add(argument);
        }

        command.Options.Add(data);
        command.SetAction((parseResult, cancellationToken) => DataDirectoryOption.RunAsync(parseResult, async output =>
        {
            string text = parseResult.GetValue(backend) ?? string.Empty;
            BackendAddress address = BackendAddress.TryParse(text, out BackendAddress? parsed, out string? problem) ? parsed : throw new CliException($"backend '{text}': {problem}");
            await using RdpNlaStore database = await DataDirectoryOption.OpenDatabaseAsync(parseResult, data, cancellationToken);
            await output.WriteLineAsync(await action(database.Gateway, address, parseResult, cancellationToken));
            return ExitCodes.Success;
        }));
        return command;
    }
}
