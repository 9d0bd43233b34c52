import HTTPTypes
import Hummingbird
import Logging
import MarketData
import Pipeline

/// The server-rendered pages: Dashboard, Analytics, Pipeline, Scheduler and Settings, plus sign-in. They read the same
/// services as the API; forms post to page routes and are answered with a redirect carrying a notice or an error.
struct Pages: Sendable {
    let api: API
    let sessions: PageSessions

    init(api: API) {
        self.api = api
        self.sessions = PageSessions(
            adminToken: api.services.adminToken, store: api.services.sessions, alwaysSecure: api.services.publicURLIsHTTPS,
            clock: api.services.clock, logger: api.services.logger)
    }

    var services: WebAppServices { api.services }

    static let navigation = [
        ("/", "Dashboard"), ("/analytics", "Analytics"), ("/pipeline", "Pipeline"), ("/scheduler", "Scheduler"), ("/settings", "Settings"),
    ]

    /// Who is looking at a page: signed in (with the session's anti-forgery token) or not.
    struct Visitor: Sendable {
        var session: PageSessions.Active?
        /// Why the forms cannot be used right now, or `nil` when they can.
        var changeBlocker: String?

        /// The anti-forgery field for forms: empty without a session, so the token is never shown to a visitor.
        var csrfField: String {
            guard let session else { return "" }
            return "<input type=\"hidden\" name=\"csrf\" value=\"\(session.formToken)\">"
        }
    }

    func visitor(_ request: Request) async -> Visitor {
        let session = await sessions.current(request)
        let blocker: String? =
            if !sessions.isEnabled {
                "Changes are disabled: set CRYPTOPIPE_ADMIN_TOKEN (16+ characters) and restart."
            } else if session == nil {
                "Sign in with the admin token to make changes."
            } else {
                nil
            }
        return Visitor(session: session, changeBlocker: blocker)
    }

