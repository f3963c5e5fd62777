using System.Buffers;
using System.Buffers.Binary;
using System.Net;
using RdpNla.Protocol;
using RdpNla.Protocol.CredSsp;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Rdp;
using RdpNla.Protocol.Spnego;
using RdpNla.Transport;

namespace RdpNla.Fuzz;

/// <summary>
/// The fuzz targets. Each takes the whole input and must end normally: the decoders under test are total (a value or
/// <see cref="NlaProtocolException"/>), so any other exception escaping a target is a finding. Where a decode succeeds
/// the value is re-encoded and decoded again (<see cref="RoundTripException"/> when that fails): a decoder must not
/// accept what its own encoder cannot write back.
/// </summary>
internal static class Targets
{
    /// <summary>Every target by name, in the order scripts/fuzz.sh runs them.</summary>
    public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>(StringComparer.Ordinal)
    {
        ["tpkt-x224"] = TpktX224,
        ["frontdoor"] = FrontDoor,
        ["tsrequest"] = TsRequestTarget,
        ["tscredentials"] = TsCredentialsTarget,
        ["spnego"] = Spnego,
        ["ntlm-negotiate"] = NtlmNegotiate,
        ["ntlm-challenge"] = NtlmChallenge,
        ["ntlm-authenticate"] = NtlmAuthenticate,
        ["avpairs"] = AvPairs,
        ["credssp-server"] = CredSspServer.Run,
        ["kerberos-server"] = KerberosServer.Run,
        ["credssp-client"] = CredSspClient.Run,
        ["gateway-pdus"] = GatewayPdus.Run,
        ["proxy-header"] = ProxyHeader,
    };

    /// <summary>
    /// TPKT framing and the X.224 TPDUs carried before TLS: <c>Tpkt.TryReadFrame</c> (span, one-segment and split
    /// sequences must agree), <c>Tpkt.GetPayload</c>, the Connection Request and Confirm, RDP_NEG_* structures, and the
    /// Early User Authorization Result PDU.
    /// </summary>
    public static void TpktX224(byte[] data)
    {
        OperationStatus spanStatus = Tpkt.TryReadFrame(data, out int spanLength);
        OperationStatus sequenceStatus = Tpkt.TryReadFrame(new ReadOnlySequence<byte>(data), out int sequenceLength);
        OperationStatus splitStatus = Tpkt.TryReadFrame(Split(data), out int splitLength);
        if (spanStatus != sequenceStatus || spanStatus != splitStatus || spanLength != sequenceLength || spanLength != splitLength)
        {
            throw new OracleException($"Tpkt.TryReadFrame disagrees: span {spanStatus}/{spanLength}, sequence {sequenceStatus}/{sequenceLength}, split {splitStatus}/{splitLength}.");
        }

        if (spanStatus == OperationStatus.Done && (spanLength > data.Length || spanLength < Tpkt.MinimumFrameLength))
        {
            throw new OracleException($"Tpkt.TryReadFrame returned Done with length {spanLength} for {data.Length} bytes.");
        }

        ReadOnlySpan<byte> frame = spanStatus == OperationStatus.Done ? data.AsSpan(0, spanLength) : data;
        Expect(frame, static f => Tpkt.GetPayload(f).Length);
        Expect(frame, static f =>
        {
            X224ConnectionRequest request = X224ConnectionRequest.Decode(f);
            _ = request.ToString();
            RoundTrip("X224ConnectionRequest", request.Encode(), static e => X224ConnectionRequest.Decode(e));
            return 0;
        });
        Expect(frame, static f =>
        {
            X224ConnectionConfirm confirm = X224ConnectionConfirm.Decode(f);
            RoundTrip("X224ConnectionConfirm", confirm.Encode(), static e => X224ConnectionConfirm.Decode(e));
            return 0;
        });

        // The RDP_NEG_* structures and the 4-byte Early User Authorization Result, fed directly.
        Expect(data, static d => RdpNegRequest.Decode(d).RequestedProtocols.Name().Length);
        Expect(data, static d => RdpNegData.Decode(d).GetHashCode());
        Expect(data, static d => RdpNegCorrelationInfo.Decode(d).GetHashCode());
        Expect(data, static d => EarlyUserAuthorizationResult.Decode(d).Name.Length);
    }

