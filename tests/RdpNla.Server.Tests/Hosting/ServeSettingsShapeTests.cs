using System.Text;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using RdpNla.Server.Accounts;
using RdpNla.Server.FrontDoor;
using RdpNla.Server.Hosting;
using RdpNla.Tests.Support;

namespace RdpNla.Tests.Hosting;

/// <summary>
/// The settings file's shape is checked before the binder sees it (docs/deploy.md): the binder turns a JSON null into
/// 0 (UserAuthentication 0 is no NLA), drops a single value where a list belongs and ignores a misspelt name.
/// </summary>
public sealed class ServeSettingsShapeTests
{
    public static TheoryData<string, string[]> Files => new()
    {
        { """{ "UserAuthentication": null }""", ["UserAuthentication is empty (null in the settings file?); give a value (a number), or leave it out for the default"] },
        { """{ "AllowEncryptionOracle": {} }""", ["AllowEncryptionOracle is empty (null in the settings file?); give a value (ForceUpdatedClients, Mitigated, Vulnerable), or leave it out for the default"] },
        { """{ "LockoutThreshold": null }""", ["LockoutThreshold is empty (null in the settings file?); give a value (a number), or leave it out for the default"] },
        { """{ "SecurityLayer": [2] }""", ["SecurityLayer takes one value, not a list or a section (Rdp, Negotiate, Tls)"] },
        { """{ "Listen": "0.0.0.0:3390" }""", ["Listen is a list: write [\"0.0.0.0:3390\"]"] },
        { """{ "Listen": [] }""", ["Listen is empty; give at least one ADDRESS:PORT, e.g. [\"0.0.0.0:3389\"], or leave it out for 127.0.0.1:3389"] },
        { """{ "LockoutTreshold": 3 }""", ["unknown setting 'LockoutTreshold'; did you mean 'LockoutThreshold'? (docs/serve.md lists the settings)"] },
        { """{ "Limits": { "HandshakeTimout": "00:00:10" } }""", ["unknown setting 'Limits:HandshakeTimout'; did you mean 'Limits:HandshakeTimeout'? (docs/serve.md lists the settings)"] },
        { """{ "Limits": "x" }""", ["Limits is a section of settings: write \"Limits\": { \"NAME\": VALUE, ... }"] },
        { """{ "Limits": { "HandshakeTimeout": "banana" } }""", ["Limits:HandshakeTimeout: 'banana' is not a time span such as 00:00:30 (hh:mm:ss) or 1.00:00:00 (a day)"] },
        { """{ "RequireNtlmMic": "yes" }""", ["RequireNtlmMic: 'yes' is not true or false"] },
        { """{ "SecurityLayer": "high" }""", ["SecurityLayer: 'high' is not one of Rdp, Negotiate, Tls (or its number)"] },
        { """{ "Gateway": { "IdleTimeout": "01:00:00", "PinnedCertificates": { "10.0.0.5:3389": "AB" } }, "Limits": null, "SecurityLayer": "tls", "Listen": ["127.0.0.1:3389"] }""", [] },
    };

    [Theory]
    [MemberData(nameof(Files))]
    public void SettingsFile_EachProblemIsOneLineNamingTheSetting(string json, string[] expected)
    {
        IConfiguration file = Json(json);

        Assert.Equal(expected, ServeSettingsShape.Check(file, _ => true));
    }

    [Fact]
    public void UnknownNames_AreReportedOnlyWhereTheCallerSaysTheyComeFromTheFile()
    {
        // RDPNLA_GATEWAY_KEY reaches the configuration as GATEWAY_KEY: an environment variable of its own, no setting.
        IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?> { ["GATEWAY_KEY"] = "abc", ["Bogus"] = "1" }).Build();

        Assert.Equal(["unknown setting 'Bogus' (docs/serve.md lists the settings)"], ServeSettingsShape.Check(configuration, path => path == "Bogus"));
    }

    [Fact]
    public void PinnedCertificates_KeyedByHostAndPort_AreBoundWhole()
    {
        string pin = new('A', 64);
        IConfiguration configuration = Json($$"""{ "Gateway": { "PinnedCertificates": { "10.0.0.5:3389": "{{pin}}", "[::1]:3390": "{{pin}}" } } }""");
        using ServiceProvider services = new ServiceCollection().AddRdpNlaServeOptions(configuration).BuildServiceProvider();

        Assert.True(services.TryGetServeOptions(out FrontDoorOptions options, out _, out IReadOnlyList<string> errors), string.Join("\n", errors));

        Assert.Equal(pin, options.Gateway.PinnedCertificates["10.0.0.5:3389"]);
        Assert.Equal(pin, options.Gateway.PinnedCertificates["[::1]:3390"]);
        Assert.Equal(2, options.Gateway.PinnedCertificates.Count);
    }

    [Fact]
    public async Task Reload_ThatChangesTheLockoutThreshold_SaysItNeedsARestart()
    {
        await using TestFrontDoor door = await TestFrontDoor.StartAsync();

        Assert.True(door.Host.Reload(door.Host.CurrentOptions, new AccountPolicyOptions { LockoutThreshold = 10 }));

        Assert.Contains("Warning Reload: LockoutThreshold changed in the settings; it takes effect after a restart", door.LogText, StringComparison.Ordinal);
        Assert.DoesNotContain("LockoutWindow changed", door.LogText, StringComparison.Ordinal);
    }

    private static IConfiguration Json(string json) =>
        new ConfigurationBuilder().AddJsonStream(new MemoryStream(Encoding.UTF8.GetBytes(json))).Build();
}