    /// The shared layout: navigation, sign-in state, the banner (from a redirect's fixed code, or an error of this
    /// request), and the page's content.
    func layout(_ request: Request, visitor: Visitor, title: String, current: String, error: String? = nil, content: String) -> Response {
        var html = HTML()
        html.raw("<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">")
        html.raw("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">")
        html.raw("<title>")
        html.text("\(title) · CryptoPipe")
        html.raw("</title><link rel=\"stylesheet\" href=\"/assets/app.css\"></head><body><header><div class=\"bar\">")
        html.raw("<span class=\"brand\">CryptoPipe</span><nav>")
        for (path, name) in Self.navigation {
            html.raw("<a href=\"\(path)\"\(path == current ? " class=\"current\"" : "")>\(name)</a>")
        }
        html.raw("</nav><div class=\"session\">")
        if !sessions.isEnabled {
            html.raw("<span title=\"set CRYPTOPIPE_ADMIN_TOKEN to allow changes\">read-only</span>")
        } else if visitor.session != nil {
            html.raw("<span>signed in</span><form method=\"post\" action=\"/signout\">\(visitor.csrfField)")
            html.raw("<button class=\"secondary\" type=\"submit\">Sign out</button></form>")
        } else {
            html.raw("<a href=\"/signin?next=\(FormData.escapeQuery(request.uri.path))\">Sign in</a>")
        }
        html.raw("</div></div></header><main>")
        if let notice = request.query.string("notice").flatMap(Banner.notice(code:)) {
            html.element("div", "class=\"notice\" role=\"status\"", notice)
        }
        if let error = error ?? request.query.string("error").flatMap(Banner.error(code:)) {
            html.element("div", "class=\"error\" role=\"alert\"", error)
        }
        html.element("h1", "", title)
        html.raw(content)
        html.raw("</main><script src=\"/assets/app.js\"></script></body></html>")
        return Response.html(html.text)
    }

    /// Renders a page; a failure becomes an error page that says what failed instead of a blank screen. A bad request
    /// is explained; a server-side failure says only that it failed and its request id (the detail is in the log).
    func render(
        _ request: Request, title: String, current: String, error: String? = nil, status: HTTPResponse.Status = .ok,
        _ content: (Visitor) async throws -> String
    ) async -> Response {
        let visitor = await visitor(request)
        do {
            var response = layout(
                request, visitor: visitor, title: title, current: current, error: error, content: try await content(visitor))
            response.status = status
            return response
        } catch {
            let requestID = requestID(of: request)
            // The API's answer to the same failure: its status, by what failed.
            let failure = JSONErrorMiddleware<WebRequestContext>.failure(for: error)
            if failure.status.code >= 500 {
                services.logger.error(
                    "page failed", metadata: ["http.path": "\(request.uri.path)", "http.request_id": "\(requestID)", "error": "\(error)"])
            }
            let message =
                failure.status.code >= 500
                ? "This page could not be built (request \(requestID)); the server's log has the detail."
                : "This page could not be built: \(failure.message)"
            var html = HTML()
            html.element("div", "class=\"error\" role=\"alert\"", message)
            var response = layout(request, visitor: visitor, title: title, current: current, content: html.text)
            response.status = failure.status
            return response
        }
    }

    /// A form post: checks the session and the anti-forgery field, runs `action`, and redirects to `back` with its
    /// notice code; a failed action shows the page again with the error (nothing from the URL is ever shown).
    func formAction(
        _ request: Request, back: String, page: @escaping (Request, String) async -> Response,
        _ action: ([String: String]) async throws -> Banner
    ) async throws -> Response {
        let form = try await FormData.read(request)
        guard sessions.isEnabled else { return .seeOther(back + "?error=" + Banner.changesDisabled.rawValue) }
        let session = await sessions.current(request)
        guard sessions.authorizes(session, form: form) else {
            return .seeOther("/signin?next=\(FormData.escapeQuery(back))&error=" + Banner.signInRequired.rawValue)
        }
        do {
            let notice = try await action(form)
            return .seeOther(back + "?notice=" + notice.rawValue)
        } catch let error as APIError where error.status.code < 500 {
            var response = await page(request, error.message)
            response.status = error.status
            return response
        }
    }

    // MARK: Sign-in

    /// The sign-in form; with `?token=` (only where ``WebAppServices/signInLinks`` allows it, i.e. `demo`), signs in
    /// at once and redirects, so the token leaves the address bar and the history. Wrong tokens count towards the
    /// client's throttle, as typed ones do.
    func signInPage(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        let next = Self.localPath(request.query.string("next"))
        guard services.signInLinks, sessions.isEnabled, let token = request.query.string("token") else {
            return await signInPage(request, next: next, error: nil)
        }
        guard try api.authenticate(context.clientAddress, { sessions.accepts(token: token) }) else {
            return await signInPage(request, next: next, error: "That sign-in link's token is not the admin token.", status: .unauthorized)
        }
        let headers = try await sessions.signIn(request)
        return .seeOther(next + "?notice=" + Banner.signedIn.rawValue, headers: headers)
    }

    func signInPage(_ request: Request, next: String, error: String?, status: HTTPResponse.Status = .ok) async -> Response {
        await render(request, title: "Sign in", current: "", error: error, status: status) { _ in
            var html = HTML()
            html.raw("<div class=\"panel\">")
            if !sessions.isEnabled {
                html.element(
                    "p", "",
                    "No admin token is configured, so the pages are read-only. Set CRYPTOPIPE_ADMIN_TOKEN (16+ characters, e.g. from 'openssl rand -hex 24') and restart to allow changes."
                )
            } else {
                html.raw("<form method=\"post\" action=\"/signin\" class=\"inline\">")
                html.raw("<input type=\"hidden\" name=\"next\" \(HTML.attribute("value", next))>")
                html.raw("<label>Admin token <input type=\"password\" name=\"token\" autocomplete=\"current-password\" required></label>")
                html.raw("<button type=\"submit\">Sign in</button></form>")
                html.element(
                    "p", "class=\"muted\"",
                    "The token is the value of CRYPTOPIPE_ADMIN_TOKEN. Signing in opens a session of at most 30 days (12 hours unused); the browser keeps only its random id."
                )
            }
            html.raw("</div>")
            return html.text
        }
    }

    func signIn(_ request: Request, _ context: WebRequestContext) async throws -> Response {
        let form = try await FormData.read(request)
        let next = Self.localPath(form["next"])
        let token = form["token"] ?? ""
        guard try api.authenticate(context.clientAddress, { sessions.accepts(token: token) }) else {
            return await signInPage(request, next: next, error: "That is not the admin token.", status: .unauthorized)
        }
        let headers = try await sessions.signIn(request)
        return .seeOther(next + "?notice=" + Banner.signedIn.rawValue, headers: headers)
    }

    func signOut(_ request: Request) async throws -> Response {
        let form = try await FormData.read(request)
        let session = await sessions.current(request)
        // Signing out needs the session's own form token, so another site cannot sign a visitor out.
        guard sessions.authorizes(session, form: form) else { return .seeOther("/") }
        let headers = try await sessions.signOut(request, session: session)
        return .seeOther("/?notice=" + Banner.signedOut.rawValue, headers: headers)
    }

    /// Only our own pages as redirect targets, never another site.
    static func localPath(_ text: String?) -> String {
        guard let text, text.hasPrefix("/"), !text.hasPrefix("//"), !text.contains("\\"), !text.contains("?"),
            navigation.contains(where: { $0.0 == text })
        else { return "/" }
        return text
    }
}

/// The banners a redirect may ask for, by fixed code (`?notice=signed_in`): the text is ours, never the URL's, so a
/// link cannot make the site say something.
enum Banner: String, Sendable, CaseIterable {
    case signedIn = "signed_in"
    case signedOut = "signed_out"
    case jobEnabled = "job_enabled"
    case jobDisabled = "job_disabled"
    case jobStarted = "job_started"
    case jobQueued = "job_queued"
    case scheduleSaved = "schedule_saved"
    case symbolAdded = "symbol_added"
    case symbolRemoved = "symbol_removed"
    case changesDisabled = "changes_disabled"
    case signInRequired = "signin_required"

    var text: String {
        switch self {
        case .signedIn: "Signed in."
        case .signedOut: "Signed out."
        case .jobEnabled: "The job is enabled."
        case .jobDisabled: "The job is disabled."
        case .jobStarted: "The job started; its run appears on the Pipeline page when it finishes."
        case .jobQueued: "The job starts when the running job finishes."
        case .scheduleSaved: "The schedule is saved."
        case .symbolAdded: "The symbol is tracked; the next extract-transform run fetches it."
        case .symbolRemoved: "The symbol is no longer tracked; its stored data stays."
        case .changesDisabled: "Changes are disabled: set CRYPTOPIPE_ADMIN_TOKEN and restart."
        case .signInRequired: "Sign in to make changes."
        }
    }

    var isError: Bool { self == .changesDisabled || self == .signInRequired }

    static func notice(code: String) -> String? { Banner(rawValue: code).flatMap { $0.isError ? nil : $0.text } }
    static func error(code: String) -> String? { Banner(rawValue: code).flatMap { $0.isError ? $0.text : nil } }
}