    /// <summary>
    /// The front door's whole pre-TLS input, without a socket: the bytes a client sends go through the same calls as
    /// <c>FrontDoorConnection.HandshakeAsync</c> — <c>MessageFraming.ReadTpktFrameAsync</c> (limit 4096) over a
    /// stream, <c>X224ConnectionRequest.Decode</c>, <c>SecurityNegotiator.Select</c> for every SecurityLayer ×
    /// UserAuthentication × certificate combination, the log fields, and <c>decision.Confirm.Encode()</c>, which must
    /// decode again as a Connection Confirm. Peer-caused end of stream is an expected outcome, as in the front door.
    /// </summary>
    public static void FrontDoor(byte[] data)
    {
        X224ConnectionRequest request;
        using (var stream = new MemoryStream(data, writable: false))
        {
            byte[] frame;
            try
            {
                frame = MessageFraming.ReadTpktFrameAsync(stream, 4096, CancellationToken.None).AsTask().GetAwaiter().GetResult();
                request = X224ConnectionRequest.Decode(frame);
            }
            catch (Exception e) when (e is NlaProtocolException or EndOfStreamException)
            {
                return;
            }
        }

        SecurityProtocols requested = request.NegotiationRequest?.RequestedProtocols ?? SecurityProtocols.Rdp;
        _ = requested.Name();
        _ = request.Cookie?.Length;
        foreach (SecurityLayer layer in (SecurityLayer[])[SecurityLayer.Rdp, SecurityLayer.Negotiate, SecurityLayer.Tls])
        {
            foreach (bool userAuthentication in (bool[])[false, true])
            {
                foreach (bool certificate in (bool[])[true, false])
                {
                    NegotiationDecision decision = SecurityNegotiator.Select(layer, userAuthentication, request, certificate);
                    _ = decision.ToString();
                    _ = (decision.SelectedProtocol ?? SecurityProtocols.Rdp).Name();
                    byte[] confirm = decision.Confirm.Encode();
                    X224ConnectionConfirm decoded;
                    try
                    {
                        decoded = X224ConnectionConfirm.Decode(confirm);
                    }
                    catch (NlaProtocolException e)
                    {
                        throw new OracleException($"The Connection Confirm the front door sends does not decode: {e.Message}", e);
                    }

                    if (userAuthentication && decoded.Response is { } response && response.SelectedProtocol is not (SecurityProtocols.Hybrid or SecurityProtocols.HybridEx))
                    {
                        throw new OracleException($"UserAuthentication=1 but the front door selected {response.SelectedProtocol.Name()}.");
                    }
                }
            }
        }
    }

    /// <summary>
    /// The PROXY protocol header a trusted load balancer sends first (HAProxy PROXY protocol v1 and v2):
    /// <c>ProxyProtocol.ReadAsync</c> over a stream, as the front door reads it, must consume the header and not one byte
    /// more, and agree with the span decoders <c>DecodeV1</c>, <c>CheckV2Header</c> and <c>DecodeV2Addresses</c>, which
    /// are also fed the raw input.
    /// </summary>
    public static void ProxyHeader(byte[] data)
    {
        IPEndPoint? fromStream = null;
        int consumed = -1;
        using (var stream = new MemoryStream(data, writable: false))
        {
            try
            {
                fromStream = ProxyProtocol.ReadAsync(stream, CancellationToken.None).AsTask().GetAwaiter().GetResult();
                consumed = (int)stream.Position;
            }
            catch (Exception e) when (e is NlaProtocolException or EndOfStreamException)
            {
            }
        }

        if (consumed >= 0)
        {
            ReadOnlySpan<byte> header = data.AsSpan(0, consumed);
            bool v2 = header.Length >= 16 && header[0] == 0x0D;
            if (!v2 && (header.IndexOf("\r\n"u8) != header.Length - 2))
            {
                throw new OracleException($"ProxyProtocol.ReadAsync consumed {consumed} bytes, not one v1 line ending at its first CRLF.");
            }

            if (v2 && 16 + ProxyProtocol.CheckV2Header(header) != consumed)
            {
                throw new OracleException($"ProxyProtocol.ReadAsync consumed {consumed} bytes, not the v2 header and its announced block.");
            }

            IPEndPoint? fromSpan = v2 ? ProxyProtocol.DecodeV2Addresses(header[..16], header[16..]) : ProxyProtocol.DecodeV1(header);
            if (!Equals(fromSpan, fromStream))
            {
                throw new OracleException($"ProxyProtocol.ReadAsync gave {fromStream}, the span decoder {fromSpan}.");
            }
        }

        Expect(data, static d => ProxyProtocol.DecodeV1(d)?.Port ?? 0);
        Expect(data, static d => ProxyProtocol.CheckV2Header(d));
        Expect(data, static d => ProxyProtocol.DecodeV2Addresses(d, d.Length > 16 ? d[16..] : []) is null ? 0 : 1);
    }

