namespace RdpNla.Tests.Doctor;

/// <summary>Paths in the repository (found by walking up to RdpNla.slnx).</summary>
internal static class DoctorPaths
{
    public static string RepositoryRoot { get; } = FindRoot();

    public static string RegVector(string name) => Path.Combine(RepositoryRoot, "tests", "TestVectors", "reg", name);

    public static string TroubleshootingDoc => Path.Combine(RepositoryRoot, "docs", "troubleshooting.md");

    private static string FindRoot()
    {
        for (DirectoryInfo? directory = new(AppContext.BaseDirectory); directory is not null; directory = directory.Parent)
        {
            if (File.Exists(Path.Combine(directory.FullName, "RdpNla.slnx")))
            {
                return directory.FullName;
            }
        }

        throw new InvalidOperationException("RdpNla.slnx not found above " + AppContext.BaseDirectory);
    }
}
