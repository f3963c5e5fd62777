using System.CommandLine;
using System.Reflection;
using System.Reflection.Emit;
using System.Reflection.Metadata;
using System.Reflection.Metadata.Ecma335;
using System.Reflection.PortableExecutable;
using System.Text.RegularExpressions;
using RdpNla.Cli;

namespace RdpNla.Tests.Cli;

/// <summary>
/// The libraries return kinds and facts; only the CLI knows its own command line. No string literal of a library
/// assembly names an option of <c>rdpnla</c> (<c>--keytab</c>) or tells the reader to run an <c>rdpnla</c> command
/// (<c>rdpnla users unlock</c>): the CLI adds those hints when it turns the facts into text, and a log line of the server
/// names the setting (<c>Kerberos:Keytab</c>). The literals are read from the compiled assemblies (the <c>ldstr</c>
/// operands of every method body and the string constants), so interpolated strings and log message templates count.
/// </summary>
public class LibraryMessagesTests
{
    /// <summary>The libraries: every assembly but the CLI's.</summary>
    public static TheoryData<string> Libraries => new()
    {
        typeof(RdpNla.Protocol.NlaStatus).Assembly.GetName().Name!,
        typeof(RdpNla.Transport.MessageFraming).Assembly.GetName().Name!,
        typeof(RdpNla.Client.NlaClient).Assembly.GetName().Name!,
        typeof(RdpNla.Diagnosis.DoctorReport).Assembly.GetName().Name!,
        typeof(RdpNla.Server.FrontDoor.FrontDoorHost).Assembly.GetName().Name!,
        typeof(RdpNla.Gssapi.KerberosContext).Assembly.GetName().Name!,
    };

    /// <summary>
    /// The doctor's cause catalogue is a table of fix commands to run as they are printed (reg.exe, PowerShell,
    /// samba-tool and rdpnla command lines, docs/troubleshooting.md is generated from it): commands are its data.
    /// </summary>
    private const string CatalogueNamespace = "RdpNla.Diagnosis.Catalogue";

    [Theory]
    [MemberData(nameof(Libraries))]
    public void No_library_string_names_a_cli_option_or_command(string library)
    {
        (HashSet<string> options, HashSet<string> commands) = CommandLine();
        // A word that starts with "--": an option if rdpnla has it. "rdpnla serve" alone is the name of the server in
        // prose; any other "rdpnla COMMAND" is an instruction.
        var optionPattern = new Regex(@"(?<![\w-])--[a-z0-9][a-z0-9-]*", RegexOptions.CultureInvariant);
        var commandPattern = new Regex(@"\brdpnla ([a-z][a-z-]*)", RegexOptions.CultureInvariant);

        var found = new List<string>();
        foreach ((string type, string text) in StringLiterals(Assembly.Load(library).Location))
        {
            if (type.StartsWith(CatalogueNamespace + ".", StringComparison.Ordinal))
            {
                continue;
            }

            IEnumerable<string> named = optionPattern.Matches(text).Select(m => m.Value).Where(options.Contains)
                .Concat(commandPattern.Matches(text).Select(m => m.Groups[1].Value).Where(c => c != "serve" && commands.Contains(c)).Select(c => "rdpnla " + c));
            found.AddRange(named.Select(name => $"{type}: \"{text}\" names {name}"));
        }

        Assert.True(found.Count == 0, string.Join('\n', found));
    }

    [Fact]
    public void The_scan_sees_the_cli_s_own_hints()
    {
        // The same scan over the CLI finds its options and commands: a scan that cannot find anything proves nothing.
        (HashSet<string> options, _) = CommandLine();
        string[] literals = [.. StringLiterals(typeof(CliApplication).Assembly.Location).Select(s => s.Text)];
        Assert.Contains(literals, text => text.Contains("--password-stdin", StringComparison.Ordinal));
        Assert.Contains("--password-stdin", options);
        Assert.Contains(literals, text => text.Contains("rdpnla users", StringComparison.Ordinal));
    }

    /// <summary>Every option name and alias of the form <c>--name</c>, and every command name, of the rdpnla command line.</summary>
    private static (HashSet<string> Options, HashSet<string> Commands) CommandLine()
    {
        var options = new HashSet<string>(StringComparer.Ordinal);
        var commands = new HashSet<string>(StringComparer.Ordinal);
        var pending = new Stack<Command>([CliApplication.BuildRootCommand()]);
        while (pending.TryPop(out Command? command))
        {
            foreach (Option option in command.Options)
            {
                options.UnionWith(option.Aliases.Append(option.Name).Where(name => name.StartsWith("--", StringComparison.Ordinal)));
            }

            foreach (Command sub in command.Subcommands)
            {
                commands.Add(sub.Name);
                pending.Push(sub);
            }
        }

        return (options, commands);
    }

