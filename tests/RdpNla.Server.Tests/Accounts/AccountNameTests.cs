using RdpNla.Server.Accounts;

namespace RdpNla.Tests.Accounts;

public class AccountNameTests
{
    private static readonly LocalDomainNames s_local = new("rdpgw01", "rdpgw01.corp.example", "LAB");

    [Theory]
    [InlineData("alice", "alice", "", AccountNameForm.Plain)]
    [InlineData(@"CORP\alice", "alice", "CORP", AccountNameForm.DownLevel)]
    [InlineData(@".\alice", "alice", ".", AccountNameForm.DownLevel)]
    [InlineData("alice@corp.net", "alice", "corp.net", AccountNameForm.UserPrincipalName)]
    [InlineData("Alice.Smith", "Alice.Smith", "", AccountNameForm.Plain)]
    [InlineData(@"\alice", "alice", "", AccountNameForm.DownLevel)]
    public void Parse_ValidForms_SplitsUserAndDomain(string text, string user, string domain, AccountNameForm form)
    {
        AccountName name = AccountName.Parse(text);

        Assert.Equal(user, name.UserName);
        Assert.Equal(domain, name.Domain);
        Assert.Equal(form, name.Form);
        Assert.Equal(user.ToUpperInvariant(), name.UserKey);
    }

    [Theory]
    [InlineData("alice", "", true)]
    [InlineData(@".\alice", "", true)]
    [InlineData(@"RDPGW01\alice", "", true)]
    [InlineData(@"rdpgw01\alice", "", true)]
    [InlineData("alice@rdpgw01.corp.example", "", true)]
    [InlineData("alice@RDPGW01.CORP.EXAMPLE", "", true)]
    [InlineData("alice@rdpgw01", "", true)]
    [InlineData(@"lab\alice", "", true)]
    [InlineData(@"CORP\alice", "", false)]
    [InlineData("alice@corp.net", "", false)]
    [InlineData("alice", ".", true)]
    [InlineData("alice", "Rdpgw01", true)]
    [InlineData("alice", "LAB", true)]
    [InlineData("alice", "OTHER", false)]
    public void IsLocalTo_DomainForms_MatchesOwnNamesCaseInsensitively(string user, string domain, bool expected)
    {
        AccountName name = AccountName.FromCredentials(user, domain);

        Assert.Equal(expected, name.IsLocalTo(s_local));
    }

    [Fact]
    public void FromCredentials_UpnWithEmptyDomain_IsParsedAsUpn()
    {
        // docs/interop.md#account-names: FreeRDP sends "user@corp.net" with an empty domain.
        AccountName name = AccountName.FromCredentials("alice@rdpgw01.corp.example", "");

        Assert.Equal(AccountNameForm.UserPrincipalName, name.Form);
        Assert.Equal("alice", name.UserName);
        Assert.True(name.IsLocalTo(s_local));
    }

    [Fact]
    public void FromCredentials_SeparateDomain_KeepsDomainAsSent()
    {
        AccountName name = AccountName.FromCredentials("Alice", "rdpgw01");

        Assert.Equal("Alice", name.UserName);
        Assert.Equal("rdpgw01", name.Domain);
        Assert.Equal(AccountNameForm.DownLevel, name.Form);
        Assert.Equal(@"rdpgw01\Alice", name.ToString());
    }

    [Fact]
    public void Equals_DifferentCase_AreEqual()
    {
        Assert.Equal(AccountName.Parse(@"LAB\Alice"), AccountName.Parse(@"lab\ALICE"));
        Assert.Equal(AccountName.Parse(@"LAB\Alice").GetHashCode(), AccountName.Parse(@"lab\ALICE").GetHashCode());
        Assert.NotEqual(AccountName.Parse(@"LAB\Alice"), AccountName.Parse(@"CORP\Alice"));
    }

    [Theory]
    [InlineData("", "empty")]
    [InlineData("a\"b", "contains '\"'")]
    [InlineData("a/b", "contains '/'")]
    [InlineData("a[b", "contains '['")]
    [InlineData("a]b", "contains ']'")]
    [InlineData("a:b", "contains ':'")]
    [InlineData("a;b", "contains ';'")]
    [InlineData("a|b", "contains '|'")]
    [InlineData("a=b", "contains '='")]
    [InlineData("a,b", "contains ','")]
    [InlineData("a+b", "contains '+'")]
    [InlineData("a*b", "contains '*'")]
    [InlineData("a?b", "contains '?'")]
    [InlineData("a<b", "contains '<'")]
    [InlineData("a>b", "contains '>'")]
    [InlineData("a\tb", "control character")]
    [InlineData("a\u0000b", "control character")]
    [InlineData("...", "only of dots and spaces")]
    [InlineData(@"LAB\", "empty")]
    [InlineData("alice@", "ends with '@'")]
    [InlineData(@"LAB\a@b", "contains '@'")]
    public void TryParse_InvalidNames_FailsWithReason(string text, string expectedFragment)
    {
        Assert.False(AccountName.TryParse(text, out _, out string? error));
        Assert.Contains(expectedFragment, error, StringComparison.Ordinal);
        Assert.DoesNotContain('\t', error!);
        Assert.DoesNotContain('\0', error!);
    }

    [Fact]
    public void TryParse_NameOf104Characters_Succeeds() =>
        Assert.True(AccountName.TryParse(new string('a', AccountName.MaxUserNameLength), out _, out _));

    [Fact]
    public void TryParse_NameOf105Characters_FailsWithLimit()
    {
        Assert.False(AccountName.TryParse(new string('a', 105), out _, out string? error));
        Assert.Equal("the user name is 105 characters long; the limit is 104", error);
    }

    [Fact]
    public void Parse_InvalidName_ThrowsFormatException() =>
        Assert.Throws<FormatException>(() => AccountName.Parse("a*b"));

    [Fact]
    public void LocalDomainNames_LongHostName_NetBiosNameIsFirst15CharactersUpperCase()
    {
        var names = new LocalDomainNames("averyveryverylonghostname.example.org");

        Assert.Equal("AVERYVERYVERYLO", names.NetBiosName);
        Assert.True(names.IsLocal("averyveryverylo"));
        Assert.True(names.IsLocal("AVERYVERYVERYLONGHOSTNAME"));
        Assert.True(names.IsLocal("averyveryverylonghostname.example.org"));
        Assert.True(names.IsLocal("averyveryverylonghostname.example.org."));
        Assert.False(names.IsLocal("example.org"));
    }

    [Fact]
    public void LocalDomainNames_FromEnvironment_IncludesMachineName()
    {
        LocalDomainNames names = LocalDomainNames.FromEnvironment("LAB");

        Assert.True(names.IsLocal(Environment.MachineName));
        Assert.True(names.IsLocal("lab"));
        Assert.True(names.IsLocal(""));
        Assert.True(names.IsLocal("."));
    }
}
