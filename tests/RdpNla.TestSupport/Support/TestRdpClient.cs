using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using RdpNla.Protocol;
using RdpNla.Protocol.Connection;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Rdp;
using RdpNla.Transport;

namespace RdpNla.Tests.Support;

/// <summary>What a test client saw when it walked a connection through the front door.</summary>
public sealed record TestRdpOutcome
{
    public X224ConnectionConfirm? Confirm { get; init; }

    public NlaStatus? CredSspStatus { get; init; }

    public NtStatus? ServerErrorCode { get; init; }

    public int ServerCredSspVersion { get; init; }

    public NlaFailureReason? ClientFailure { get; init; }

    public EarlyUserAuthorizationResult? EarlyUserAuthorization { get; init; }

    public Exception? Error { get; init; }
}

/// <summary>
/// A minimal RDP client for driving the front door in tests: X.224 with chosen protocols, TLS, CredSSP through our
/// connector and driver, and the Early User Authorization Result for HYBRID_EX; then it sends an MCS-shaped TPKT and closes.
/// </summary>
public static class TestRdpClient
{
    /// <param name="onServerProof">
    /// When set, the client stops once the server proved its key (its pubKeyAuth answer), runs this, and closes without
    /// delegating credentials; the outcome's CredSSP status is then <see cref="NlaStatus.ContinueNeeded"/>.
    /// </param>
    public static async Task<TestRdpOutcome> ConnectAsync(
        int port,
        SecurityProtocols? requested,
        string user,
        string password,
        string domain = "",
        int maxVersion = CredSspVersion.Latest,
        EncryptionOraclePolicy policy = EncryptionOraclePolicy.Mitigated,
        byte[]? preamble = null,
        bool sendNtlmMic = true,
        Func<Task>? onServerProof = null,
        CancellationToken cancellationToken = default)
    {
        using var tcp = new TcpClient();
        await tcp.ConnectAsync(IPAddress.Loopback, port, cancellationToken);
        NetworkStream network = tcp.GetStream();
        if (preamble is not null)
        {
            await network.WriteAsync(preamble, cancellationToken);
        }

        using RdpClientConnector connector = TestSecurityPhase.Connector("test", requested, key => new CredSspClientOptions
        {
            ServerPublicKey = key,
            MaxVersion = maxVersion,
            AllowEncryptionOracle = policy,
            DelegateCredentials = onServerProof is null,
            Ntlm = new NtlmClientOptions
            {
                UserName = user,
                DomainName = domain,
                Password = password,
                Workstation = "TESTCLIENT",
                TargetName = "TERMSRV/localhost",
                TimeProvider = TimeProvider.System,
                RandomSource = SystemRandomSource.Instance,
                SendMic = sendNtlmMic,
            },
        });
        ClientSecurityPhaseResult result;
        try
        {
            result = await SecurityPhaseDriver.RunClientAsync(network, connector, TestSecurityPhase.AnyCertificate(), cancellationToken);
        }
        catch (Exception ex) when (ex is EndOfStreamException or IOException or NlaProtocolException && connector.State == ClientConnectorState.AwaitingConnectionConfirm)
        {
            return new TestRdpOutcome { Error = ex };
        }
        catch (Exception ex) when (ex is EndOfStreamException or IOException && connector.State == ClientConnectorState.CredSsp)
        {
            return new TestRdpOutcome { Confirm = connector.ConnectionConfirm, CredSspStatus = NlaStatus.Failed, ServerCredSspVersion = connector.CredSsp!.ServerVersion, ClientFailure = connector.CredSsp.FailureReason, Error = ex };
        }
        catch (EndOfStreamException ex) when (connector.State == ClientConnectorState.AwaitingEarlyUserAuthorizationResult)
        {
            return Outcome(connector, NlaStatus.Completed) with { Error = ex };
        }

        await using SslStream? tls = result.Tls;
        if (connector.CredSsp is null)
        {
            // Refused at the Connection Confirm (RDP_NEG_FAILURE, or no NLA selected): the confirm is the outcome.
            return new TestRdpOutcome { Confirm = connector.ConnectionConfirm };
        }

        CredSspClientContext credSsp = connector.CredSsp;
        NlaStatus status = credSsp.FailureReason != NlaFailureReason.None ? NlaStatus.Failed
            : onServerProof is not null ? NlaStatus.ContinueNeeded
            : NlaStatus.Completed;
        if (onServerProof is not null && result.Succeeded)
        {
            await onServerProof();
        }

        TestRdpOutcome outcome = Outcome(connector, status);
        if (!result.Succeeded || onServerProof is not null)
        {
            return outcome;
        }

        // Stand-in for MCS Connect Initial: the front door reads one TPKT after CredSSP, then closes.
        await tls!.WriteAsync(Tpkt.Wrap([0x02, 0xF0, 0x80, 0x7F, 0x65, 0x00]), cancellationToken);
        return outcome;
    }

    private static TestRdpOutcome Outcome(RdpClientConnector connector, NlaStatus status) => new()
    {
        Confirm = connector.ConnectionConfirm,
        CredSspStatus = status,
        ServerErrorCode = connector.CredSsp!.ServerErrorCode,
        ServerCredSspVersion = connector.CredSsp.ServerVersion,
        ClientFailure = status == NlaStatus.Failed ? connector.CredSsp.FailureReason : null,
        EarlyUserAuthorization = connector.EarlyUserAuthorization,
    };
}
