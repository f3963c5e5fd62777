using System.Net;
using System.Net.Sockets;
using RdpNla.Cli.Commands;
using RdpNla.Server.Hosting;

namespace RdpNla.Tests.Cli;

/// <summary>
/// The line <c>rdpnla serve</c> writes for an endpoint it cannot bind: the flag of the setting that holds it and the fix
/// for each reason the kernel gives (bind(2): EADDRINUSE, EACCES, EADDRNOTAVAIL). The real process is run with a port in
/// use by RdpNla.Interop.Tests (ServeOptionsTests); permission denied needs a non-root user, so its line is checked here.
/// </summary>
public sealed class ServeListenFailureTests
{
    [Theory]
    [InlineData("Listen", "127.0.0.1", 3389, SocketError.AccessDenied, "error: cannot listen on 127.0.0.1:3389 (Listen): permission denied; ports below 1024 need root or the CAP_NET_BIND_SERVICE capability (the systemd unit of docs/deploy.md grants it), or choose a port above 1023 with --listen.")]
    [InlineData("Portal:Listen", "::1", 443, SocketError.AccessDenied, "error: cannot listen on [::1]:443 (Portal:Listen): permission denied; ports below 1024 need root or the CAP_NET_BIND_SERVICE capability (the systemd unit of docs/deploy.md grants it), or choose a port above 1023 with --portal-listen.")]
    [InlineData("MetricsListen", "10.1.2.3", 9464, SocketError.AddressNotAvailable, "error: cannot listen on 10.1.2.3:9464 (MetricsListen): the address is not one of this machine's; choose one of this machine's addresses ('ip -brief address' lists them), or 0.0.0.0 for all, with --metrics-listen.")]
    [InlineData("Listen", "127.0.0.1", 3389, SocketError.AddressAlreadyInUse, "error: cannot listen on 127.0.0.1:3389 (Listen): address already in use; another program listens there (ss -ltnp 'sport = :3389' names it): stop it, or choose another port with --listen.")]
    public void ListenFailure_NamesTheFlagAndTheFix(string setting, string address, int port, SocketError error, string expected)
    {
        var failure = new ListenFailedException(setting, new IPEndPoint(IPAddress.Parse(address), port), new SocketException((int)error));

        Assert.Equal(error, failure.Error);
        Assert.Equal(expected, ServeCommand.ListenFailure(failure));
    }
}
