using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using RdpNla.Tests.Support;
using RdpNla.Protocol;
using RdpNla.Protocol.Connection;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Rdp;
using RdpNla.Transport;

namespace RdpNla.Tests.CredSsp;

/// <summary>
/// The server half of <see cref="SecurityPhaseDriver"/> on loopback TCP and a real SslStream: our X.224 encoder, TLS
/// client and CredSSP client on the other side; the host's hooks are recorded.
/// </summary>
public class SecurityPhaseDriverServerTests
{
    private sealed class RecordingHost(NtStatus verdict, ServerSecurityPhase? cancelledPhase = null) : ServerSecurityPhaseHost
    {
        public List<string> Calls { get; } = [];

        public AuthenticatedIdentity? Authorized { get; private set; }

        public override ServerPhaseScope EnterPhase(ServerSecurityPhase phase, CancellationToken connection)
        {
            Calls.Add($"enter {phase}");
            return new ServerPhaseScope(phase == cancelledPhase ? new CancellationToken(canceled: true) : connection, null);
        }

        public override void PhaseEnded(ServerSecurityPhase phase, RdpServerAcceptor acceptor, SecurityPhaseStep step, SslStream tls) =>
            Calls.Add($"end {phase} {step.Action}");

        public override ValueTask<NtlmCredentialLookup> LookupCredentialAsync(CredentialRequest request, CancellationToken cancellationToken)
        {
            Calls.Add($"lookup {request.DomainName}\\{request.UserName} {request.PackageName}");
            return ValueTask.FromResult(NtlmCredentialLookup.Found(NtlmCrypto.NtOwfV1(CredSspRun.Password)));
        }

        public override ValueTask<NtStatus> RecordLogonAsync(AuthenticatedIdentity identity, CancellationToken cancellationToken)
        {
            Calls.Add($"record {identity.Account}");
            return ValueTask.FromResult(NtStatus.Success);
        }

        public override ValueTask<NtStatus> AuthorizeAsync(AuthenticatedIdentity identity, CancellationToken cancellationToken)
        {
            Calls.Add($"authorize {identity.Account} {identity.VerifiedBy}");
            Authorized = identity;
            return ValueTask.FromResult(verdict);
        }
    }

    /// <summary>The client side: Connection Request for HYBRID_EX, TLS, CredSSP; returns the bytes that follow CredSSP (up to 4).</summary>
    private static async Task<byte[]> ClientAsync(Stream network, CancellationToken cancellationToken)
    {
        byte[] request = new X224ConnectionRequest("alice", new RdpNegRequest(RdpNegRequestFlags.None, SecurityProtocols.Ssl | SecurityProtocols.Hybrid | SecurityProtocols.HybridEx)).Encode();
        await network.WriteAsync(request, cancellationToken);
        X224ConnectionConfirm confirm = X224ConnectionConfirm.Decode(await MessageFraming.ReadTpktFrameAsync(network, 4096, cancellationToken));
        Assert.Equal(SecurityProtocols.HybridEx, confirm.Response!.SelectedProtocol);

        await using var tls = new SslStream(network, leaveInnerStreamOpen: true, (_, _, _, _) => true);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost" }, cancellationToken);
        byte[] key = tls.RemoteCertificate!.GetPublicKey();
        using var credSsp = new CredSspClientContext(new CredSspClientOptions { ServerPublicKey = key, Ntlm = CredSspRun.ClientNtlmOptions(CredSspRun.Password, 7) }, new DeterministicRandom(3));
        Assert.Equal(NlaStatus.Completed, await CredSspRun.RunClientAsync(tls, credSsp, cancellationToken));

        byte[] result = new byte[EarlyUserAuthorizationResult.Length];
        int read = await tls.ReadAtLeastAsync(result, result.Length, throwOnEndOfStream: false, cancellationToken);
        return result[..read];
    }

