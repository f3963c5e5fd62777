using RdpNla.Cli.Interaction;
using RdpNla.Diagnosis;
using RdpNla.Diagnosis.Live;
using RdpNla.Diagnosis.Model;

namespace RdpNla.Cli.Commands;

/// <summary>
/// The live walk of <c>rdpnla doctor HOST</c>: resolve, connect, negotiate, TLS, CredSSP, authorization — each step
/// recorded in a <see cref="ConnectionObservation"/> that <see cref="LiveDiagnoser"/> turns into a cause.
/// </summary>
/// <remarks>
/// Wiring the network client (src/RdpNla.Transport/Client) is the remaining work: implement <see cref="WalkAsync"/> to
/// fill the observation (stop at the first failing phase; emulate <see cref="ClientSettings"/>: requested protocols,
/// CredSSP version, AllowEncryptionOracle), then return <c>LiveDiagnoser.Diagnose(observation, client)</c>.
/// </remarks>
internal static class DoctorLive
{
    /// <summary>True once <see cref="WalkAsync"/> is implemented.</summary>
    public const bool Available = false;

    public static async Task<DoctorReport> RunAsync(LiveTarget target, ClientSettings client, string? user, CancellationToken cancellationToken)
    {
        ConnectionObservation observation = await WalkAsync(target, client, user, cancellationToken);
        return LiveDiagnoser.Diagnose(observation, client);
    }

    private static Task<ConnectionObservation> WalkAsync(LiveTarget target, ClientSettings client, string? user, CancellationToken cancellationToken)
    {
        _ = (client, user, cancellationToken);
        throw new CliException(
            $"live diagnosis of {target.Host}:{target.Port} is not yet available in this build (the network client has not landed); predict the outcome offline with: rdpnla doctor --reg server.reg [--reg client.reg]",
            DoctorExitCodes.Unavailable);
    }
}
