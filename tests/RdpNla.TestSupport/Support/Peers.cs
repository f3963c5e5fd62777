using System.Collections.Concurrent;

namespace RdpNla.Tests.Support;

/// <summary>
/// Finds the programs the interop tests run. A missing one fails the test with one line naming the Debian package that
/// provides it; scripts/install-peers.sh installs them all (CI runs it before the tests).
/// </summary>
public static class Peers
{
    /// <summary>The Debian package of each program the tests start, by file name.</summary>
    private static readonly Dictionary<string, string> s_packages = new(StringComparer.Ordinal)
    {
        ["xfreerdp"] = "freerdp2-x11",
        ["freerdp-shadow-cli"] = "freerdp2-shadow-x11",
        ["winpr-hash"] = "winpr-utils",
        ["Xvfb"] = "xvfb",
        ["xwd"] = "x11-apps",
        ["xmessage"] = "x11-utils",
        ["xrdp"] = "xrdp",
        ["xrdp-sesman"] = "xrdp",
        ["samba"] = "samba",
        ["samba-tool"] = "samba-common-bin",
        ["ldbmodify"] = "ldb-tools",
        ["winbindd"] = "winbind",
        ["wbinfo"] = "winbind",
        ["kinit"] = "krb5-user",
        ["kvno"] = "krb5-user",
        ["klist"] = "krb5-user",
        ["python3"] = "python3",
        ["openssl"] = "openssl",
        ["faketime"] = "faketime",
        ["strace"] = "strace",
        ["haproxy"] = "haproxy",
        ["chromium"] = "chromium",
        ["chromedriver"] = "chromium-driver",
        ["initdb"] = "postgresql",
        ["pg_ctl"] = "postgresql",
        ["postgres"] = "postgresql",
        ["script"] = "bsdutils",
        ["unshare"] = "util-linux",
        ["runuser"] = "util-linux",
        ["kill"] = "procps",
        ["userdel"] = "passwd",
        ["useradd"] = "passwd",
    };

    private static readonly ConcurrentDictionary<string, string?> s_found = new(StringComparer.Ordinal);

    /// <summary>The path of <paramref name="program"/> (a name looked up on PATH, or an absolute path); fails the test when it is missing.</summary>
    public static string Require(string program)
    {
        string? path = s_found.GetOrAdd(program, Find);
        if (path is null)
        {
            string name = Path.GetFileName(program);
            Assert.Fail(s_packages.TryGetValue(name, out string? package)
                ? $"{name} is missing: install the Debian package {package} (scripts/install-peers.sh installs every interop peer)"
                : $"{name} is missing: install the Debian package that provides it (scripts/install-peers.sh installs every interop peer)");
        }

        return path;
    }

    /// <summary>Fails the test unless every one of <paramref name="programs"/> is installed.</summary>
    public static void Require(params string[] programs)
    {
        foreach (string program in programs)
        {
            _ = Require(program);
        }
    }

    /// <summary>Fails the test with one line naming <paramref name="package"/> unless <paramref name="path"/> exists.</summary>
    public static void RequireFile(string path, string package)
    {
        if (!File.Exists(path) && !Directory.Exists(path))
        {
            Assert.Fail($"{path} is missing: install the Debian package {package} (scripts/install-peers.sh installs every interop peer)");
        }
    }

    private static string? Find(string program)
    {
        if (program.Contains('/', StringComparison.Ordinal))
        {
            return File.Exists(program) ? program : null;
        }

        foreach (string directory in (Environment.GetEnvironmentVariable("PATH") ?? "/usr/local/bin:/usr/bin:/bin").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/local/sbin", "/usr/sbin", "/sbin"]))
        {
            string candidate = Path.Combine(directory, program);
            if (File.Exists(candidate))
            {
                return candidate;
            }
        }

        return null;
    }
}
