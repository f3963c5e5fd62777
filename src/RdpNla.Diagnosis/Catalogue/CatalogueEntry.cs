namespace RdpNla.Diagnosis.Catalogue;

/// <summary>One cause: what the user saw, what doctor measures, and how to fix it.</summary>
/// <param name="Cause">The cause.</param>
/// <param name="Id">Stable kebab-case id (JSON, docs anchors).</param>
/// <param name="Title">One line.</param>
/// <param name="Class">The cause class, which decides the exit code.</param>
/// <param name="MessagesSeen">What the Windows client (mstsc) shows, so the user recognises the case.</param>
/// <param name="Explanation">What is going on, in a few sentences.</param>
/// <param name="EvidenceTemplate">
/// The evidence line doctor prints, with <c>{placeholders}</c> filled from the observation (live) or the registry
/// values (offline); see <see cref="Evidence.Fill"/>.
/// </param>
/// <param name="Fixes">Fixes, safe ones first; an insecure workaround carries its revert.</param>
public sealed record CatalogueEntry(
    Cause Cause,
    string Id,
    string Title,
    CauseClass Class,
    IReadOnlyList<ClientMessage> MessagesSeen,
    string Explanation,
    string EvidenceTemplate,
    IReadOnlyList<Fix> Fixes)
{
    /// <summary>The process exit code of this cause.</summary>
    public int ExitCode => DoctorExitCodes.For(Class);
}

/// <summary>A message the Windows client shows.</summary>
/// <param name="Text">The text, as quoted by the source.</param>
/// <param name="Source">Where the text comes from (Microsoft KB article, docs/interop.md section).</param>
/// <param name="Confirmed">False when the link between this message and the cause is not confirmed by the sources.</param>
public sealed record ClientMessage(string Text, string Source, bool Confirmed = true);

/// <summary>Which machine a fix is applied to.</summary>
public enum FixSide
{
    /// <summary>The Windows Remote Desktop server.</summary>
    Server,

    /// <summary>The Windows client computer.</summary>
    Client,

    /// <summary>The server when it is <c>rdpnla serve</c>.</summary>
    RdpNlaServer,

    /// <summary>The network between them (DNS, firewall).</summary>
    Network,
}

/// <summary>Whether a fix keeps the connection as secure as Windows' defaults.</summary>
public enum FixSafety
{
    /// <summary>Fixes the cause without weakening anything.</summary>
    Safe,

    /// <summary>A workaround that weakens security; it has a revert and should be undone once the real fix is in.</summary>
    Insecure,
}

/// <summary>How a fix step is expressed.</summary>
public enum FixStepKind
{
    /// <summary>A <c>reg add</c>/<c>reg delete</c>/<c>reg query</c> line for cmd.exe (elevated).</summary>
    Registry,

    /// <summary>A Group Policy path and setting (gpedit.msc / GPMC).</summary>
    GroupPolicy,

    /// <summary>A PowerShell command (elevated).</summary>
    PowerShell,

    /// <summary>Another command (cmd.exe, net, cmdkey, shutdown).</summary>
    Command,

    /// <summary>An <c>rdpnla</c> command.</summary>
    RdpNla,

    /// <summary>Something to do that is not a command.</summary>
    Note,
}

/// <summary>One step of a fix. Commands may contain <c>&lt;user&gt;</c> and <c>&lt;host&gt;</c>, filled in when known.</summary>
public sealed record FixStep(FixStepKind Kind, string Text);

/// <summary>A fix on one side.</summary>
/// <param name="Side">Where it is applied.</param>
/// <param name="Safety">Safe, or an insecure workaround.</param>
/// <param name="Title">What it does.</param>
/// <param name="Steps">The commands (registry, Group Policy, PowerShell equivalents).</param>
/// <param name="Revert">For an insecure workaround: the commands that undo it. Empty for safe fixes.</param>
public sealed record Fix(FixSide Side, FixSafety Safety, string Title, IReadOnlyList<FixStep> Steps, IReadOnlyList<FixStep> Revert)
{
    /// <summary>A safe fix.</summary>
    public static Fix Safe(FixSide side, string title, params FixStep[] steps) => new(side, FixSafety.Safe, title, steps, []);

    /// <summary>An insecure workaround with its revert.</summary>
    public static Fix Insecure(FixSide side, string title, FixStep[] steps, FixStep[] revert) => new(side, FixSafety.Insecure, title, steps, revert);
}
