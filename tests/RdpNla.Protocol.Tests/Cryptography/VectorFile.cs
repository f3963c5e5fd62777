namespace RdpNla.Protocol.Tests.Cryptography;

/// <summary>Reads tests/TestVectors files: the first line is the citation, '#' lines are comments.</summary>
internal static class VectorFile
{
    public static string PathOf(string relativePath) => Path.Combine(AppContext.BaseDirectory, "TestVectors", relativePath);

    public static string Citation(string relativePath) => File.ReadLines(PathOf(relativePath)).First();

    /// <summary>The data lines: everything after the citation that is neither blank nor a comment.</summary>
    public static IEnumerable<string> DataLines(string relativePath) =>
        File.ReadLines(PathOf(relativePath)).Skip(1).Where(line => line.Length > 0 && !line.StartsWith('#'));

    /// <summary>key=value lines.</summary>
    public static IReadOnlyDictionary<string, string> KeyValues(string relativePath) =>
        DataLines(relativePath).Select(line => line.Split('=', 2)).ToDictionary(parts => parts[0], parts => parts[1]);
}
