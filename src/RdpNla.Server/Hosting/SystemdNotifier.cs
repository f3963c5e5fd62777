namespace RdpNla.Server.Hosting;

/// <summary>
/// The service manager notification protocol of systemd (sd_notify(3)): one datagram of newline-separated
/// <c>KEY=VALUE</c> assignments to the AF_UNIX socket named by <c>$NOTIFY_SOCKET</c>, abstract when the name starts
/// with <c>@</c>. With <c>Type=notify</c> in the unit, systemd waits for <c>READY=1</c> before it calls the service
/// started (docs/deploy.md).
/// </summary>
public sealed class SystemdNotifier : IDisposable
{
    public const string EnvironmentVariable = "NOTIFY_SOCKET";

    private readonly Socket _socket;
    private readonly UnixDomainSocketEndPoint _endpoint;

    private SystemdNotifier(Socket socket, UnixDomainSocketEndPoint endpoint)
    {
        _socket = socket;
        _endpoint = endpoint;
    }

    /// <summary>The notifier for <c>$NOTIFY_SOCKET</c>, or null when the process was not started by systemd with one.</summary>
    public static SystemdNotifier? FromEnvironment()
    {
        string? name = Environment.GetEnvironmentVariable(EnvironmentVariable);
        if (string.IsNullOrEmpty(name) || !OperatingSystem.IsLinux() || (name[0] != '/' && name[0] != '@'))
        {
            return null;
        }

        // sd_notify(3): an abstract socket's name is given with '@' in place of the leading NUL byte.
        var endpoint = new UnixDomainSocketEndPoint(name[0] == '@' ? "\0" + name[1..] : name);
        return new SystemdNotifier(new Socket(AddressFamily.Unix, SocketType.Dgram, ProtocolType.Unspecified), endpoint);
    }

    /// <summary>Sends <c>READY=1</c>: the listeners are bound and the store is open.</summary>
    public void Ready(string status) => Send($"READY=1\nSTATUS={OneLine(status)}\nMAINPID={Environment.ProcessId.ToString(CultureInfo.InvariantCulture)}");

    /// <summary>Sends <c>RELOADING=1</c> with the monotonic time systemd wants for it; <see cref="Ready"/> follows.</summary>
    public void Reloading() => Send($"RELOADING=1\nMONOTONIC_USEC={MonotonicMicroseconds().ToString(CultureInfo.InvariantCulture)}\nSTATUS=Reloading the settings");

    /// <summary>Sends <c>STOPPING=1</c>: the drain has begun.</summary>
    public void Stopping(string status) => Send($"STOPPING=1\nSTATUS={OneLine(status)}");

    /// <summary>Sends <c>STATUS=</c>, shown by <c>systemctl status</c>.</summary>
    public void Status(string status) => Send($"STATUS={OneLine(status)}");

    private void Send(string message)
    {
        try
        {
            _socket.SendTo(Encoding.UTF8.GetBytes(message), SocketFlags.None, _endpoint);
        }
        catch (SocketException)
        {
            // As sd_notify: a missing or full socket never stops the service.
        }
    }

    private static string OneLine(string text) => text.ReplaceLineEndings(" ");

    // CLOCK_MONOTONIC: Stopwatch's clock on Linux.
    private static long MonotonicMicroseconds() => (long)(Stopwatch.GetTimestamp() * (1_000_000.0 / Stopwatch.Frequency));

    public void Dispose() => _socket.Dispose();
}
