using System.Buffers.Binary;
using System.Text;
using RdpNla.Protocol;
using RdpNla.Protocol.Rdp;

namespace RdpNla.Fuzz;

/// <summary>
/// The frames the gateway reads after authentication, as <c>GatewaySession</c> handles them: the client's MCS Connect
/// Initial and the backend's Connect Response, whose security-protocol fields it rewrites in place (MS-RDPBCGR
/// §2.2.1.3.2, §2.2.1.4.2, §5.4.2.1); the MCS domain PDUs it classifies before the Client Info PDU; and the Client Info
/// PDU into which it injects the backend's credentials (§2.2.1.11.1.1). Besides totality, the oracles check what the
/// gateway relies on: the located blocks are the frame's own headers, a rewrite changes exactly the four bytes of its
/// field and decodes to the new value, and the injected credentials replace the client's while every other field
/// survives.
/// </summary>
internal static class GatewayPdus
{
    private const string InjectedDomain = "BACKEND";
    private const string InjectedUser = "svc-relay";
    private static readonly byte[] s_injectedPassword = Encoding.Unicode.GetBytes("Injected-Passw0rd!");

    public static void Run(byte[] data)
    {
        Targets.Expect(data, static d => (int)McsDomainPdu.ClassifyClientFrame(d));
        Targets.Expect(data, static d =>
        {
            ConnectPdu(McsConnectPdu.Decode(d));
            return 0;
        });
        bool isClientInfo = ClientInfoPdu.IsClientInfo(data);
        bool decoded = false;
        Targets.Expect(data, d =>
        {
            using ClientInfoPdu info = ClientInfoPdu.Decode(d);
            decoded = true;
            ClientInfo(info);
            return 0;
        });
        if (decoded && !isClientInfo)
        {
            throw new OracleException("ClientInfoPdu.Decode accepted a frame IsClientInfo says is no Client Info PDU.");
        }
    }

    private static void ConnectPdu(McsConnectPdu pdu)
    {
        ReadOnlySpan<byte> frame = pdu.Frame;
        int end = 0;
        foreach (GccUserDataBlock block in pdu.Blocks)
        {
            if (block.Offset < end || block.Length < 4 || block.Offset + block.Length > frame.Length
                || BinaryPrimitives.ReadUInt16LittleEndian(frame[block.Offset..]) != block.Type
                || BinaryPrimitives.ReadUInt16LittleEndian(frame[(block.Offset + 2)..]) != block.Length)
            {
                throw new OracleException($"McsConnectPdu located block 0x{block.Type:X4} at {block.Offset}+{block.Length}, which is not a TS_UD_HEADER of the frame in order.");
            }

            end = block.Offset + block.Length;
        }

        if (pdu.IsResponse)
        {
            SecurityProtocols? before = pdu.ClientRequestedProtocols;
            byte[] rewritten = pdu.WithClientRequestedProtocols(SecurityProtocols.Hybrid | SecurityProtocols.HybridEx);
            McsConnectPdu again = Rewritten(pdu, rewritten, before is null ? 0 : 4);
            if (before is not null && again.ClientRequestedProtocols != (SecurityProtocols.Hybrid | SecurityProtocols.HybridEx))
            {
                throw new OracleException($"The rewritten Connect Response holds clientRequestedProtocols {again.ClientRequestedProtocols}.");
            }

            return;
        }

        if (pdu.Blocks.Count(block => block.Type == GccBlockType.ClientCore) != 1 || pdu.ServerSelectedProtocol is null)
        {
            throw new OracleException("A Connect Initial decoded without exactly one client core block holding serverSelectedProtocol.");
        }

        byte[] toBackend = pdu.WithServerSelectedProtocol(SecurityProtocols.HybridEx);
        if (Rewritten(pdu, toBackend, 4).ServerSelectedProtocol != SecurityProtocols.HybridEx)
        {
            throw new OracleException("The rewritten Connect Initial does not hold the new serverSelectedProtocol.");
        }
    }

    /// <summary>A rewrite keeps the frame's length, changes at most <paramref name="maxChanged"/> bytes, and decodes to the same blocks.</summary>
    private static McsConnectPdu Rewritten(McsConnectPdu original, byte[] rewritten, int maxChanged)
    {
        ReadOnlySpan<byte> frame = original.Frame;
        if (rewritten.Length != frame.Length)
        {
            throw new OracleException($"A rewrite changed the frame's length from {frame.Length} to {rewritten.Length}.");
        }

        int changed = 0;
        for (int i = 0; i < frame.Length; i++)
        {
            changed += frame[i] != rewritten[i] ? 1 : 0;
        }

        if (changed > maxChanged)
        {
            throw new OracleException($"A rewrite changed {changed} bytes (at most {maxChanged}).");
        }

        McsConnectPdu again;
        try
        {
            again = McsConnectPdu.Decode(rewritten);
        }
        catch (NlaProtocolException e)
        {
            throw new OracleException($"A rewritten connect PDU does not decode: {e.Message}", e);
        }

        if (!again.Blocks.SequenceEqual(original.Blocks) || again.IsResponse != original.IsResponse)
        {
            throw new OracleException("A rewritten connect PDU decodes to other blocks.");
        }

        return again;
    }

    private static void ClientInfo(ClientInfoPdu original)
    {
        _ = original.PasswordUtf16.Length;
        byte[] reencoded = original.Encode();
        try
        {
            using ClientInfoPdu again = ClientInfoPdu.Decode(reencoded);
        }
        catch (NlaProtocolException e)
        {
            throw new OracleException($"A decoded Client Info PDU re-encodes to bytes the decoder rejects: {e.Message}", e);
        }

        using ClientInfoPdu injected = original.WithCredentials(InjectedDomain, InjectedUser, s_injectedPassword);
        byte[] toBackend;
        try
        {
            toBackend = injected.Encode();
        }
        catch (InvalidOperationException)
        {
            // Documented: the client's other fields leave no room for the credentials in one Send Data Request.
            // GatewaySession ends the session with a MessageTooLarge protocol error and sends the backend nothing.
            return;
        }

        using ClientInfoPdu backend = ClientInfoPdu.Decode(toBackend);
        if (backend.Domain != InjectedDomain || backend.UserName != InjectedUser || !backend.PasswordUtf16.SequenceEqual(s_injectedPassword)
            || (backend.Flags & InfoFlags.AutoLogon) == 0)
        {
            throw new OracleException("The backend's Client Info PDU does not carry exactly the injected credentials with INFO_AUTOLOGON.");
        }

        if (backend.Initiator != original.Initiator || backend.ChannelId != original.ChannelId || backend.CodePage != original.CodePage
            || backend.SecurityFlagsHi != original.SecurityFlagsHi || backend.AlternateShell != original.AlternateShell
            || backend.WorkingDirectory != original.WorkingDirectory || !backend.ExtraInfo.AsSpan().SequenceEqual(original.ExtraInfo))
        {
            throw new OracleException("Injecting the credentials changed a field of the client's Client Info PDU other than the credentials.");
        }
    }
}
