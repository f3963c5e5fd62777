using System.Net;
using System.Net.Security;
using System.Net.Sockets;
using System.Security.Authentication;
using RdpNla.Protocol;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Rdp;
using RdpNla.Transport;

namespace RdpNla.Integration.Tests.Support;

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
/// client context, and the Early User Authorization Result for HYBRID_EX; then it sends an MCS-shaped TPKT and closes.
/// </summary>
public static class TestRdpClient
{
    // As CredSspClientHandshake.RunAsync, but stops at the server's pubKeyAuth answer (the server proving itself):
    // runs onServerProof, then returns without delegating credentials, and the caller closes the connection.
    private static async Task<NlaStatus> RunUntilServerProofAsync(SslStream tls, CredSspClientContext credSsp, Func<Task> onServerProof, CancellationToken cancellationToken)
    {
        byte[]? output = credSsp.GetOutgoingBlob([], out NlaStatus status);
        while (status == NlaStatus.ContinueNeeded)
        {
            await MessageFraming.WriteMessageAsync(tls, output!, cancellationToken);
            byte[] response = await MessageFraming.ReadTsRequestAsync(tls, 64 * 1024, cancellationToken);
            if (TsRequest.Decode(response).PubKeyAuth is not null)
            {
                await onServerProof();
                return NlaStatus.ContinueNeeded;
            }

            output = credSsp.GetOutgoingBlob(response, out status);
        }

        return status;
    }

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

        var request = new X224ConnectionRequest("test", requested is { } protocols ? new RdpNegRequest(RdpNegRequestFlags.None, protocols) : null);
        await network.WriteAsync(request.Encode(), cancellationToken);
        X224ConnectionConfirm confirm;
        try
        {
            confirm = X224ConnectionConfirm.Decode(await MessageFraming.ReadTpktFrameAsync(network, 1024, cancellationToken));
        }
        catch (Exception ex) when (ex is EndOfStreamException or IOException or NlaProtocolException)
        {
            return new TestRdpOutcome { Error = ex };
        }

        SecurityProtocols selected = confirm.Response?.SelectedProtocol ?? SecurityProtocols.Rdp;
        if (confirm.Failure is not null || (selected & (SecurityProtocols.Hybrid | SecurityProtocols.HybridEx)) == 0)
        {
            return new TestRdpOutcome { Confirm = confirm };
        }

        await using var tls = new SslStream(network, true, (_, _, _, _) => true);
        await tls.AuthenticateAsClientAsync(new SslClientAuthenticationOptions { TargetHost = "localhost", EnabledSslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13 }, cancellationToken);
        using var serverCertificate = new System.Security.Cryptography.X509Certificates.X509Certificate2(tls.RemoteCertificate!);
        using var credSsp = new CredSspClientContext(
            new CredSspClientOptions
            {
                ServerPublicKey = serverCertificate.GetPublicKey(),
                MaxVersion = maxVersion,
                AllowEncryptionOracle = policy,
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
            },
            SystemRandomSource.Instance);
        NlaStatus status;
        try
        {
            status = onServerProof is null
                ? await CredSspClientHandshake.RunAsync(tls, credSsp, 64 * 1024, cancellationToken)
                : await RunUntilServerProofAsync(tls, credSsp, onServerProof, cancellationToken);
        }
        catch (Exception ex) when (ex is EndOfStreamException or IOException)
        {
            return new TestRdpOutcome { Confirm = confirm, CredSspStatus = NlaStatus.Failed, ServerCredSspVersion = credSsp.ServerVersion, ClientFailure = credSsp.FailureReason, Error = ex };
        }

        var outcome = new TestRdpOutcome
        {
            Confirm = confirm,
            CredSspStatus = status,
            ServerErrorCode = credSsp.ServerErrorCode,
            ServerCredSspVersion = credSsp.ServerVersion,
            ClientFailure = status == NlaStatus.Failed ? credSsp.FailureReason : null,
        };
        if (status != NlaStatus.Completed)
        {
            return outcome;
        }

        if (selected == SecurityProtocols.HybridEx)
        {
            byte[] result = new byte[EarlyUserAuthorizationResult.Length];
            try
            {
                await tls.ReadExactlyAsync(result, cancellationToken);
            }
            catch (EndOfStreamException ex)
            {
                return outcome with { Error = ex };
            }

            outcome = outcome with { EarlyUserAuthorization = EarlyUserAuthorizationResult.Decode(result) };
            if (!outcome.EarlyUserAuthorization.Value.IsSuccess)
            {
                return outcome;
            }
        }

        // Stand-in for MCS Connect Initial: the front door reads one TPKT after CredSSP, then closes.
        await tls.WriteAsync(Tpkt.Wrap([0x02, 0xF0, 0x80, 0x7F, 0x65, 0x00]), cancellationToken);
        return outcome;
    }
}