    /// <summary>
    /// <c>TsRequest.Decode</c> and the streaming framer <c>TsRequest.TryGetMessageLength</c> (several limits; whole,
    /// split and one-byte-segment sequences must agree), and <c>MessageFraming.ReadTsRequestAsync</c> over a stream.
    /// </summary>
    public static void TsRequestTarget(byte[] data)
    {
        Expect(data, static d =>
        {
            TsRequest request = TsRequest.Decode(d);
            RoundTrip("TsRequest", request.Encode(), static e => TsRequest.Decode(e));
            return 0;
        });

        foreach (int max in (int[])[2, 64, 4096, 65536, int.MaxValue])
        {
            OperationStatus whole = TsRequest.TryGetMessageLength(new ReadOnlySequence<byte>(data), max, out int wholeLength, out NlaFailureReason wholeReason);
            OperationStatus split = TsRequest.TryGetMessageLength(Split(data), max, out int splitLength, out NlaFailureReason splitReason);
            ReadOnlySpan<byte> head = data.AsSpan(0, Math.Min(data.Length, 16));
            OperationStatus bytewise = TsRequest.TryGetMessageLength(OneBytePerSegment(head), max, out int bytewiseLength, out _);
            if (whole != split || wholeLength != splitLength || (whole == OperationStatus.InvalidData && wholeReason != splitReason))
            {
                throw new OracleException($"TryGetMessageLength disagrees between one and two segments: {whole}/{wholeLength}/{wholeReason} vs {split}/{splitLength}/{splitReason}.");
            }

            if (whole == OperationStatus.Done && (wholeLength > data.Length || wholeLength > max || wholeLength < 2))
            {
                throw new OracleException($"TryGetMessageLength returned Done with {wholeLength} for {data.Length} bytes and limit {max}.");
            }

            if (data.Length <= head.Length && (whole != bytewise || wholeLength != bytewiseLength))
            {
                throw new OracleException($"TryGetMessageLength disagrees with one-byte segments: {whole}/{wholeLength} vs {bytewise}/{bytewiseLength}.");
            }
        }

        using var stream = new MemoryStream(data, writable: false);
        try
        {
            byte[] message = MessageFraming.ReadTsRequestAsync(stream, 65536, CancellationToken.None).AsTask().GetAwaiter().GetResult();
            Expect(message, static m => TsRequest.Decode(m).Version);
        }
        catch (Exception e) when (e is NlaProtocolException or EndOfStreamException)
        {
        }
    }

    /// <summary>TSCredentials and the three credential structures it can carry (password, smart card, Remote Guard).</summary>
    public static void TsCredentialsTarget(byte[] data)
    {
        Expect(data, static d =>
        {
            using TsCredentials credentials = TsCredentials.Decode(d);
            _ = credentials.KnownType;
            RoundTrip("TsCredentials", credentials.Encode(), static e => TsCredentials.Decode(e).Dispose());
            Expect(Array.Empty<byte>(), _ =>
            {
                using TsCredentialsContent content = credentials.DecodeContent();
                RoundTrip("TsCredentialsContent", content.ToTsCredentials().Encode(), static e => TsCredentials.DecodeContent(e).Dispose());
                return 0;
            });
            return 0;
        });
        Expect(data, static d =>
        {
            using TsCredentialsContent content = TsCredentials.DecodeContent(d);
            return 0;
        });
        Expect(data, static d =>
        {
            using TsPasswordCreds password = TsPasswordCreds.Decode(d);
            _ = password.GetPassword();
            _ = password.IsEmpty;
            char[] buffer = new char[password.PasswordLength];
            _ = password.CopyPasswordTo(buffer);
            RoundTrip("TsPasswordCreds", password.Encode(), static e => TsPasswordCreds.Decode(e).Dispose());
            return 0;
        });
        Expect(data, static d =>
        {
            using TsSmartCardCreds smartCard = TsSmartCardCreds.Decode(d);
            RoundTrip("TsSmartCardCreds", smartCard.Encode(), static e => TsSmartCardCreds.Decode(e).Dispose());
            return 0;
        });
        Expect(data, static d =>
        {
            using TsRemoteGuardCreds remoteGuard = TsRemoteGuardCreds.Decode(d);
            RoundTrip("TsRemoteGuardCreds", remoteGuard.Encode(), static e => TsRemoteGuardCreds.Decode(e).Dispose());
            return 0;
        });
    }

