namespace RdpNla.Server.Portal;

/// <summary>
/// The HTTPS self-service portal (docs/portal.md): Kestrel in the <c>rdpnla serve</c> process, with the front door's
/// certificate. Server-rendered pages without JavaScript or third-party assets, each form with a JSON twin under
/// <c>/api/</c>; antiforgery tokens on every form, strict security headers, bounded requests.
/// </summary>
public sealed class PortalServer : IAsyncDisposable
{
    private readonly WebApplication _app;

    private PortalServer(WebApplication app, IPEndPoint endpoint)
    {
        _app = app;
        LocalEndPoint = endpoint;
    }

    /// <summary>The bound endpoint (the real port when <see cref="PortalOptions.Listen"/> asked for port 0).</summary>
    public IPEndPoint LocalEndPoint { get; }

    /// <summary>Binds and starts the portal.</summary>
    /// <exception cref="ListenFailedException">The endpoint cannot be bound.</exception>
    public static async Task<PortalServer> StartAsync(PortalOptions options, X509Certificate2 certificate, SelfService service, ILoggerFactory loggerFactory, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (!ListenEndpoint.TryParse(options.Listen ?? string.Empty, out IPEndPoint? endpoint, out string? problem))
        {
            throw new InvalidOperationException($"Portal:Listen '{options.Listen}': {problem}");
        }

        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions
        {
            ApplicationName = "RdpNla.Portal",
            ContentRootPath = AppContext.BaseDirectory,
            Args = [],
        });
        builder.Services.Replace(ServiceDescriptor.Singleton<ILoggerFactory>(new QuietFrameworkLoggerFactory(loggerFactory)));
        // Antiforgery tokens are protected with keys kept in memory only: a restart invalidates open forms (the user
        // reloads the page), and no key ring is written to the disk.
        builder.Services.AddDataProtection().UseEphemeralDataProtectionProvider();
        builder.Services.AddSingleton(service);
        builder.Services.AddAntiforgery(antiforgery =>
        {
            antiforgery.Cookie.Name = "rdpnla-csrf";
            antiforgery.Cookie.SecurePolicy = CookieSecurePolicy.Always;
            antiforgery.Cookie.SameSite = SameSiteMode.Strict;
            antiforgery.FormFieldName = PortalPages.CsrfField;
            antiforgery.HeaderName = null;
            // The security headers below send X-Frame-Options: DENY (antiforgery's default would be SAMEORIGIN).
            antiforgery.SuppressXFrameOptionsHeader = true;
        });
        builder.Services.Configure<FormOptions>(form =>
        {
            form.ValueCountLimit = 16;
            form.KeyLengthLimit = 64;
            form.ValueLengthLimit = 4096;
            form.MultipartBodyLengthLimit = options.MaxRequestBodySize;
        });
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxRequestBodySize = options.MaxRequestBodySize;
            kestrel.Limits.MaxRequestHeadersTotalSize = 16 * 1024;
            kestrel.Limits.MaxRequestHeaderCount = 50;
            kestrel.Limits.MaxRequestLineSize = 4096;
            kestrel.Limits.MaxConcurrentConnections = 1000;
            kestrel.Limits.RequestHeadersTimeout = TimeSpan.FromSeconds(10);
            kestrel.Listen(endpoint, listen => listen.UseHttps(certificate, https => https.SslProtocols = SslProtocols.Tls12 | SslProtocols.Tls13));
        });

        WebApplication app = builder.Build();
        app.Use(SecurityHeaders);
        PortalEndpoints.Map(app);
        if (options.AdminEnabled)
        {
            PortalEndpoints.MapAdmin(app);
        }
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is SocketException || ex is IOException { InnerException: SocketException or Microsoft.AspNetCore.Connections.AddressInUseException })
        {
            // Kestrel wraps "address in use" twice and lets the other socket errors through.
            await app.DisposeAsync().ConfigureAwait(false);
            throw new ListenFailedException("Portal:Listen", endpoint, ex);
        }

        IServer server = app.Services.GetRequiredService<IServer>();
        string address = server.Features.Get<IServerAddressesFeature>()?.Addresses.FirstOrDefault() ?? string.Empty;
        int port = Uri.TryCreate(address, UriKind.Absolute, out Uri? uri) ? uri.Port : endpoint.Port;
        return new PortalServer(app, new IPEndPoint(endpoint.Address, port));
    }

    /// <summary>
    /// The headers of every response: a CSP that allows nothing but this origin's stylesheet, inline images (the QR
    /// code) and form posts to itself; no framing; no referrer; no sniffing; HSTS; nothing cached.
    /// </summary>
    private static Task SecurityHeaders(HttpContext context, Func<Task> next)
    {
        IHeaderDictionary headers = context.Response.Headers;
        headers.ContentSecurityPolicy = "default-src 'none'; style-src 'self'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";
        headers.StrictTransportSecurity = "max-age=31536000";
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers["Cross-Origin-Resource-Policy"] = "same-origin";
        headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=()";
        // Nothing cached. Pages with a form get "no-cache, no-store" and Pragma from antiforgery; set here first, it
        // would be overridden there with a warning logged at every view of such a page.
        context.Response.OnStarting(static state =>
        {
            IHeaderDictionary response = ((HttpContext)state).Response.Headers;
            if (string.IsNullOrEmpty(response.CacheControl))
            {
                response.CacheControl = "no-store";
            }

            return Task.CompletedTask;
        }, context);
        return next();
    }

    public async ValueTask DisposeAsync()
    {
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        await _app.StopAsync(timeout.Token).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }
}
