namespace RdpNla.Server.Portal;

/// <summary>The portal's routes: each page's form posts to itself, and each has a JSON twin under /api (docs/portal.md).</summary>
internal static class PortalEndpoints
{
    public static void Map(IEndpointRouteBuilder app)
    {
        app.MapGet("/", (SelfService service) => Html(PortalPages.Index(service.AdminEnabled)));
        app.MapGet("/portal.css", () => Results.Text(PortalPages.Stylesheet, "text/css; charset=utf-8"));

        app.MapGet("/password", (HttpContext context, IAntiforgery antiforgery, SelfService service) =>
            Html(PortalPages.PasswordForm(Token(context, antiforgery), context.Request.Query["user"], null, service.PasswordPolicy, service.DomainName)));
        app.MapPost("/password", PasswordFormAsync);
        app.MapPost("/api/password", PasswordApiAsync);

        app.MapGet("/totp", (HttpContext context, IAntiforgery antiforgery) =>
            Html(PortalPages.TotpForm(Token(context, antiforgery), context.Request.Query["user"], null)));
        app.MapPost("/totp", TotpFormAsync);
        app.MapPost("/api/totp", TotpApiAsync);

        app.MapGet("/approve", (HttpContext context, IAntiforgery antiforgery, SelfService service) =>
        {
            string? user = context.Request.Query["user"];
            return Html(PortalPages.ApproveForm(Token(context, antiforgery), user, null, string.IsNullOrEmpty(user) ? [] : service.Approvals.Pending(user)));
        });
        app.MapPost("/approve", ApproveFormAsync);
        app.MapPost("/api/approve", ApproveApiAsync);
        app.MapGet("/api/pending", (HttpContext context, SelfService service) =>
        {
            string? user = context.Request.Query["user"];
            if (string.IsNullOrEmpty(user))
            {
                return Error(PortalOutcome.Refused(400, "invalid-request", "give ?user=NAME"));
            }

            // The name rules of /api/password: a name no account can have (a control character, too long) is refused.
            return !SelfService.TryParseUserName(user, out _)
                ? Error(PortalOutcome.Refused(400, "invalid-request", "the user name is not valid"))
                : Results.Json(new { pending = service.Approvals.Pending(user).Select(Describe).ToList() });
        });
    }

    /// <summary>The read-only admin page and its JSON twin, mapped only when <see cref="PortalOptions.AdminGroup"/> is set (otherwise both are 404).</summary>
    public static void MapAdmin(IEndpointRouteBuilder app)
    {
        app.MapGet("/admin", (HttpContext context, IAntiforgery antiforgery, SelfService service) =>
            Html(PortalPages.AdminPage(Token(context, antiforgery), new AdminRequest(context.Request.Query["user"], null, null, null, null, null), null, null, service.AdminMaxRows)));
        app.MapPost("/admin", AdminFormAsync);
        app.MapPost("/api/admin/overview", AdminApiAsync);
    }

    private static async Task<IResult> AdminFormAsync(HttpContext context, IAntiforgery antiforgery, SelfService service)
    {
        (IFormCollection? form, IResult? refused) = await ReadFormAsync(context, antiforgery).ConfigureAwait(false);
        if (form is null)
        {
            return refused!;
        }

        string? limitText = form["limit"];
        int? limit = string.IsNullOrWhiteSpace(limitText) ? null
            : int.TryParse(limitText, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int parsed) ? parsed : -1;
        var request = new AdminRequest(form["user"], form["password"], form["code"], form["filterUser"], form["outcome"], limit);
        (PortalOutcome outcome, AdminOverview? overview) = await service.AdminOverviewAsync(request, Client(context), context.RequestAborted).ConfigureAwait(false);
        return Html(PortalPages.AdminPage(Token(context, antiforgery), request, outcome, overview, service.AdminMaxRows), outcome.StatusCode);
    }

    private static async Task<IResult> AdminApiAsync(HttpContext context, SelfService service)
    {
        (AdminRequest? request, IResult? refused) = await ReadJsonAsync<AdminRequest>(context).ConfigureAwait(false);
        if (request is null)
        {
            return refused!;
        }

        (PortalOutcome outcome, AdminOverview? overview) = await service.AdminOverviewAsync(request, Client(context), context.RequestAborted).ConfigureAwait(false);
        return overview is null ? Error(outcome) : Results.Json(new
        {
            instance = overview.Instance,
            at = overview.At.UtcDateTime,
            limit = overview.Limit,
            audit = overview.Audit.Select(r => new
            {
                time = r.Time.UtcDateTime,
                instance = r.InstanceName,
                clientAddress = r.ClientAddress,
                clientPort = r.ClientPort,
                user = r.UserName,
                domain = r.Domain,
                protocol = r.SecurityProtocol,
                outcome = Storage.SqliteAuditLog.OutcomeText(r.Outcome),
                status = r.StatusName,
                reason = r.Reason,
                connectionId = r.ConnectionId,
            }).ToList(),
            sessions = overview.Sessions.Select(s => new
            {
                connectionId = s.ConnectionId,
                user = s.UserName,
                clientAddress = s.ClientAddress,
                clientPort = s.ClientPort,
                backend = s.Backend,
                frontProtocol = s.FrontProtocol,
                backendProtocol = s.BackendProtocol,
                started = s.Started.UtcDateTime,
                bytesToBackend = s.BytesToBackend,
                bytesToClient = s.BytesToClient,
                state = s.Relaying ? "relaying" : "connecting",
                instance = overview.Instance,
            }).ToList(),
        });
    }

