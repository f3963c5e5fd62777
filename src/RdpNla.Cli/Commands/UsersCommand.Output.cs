namespace RdpNla.Cli.Commands;

public static partial class UsersCommand
{
    internal static IAnsiConsole CreateAnsiConsole(TextWriter writer)
    {
        bool terminal = ReferenceEquals(writer, System.Console.Out) && !System.Console.IsOutputRedirected;
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = terminal ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = terminal ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = InteractionSupport.No,
        });
        if (!terminal)
        {
            // Pipes and files get whole lines rather than an 80-column wrap.
            console.Profile.Width = 240;
        }

        return console;
    }

    private static void WriteTable(TextWriter output, IReadOnlyList<UserAccount> accounts, DateTimeOffset now)
    {
        var table = new Table().AddColumns("User", "State", "Locked until", "Password expired", "Must change", "Remote logon", "Password set");
        foreach (UserAccount account in accounts)
        {
            table.AddRow(TableCells.Row(
                account.UserName,
                account.Disabled ? "disabled" : "enabled",
                LockedText(account, now),
                YesNo(account.PasswordExpired),
                YesNo(account.MustChangePassword),
                account.RemoteLogonAllowed ? "allowed" : "denied",
                TimeText(account.PasswordLastSet)));
        }

        CreateAnsiConsole(output).Write(table);
    }

    private static void WriteDetails(TextWriter output, UserAccount account, DateTimeOffset now)
    {
        var table = new Table().AddColumns("Property", "Value");
        table.AddRow(TableCells.Row("User", account.UserName));
        table.AddRow(TableCells.Row("State", account.Disabled ? "disabled" : "enabled"));
        table.AddRow(TableCells.Row("Locked until", LockedText(account, now)));
        table.AddRow(TableCells.Row("Failed attempts", account.IsLockedOut(now) || account.FailedLogonCount > 0 ? account.FailedLogonCount.ToString(CultureInfo.InvariantCulture) : "0"));
        table.AddRow(TableCells.Row("Last failed attempt", TimeText(account.LastFailedLogon)));
        table.AddRow(TableCells.Row("Last logon", TimeText(account.LastLogon)));
        table.AddRow(TableCells.Row("Password expired", YesNo(account.PasswordExpired)));
        table.AddRow(TableCells.Row("Must change password", YesNo(account.MustChangePassword)));
        table.AddRow(TableCells.Row("Remote logon", account.RemoteLogonAllowed ? "allowed" : "denied"));
        table.AddRow(TableCells.Row("Password set", TimeText(account.PasswordLastSet)));
        table.AddRow(TableCells.Row("Created", TimeText(account.Created)));
        table.AddRow(TableCells.Row("Updated", TimeText(account.Updated)));
        CreateAnsiConsole(output).Write(table);
    }


    private static string LockedText(UserAccount account, DateTimeOffset now) =>
        !account.IsLockedOut(now) ? "-"
        : account.LockedUntil == DateTimeOffset.MaxValue ? "until unlocked"
        : TimeText(account.LockedUntil);

    private static string YesNo(bool value) => value ? "yes" : "no";

    private static string TimeText(DateTimeOffset? time) =>
        time is { } t ? t.UtcDateTime.ToString("yyyy-MM-dd HH:mm:ss'Z'", CultureInfo.InvariantCulture) : "-";

    private static string ToJson(IReadOnlyList<UserAccount> accounts, DateTimeOffset now) => WriteJson(writer =>
    {
        writer.WriteStartArray();
        foreach (UserAccount account in accounts)
        {
            WriteAccount(writer, account, now);
        }

        writer.WriteEndArray();
    });

    private static string ToJson(UserAccount account, DateTimeOffset now) => WriteJson(writer => WriteAccount(writer, account, now));

    internal static string WriteJson(Action<Utf8JsonWriter> write)
    {
        using var buffer = new MemoryStream();
        using (var writer = new Utf8JsonWriter(buffer, new JsonWriterOptions { Indented = true }))
        {
            write(writer);
        }

        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteAccount(Utf8JsonWriter writer, UserAccount account, DateTimeOffset now)
    {
        writer.WriteStartObject();
        writer.WriteString("name", account.UserName);
        writer.WriteBoolean("enabled", !account.Disabled);
        writer.WriteBoolean("lockedOut", account.IsLockedOut(now));
        WriteTime(writer, "lockedUntil", account.IsLockedOut(now) ? account.LockedUntil : null);
        writer.WriteNumber("failedAttempts", account.FailedLogonCount);
        WriteTime(writer, "lastFailedAttempt", account.LastFailedLogon);
        WriteTime(writer, "lastLogon", account.LastLogon);
        writer.WriteBoolean("passwordExpired", account.PasswordExpired);
        writer.WriteBoolean("mustChangePassword", account.MustChangePassword);
        writer.WriteBoolean("remoteLogonAllowed", account.RemoteLogonAllowed);
        WriteTime(writer, "passwordLastSet", account.PasswordLastSet);
        WriteTime(writer, "created", account.Created);
        WriteTime(writer, "updated", account.Updated);
        writer.WriteEndObject();
    }

    internal static void WriteTime(Utf8JsonWriter writer, string name, DateTimeOffset? time)
    {
        if (time is { } t)
        {
            writer.WriteString(name, t.UtcDateTime);
        }
        else
        {
            writer.WriteNull(name);
        }
    }
}
