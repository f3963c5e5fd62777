using System.ComponentModel;
using System.Globalization;
using System.Reflection;

namespace RdpNla.Server.Hosting;

/// <summary>
/// Checks the settings of <c>rdpnla serve</c> against the shape of <see cref="FrontDoorOptions"/> and
/// <see cref="AccountPolicyOptions"/> before they are bound. The configuration binder is lenient where a security
/// setting cannot afford it: a JSON <c>null</c> binds a number to 0 (<c>"UserAuthentication": null</c> turned NLA off),
/// a single value where a list belongs is dropped (<c>"Listen": "0.0.0.0:3390"</c> listened on the default port), a
/// misspelt name is ignored, and an unconvertible value is reported without its name. Each of these is one line here,
/// naming the setting.
/// </summary>
public static class ServeSettingsShape
{
    private static readonly Type[] s_root = [typeof(FrontDoorOptions), typeof(AccountPolicyOptions)];

    /// <summary>The lists that must not be empty: the server has to listen somewhere.</summary>
    private static readonly HashSet<string> s_nonEmptyLists = new(StringComparer.OrdinalIgnoreCase) { nameof(FrontDoorOptions.Listen) };

    /// <summary>One line per problem in <paramref name="configuration"/>; empty when its shape is right.</summary>
    /// <param name="configuration">Every source of the settings (file, environment, command line).</param>
    /// <param name="reportUnknown">
    /// Whether a setting of this path that no option has is reported: true for the settings file's own keys. An
    /// environment variable that starts with <c>RDPNLA_</c> but is no setting (<c>RDPNLA_GATEWAY_KEY</c>) is not one.
    /// </param>
    public static IReadOnlyList<string> Check(IConfiguration configuration, Func<string, bool> reportUnknown)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        ArgumentNullException.ThrowIfNull(reportUnknown);
        var errors = new List<string>();
        CheckSection(configuration.GetChildren(), s_root, reportUnknown, errors);
        return errors;
    }

    private static void CheckSection(IEnumerable<IConfigurationSection> children, Type[] models, Func<string, bool> reportUnknown, List<string> errors)
    {
        Dictionary<string, PropertyInfo> properties = Settable(models);
        foreach (IConfigurationSection child in children)
        {
            if (!properties.TryGetValue(child.Key, out PropertyInfo? property))
            {
                if (reportUnknown(child.Path))
                {
                    string? near = NearestName.Find(child.Key, properties.Keys, ignoreCase: true);
                    string parent = child.Path.Length > child.Key.Length ? child.Path[..(child.Path.Length - child.Key.Length - 1)] : string.Empty;
                    string suggestion = near is null ? string.Empty : $"; did you mean '{(parent.Length == 0 ? near : parent + ":" + near)}'?";
                    errors.Add($"unknown setting '{child.Path}'{suggestion} (docs/serve.md lists the settings)");
                }

                continue;
            }

            CheckValue(child, property.PropertyType, reportUnknown, errors);
        }
    }

    private static void CheckValue(IConfigurationSection section, Type type, Func<string, bool> reportUnknown, List<string> errors)
    {
        Type target = Nullable.GetUnderlyingType(type) ?? type;
        bool hasChildren = section.GetChildren().Any();
        if (IsScalar(target))
        {
            if (hasChildren)
            {
                errors.Add($"{section.Path} takes one value, not a list or a section{Example(target)}");
            }
            else if (string.IsNullOrEmpty(section.Value) && target != typeof(string))
            {
                // JSON null, [] and {} all reach the binder as no value, which it binds as 0 or false.
                errors.Add($"{section.Path} is empty (null in the settings file?); give a value{Example(target)}, or leave it out for the default");
            }
            else if (section.Value is { Length: > 0 } value && target != typeof(string) && !Converts(value, target))
            {
                errors.Add($"{section.Path}: '{value}' is not {Describe(target)}");
            }

            return;
        }

        Type? element = ListElement(target);
        if (element is not null)
        {
            if (!hasChildren && !string.IsNullOrEmpty(section.Value))
            {
                errors.Add($"{section.Path} is a list: write [\"{section.Value}\"]");
            }
            else if (!hasChildren && s_nonEmptyLists.Contains(section.Path))
            {
                errors.Add($"{section.Path} is empty; give at least one ADDRESS:PORT, e.g. [\"0.0.0.0:3389\"], or leave it out for 127.0.0.1:3389");
            }
            else
            {
                foreach (IConfigurationSection item in section.GetChildren())
                {
                    CheckValue(item, element, reportUnknown, errors);
                }
            }

            return;
        }

        if (target.IsGenericType && target.GetGenericTypeDefinition() == typeof(Dictionary<,>))
        {
            if (!hasChildren && !string.IsNullOrEmpty(section.Value))
            {
                errors.Add($"{section.Path} is a section of NAME: VALUE pairs, not one value");
            }

            // A name may hold the path separator (Gateway:PinnedCertificates by HOST:PORT): its value is then a section
            // of sections, read back whole by ServeOptionsServiceCollectionExtensions.
            return;
        }

        // A section of settings (Limits, Gateway, Portal, ...). JSON null or {} leaves its defaults.
        if (!hasChildren && !string.IsNullOrEmpty(section.Value))
        {
            errors.Add($"{section.Path} is a section of settings: write \"{section.Key}\": {{ \"NAME\": VALUE, ... }}");
            return;
        }

        CheckSection(section.GetChildren(), [target], reportUnknown, errors);
    }

    private static Dictionary<string, PropertyInfo> Settable(Type[] models)
    {
        var properties = new Dictionary<string, PropertyInfo>(StringComparer.OrdinalIgnoreCase);
        foreach (Type model in models)
        {
            foreach (PropertyInfo property in model.GetProperties(BindingFlags.Public | BindingFlags.Instance))
            {
                if (property.GetIndexParameters().Length == 0 && (property.SetMethod is { IsPublic: true } || ListElement(property.PropertyType) is not null || IsSection(property.PropertyType)))
                {
                    properties.TryAdd(property.Name, property);
                }
            }
        }

        return properties;
    }

    private static bool IsSection(Type type) =>
        type.IsClass && type != typeof(string) && type.Namespace?.StartsWith("RdpNla.", StringComparison.Ordinal) == true;

    private static bool IsScalar(Type type) =>
        type.IsPrimitive || type.IsEnum || type == typeof(string) || type == typeof(TimeSpan) || type == typeof(decimal) || type == typeof(Uri);

    private static Type? ListElement(Type type)
    {
        if (type.IsArray)
        {
            return type.GetElementType();
        }

        return type.IsGenericType && (type.GetGenericTypeDefinition() == typeof(List<>) || type.GetGenericTypeDefinition() == typeof(IList<>) || type.GetGenericTypeDefinition() == typeof(IReadOnlyList<>))
            ? type.GetGenericArguments()[0]
            : null;
    }

    /// <summary>Whether the binder will convert <paramref name="value"/> (it uses the type's TypeConverter, invariant culture).</summary>
    private static bool Converts(string value, Type type)
    {
        try
        {
            return TypeDescriptor.GetConverter(type).ConvertFromInvariantString(value) is not null;
        }
        catch (Exception ex) when (ex is FormatException or ArgumentException or NotSupportedException or OverflowException || ex.InnerException is FormatException or OverflowException)
        {
            return false;
        }
    }

    private static string Describe(Type type) => type switch
    {
        _ when type == typeof(bool) => "true or false",
        _ when type == typeof(TimeSpan) => "a time span such as 00:00:30 (hh:mm:ss) or 1.00:00:00 (a day)",
        _ when type == typeof(double) || type == typeof(decimal) || type == typeof(float) => "a number",
        _ when type.IsEnum => $"one of {string.Join(", ", Enum.GetNames(type))} (or its number)",
        _ => "a whole number" + (type == typeof(int) ? string.Empty : string.Create(CultureInfo.InvariantCulture, $" ({type.Name})")),
    };

    private static string Example(Type type) => type switch
    {
        _ when type == typeof(bool) => " (true or false)",
        _ when type == typeof(TimeSpan) => " (e.g. \"00:00:30\")",
        _ when type.IsEnum => $" ({string.Join(", ", Enum.GetNames(type))})",
        _ when type == typeof(string) => string.Empty,
        _ => " (a number)",
    };
}
