using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using RdpNla.Tests.Support;

namespace RdpNla.Tests.Kerberos;

/// <summary>An independent GSS-API initiator a test drives through CredSSP (Kerberos raw or in SPNEGO).</summary>
public interface ITestInitiator : IDisposable
{
    /// <summary>The next token; <paramref name="complete"/> once the context is established. Throws when the initiator fails.</summary>
    byte[]? Step(byte[]? input, out bool complete);

    byte[] Wrap(byte[] message);

    byte[] Unwrap(byte[] token);
}

/// <summary>.NET's NegotiateAuthentication client over the system GSSAPI (package "Kerberos": raw Kerberos tokens).</summary>
public sealed class DotNetInitiator(string package, string servicePrincipal) : ITestInitiator
{
    private readonly NegotiateAuthentication _context = new(new NegotiateAuthenticationClientOptions
    {
        Package = package,
        TargetName = servicePrincipal,
        RequiredProtectionLevel = ProtectionLevel.EncryptAndSign,
        Credential = CredentialCache.DefaultNetworkCredentials,
    });

    public byte[]? Step(byte[]? input, out bool complete)
    {
        byte[]? output = _context.GetOutgoingBlob(input ?? [], out NegotiateAuthenticationStatusCode status);
        if (status is not (NegotiateAuthenticationStatusCode.Completed or NegotiateAuthenticationStatusCode.ContinueNeeded))
        {
            throw new InvalidOperationException($".NET initiator: {status}");
        }

        complete = status == NegotiateAuthenticationStatusCode.Completed;
        return output;
    }

    public byte[] Wrap(byte[] message)
    {
        var output = new ArrayBufferWriter<byte>();
        Assert.Equal(NegotiateAuthenticationStatusCode.Completed, _context.Wrap(message, output, requestEncryption: true, out bool encrypted));
        Assert.True(encrypted);
        return output.WrittenSpan.ToArray();
    }

    public byte[] Unwrap(byte[] token)
    {
        var output = new ArrayBufferWriter<byte>();
        NegotiateAuthenticationStatusCode status = _context.Unwrap(token, output, out bool encrypted);
        return status == NegotiateAuthenticationStatusCode.Completed && encrypted ? output.WrittenSpan.ToArray() : throw new InvalidOperationException($".NET unwrap: {status}");
    }

    public void Dispose() => _context.Dispose();
}

/// <summary>python3-gssapi (MIT krb5's SPNEGO or Kerberos mechanism) in a child process (Kerberos/gss_initiator.py).</summary>
public sealed class PythonInitiator : ITestInitiator
{
    private readonly Process _process;

    /// <param name="clockOffset">Runs the initiator under faketime with its clock moved by this offset (e.g. "+600s").</param>
    public PythonInitiator(string mechanism, string servicePrincipal, IDictionary<string, string> environment, string? clockOffset = null)
    {
        Peers.RequireFile("/usr/lib/python3/dist-packages/gssapi/__init__.py", "python3-gssapi");
        var info = new ProcessStartInfo(clockOffset is null ? Peers.Require("/usr/bin/python3") : Peers.Require("/usr/bin/faketime"))
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (clockOffset is not null)
        {
            info.ArgumentList.Add("-f");
            info.ArgumentList.Add(clockOffset);
            info.ArgumentList.Add("/usr/bin/python3");
            info.Environment["DONT_FAKE_MONOTONIC"] = "1";
        }

        info.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Kerberos", "gss_initiator.py"));
        info.ArgumentList.Add(mechanism);
        info.ArgumentList.Add(servicePrincipal);
        foreach ((string key, string value) in environment)
        {
            info.Environment[key] = value;
        }

        _process = Process.Start(info)!;
    }

    public byte[]? Step(byte[]? input, out bool complete)
    {
        (string kind, string payload) = Call("step", input ?? []);
        complete = kind == "complete";
        return payload.Length == 0 ? null : Convert.FromHexString(payload);
    }

    public byte[] Wrap(byte[] message) => Convert.FromHexString(Call("wrap", message).Payload);

    public byte[] Unwrap(byte[] token) => Convert.FromHexString(Call("unwrap", token).Payload);

    /// <summary>GSS_GetMIC over <paramref name="message"/>.</summary>
    public byte[] GetMic(byte[] message) => Convert.FromHexString(Call("mic", message).Payload);

    /// <summary>GSS_VerifyMIC; throws when the MIC does not verify.</summary>
    public void VerifyMic(byte[] message, byte[] mic) => Call("verifymic", Convert.ToHexString(message) + ":" + Convert.ToHexString(mic));

    private (string Kind, string Payload) Call(string command, byte[] argument) => Call(command, Convert.ToHexString(argument));

    private (string Kind, string Payload) Call(string command, string argument)
    {
        _process.StandardInput.WriteLine($"{command} {argument}");
        _process.StandardInput.Flush();
        string? line = _process.StandardOutput.ReadLine();
        if (line is null)
        {
            throw new InvalidOperationException("python3-gssapi initiator exited: " + _process.StandardError.ReadToEnd());
        }

        string[] parts = line.Split(' ', 2);
        return parts[0] == "error" ? throw new InvalidOperationException("python3-gssapi: " + (parts.Length > 1 ? parts[1] : string.Empty)) : (parts[0], parts.Length > 1 ? parts[1] : string.Empty);
    }

    public void Dispose()
    {
        _process.StandardInput.Close();
        if (!_process.WaitForExit(5000))
        {
            _process.Kill();
        }

        _process.Dispose();
    }
}