    /// <summary>The string literals of an assembly with the outermost type they belong to: ldstr operands and string constants.</summary>
    private static List<(string Type, string Text)> StringLiterals(string path)
    {
        var literals = new List<(string, string)>();
        using FileStream stream = File.OpenRead(path);
        using var pe = new PEReader(stream);
        MetadataReader metadata = pe.GetMetadataReader();
        foreach (TypeDefinitionHandle handle in metadata.TypeDefinitions)
        {
            TypeDefinition type = metadata.GetTypeDefinition(handle);
            string owner = OutermostName(metadata, type);
            foreach (MethodDefinitionHandle methodHandle in type.GetMethods())
            {
                MethodDefinition method = metadata.GetMethodDefinition(methodHandle);
                if (method.RelativeVirtualAddress != 0)
                {
                    BlobReader il = pe.GetMethodBody(method.RelativeVirtualAddress).GetILReader();
                    literals.AddRange(Ldstr(metadata, ref il).Select(text => (owner, text)));
                }
            }

            foreach (FieldDefinitionHandle fieldHandle in type.GetFields())
            {
                ConstantHandle constantHandle = metadata.GetFieldDefinition(fieldHandle).GetDefaultValue();
                if (!constantHandle.IsNil && metadata.GetConstant(constantHandle) is { TypeCode: ConstantTypeCode.String } constant)
                {
                    BlobReader blob = metadata.GetBlobReader(constant.Value);
                    literals.Add((owner, blob.ReadUTF16(blob.Length)));
                }
            }
        }

        return literals;
    }

    private static string OutermostName(MetadataReader metadata, TypeDefinition type)
    {
        while (type.GetDeclaringType() is { IsNil: false } declaring)
        {
            type = metadata.GetTypeDefinition(declaring);
        }

        string name = metadata.GetString(type.Name);
        return type.Namespace.IsNil ? name : metadata.GetString(type.Namespace) + "." + name;
    }

    private static readonly Dictionary<ushort, OpCode> s_opCodes = typeof(OpCodes)
        .GetFields(BindingFlags.Public | BindingFlags.Static)
        .Select(field => (OpCode)field.GetValue(null)!)
        .ToDictionary(op => (ushort)op.Value);

    /// <summary>The ldstr operands of one method body, walking the IL instruction by instruction (ECMA-335 §III).</summary>
    private static List<string> Ldstr(MetadataReader metadata, ref BlobReader il)
    {
        var strings = new List<string>();
        while (il.RemainingBytes > 0)
        {
            byte first = il.ReadByte();
            ushort value = first == 0xFE ? (ushort)(0xFE00 | il.ReadByte()) : first;
            OpCode op = s_opCodes[value];
            switch (op.OperandType)
            {
                case OperandType.InlineString:
                    strings.Add(metadata.GetUserString(MetadataTokens.UserStringHandle(il.ReadInt32() & 0xFFFFFF)));
                    break;
                case OperandType.InlineNone:
                    break;
                case OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar:
                    il.Offset += 1;
                    break;
                case OperandType.InlineVar:
                    il.Offset += 2;
                    break;
                case OperandType.InlineI8 or OperandType.InlineR:
                    il.Offset += 8;
                    break;
                case OperandType.InlineSwitch:
                    int targets = il.ReadInt32();
                    il.Offset += 4 * targets;
                    break;
                default:
                    il.Offset += 4;
                    break;
            }
        }

        return strings;
    }
}

/// <summary>The server's settings errors name the setting; <c>rdpnla serve</c> adds the option that sets it.</summary>
public class ServeSettingHintsTests
{
    [Fact]
    public void A_settings_error_of_serve_names_the_setting_and_the_option()
    {
        var overrides = new Dictionary<string, string?> { ["Kerberos:Realm"] = "EXAMPLE.COM" };

        bool valid = RdpNla.Cli.Commands.ServeCommand.TryBindOptions(null, overrides, out _, out _, out IReadOnlyList<string> errors);

        Assert.False(valid);
        Assert.Equal(
            "Kerberos:ServicePrincipal and Kerberos:Realm need Kerberos:Keytab; without a keytab only NTLM is accepted. (rdpnla serve: --keytab FILE, --service-principal SPN, --kerberos-realm REALM)",
            Assert.Single(errors));
    }
}
