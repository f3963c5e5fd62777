using RdpNla.Server.Logging;

namespace RdpNla.Tests.Logging;

/// <summary>Control characters from peers and stores are written as \uXXXX before a log line or a terminal gets them.</summary>
public class PrintableTextTests
{
    [Theory]
    [InlineData("ev\u001B]0;owned\u0007il", "ev\\u001B]0;owned\\u0007il")] // OSC: sets the terminal's title
    [InlineData("alice\r\u001B[2Kadmin authenticated", "alice\\u000D\\u001B[2Kadmin authenticated")] // CR and erase-line: a forged line
    [InlineData("a\nb\tc", "a\\u000Ab\\u0009c")]
    [InlineData("\u009B31m\u007F", "\\u009B31m\\u007F")] // C1 CSI, DEL
    [InlineData("user\u202Egnp.exe", "user\\u202Egnp.exe")] // right-to-left override (CVE-2021-42574)
    [InlineData("\u2066x\u2069\u2028", "\\u2066x\\u2069\\u2028")]
    public void Escape_WritesEveryCharacterATerminalActsOnAsUnicodeEscape(string value, string expected) =>
        Assert.Equal(expected, PrintableText.Escape(value));

    [Theory]
    [InlineData("alice")]
    [InlineData("Jürgen Müller")]
    [InlineData("山田太郎")]
    [InlineData("LAB\\bob@lab.test \U0001F600")]
    [InlineData("")]
    public void Escape_PrintableText_IsReturnedAsItIs(string value) => Assert.Same(value, PrintableText.Escape(value));

    [Fact]
    public void EscapeExceptLineBreaks_KeepsLineFeedsCrLfAndTabs_ButNotALoneCarriageReturn()
    {
        Assert.Equal("line 1\nline 2\r\n\tindented", PrintableText.EscapeExceptLineBreaks("line 1\nline 2\r\n\tindented"));
        Assert.Equal("name: ev\\u000DZZ\\u001B[31m\n", PrintableText.EscapeExceptLineBreaks("name: ev\rZZ\u001B[31m\n"));
        Assert.Equal("\\u000D", PrintableText.EscapeExceptLineBreaks("\r"));
    }
}
