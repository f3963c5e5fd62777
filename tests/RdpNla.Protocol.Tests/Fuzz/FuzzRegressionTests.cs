using RdpNla.Fuzz;
using RdpNla.Protocol.Ntlm;
using RdpNla.Protocol.Tests.Ntlm;

namespace RdpNla.Protocol.Tests.Fuzz;

/// <summary>
/// Runs every stored fuzz input through the fuzz targets' own code (fuzz/RdpNla.Fuzz.Targets, the code afl-fuzz runs,
/// docs/fuzzing.md): the seed corpus built from tests/TestVectors and the inputs kept under
/// tests/TestVectors/fuzz/TARGET/ (every crash or hang the fuzzer found). A target must end normally on each.
/// </summary>
public class FuzzRegressionTests
{
    private static readonly string s_vectors = Path.Combine(AppContext.BaseDirectory, "TestVectors");

    private static readonly Lazy<IReadOnlyDictionary<string, List<byte[]>>> s_seeds = new(() => Seeds.Build(s_vectors));

    public static TheoryData<string> TargetNames => new(Targets.All.Keys);

    /// <summary>The kept inputs, as TARGET/NAME paths relative to tests/TestVectors/fuzz.</summary>
    private static List<string> RegressionInputs()
    {
        string root = Path.Combine(s_vectors, "fuzz");
        Assert.True(Directory.Exists(root), $"{root} is missing: the fuzz regression inputs were not copied next to the tests.");
        return Directory.EnumerateFiles(root, "*", SearchOption.AllDirectories)
            .Where(path => !path.EndsWith(".md", StringComparison.Ordinal))
            .Select(path => Path.GetRelativePath(root, path).Replace('\\', '/'))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    [Fact]
    public void RegressionInputs_ExistAndEachNamesAFuzzTarget()
    {
        List<string> inputs = RegressionInputs();

        Assert.NotEmpty(inputs);
        Assert.All(inputs, input => Assert.True(Targets.All.ContainsKey(input.Split('/')[0]), $"{input}: no fuzz target named '{input.Split('/')[0]}'."));
    }

    [Theory]
    [MemberData(nameof(TargetNames))]
    public void EveryStoredInput_EndsNormallyInTheFuzzTarget(string target)
    {
        var inputs = s_seeds.Value[target].Select((bytes, i) => ($"seed #{i}", bytes)).ToList();
        inputs.AddRange(RegressionInputs()
            .Where(input => input.StartsWith(target + "/", StringComparison.Ordinal))
            .Select(input => (input, File.ReadAllBytes(Path.Combine(s_vectors, "fuzz", input)))));

        Assert.NotEmpty(inputs);
        foreach ((string name, byte[] bytes) in inputs)
        {
            Exception? unexpected = Record.Exception(() => Targets.All[target](bytes));
            Assert.True(unexpected is null, $"{target} {name}: {unexpected}");
        }
    }

    [Fact]
    public void AuthenticateWithEmptyFields_DecodesWithoutMic_AndTheAcceptorRejectsIt()
    {
        byte[] input = File.ReadAllBytes(Path.Combine(AppContext.BaseDirectory, "TestVectors", "fuzz", "ntlm-authenticate", "authenticate-empty-fields-no-mic"));

        NtlmAuthenticateMessage message = NtlmAuthenticateMessage.Decode(input);

        Assert.Null(message.Mic);
        Assert.Null(message.MicOffset);
        Assert.Equal(80, input.Length);
        Assert.Equal(0, message.LmChallengeResponse.Length + message.NtChallengeResponse.Length + message.EncryptedRandomSessionKey.Length);
        Assert.Equal("", message.DomainName + message.UserName + message.Workstation);
        Assert.Throws<ArgumentException>(() => NtlmAuthenticateMessage.CopyWithMicZeroed(input));
        using NtlmServerContext server = NtlmTestPeers.Server();
        using NtlmClientContext client = NtlmTestPeers.Client();
        _ = server.GetOutgoingBlob(client.GetOutgoingBlob([], out _), out NlaStatus status);
        Assert.Equal(NlaStatus.ContinueNeeded, status);
        Assert.Null(server.GetOutgoingBlob(input, out status));
        Assert.Equal(NlaStatus.Failed, status);
        // Refused as anonymous, before the MIC is considered: accepting MIC-less NTLMv2 does not accept this.
        Assert.Equal("anonymous logon refused", server.FailureMessage);
    }
}