    /// <summary>SPNEGO: NegTokenInit (framed and NegTokenInit2 with negHints), NegTokenResp, and the negoToken classifier.</summary>
    public static void Spnego(byte[] data)
    {
        _ = NegoTokenClassifier.Classify(data);
        Expect(data, static d =>
        {
            NegTokenInit init = NegTokenInit.Decode(d);
            RoundTrip("NegTokenInit", init.Encode(), static e => NegTokenInit.Decode(e));
            _ = init.EncodeUnframed();
            return 0;
        });
        Expect(data, static d =>
        {
            NegTokenResp response = NegTokenResp.Decode(d);
            RoundTrip("NegTokenResp", response.Encode(), static e => NegTokenResp.Decode(e));
            return 0;
        });
    }

    /// <summary>The NTLM NEGOTIATE_MESSAGE.</summary>
    public static void NtlmNegotiate(byte[] data) => Expect(data, static d =>
    {
        NtlmNegotiateMessage message = NtlmNegotiateMessage.Decode(d);
        _ = message.Version?.ToString();
        RoundTrip("NtlmNegotiateMessage", message.Encode(), static e => NtlmNegotiateMessage.Decode(e));
        return 0;
    });

    /// <summary>The NTLM CHALLENGE_MESSAGE, with its TargetInfo read through the typed accessors.</summary>
    public static void NtlmChallenge(byte[] data) => Expect(data, static d =>
    {
        NtlmChallengeMessage message = NtlmChallengeMessage.Decode(d);
        if (message.TargetInfo is { } info)
        {
            ReadAvPairs(info);
        }

        RoundTrip("NtlmChallengeMessage", message.Encode(), static e => NtlmChallengeMessage.Decode(e));
        return 0;
    });

    /// <summary>The NTLM AUTHENTICATE_MESSAGE, and the MIC-zeroed copy the acceptor makes of one that carries a MIC.</summary>
    public static void NtlmAuthenticate(byte[] data)
    {
        Expect(data, static d =>
        {
            NtlmAuthenticateMessage message = NtlmAuthenticateMessage.Decode(d);
            _ = message.MicOffset;
            _ = message.Mic?.Length;
            RoundTrip("NtlmAuthenticateMessage", message.Encode(), static e => NtlmAuthenticateMessage.Decode(e));
            if (message.Mic is not null)
            {
                // As the acceptor does: the MIC-zeroed copy exists only for a message that carries a MIC (the method
                // documents ArgumentException for a shorter one).
                _ = NtlmAuthenticateMessage.CopyWithMicZeroed(d);
            }

            return 0;
        });
    }

    /// <summary>An AV_PAIR list (the NTLMv2 client challenge's and the CHALLENGE's TargetInfo).</summary>
    public static void AvPairs(byte[] data) => Expect(data, static d =>
    {
        AvPairList list = AvPairList.Decode(d, out int consumed);
        if (consumed < 0 || consumed > d.Length)
        {
            throw new OracleException($"AvPairList.Decode consumed {consumed} of {d.Length} bytes.");
        }

        ReadAvPairs(list);
        RoundTrip("AvPairList", list.Encode(), static e => AvPairList.Decode(e));
        return 0;
    });

