namespace RdpNla.Diagnosis;

/// <summary>
/// doctor's verdict: success, or the cause (a catalogue entry) with the evidence behind it. Produced by the offline
/// path (RegDiagnoser, from the outcome model) and the live path (LiveDiagnoser).
/// </summary>
public sealed record DoctorReport
{
    /// <summary>The cause, or null when the connection succeeds with NLA.</summary>
    public Cause? Cause { get; init; }

    /// <summary>Where the connection stops (<see cref="ConnectionPhase.Session"/> on success).</summary>
    public required ConnectionPhase Phase { get; init; }

    /// <summary>What was measured (live) or read and predicted (offline), first line the filled evidence template.</summary>
    public required IReadOnlyList<string> Evidence { get; init; }

    /// <summary>Secondary findings that do not stop the connection (e.g. an untrusted certificate).</summary>
    public IReadOnlyList<Cause> Warnings { get; init; } = [];

    /// <summary>Assumptions made and insecure settings noticed, one sentence each.</summary>
    public IReadOnlyList<string> Notes { get; init; } = [];

    /// <summary>The user name, to fill <c>&lt;user&gt;</c> in fixes.</summary>
    public string? User { get; init; }

    /// <summary>The host name, to fill <c>&lt;host&gt;</c> in fixes.</summary>
    public string? Host { get; init; }

    /// <summary>
    /// False when the live walk stopped at the server's NTLM CHALLENGE because no credentials were given: success then
    /// means "the server requires and speaks NLA", not "the logon works".
    /// </summary>
    public bool CredentialsChecked { get; init; } = true;

    /// <summary>"live" or "offline".</summary>
    public required string Mode { get; init; }

    public bool IsSuccess => Cause is null;

    /// <summary>The catalogue entry of <see cref="Cause"/>.</summary>
    public CatalogueEntry? Entry => Cause is { } cause ? CauseCatalogue.Get(cause) : null;

    /// <summary>"success" or the cause id: the value compared cell by cell between the model and measurements.</summary>
    public string Label => Entry?.Id ?? "success";

    /// <summary>The process exit code.</summary>
    public int ExitCode => Entry?.ExitCode ?? DoctorExitCodes.Success;
}