/// <summary>Passes the steps of another initiator through and keeps its first token (an AP-REQ, raw or in SPNEGO).</summary>
public sealed class RecordingInitiator(ITestInitiator inner) : ITestInitiator
{
    public byte[]? FirstToken { get; private set; }

    public byte[]? Step(byte[]? input, out bool complete)
    {
        byte[]? token = inner.Step(input, out complete);
        FirstToken ??= token;
        return token;
    }

    public byte[] Wrap(byte[] message) => inner.Wrap(message);

    public byte[] Unwrap(byte[] token) => inner.Unwrap(token);

    public void Dispose() => inner.Dispose();
}

/// <summary>Sends a recorded first token again (a replayed AP-REQ); it cannot go further than that.</summary>
public sealed class ReplayingInitiator(byte[] firstToken) : ITestInitiator
{
    private bool _sent;

    public byte[]? Step(byte[]? input, out bool complete)
    {
        complete = false;
        if (_sent)
        {
            throw new InvalidOperationException("the server answered a replayed token with a continuation");
        }

        _sent = true;
        return firstToken;
    }

    public byte[] Wrap(byte[] message) => throw new InvalidOperationException("a replayed token has no session key");

    public byte[] Unwrap(byte[] token) => throw new InvalidOperationException("a replayed token has no session key");

    public void Dispose()
    {
    }
}

/// <summary>
/// A SPNEGO initiator built by hand around MIT's raw Kerberos mechanism (python3-gssapi): a NegTokenInit listing
/// <c>mechTypes</c> without an optimistic token, the AP-REQ once the server chose Kerberos with request-mic, and the
/// mechListMIC exchange of RFC 4178 §5 (the server's MIC is verified by MIT before ours is sent).
/// </summary>
public sealed class HandBuiltSpnegoInitiator(PythonInitiator kerberos, IReadOnlyList<string> mechTypes) : ITestInitiator
{
    private byte[]? _mechTypesEncoding;
    private int _leg;

    /// <summary>The server's first answer (negState and supportedMech).</summary>
    public Protocol.Spnego.NegTokenResp? FirstAnswer { get; private set; }

    public byte[]? Step(byte[]? input, out bool complete)
    {
        complete = false;
        switch (_leg++)
        {
            case 0:
                var init = new Protocol.Spnego.NegTokenInit(mechTypes);
                byte[] encoded = init.Encode();
                _mechTypesEncoding = Protocol.Spnego.NegTokenInit.Decode(encoded).MechTypesEncoding;
                return encoded;
            case 1:
                FirstAnswer = Protocol.Spnego.NegTokenResp.Decode(input);
                if (FirstAnswer.SupportedMech is not (Protocol.Spnego.SpnegoOids.Kerberos or Protocol.Spnego.SpnegoOids.MsKerberos))
                {
                    throw new InvalidOperationException($"the server chose {FirstAnswer.SupportedMech}, not Kerberos");
                }

                return new Protocol.Spnego.NegTokenResp { ResponseToken = kerberos.Step(null, out _) }.Encode();
            case 2:
                var answer = Protocol.Spnego.NegTokenResp.Decode(input);
                kerberos.Step(answer.ResponseToken ?? throw new InvalidOperationException("no AP-REP"), out bool established);
                if (!established || answer.MechListMic is null)
                {
                    throw new InvalidOperationException($"after the AP-REP: established {established}, server mechListMIC {answer.MechListMic is not null}");
                }

                kerberos.VerifyMic(_mechTypesEncoding!, answer.MechListMic);
                complete = true;
                return new Protocol.Spnego.NegTokenResp { MechListMic = kerberos.GetMic(_mechTypesEncoding!) }.Encode();
            default:
                throw new InvalidOperationException("the server sent a token after the mechListMIC exchange");
        }
    }

    public byte[] Wrap(byte[] message) => kerberos.Wrap(message);

    public byte[] Unwrap(byte[] token) => kerberos.Unwrap(token);

    public void Dispose() => kerberos.Dispose();
}

/// <summary>
/// A service ticket and AP-REQ built by python3-impacket with the service's key from a keytab, no KDC involved
/// (Kerberos/forged_ticket.py): tickets MIT's initiator will not present, such as an expired one, reach the acceptor.
/// </summary>
public static class ForgedTicket
{
    /// <summary>The SPNEGO NegTokenInit carrying the AP-REQ for <paramref name="client"/>@<paramref name="clientRealm"/>.</summary>
    /// <param name="endsIn">The ticket's end time relative to now; negative for a ticket that expired that long ago.</param>
    public static async Task<byte[]> BuildAsync(string keytab, string service, string serviceRealm, string client, string clientRealm, TimeSpan endsIn, CancellationToken cancellationToken)
    {
        Peers.RequireFile("/usr/lib/python3/dist-packages/impacket/krb5/asn1.py", "python3-impacket");
        string script = Path.Combine(AppContext.BaseDirectory, "Kerberos", "forged_ticket.py");
        string seconds = ((long)endsIn.TotalSeconds).ToString(System.Globalization.CultureInfo.InvariantCulture);
        ProcessResult result = await ExternalProcess.RunAsync(Peers.Require("/usr/bin/python3"), [script, keytab, service, serviceRealm, client, clientRealm, seconds], null, TimeSpan.FromSeconds(30), cancellationToken);
        Assert.True(result.ExitCode == 0, "python3-impacket: " + result.Output);
        return Convert.FromHexString(result.Output.Trim());
    }
}
