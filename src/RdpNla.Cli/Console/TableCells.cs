namespace RdpNla.Cli.Interaction;

/// <summary>
/// Table cells of the text commands (audit, users, probe). Their text comes from peers and stores (a client's user
/// name in the audit log, a server's certificate subject), so control characters, line breaks included, are written as
/// <c>\uXXXX</c> (<see cref="PrintableText"/>): one value stays one line of its cell.
/// </summary>
internal static class TableCells
{
    /// <summary>One cell holding one value.</summary>
    public static IRenderable Text(string value) => new Spectre.Console.Text(PrintableText.Escape(value));

    /// <summary>One cell holding several values, one per line.</summary>
    public static IRenderable Lines(IEnumerable<string> values) => new Spectre.Console.Text(string.Join('\n', values.Select(PrintableText.Escape)));

    /// <summary>A row of cells, one value each.</summary>
    public static IRenderable[] Row(params string[] values) => Array.ConvertAll(values, Text);
}
