using System.Net.Security;
using RdpNla.Protocol;
using RdpNla.Protocol.Connection;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Rdp;
using RdpNla.Transport;

namespace RdpNla.Tests.Support;

/// <summary>Runs our CredSSP client against our CredSSP server over a TLS pair and records what each side saw.</summary>
public sealed class CredSspRun
{
    public const string User = "alice";
    public const string Domain = "LAB";
    public const string Password = "Passw0rd!";

    public NlaStatus ClientStatus { get; private set; }

    public NlaStatus ServerStatus { get; private set; }

    public Exception? ClientException { get; private set; }

    public Exception? ServerException { get; private set; }

    public CredSspClientContext Client { get; private set; } = null!;

    public CredSspServerContext Server { get; private set; } = null!;

    /// <summary>The delegated credentials the server received, copied before the context is disposed.</summary>
    public (string Domain, string User, string Password)? Delegated { get; private set; }

    /// <summary>What each side saw, for assertion messages.</summary>
    public override string ToString() =>
        $"client {ClientStatus} {Client.FailureReason} '{Client.FailureMessage}' {ClientException?.GetType().Name} {ClientException?.Message}; " +
        $"server {ServerStatus} {Server.FailureReason} '{Server.FailureMessage}' {ServerException?.GetType().Name} {ServerException?.Message}";

    public static NtlmServerOptions ServerNtlmOptions(int seed, bool requireMic = false) => new()
    {
        RequireMic = requireMic,
        NbComputerName = "FRONTDOOR",
        NbDomainName = "LAB",
        DnsComputerName = "frontdoor.lab.test",
        DnsDomainName = "lab.test",
        TimeProvider = TimeProvider.System,
        RandomSource = new DeterministicRandom(seed),
    };

    public static NtlmClientOptions ClientNtlmOptions(string password, int seed, string user = User, string domain = Domain, bool sendMic = true) => new()
    {
        SendMic = sendMic,
        UserName = user,
        DomainName = domain,
        Password = password,
        Workstation = "CLIENT1",
        TargetName = "TERMSRV/frontdoor.lab.test",
        TimeProvider = TimeProvider.System,
        RandomSource = new DeterministicRandom(seed + 1),
    };

    /// <summary>
    /// Our CredSSP client alone over an established TLS stream, with no X.224 before it (the connection sequence runs it
    /// through RdpClientConnector): the loop that checks the context itself, until it completes or fails.
    /// </summary>
    public static async Task<NlaStatus> RunClientAsync(Stream tls, CredSspClientContext context, CancellationToken cancellationToken)
    {
        byte[]? output = context.GetOutgoingBlob([], out NlaStatus status);
        while (true)
        {
            if (output is not null)
            {
                await MessageFraming.WriteMessageAsync(tls, output, cancellationToken);
            }

            if (status is NlaStatus.Completed or NlaStatus.Failed)
            {
                return status;
            }

            output = context.GetOutgoingBlob(await MessageFraming.ReadTsRequestAsync(tls, 64 * 1024, cancellationToken), out status);
        }
    }

    public static async Task<CredSspRun> RunAsync(
        SslStream clientTls,
        SslStream serverTls,
        ReadOnlyMemory<byte> clientSeesKey,
        ReadOnlyMemory<byte> serverKey,
        CredSspClientOptions? clientOptions = null,
        CredSspServerOptions? serverOptions = null,
        string clientPassword = Password,
        Func<CancellationToken, ValueTask<NtStatus>>? recordLogon = null,
        CancellationToken cancellationToken = default)
    {
        var run = new CredSspRun();
        clientOptions ??= new CredSspClientOptions { ServerPublicKey = clientSeesKey, Ntlm = ClientNtlmOptions(clientPassword, 7) };
        serverOptions ??= new CredSspServerOptions { ServerPublicKey = serverKey, Ntlm = ServerNtlmOptions(11) };
        using var client = new CredSspClientContext(clientOptions, new DeterministicRandom(3));
        // The server role is the acceptor, past a Connection Request for PROTOCOL_HYBRID (no Early User Authorization Result).
        using var acceptor = new RdpServerAcceptor(new RdpServerAcceptorOptions { CredSsp = serverOptions });
        acceptor.Start();
        acceptor.Step(new X224ConnectionRequest(negotiationRequest: new RdpNegRequest(RdpNegRequestFlags.None, SecurityProtocols.Hybrid)).Encode());
        SecurityPhaseStep first = acceptor.TlsEstablished();
        CredSspServerContext server = acceptor.CredSsp!;
        run.Client = client;
        run.Server = server;
        byte[] storedHash = NtlmCrypto.NtOwfV1(Password);

        Task serverTask = Task.Run(async () =>
        {
            try
            {
                SecurityPhaseStep last = await SecurityPhaseDriver.ContinueServerAsync(serverTls, acceptor, first, new Host(storedHash, recordLogon), cancellationToken);
                run.ServerStatus = last.Action == SecurityPhaseAction.Completed ? NlaStatus.Completed : NlaStatus.Failed;
                await SecurityPhaseDriver.WriteServerStepAsync(serverTls, last, cancellationToken);

                if (server.DelegatedCredentials is { } delegated)
                {
                    run.Delegated = (delegated.DomainName, delegated.UserName, delegated.GetPassword());
                }
            }
            catch (Exception ex)
            {
                run.ServerException = ex;
                run.ServerStatus = NlaStatus.Failed;
            }
            finally
            {
                // Closing is how a server without errorCode refuses; the client must see it.
                serverTls.Close();
            }
        }, cancellationToken);

        try
        {
            run.ClientStatus = await RunClientAsync(clientTls, client, cancellationToken);
        }
        catch (Exception ex)
        {
            run.ClientException = ex;
            run.ClientStatus = NlaStatus.Failed;
        }
        finally
        {
            clientTls.Close();
        }

        await serverTask;
        return run;
    }

    private sealed class Host(byte[] storedHash, Func<CancellationToken, ValueTask<NtStatus>>? recordLogon) : ServerSecurityPhaseHost
    {
        public override ValueTask<NtlmCredentialLookup> LookupCredentialAsync(CredentialRequest request, CancellationToken cancellationToken) =>
            ValueTask.FromResult(string.Equals(request.UserName, User, StringComparison.OrdinalIgnoreCase)
                ? NtlmCredentialLookup.Found(storedHash)
                : NtlmCredentialLookup.NotFound());

        public override ValueTask<NtStatus> RecordLogonAsync(AuthenticatedIdentity identity, CancellationToken cancellationToken) =>
            recordLogon is null ? ValueTask.FromResult(NtStatus.Success) : recordLogon(cancellationToken);
    }
}
