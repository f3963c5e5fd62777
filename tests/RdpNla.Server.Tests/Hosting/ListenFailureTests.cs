using System.Net;
using System.Net.Sockets;
using System.Text.RegularExpressions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Testing;
using RdpNla.Server.Accounts;
using RdpNla.Server.FrontDoor;
using RdpNla.Server.Hosting;
using RdpNla.Tests.Support;

namespace RdpNla.Tests.Hosting;

/// <summary>
/// A listen endpoint that cannot be bound (docs/serve.md#exit-codes): <see cref="FrontDoorHost.StartAsync"/> throws a
/// <see cref="ListenFailedException"/> naming the setting and the endpoint, and nothing it had bound before stays bound.
/// </summary>
public sealed partial class ListenFailureTests : IDisposable
{
    private readonly string _data = Directory.CreateTempSubdirectory("rdpnla-listen-").FullName;
    private readonly FakeLogCollector _logs = new(Microsoft.Extensions.Options.Options.Create(new FakeLogCollectorOptions()));
    private readonly TcpListener _taken = new(IPAddress.Loopback, 0);

    public ListenFailureTests() => _taken.Start();

    private int TakenPort => ((IPEndPoint)_taken.LocalEndpoint).Port;

    private string Taken => $"127.0.0.1:{TakenPort}";

    public void Dispose()
    {
        _taken.Dispose();
        Directory.Delete(_data, recursive: true);
    }

    [Fact]
    public async Task SecondRdpEndpointTaken_NamesListen_AndTheFirstIsClosedAgain()
    {
        ListenFailedException failure = await StartFailingAsync(o => o.Listen = ["127.0.0.1:0", Taken]);

        AssertNames(failure, "Listen");
        BindsAgain(LoggedPort("Listening on 127.0.0.1:"));
    }

    [Fact]
    public async Task MetricsEndpointTaken_NamesMetricsListen_BeforeAnyRdpConnectionIsAccepted()
    {
        ListenFailedException failure = await StartFailingAsync(o => o.MetricsListen = Taken);

        AssertNames(failure, "MetricsListen");
        Assert.DoesNotContain(_logs.GetSnapshot(), r => r.Message.StartsWith("Listening on", StringComparison.Ordinal));
    }

    [Fact]
    public async Task PortalEndpointTaken_NamesPortalListen_WithoutTheHostsStackTrace()
    {
        ListenFailedException failure = await StartFailingAsync(o => o.Portal.Listen = Taken);

        AssertNames(failure, "Portal:Listen");
        Assert.DoesNotContain(_logs.GetSnapshot(), r => r.Level >= LogLevel.Error);
    }

    [Fact]
    public async Task RdpEndpointTakenAfterThePortalStarted_ThePortalIsClosedAgain()
    {
        ListenFailedException failure = await StartFailingAsync(o =>
        {
            o.Listen = [Taken];
            o.Portal.Listen = "127.0.0.1:0";
        });

        AssertNames(failure, "Listen");
        BindsAgain(LoggedPort("Self-service portal on https://127.0.0.1:"));
    }

    [Fact]
    public async Task AddressOfAnotherMachine_SaysSo()
    {
        // 192.0.2.1 is TEST-NET-1 (RFC 5737): never an address of this machine.
        ListenFailedException failure = await StartFailingAsync(o => o.Listen = ["192.0.2.1:3389"]);

        Assert.Equal(SocketError.AddressNotAvailable, failure.Error);
        Assert.Equal("cannot listen on 192.0.2.1:3389 (Listen): the address is not one of this machine's", failure.Message);
    }

    private void AssertNames(ListenFailedException failure, string setting)
    {
        Assert.Equal(setting, failure.Setting);
        Assert.Equal(new IPEndPoint(IPAddress.Loopback, TakenPort), failure.EndPoint);
        Assert.Equal(SocketError.AddressAlreadyInUse, failure.Error);
        Assert.Equal($"cannot listen on {Taken} ({setting}): address already in use", failure.Message);
    }

    private async Task<ListenFailedException> StartFailingAsync(Action<FrontDoorOptions> configure)
    {
        var options = new FrontDoorOptions { Listen = ["127.0.0.1:0"], DataDirectory = _data, ComputerName = TestFrontDoor.ComputerName, DomainName = TestFrontDoor.Domain };
        configure(options);
        using ILoggerFactory loggerFactory = LoggerFactory.Create(b => b.SetMinimumLevel(LogLevel.Trace).AddProvider(new FakeLoggerProvider(_logs)));
        return await Assert.ThrowsAsync<ListenFailedException>(() => FrontDoorHost.StartAsync(options, new AccountPolicyOptions(), loggerFactory, TimeProvider.System, TestContext.Current.CancellationToken));
    }

    /// <summary>The port of the endpoint logged as <paramref name="prefix"/>PORT: bound, then closed again by the failure.</summary>
    private int LoggedPort(string prefix)
    {
        FakeLogRecord record = Assert.Single(_logs.GetSnapshot(), r => r.Message.StartsWith(prefix, StringComparison.Ordinal));
        return int.Parse(Port().Match(record.Message[prefix.Length..]).Value, System.Globalization.CultureInfo.InvariantCulture);
    }

    private static void BindsAgain(int port)
    {
        using var again = new TcpListener(IPAddress.Loopback, port);
        again.Start();
    }

    [GeneratedRegex("^[0-9]+")]
    private static partial Regex Port();
}
