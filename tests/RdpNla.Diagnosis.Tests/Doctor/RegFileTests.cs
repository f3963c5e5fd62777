using System.Text;
using RdpNla.Diagnosis;
using RdpNla.Diagnosis.Registry;

namespace RdpNla.Tests.Doctor;

public class RegFileTests
{
    private const string Header = "Windows Registry Editor Version 5.00\r\n\r\n";

    private static RegFile Parse(string text) => RegFile.Parse(text, "test.reg");

    [Fact]
    public void Parse_Utf16LeWithBom_ReadsValues()
    {
        string text = Header + "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\WinStations\\RDP-Tcp]\r\n\"SecurityLayer\"=dword:00000002\r\n";
        byte[] bytes = [0xFF, 0xFE, .. Encoding.Unicode.GetBytes(text)];

        RegFile file = RegFile.Parse(bytes, "server.reg");

        Assert.Equal(RegFormat.Version5, file.Format);
        RegValue value = file.Find(MachineFacts.RdpTcpKey, "SecurityLayer")!;
        Assert.Equal((RegValueKind.DWord, 2UL, 4), (value.Kind, value.Number!.Value, value.Line));
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Parse_Utf8WithOrWithoutBom_ReadsValues(bool bom)
    {
        string text = Header + "[HKEY_LOCAL_MACHINE\\SOFTWARE\\X]\n\"Name\"=\"C:\\\\Path \\\"quoted\\\"\"\n@=\"default\"\n";
        byte[] bytes = bom ? [0xEF, 0xBB, 0xBF, .. Encoding.UTF8.GetBytes(text)] : Encoding.UTF8.GetBytes(text);

        RegFile file = RegFile.Parse(bytes, "x.reg");

        Assert.Equal("C:\\Path \"quoted\"", file.Find(@"HKLM\SOFTWARE\X", "name")!.Text);
        Assert.Equal("default", file.Find(@"HKEY_LOCAL_MACHINE\SOFTWARE\X", null)!.Text);
    }

    [Fact]
    public void Parse_Regedit4Header_IsAccepted()
    {
        RegFile file = Parse("REGEDIT4\n\n[HKEY_CURRENT_USER\\A]\n\"v\"=hex(7):61,62,00,63,00,00\n");

        Assert.Equal(RegFormat.Regedit4, file.Format);
        Assert.Equal(["ab", "c"], file.Find(@"HKEY_CURRENT_USER\A", "v")!.Strings);
    }

    [Fact]
    public void Parse_MultiLineHex7_JoinsContinuationsAndDecodesUtf16()
    {
        RegFile file = RegFile.Parse(File.ReadAllBytes(DoctorPaths.RegVector("client-xp-sp3-no-credssp.reg")), "client.reg");

        RegValue packages = file.Find(MachineFacts.LsaKey, "Security Packages")!;
        Assert.Equal(RegValueKind.MultiString, packages.Kind);
        Assert.Equal(["kerberos", "msv1_0", "schannel", "wdigest"], packages.Strings);
        Assert.Equal("forceguest", file.Values[file.Values.ToList().IndexOf(packages) + 1].Name); // the next line after the continuation
    }

    [Fact]
    public void Parse_HexTypes_DecodeBinaryExpandQwordAndOther()
    {
        RegFile file = Parse(Header + "[HKEY_LOCAL_MACHINE\\K]\n\"b\"=hex:01,02,\\\n  03\n\"e\"=hex(2):25,00,41,00,25,00,00,00\n\"q\"=hex(b):01,00,00,00,00,00,00,00\n\"d\"=hex(4):05,00,00,00\n\"n\"=hex(0):\n");

        Assert.Equal([1, 2, 3], file.Find(@"HKLM\K", "b")!.Bytes);
        Assert.Equal("%A%", file.Find(@"HKLM\K", "e")!.Text);
        Assert.Equal(1UL, file.Find(@"HKLM\K", "q")!.Number);
        Assert.Equal(5UL, file.Find(@"HKLM\K", "d")!.Number);
        Assert.Equal(RegValueKind.Other, file.Find(@"HKLM\K", "n")!.Kind);
    }

    [Fact]
    public void Parse_Deletions_RemoveValuesAndKeys()
    {
        RegFile file = Parse(Header + "[HKEY_LOCAL_MACHINE\\K]\n\"a\"=dword:1\n\"b\"=dword:2\n\"a\"=-\n[HKEY_LOCAL_MACHINE\\K\\Sub]\n\"c\"=dword:3\n[-HKEY_LOCAL_MACHINE\\K\\Sub]\n");

        Assert.Null(file.Find(@"HKLM\K", "a"));
        Assert.Equal(2UL, file.Find(@"HKLM\K", "b")!.Number);
        Assert.False(file.HasKey(@"HKLM\K\Sub"));
        Assert.Null(file.Find(@"HKLM\K\Sub", "c"));
    }

    [Fact]
    public void Parse_ConcatenatedExports_RepeatedHeaderAndBomAccepted()
    {
        RegFile file = Parse(Header + "[HKEY_LOCAL_MACHINE\\A]\n\"x\"=dword:1\n\uFEFFWindows Registry Editor Version 5.00\n\n[HKEY_LOCAL_MACHINE\\B]\n\"y\"=dword:2\n");

        Assert.Equal(1UL, file.Find(@"HKLM\A", "x")!.Number);
        Assert.Equal(2UL, file.Find(@"HKLM\B", "y")!.Number);
    }

    [Fact]
    public void Parse_SeveralExports_EachValueNamesItsOwnFileAndLine()
    {
        const string TerminalServer = "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\WinStations\\RDP-Tcp]\n";
        RegFile file = RegFile.Parse([
            (Header + TerminalServer + "\"UserAuthentication\"=dword:00000001\n", "ts.reg"),
            (Header + "; the second export\n" + TerminalServer + "\"SecurityLayer\"=dword:00000000\n", "dup.reg"),
        ]);

        RegValue layer = file.Find(@"HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp", "SecurityLayer")!;
        Assert.Equal(("dup.reg", 5), (layer.File, layer.Line));
        RegValue authentication = file.Find(@"HKLM\SYSTEM\CurrentControlSet\Control\Terminal Server\WinStations\RDP-Tcp", "UserAuthentication")!;
        Assert.Equal(("ts.reg", 4), (authentication.File, authentication.Line));

        // The evidence of doctor --reg quotes the line where the value is, not its place in the files run together.
        DoctorReport report = RegDiagnoser.Diagnose(file, null, new OfflineOptions());
        Assert.Contains("dup.reg line 5: [HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\WinStations\\RDP-Tcp] \"SecurityLayer\" = 0", report.Evidence);
    }

    [Fact]
    public void Parse_SeveralExports_AMalformedLineIsNamedInItsOwnFile()
    {
        RegFileException ex = Assert.Throws<RegFileException>(() => RegFile.Parse([(Header + "[HKEY_LOCAL_MACHINE\\A]\n", "a.reg"), (Header + "[HKEY_LOCAL_MACHINE\\B]\n\"x\"=dword:zz\n", "b.reg")]));

        Assert.StartsWith("b.reg line 4:", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Diagnose_ValueOfTheWrongTypeOrDeleted_IsNamedWhereItIs_NotCalledMissing()
    {
        // Windows reads SecurityLayer only as a REG_DWORD: a REG_SZ "2" leaves the default, and so does a deletion.
        RegFile file = Parse(Header + "[HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\WinStations\\RDP-Tcp]\n\"SecurityLayer\"=\"2\"\n\"UserAuthentication\"=-\n");

        DoctorReport report = RegDiagnoser.Diagnose(file, null, new OfflineOptions());

        Assert.Contains("test.reg line 4: [HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\WinStations\\RDP-Tcp] \"SecurityLayer\" = 2, which is not a REG_DWORD: assumed the Windows default 1 (Negotiate) for the server.", report.Notes);
        Assert.Contains("test.reg line 5: [HKEY_LOCAL_MACHINE\\SYSTEM\\CurrentControlSet\\Control\\Terminal Server\\WinStations\\RDP-Tcp] \"UserAuthentication\" = (deleted): assumed the Windows default 1 (NLA required) for the server.", report.Notes);
        Assert.DoesNotContain(report.Notes, n => n.Contains("has no SecurityLayer", StringComparison.Ordinal));
    }

    [Fact]
    public void Find_ControlSet001_IsReadAsCurrentControlSet()
    {
        RegFile file = Parse(Header + "[HKEY_LOCAL_MACHINE\\SYSTEM\\ControlSet001\\Control\\Lsa]\n\"Security Packages\"=hex(7):74,00,73,00,70,00,6b,00,67,00,00,00,00,00\n");

        Assert.Equal(["tspkg"], file.Find(MachineFacts.LsaKey, "Security Packages")!.Strings);
    }

    [Theory]
    [InlineData("REGEDIT5\n", 1, "expected the header")]
    [InlineData("", 1, "the file is empty")]
    [InlineData(Header + "[HKEY_LOCAL_MACHINE\\K\n", 3, "does not end with ']'")]
    [InlineData(Header + "[HKLM\\K]\n", 3, "does not start with a registry root")]
    [InlineData(Header + "[HKEY_LOCAL_MACHINE\\K\\\\X]\n", 3, "empty component")]
    [InlineData(Header + "\"a\"=dword:1\n", 3, "before any [KEY] line")]
    [InlineData(Header + "[-HKEY_LOCAL_MACHINE\\K]\n\"a\"=dword:1\n", 4, "under the deleted key")]
    [InlineData(Header + "[HKEY_LOCAL_MACHINE\\K]\nvalue=1\n", 4, "unrecognised line")]
    [InlineData(Header + "[HKEY_LOCAL_MACHINE\\K]\n\"a\" dword:1\n", 4, "expected '=' after the value name \"a\"")]
    [InlineData(Header + "[HKEY_LOCAL_MACHINE\\K]\n\"a=dword:1\n", 4, "value name has no closing quote")]
    [InlineData(Header + "[HKEY_LOCAL_MACHINE\\K]\n\"a\"=\"text\n", 4, "has no closing quote")]
    [InlineData(Header + "[HKEY_LOCAL_MACHINE\\K]\n\"a\"=\"C:\\Temp\"\n", 4, "invalid escape \"\\T\"")]
    [InlineData(Header + "[HKEY_LOCAL_MACHINE\\K]\n\"a\"=\"x\" y\n", 4, "unexpected text \"y\"")]
    [InlineData(Header + "[HKEY_LOCAL_MACHINE\\K]\n\"a\"=dword:xyz\n", 4, "1 to 8 hexadecimal digits")]
    [InlineData(Header + "[HKEY_LOCAL_MACHINE\\K]\n\"a\"=dword:000000001\n", 4, "1 to 8 hexadecimal digits")]
    [InlineData(Header + "[HKEY_LOCAL_MACHINE\\K]\n\"a\"=hex:01,2g\n", 4, "byte 2 is \"2g\"")]
    [InlineData(Header + "[HKEY_LOCAL_MACHINE\\K]\n\"a\"=hex:01,02,\n", 4, "ends with ','")]
    [InlineData(Header + "[HKEY_LOCAL_MACHINE\\K]\n\"a\"=hex:01,02,\\\n", 4, "the file ends")]
    [InlineData(Header + "[HKEY_LOCAL_MACHINE\\K]\n\"a\"=hex(zz):01\n", 4, "must be a hexadecimal number")]
    [InlineData(Header + "[HKEY_LOCAL_MACHINE\\K]\n\"a\"=hex(7):61,00,62\n", 4, "odd number of bytes")]
    [InlineData(Header + "[HKEY_LOCAL_MACHINE\\K]\n\"a\"=hex(4):01,00\n", 4, "must have 4 bytes")]
    [InlineData(Header + "[HKEY_LOCAL_MACHINE\\K]\n\"a\"=hex(b):01\n", 4, "must have 8 bytes")]
    [InlineData(Header + "[HKEY_LOCAL_MACHINE\\K]\n\"a\"=qword:1\n", 4, "unknown data for \"a\"")]
    public void Parse_MalformedLine_ThrowsWithLineNumber(string text, int line, string problem)
    {
        RegFileException ex = Assert.Throws<RegFileException>(() => Parse(text));

        Assert.Equal(line, ex.LineNumber);
        Assert.Contains(problem, ex.Problem, StringComparison.Ordinal);
        Assert.StartsWith($"test.reg line {line}: ", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Parse_MalformedLineAfterContinuation_ReportsThePhysicalLine()
    {
        RegFileException ex = Assert.Throws<RegFileException>(() => Parse(Header + "[HKEY_LOCAL_MACHINE\\K]\n\"a\"=hex:01,\\\n  02\n\"b\"=dword:zz\n"));

        Assert.Equal(6, ex.LineNumber);
    }
}
