namespace RdpNla.Server.Accounts;

/// <summary>Registers the user store, audit log and account policy.</summary>
internal static class AccountsServiceCollectionExtensions
{
    /// <summary>
    /// Registers <see cref="RdpNlaDatabase"/> (opened on first use in <paramref name="dataDirectory"/>, default ./rdpnla),
    /// <see cref="IUserStore"/>, <see cref="IAuditLog"/>, <see cref="LocalDomainNames"/> (this machine plus
    /// <paramref name="defaultDomain"/>), <see cref="AccountPolicy"/>, and validated <see cref="AccountPolicyOptions"/>.
    /// Existing registrations of these services win (register a network <see cref="IUserStore"/> first to replace SQLite).
    /// </summary>
    /// <returns>The options builder, e.g. to <c>BindConfiguration(AccountPolicyOptions.SectionName)</c>.</returns>
    public static OptionsBuilder<AccountPolicyOptions> AddRdpNlaAccounts(this IServiceCollection services, string? dataDirectory, string? defaultDomain = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        services.TryAddSingleton(TimeProvider.System);
        services.TryAddSingleton(sp => RdpNlaDatabase.Open(
            DataDirectory.GetDatabasePath(DataDirectory.Resolve(dataDirectory)),
            sp.GetRequiredService<TimeProvider>()));
        services.TryAddSingleton<IUserStore>(sp => sp.GetRequiredService<RdpNlaDatabase>().Users);
        services.TryAddSingleton<IAuditLog>(sp => sp.GetRequiredService<RdpNlaDatabase>().Audit);
        services.TryAddSingleton(_ => LocalDomainNames.FromEnvironment(defaultDomain));
        services.TryAddSingleton<AccountPolicy>();
        services.TryAddEnumerable(ServiceDescriptor.Singleton<IValidateOptions<AccountPolicyOptions>, AccountPolicyOptionsValidator>());
        return services.AddOptions<AccountPolicyOptions>().ValidateOnStart();
    }
}