    /// <summary>Runs both sides; the host writes the final step's output only when <paramref name="hostWrites"/>.</summary>
    private static async Task<(SecurityPhaseStep Server, byte[] ClientSaw)> RunAsync(RecordingHost host, bool hostWrites, CancellationToken cancellationToken)
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        using var clientTcp = new TcpClient();
        Task connect = clientTcp.ConnectAsync(IPAddress.Loopback, ((IPEndPoint)listener.LocalEndpoint).Port, cancellationToken).AsTask();
        using TcpClient serverTcp = await listener.AcceptTcpClientAsync(cancellationToken);
        await connect;
        Task<byte[]> client = Task.Run(() => ClientAsync(clientTcp.GetStream(), cancellationToken), cancellationToken);

        NetworkStream network = serverTcp.GetStream();
        byte[] publicKey = TestCertificates.Server.GetPublicKey();
        using var acceptor = new RdpServerAcceptor(new RdpServerAcceptorOptions
        {
            CredSsp = new CredSspServerOptions { ServerPublicKey = publicKey, Ntlm = CredSspRun.ServerNtlmOptions(11), RecordLogonBeforeProof = true },
        });
        SecurityPhaseStep step;
        await using (var tls = new SslStream(network, leaveInnerStreamOpen: true))
        {
            step = await SecurityPhaseDriver.RunServerAsync(
                network,
                tls,
                new SslServerAuthenticationOptions { ServerCertificate = TestCertificates.Server, EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13 },
                acceptor,
                host,
                cancellationToken);
            if (hostWrites)
            {
                await SecurityPhaseDriver.WriteServerStepAsync(tls, step, cancellationToken);
            }
        }

        serverTcp.Close();
        return (step, await client);
    }

    [Fact]
    public async Task The_phases_run_in_order_and_the_host_writes_AUTHZ_SUCCESS()
    {
        var host = new RecordingHost(NtStatus.Success);
        (SecurityPhaseStep step, byte[] clientSaw) = await RunAsync(host, hostWrites: true, TestContext.Current.CancellationToken);

        Assert.Equal(SecurityPhaseAction.Completed, step.Action);
        Assert.True(EarlyUserAuthorizationResult.Decode(clientSaw).IsSuccess);
        Assert.Equal(
            [
                "enter ConnectionRequest", "end ConnectionRequest StartTls",
                "enter Tls", "end Tls ReadTsRequest",
                "enter CredSsp", $"lookup {CredSspRun.Domain}\\{CredSspRun.User} NTLM", $"record {CredSspRun.Domain}\\{CredSspRun.User}", "end CredSsp AuthorizationNeeded",
                "enter Authorization", $"authorize {CredSspRun.Domain}\\{CredSspRun.User} StoredHash", "end Authorization Completed",
            ],
            host.Calls);
    }

    [Fact]
    public async Task A_refusal_is_returned_unwritten_for_the_host_to_record_first()
    {
        var host = new RecordingHost(NtStatus.AccessDenied);
        (SecurityPhaseStep step, byte[] clientSaw) = await RunAsync(host, hostWrites: false, TestContext.Current.CancellationToken);

        Assert.Equal(SecurityPhaseAction.Failed, step.Action);
        Assert.Equal(NtStatus.AccessDenied, step.Status);
        Assert.Equal(EarlyUserAuthorizationResult.AuthzAccessDenied, EarlyUserAuthorizationResult.Decode(step.Output.Span).AuthorizationResult);

        // The host closed without writing: the client saw nothing after CredSSP, so the driver wrote nothing either.
        Assert.Empty(clientSaw);
    }

    [Fact]
    public async Task A_phase_runs_under_the_token_its_host_gives_it()
    {
        var host = new RecordingHost(NtStatus.Success, cancelledPhase: ServerSecurityPhase.Tls);
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => RunAsync(host, hostWrites: true, TestContext.Current.CancellationToken));
        Assert.Equal(["enter ConnectionRequest", "end ConnectionRequest StartTls", "enter Tls"], host.Calls);
    }
}