    private static void ReadAvPairs(AvPairList list)
    {
        // The typed accessors decode the values: a malformed value is an NlaProtocolException, never another exception.
        Expect(Array.Empty<byte>(), _ => list.NbComputerName?.Length ?? 0);
        Expect(Array.Empty<byte>(), _ => list.NbDomainName?.Length ?? 0);
        Expect(Array.Empty<byte>(), _ => list.DnsComputerName?.Length ?? 0);
        Expect(Array.Empty<byte>(), _ => list.DnsDomainName?.Length ?? 0);
        Expect(Array.Empty<byte>(), _ => list.DnsTreeName?.Length ?? 0);
        Expect(Array.Empty<byte>(), _ => list.TargetName?.Length ?? 0);
        Expect(Array.Empty<byte>(), _ => (int)(list.Timestamp ?? 0));
        Expect(Array.Empty<byte>(), _ => (int)(list.Flags ?? 0));
        foreach (AvPair pair in list)
        {
            _ = pair.ToString();
        }
    }

    /// <summary>Runs <paramref name="decode"/>; an <see cref="NlaProtocolException"/> is an accepted outcome.</summary>
    internal static void Expect(ReadOnlySpan<byte> input, SpanFunc decode)
    {
        try
        {
            _ = decode(input);
        }
        catch (NlaProtocolException)
        {
        }
    }

    internal delegate int SpanFunc(ReadOnlySpan<byte> input);

    /// <summary>What a decoder accepted, its encoder wrote; that must decode again.</summary>
    private static void RoundTrip(string name, byte[] encoded, Action<byte[]> decode)
    {
        try
        {
            decode(encoded);
        }
        catch (NlaProtocolException e)
        {
            throw new RoundTripException($"{name}: a decoded value re-encodes to bytes the decoder rejects: {e.Message}", e);
        }
    }

    /// <summary>
    /// Takes the next message of a conversation input (credssp-server, kerberos-server, credssp-client): a big-endian
    /// 16-bit length and that many bytes, fewer when the input ends first. False when fewer than two bytes are left.
    /// </summary>
    internal static bool TryTakeMessage(ref ReadOnlySpan<byte> rest, out ReadOnlySpan<byte> message)
    {
        if (rest.Length < 2)
        {
            message = default;
            return false;
        }

        int length = Math.Min(BinaryPrimitives.ReadUInt16BigEndian(rest), rest.Length - 2);
        message = rest.Slice(2, length);
        rest = rest[(2 + length)..];
        return true;
    }

    /// <summary>The input as a two-segment sequence split in the middle.</summary>
    internal static ReadOnlySequence<byte> Split(byte[] data)
    {
        if (data.Length < 2)
        {
            return new ReadOnlySequence<byte>(data);
        }

        int half = data.Length / 2;
        var first = new Segment(data.AsMemory(0, half), 0);
        Segment last = first.Append(data.AsMemory(half));
        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private static ReadOnlySequence<byte> OneBytePerSegment(ReadOnlySpan<byte> bytes)
    {
        if (bytes.Length < 2)
        {
            return new ReadOnlySequence<byte>(bytes.ToArray());
        }

        var first = new Segment(bytes[..1].ToArray(), 0);
        Segment last = first;
        for (int i = 1; i < bytes.Length; i++)
        {
            last = last.Append(bytes.Slice(i, 1).ToArray());
        }

        return new ReadOnlySequence<byte>(first, 0, last, last.Memory.Length);
    }

    private sealed class Segment : ReadOnlySequenceSegment<byte>
    {
        public Segment(ReadOnlyMemory<byte> memory, long runningIndex)
        {
            Memory = memory;
            RunningIndex = runningIndex;
        }

        public Segment Append(ReadOnlyMemory<byte> memory)
        {
            var next = new Segment(memory, RunningIndex + Memory.Length);
            Next = next;
            return next;
        }
    }

    internal static ushort ReadUInt16(ReadOnlySpan<byte> data) => BinaryPrimitives.ReadUInt16BigEndian(data);
}

/// <summary>A target's own consistency check failed (a finding, like an unexpected exception).</summary>
internal sealed class OracleException : Exception
{
    public OracleException(string message)
        : base(message)
    {
    }

    public OracleException(string message, Exception inner)
        : base(message, inner)
    {
    }
}

/// <summary>A decoded value did not survive Encode → Decode (a finding).</summary>
internal sealed class RoundTripException : Exception
{
    public RoundTripException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
