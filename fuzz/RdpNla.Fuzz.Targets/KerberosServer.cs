using RdpNla.Protocol;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Negotiate;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Spnego;

namespace RdpNla.Fuzz;

/// <summary>
/// The Kerberos side of the acceptor at our boundary: negoToken classification (raw Kerberos, SPNEGO with Kerberos
/// first), the SPNEGO replies around the mechanism's tokens, the mechListMIC path, the account decision after the
/// ticket, and the pubKeyAuth/authInfo framing around Wrap/Unwrap. The Kerberos mechanism itself (the system GSSAPI
/// in the product) is replaced by a scripted context, so the fuzzer explores rdpnla's code, not the library's.
/// </summary>
/// <remarks>
/// Input: one configuration byte, then TSRequests as in <see cref="CredSspServer"/>. Configuration: bits 0–1 the
/// account lookup (found / not found / denied / found but refused), bit 2 the mechanism needs a second token, bit 3 the
/// mechanism fails, bits 4–6 the server's maximum CredSSP version, bit 7 the principal has no realm.
/// </remarks>
internal static class KerberosServer
{
    public static void Run(byte[] data)
    {
        if (data.Length == 0)
        {
            return;
        }

        byte config = data[0];
        var options = new CredSspServerOptions
        {
            ServerPublicKey = CredSspServer.ServerPublicKey,
            Ntlm = CredSspServer.NtlmOptions(requireMic: true),
            MaxVersion = CredSspVersion.Minimum + (((config >> 4) & 0x7) % (CredSspVersion.Latest - CredSspVersion.Minimum + 1)),
            Kerberos = () => new ScriptedKerberos(config),
        };

        _ = NegoTokenClassifier.Classify(data.AsSpan(1));
        using var server = new CredSspServerContext(options);
        ReadOnlySpan<byte> rest = data.AsSpan(1);
        while (Targets.TryTakeMessage(ref rest, out ReadOnlySpan<byte> request))
        {
            server.GetOutgoingBlob(request, out NlaStatus status);
            if (status == NlaStatus.CredentialLookupNeeded)
            {
                _ = server.UserName;
                _ = server.DomainName;
                server.ProvideCredential((config & 0x3) switch
                {
                    0 => NtlmCredentialLookup.Found(new byte[16]),
                    1 => NtlmCredentialLookup.NotFound(),
                    2 => NtlmCredentialLookup.Denied(NtStatus.AccountLockedOut),
                    _ => NtlmCredentialLookup.Found(new byte[16], NtStatus.AccountDisabled),
                });
                server.GetOutgoingBlob([], out status);
            }

            if (status is NlaStatus.Completed or NlaStatus.Failed)
            {
                _ = server.PackageName;
                _ = server.KerberosPrincipal;
                return;
            }
        }
    }

    /// <summary>A mechanism that accepts any token; Wrap prefixes a 60-byte trailer as Windows' Kerberos package does.</summary>
    private sealed class ScriptedKerberos(byte config) : IGssContext
    {
        private const int Trailer = 60;
        private int _steps;

        public string PackageName => "Kerberos";

        public string? PeerPrincipal { get; private set; }

        public NtStatus FailureStatus => NtStatus.LogonFailure;

        public string? FailureMessage => "scripted failure";

        public GssStepStatus Step(ReadOnlySpan<byte> inputToken, out byte[]? outputToken)
        {
            _steps++;
            outputToken = inputToken.Length > 0 ? [0x6F, (byte)inputToken.Length] : null;
            if ((config & 0x8) != 0)
            {
                return GssStepStatus.Failed;
            }

            if ((config & 0x4) != 0 && _steps < 2)
            {
                return GssStepStatus.ContinueNeeded;
            }

            PeerPrincipal = (config & 0x80) != 0 ? "alice" : inputToken.Length % 3 == 0 ? "alice@LAB.TEST" : "svc/host@LAB.TEST";
            return GssStepStatus.Completed;
        }

        public byte[] Wrap(ReadOnlySpan<byte> plaintext) => [.. new byte[Trailer], .. plaintext];

        public byte[] Unwrap(ReadOnlySpan<byte> token) => token.Length < Trailer
            ? throw new NlaProtocolException(NlaFailureReason.DecryptionFailed, "shorter than the security trailer", "RFC 4121 §4.2.6.2")
            : token[Trailer..].ToArray();

        public byte[] GetMic(ReadOnlySpan<byte> message) => [0x04, 0x04, (byte)message.Length];

        public bool VerifyMic(ReadOnlySpan<byte> message, ReadOnlySpan<byte> mic) => mic.Length == 3 && mic[2] == (byte)message.Length;

        public void Dispose()
        {
        }
    }
}
