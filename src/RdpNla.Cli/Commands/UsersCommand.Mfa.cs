namespace RdpNla.Cli.Commands;

/// <summary>
/// <c>rdpnla users require-mfa|no-require-mfa|reset-mfa</c> and <c>rdpnla groups require-mfa|no-require-mfa</c>: the
/// second factor at the NLA step (docs/portal.md).
/// </summary>
public static partial class UsersCommand
{
    internal static void AddMfaCommands(Command users)
    {
        users.Subcommands.Add(CreateUserCommand("require-mfa", "Require a second factor: after CredSSP, hold the user's connections until approved on the portal with a TOTP code (Mfa:ApprovalTimeout).",
            c => SetMfaAsync(c, required: true)));
        users.Subcommands.Add(CreateUserCommand("no-require-mfa", "Stop requiring a second factor of the user (its groups may still require one).",
            c => SetMfaAsync(c, required: false)));
        users.Subcommands.Add(CreateUserCommand("reset-mfa", "Forget the user's authenticator; the user enrols a new one on the portal (/totp).", async c =>
        {
            UserAccount account = await c.Database.Users.FindAsync(c.UserName, c.CancellationToken) ?? throw NoSuchUser(c.UserName);
            bool removed = await c.Database.SelfService.RemoveTotpAsync(account.UserName, c.CancellationToken);
            await c.Output.WriteLineAsync(removed ? $"user '{account.UserName}' has no authenticator now; enrol one on the portal" : $"user '{account.UserName}' had no authenticator");
            return ExitCodes.Success;
        }));
    }

    internal static void AddGroupMfaCommands(Command groups)
    {
        groups.Subcommands.Add(GroupMfaCommand("require-mfa", "Require a second factor of every member of the group.", required: true));
        groups.Subcommands.Add(GroupMfaCommand("no-require-mfa", "Stop requiring a second factor for the group's members (their own setting still applies).", required: false));
    }

    private static async Task<int> SetMfaAsync(UserCommandContext context, bool required)
    {
        UserAccount account = await context.Database.Users.FindAsync(context.UserName, context.CancellationToken) ?? throw NoSuchUser(context.UserName);
        SelfServiceStore store = context.Database.SelfService;
        await store.SetUserMfaRequiredAsync(account.UserName, required, context.CancellationToken);
        await context.Output.WriteLineAsync(required
            ? $"user '{account.UserName}' must approve connections with a second factor" + (await store.GetTotpAsync(account.UserName, context.CancellationToken) is { Confirmed: true } ? string.Empty : "; it has no authenticator yet: connections are refused until it enrols one on the portal (/totp)")
            : $"user '{account.UserName}' needs no second factor of its own");
        return ExitCodes.Success;
    }

    private static Command GroupMfaCommand(string name, string description, bool required)
    {
        var data = DataDirectoryOption.Create();
        var group = new Argument<string>("group") { Description = "The group's name (case-insensitive)." };
        var command = new Command(name, description) { group, data };
        command.SetAction((parseResult, cancellationToken) => DataDirectoryOption.RunAsync(parseResult, async output =>
        {
            string groupName = parseResult.GetValue(group) ?? string.Empty;
            await using RdpNlaStore database = await DataDirectoryOption.OpenDatabaseAsync(parseResult, data, cancellationToken);
            await GroupsCommand.CheckLocalGroupNameAsync(database.Gateway, groupName, name, cancellationToken);
            if (!await database.SelfService.SetGroupMfaRequiredAsync(groupName, required, cancellationToken))
            {
                throw GroupsCommand.NoSuchGroup(groupName);
            }

            await output.WriteLineAsync(PrintableText.Escape(required ? $"members of group '{groupName}' must approve connections with a second factor" : $"group '{groupName}' requires no second factor"));
            return ExitCodes.Success;
        }));
        return command;
    }
}
