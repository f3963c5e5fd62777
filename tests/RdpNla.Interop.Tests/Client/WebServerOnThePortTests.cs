using System.Diagnostics;
using System.Text;
using System.Text.Json;
using RdpNla.Tests.Accounts;
using RdpNla.Tests.Doctor;
using RdpNla.Tests.Support;

namespace RdpNla.Tests.Client;

/// <summary>
/// A real web server (Python's http.server) on the port the user gave: it reads a request line up to its CR LF before
/// it answers. probe and doctor end their Connection Request with a cookie line, as mstsc does, so the server answers
/// with an error page at once and both name it, where a request without a line end got no answer until the timeout.
/// </summary>
public sealed class WebServerOnThePortTests : IAsyncLifetime
{
    private Process? _server;
    private int _port;

    public async ValueTask InitializeAsync()
    {
        for (int attempt = 1; ; attempt++)
        {
            _port = PeerPorts.GetFreePort();
            _server = ExternalProcess.Start("python3", ["-m", "http.server", _port.ToString(System.Globalization.CultureInfo.InvariantCulture), "--bind", "127.0.0.1"], null, new StringBuilder());
            if (await PeerPorts.WaitForListenerAsync(_port, TimeSpan.FromSeconds(20), _server))
            {
                return;
            }

            await ExternalProcess.StopAsync(_server);
            Assert.True(attempt < 3, "python3 -m http.server did not listen");
        }
    }

    public async ValueTask DisposeAsync() => await ExternalProcess.StopAsync(_server);

    [Fact]
    public async Task Probe_NamesTheWebServer_InsteadOfWaitingForTheTimeout()
    {
        (CliResult probe, JsonElement json) = await ClientCli.ProbeJsonAsync($"127.0.0.1:{_port}", "--timeout", "15");

        JsonElement error = json.GetProperty("error");
        Assert.True(error.Str("kind") == "not_rdp", probe.Output + probe.Error);
        Assert.Contains("is not an RDP server", error.Str("message"), StringComparison.Ordinal);
    }

    [Fact]
    public async Task Doctor_WithoutAUser_NamesTheWebServer_WithTheBytesItSent()
    {
        (CliResult doctor, JsonElement json) = await DoctorCli.JsonAsync($"127.0.0.1:{_port}", "--timeout", "15");

        Assert.True((11, "not-rdp-server") == (doctor.ExitCode, json.Str("result")), doctor.Output + doctor.Error);
        Assert.Contains(DoctorCli.Evidence(json), e => e.Contains("bytes that are not an X.224 Connection Confirm", StringComparison.Ordinal));
    }
}
