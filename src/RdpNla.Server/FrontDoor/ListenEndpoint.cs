namespace RdpNla.Server.FrontDoor;

/// <summary>Parses <c>--listen</c> values: <c>127.0.0.1:3389</c>, <c>[::1]:3389</c>, <c>0.0.0.0:3389</c>, or a bare port.</summary>
internal static class ListenEndpoint
{
    public const int DefaultPort = 3389;

    public static bool TryParse(string text, [NotNullWhen(true)] out IPEndPoint? endpoint, [NotNullWhen(false)] out string? problem)
    {
        endpoint = null;
        if (string.IsNullOrWhiteSpace(text))
        {
            problem = "empty; use ADDRESS:PORT such as 127.0.0.1:3389 or [::1]:3389.";
            return false;
        }

        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int bare))
        {
            text = $"127.0.0.1:{bare}";
        }

        if (!IPEndPoint.TryParse(text, out IPEndPoint? parsed))
        {
            problem = "not an IP address and port; use ADDRESS:PORT such as 127.0.0.1:3389 or [::1]:3389 (host names are not resolved).";
            return false;
        }

        if (parsed.Port == 0 && !text.EndsWith(":0", StringComparison.Ordinal))
        {
            parsed.Port = DefaultPort;
        }

        endpoint = parsed;
        problem = null;
        return true;
    }
}
