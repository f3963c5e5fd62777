using System.Buffers;
using System.Diagnostics;
using System.Net;
using System.Net.Security;
using RdpNla.Integration.Tests.Support;

namespace RdpNla.Integration.Tests.Kerberos;

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

    public PythonInitiator(string mechanism, string servicePrincipal, IDictionary<string, string> environment)
    {
        Peers.RequireFile("/usr/lib/python3/dist-packages/gssapi/__init__.py", "python3-gssapi");
        var info = new ProcessStartInfo(Peers.Require("/usr/bin/python3"))
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
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

    private (string Kind, string Payload) Call(string command, byte[] argument)
    {
        _process.StandardInput.WriteLine($"{command} {Convert.ToHexString(argument)}");
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