    private sealed record PasswordRequest(string? User, string? OldPassword, string? NewPassword);

    private sealed record TotpRequest(string? User, string? Password, string? Code);

    private sealed record ApproveRequest(string? User, string? Code);

    private static async Task<IResult> PasswordFormAsync(HttpContext context, IAntiforgery antiforgery, SelfService service)
    {
        (IFormCollection? form, IResult? refused) = await ReadFormAsync(context, antiforgery).ConfigureAwait(false);
        if (form is null)
        {
            return refused!;
        }

        string? user = form["user"];
        string? newPassword = form["newPassword"];
        PortalOutcome outcome = newPassword != form["confirmPassword"]
            ? PortalOutcome.Refused(400, "invalid-request", "the two new passwords differ")
            : await service.ChangePasswordAsync(user, form["oldPassword"], newPassword, Client(context), context.RequestAborted).ConfigureAwait(false);
        return Html(PortalPages.PasswordForm(Token(context, antiforgery), user, outcome, service.PasswordPolicy, service.DomainName), outcome.StatusCode);
    }

    private static async Task<IResult> PasswordApiAsync(HttpContext context, SelfService service)
    {
        (PasswordRequest? request, IResult? refused) = await ReadJsonAsync<PasswordRequest>(context).ConfigureAwait(false);
        if (request is null)
        {
            return refused!;
        }

        PortalOutcome outcome = await service.ChangePasswordAsync(request.User, request.OldPassword, request.NewPassword, Client(context), context.RequestAborted).ConfigureAwait(false);
        return outcome.Succeeded ? Results.Json(new { message = outcome.Message }) : Error(outcome);
    }

    private static async Task<IResult> TotpFormAsync(HttpContext context, IAntiforgery antiforgery, SelfService service)
    {
        (IFormCollection? form, IResult? refused) = await ReadFormAsync(context, antiforgery).ConfigureAwait(false);
        if (form is null)
        {
            return refused!;
        }

        string? user = form["user"];
        (PortalOutcome outcome, string? uri) = await service.EnrolTotpAsync(user, form["password"], form["code"], Client(context), context.RequestAborted).ConfigureAwait(false);
        if (uri is not null)
        {
            return Html(PortalPages.TotpConfirm(Token(context, antiforgery), user!, uri, QrPng(uri)));
        }

        return Html(PortalPages.TotpForm(Token(context, antiforgery), user, outcome), outcome.StatusCode);
    }

    private static async Task<IResult> TotpApiAsync(HttpContext context, SelfService service)
    {
        (TotpRequest? request, IResult? refused) = await ReadJsonAsync<TotpRequest>(context).ConfigureAwait(false);
        if (request is null)
        {
            return refused!;
        }

        (PortalOutcome outcome, string? uri) = await service.EnrolTotpAsync(request.User, request.Password, request.Code, Client(context), context.RequestAborted).ConfigureAwait(false);
        return !outcome.Succeeded ? Error(outcome)
            : uri is not null ? Results.Json(new { otpauthUri = uri, message = outcome.Message })
            : Results.Json(new { message = outcome.Message });
    }

    private static async Task<IResult> ApproveFormAsync(HttpContext context, IAntiforgery antiforgery, SelfService service)
    {
        (IFormCollection? form, IResult? refused) = await ReadFormAsync(context, antiforgery).ConfigureAwait(false);
        if (form is null)
        {
            return refused!;
        }

        string? user = form["user"];
        (PortalOutcome outcome, _) = await service.ApproveAsync(user, form["code"], Client(context), context.RequestAborted).ConfigureAwait(false);
        IReadOnlyList<PendingConnection> pending = string.IsNullOrEmpty(user) ? [] : service.Approvals.Pending(user);
        return Html(PortalPages.ApproveForm(Token(context, antiforgery), user, outcome, pending), outcome.StatusCode);
    }

