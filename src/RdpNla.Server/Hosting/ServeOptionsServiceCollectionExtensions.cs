namespace RdpNla.Server.Hosting;

/// <summary>The settings of <c>rdpnla serve</c> in the Microsoft.Extensions.Options pipeline.</summary>
public static class ServeOptionsServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="FrontDoorOptions"/> and <see cref="AccountPolicyOptions"/>, both bound from the root of
    /// <paramref name="configuration"/> (the setting names of docs/serve.md) and checked at start
    /// (<c>ValidateOnStart</c>) by <see cref="FrontDoorOptionsValidator"/> and <see cref="AccountPolicyOptionsValidator"/>:
    /// a host's start, or <see cref="IStartupValidator.Validate"/>, fails with every problem, each saying how to fix it.
    /// </summary>
    public static IServiceCollection AddRdpNlaServeOptions(this IServiceCollection services, IConfiguration configuration)
    {
        ArgumentNullException.ThrowIfNull(services);
        ArgumentNullException.ThrowIfNull(configuration);
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<FrontDoorOptions>, FrontDoorOptionsValidator>());
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AccountPolicyOptions>, AccountPolicyOptionsValidator>());
        services.AddOptions<FrontDoorOptions>().Bind(configuration).Configure(options => ReadPins(configuration, options.Gateway.PinnedCertificates)).ValidateOnStart();
        services.AddOptions<AccountPolicyOptions>().Bind(configuration).ValidateOnStart();
        return services;
    }

    /// <summary>
    /// Gateway:PinnedCertificates is keyed by backend HOST:PORT, and the configuration splits names at ':': the binder
    /// sees <c>"10.0.0.5:3389": "AB:..."</c> as a section 10.0.0.5 holding 3389 and drops it. Every value below the
    /// section is read back here under its whole name (<c>10.0.0.5:3389</c>, <c>[::1]:3389</c>).
    /// </summary>
    private static void ReadPins(IConfiguration configuration, Dictionary<string, string> pins)
    {
        IConfigurationSection section = configuration.GetSection("Gateway:PinnedCertificates");
        foreach ((string key, string? value) in section.AsEnumerable(makePathsRelative: true))
        {
            if (!string.IsNullOrEmpty(value))
            {
                pins[key] = value;
            }
        }
    }

    /// <summary>
    /// Binds and validates the settings as a host does before it starts (<see cref="IStartupValidator"/>), and returns
    /// them; on failure, <paramref name="errors"/> holds one line per problem.
    /// </summary>
    /// <returns>Whether the settings are valid.</returns>
    public static bool TryGetServeOptions(this IServiceProvider services, out FrontDoorOptions options, out AccountPolicyOptions policy, out IReadOnlyList<string> errors)
    {
        ArgumentNullException.ThrowIfNull(services);
        options = new FrontDoorOptions();
        policy = new AccountPolicyOptions();
        try
        {
            services.GetRequiredService<IStartupValidator>().Validate();
        }
        catch (OptionsValidationException ex)
        {
            errors = [.. ex.Failures];
            return false;
        }
        catch (AggregateException ex) when (ex.InnerExceptions.All(e => e is OptionsValidationException))
        {
            errors = [.. ex.InnerExceptions.Cast<OptionsValidationException>().SelectMany(e => e.Failures)];
            return false;
        }
        catch (InvalidOperationException ex)
        {
            // The binder could not convert a value (e.g. "SecurityLayer": "high").
            errors = [$"invalid setting: {ex.InnerException?.Message ?? ex.Message}"];
            return false;
        }

        options = services.GetRequiredService<IOptions<FrontDoorOptions>>().Value;
        policy = services.GetRequiredService<IOptions<AccountPolicyOptions>>().Value;
        if (policy.LockoutAdmissionWait >= options.Limits.HandshakeTimeout)
        {
            // The handshake's deadline would end every wait before its own bound: the client would get a closed connection.
            errors = [$"LockoutAdmissionWait ({policy.LockoutAdmissionWait}) must be shorter than Limits:HandshakeTimeout ({options.Limits.HandshakeTimeout}); lower it, e.g. to 00:00:02."];
            return false;
        }

        errors = [];
        return true;
    }
}