    private static async Task<IResult> ApproveApiAsync(HttpContext context, SelfService service)
    {
        (ApproveRequest? request, IResult? refused) = await ReadJsonAsync<ApproveRequest>(context).ConfigureAwait(false);
        if (request is null)
        {
            return refused!;
        }

        (PortalOutcome outcome, PendingConnection? connection) = await service.ApproveAsync(request.User, request.Code, Client(context), context.RequestAborted).ConfigureAwait(false);
        return outcome.Succeeded && connection is not null
            ? Results.Json(new { message = outcome.Message, connection = Describe(connection) })
            : Error(outcome);
    }

    private static object Describe(PendingConnection connection) => new
    {
        clientAddress = connection.Client.Address.ToString(),
        clientPort = connection.Client.Port,
        since = connection.Since.UtcDateTime,
        backend = connection.Backend,
    };

    private static string QrPng(string text)
    {
        using var generator = new QRCodeGenerator();
        using QRCodeData data = generator.CreateQrCode(text, QRCodeGenerator.ECCLevel.M);
        return Convert.ToBase64String(new PngByteQRCode(data).GetGraphic(5));
    }

    private static string Token(HttpContext context, IAntiforgery antiforgery) => antiforgery.GetAndStoreTokens(context).RequestToken ?? string.Empty;

    private static IPEndPoint? Client(HttpContext context) =>
        context.Connection.RemoteIpAddress is { } address ? new IPEndPoint(address, context.Connection.RemotePort) : null;

    private static IResult Html(string html, int statusCode = 200) => Results.Content(html, "text/html; charset=utf-8", Encoding.UTF8, statusCode);

    private static IResult Error(PortalOutcome outcome) => Results.Json(new { error = outcome.Error, message = outcome.Message }, statusCode: outcome.StatusCode);

    /// <summary>
    /// A form post: a form content type, within the size limits, with a valid antiforgery token (cookie and field, both
    /// bound to this browser: a page of another site cannot post here).
    /// </summary>
    private static async Task<(IFormCollection? Form, IResult? Refused)> ReadFormAsync(HttpContext context, IAntiforgery antiforgery)
    {
        if (!context.Request.HasFormContentType)
        {
            return (null, Html(PortalPages.Layout("Not a form", PortalPages.Message(PortalOutcome.Refused(415, "invalid-request", "post the page's form"))), 415));
        }

        // The form first: past its limits (16 fields, 4 KiB a value) the antiforgery check, which reads it too, would
        // fail as well and the user be told the form expired, and reload and resubmit the same form forever.
        IFormCollection form;
        try
        {
            form = await context.Request.ReadFormAsync(context.RequestAborted).ConfigureAwait(false);
        }
        catch (InvalidDataException)
        {
            return (null, Html(PortalPages.Layout("Request refused", PortalPages.Message(PortalOutcome.Refused(400, "invalid-request", "the form has more than 16 fields or a value longer than 4 KiB"))), 400));
        }
        catch (BadHttpRequestException)
        {
            return (null, Html(PortalPages.Layout("Request refused", PortalPages.Message(PortalOutcome.Refused(413, "invalid-request", "the request is too large"))), 413));
        }

        try
        {
            await antiforgery.ValidateRequestAsync(context).ConfigureAwait(false);
            return (form, null);
        }
        catch (AntiforgeryValidationException)
        {
            return (null, Html(PortalPages.Layout("Form expired", PortalPages.Message(PortalOutcome.Refused(400, "csrf", "the form expired or came from another site; open the page again and resubmit"))), 400));
        }
    }

    /// <summary>
    /// A JSON request: <c>application/json</c> only (a page of another site cannot send that without a CORS preflight,
    /// which the portal never grants), within the size limit.
    /// </summary>
    private static async Task<(T? Request, IResult? Refused)> ReadJsonAsync<T>(HttpContext context)
        where T : class
    {
        if (!context.Request.HasJsonContentType())
        {
            return (null, Error(PortalOutcome.Refused(415, "invalid-request", "send Content-Type: application/json")));
        }

        try
        {
            T? request = await context.Request.ReadFromJsonAsync<T>(context.RequestAborted).ConfigureAwait(false);
            return request is null ? (null, Error(PortalOutcome.Refused(400, "invalid-request", "send a JSON object"))) : (request, null);
        }
        catch (JsonException)
        {
            return (null, Error(PortalOutcome.Refused(400, "invalid-request", "the body is not the JSON object documented in docs/portal.md")));
        }
        catch (BadHttpRequestException ex)
        {
            return (null, Error(PortalOutcome.Refused(ex.StatusCode == 413 ? 413 : 400, "invalid-request", ex.StatusCode == 413 ? "the request is too large" : "the request is malformed")));
        }
    }
}
