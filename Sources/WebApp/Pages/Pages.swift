import HTTPTypes
import Hummingbird
import Logging
import MarketData
import Pipeline

/// The server-rendered pages: Dashboard, Analytics, Pipeline, Scheduler and Settings, plus sign-in. They read the same
/// services as the API; forms post to page routes and are answered with a redirect carrying a notice or an error.
struct Pages: Sendable {
    let api: API
    let session: PageSession

    init(api: API) {
        self.api = api
        self.session = PageSession(adminToken: api.services.adminToken)
    }

    var services: WebAppServices { api.services }

    static let navigation = [
        ("/", "Dashboard"), ("/analytics", "Analytics"), ("/pipeline", "Pipeline"), ("/scheduler", "Scheduler"), ("/settings", "Settings"),
    ]

    /// The shared layout: navigation, sign-in state, the banner from a redirect, and the page's content.
    func layout(_ request: Request, title: String, current: String, content: String) -> Response {
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
        if !session.isEnabled {
            html.raw("<span title=\"set CRYPTOPIPE_ADMIN_TOKEN to allow changes\">read-only</span>")
        } else if session.isSignedIn(request) {
            html.raw("<span>signed in</span><form method=\"post\" action=\"/signout\">\(csrfField)")
            html.raw("<button class=\"secondary\" type=\"submit\">Sign out</button></form>")
        } else {
            html.raw("<a href=\"/signin?next=\(FormData.escapeQuery(request.uri.path))\" style=\"color:#fff\">Sign in</a>")
        }
        html.raw("</div></div></header><main>")
        if let notice = request.uri.queryParameters.get("notice") {
            html.element("div", "class=\"notice\" role=\"status\"", notice)
        }
        if let error = request.uri.queryParameters.get("error") {
            html.element("div", "class=\"error\" role=\"alert\"", error)
        }
        html.element("h1", "", title)
        html.raw(content)
        html.raw("</main><script src=\"/assets/app.js\"></script></body></html>")
        return Response.html(html.text)
    }

    /// The anti-forgery field for forms (empty when changes are disabled).
    var csrfField: String {
        guard let token = session.formToken else { return "" }
        return "<input type=\"hidden\" name=\"csrf\" value=\"\(token)\">"
    }

    /// Why a form cannot be used right now, or `nil` when it can.
    func changeBlocker(_ request: Request) -> String? {
        if !session.isEnabled { return "Changes are disabled: set CRYPTOPIPE_ADMIN_TOKEN (16+ characters) and restart." }
        if !session.isSignedIn(request) { return "Sign in with the admin token to make changes." }
        return nil
    }

    /// Renders a page; a failure becomes an error page that says what failed instead of a blank screen.
    func render(
        _ request: Request, title: String, current: String, _ content: () async throws -> String
    ) async -> Response {
        do {
            return layout(request, title: title, current: current, content: try await content())
        } catch {
            services.logger.error("page failed", metadata: ["http.path": "\(request.uri.path)", "error": "\(error)"])
            let message = (error as? APIError)?.message ?? "\(error)"
            var html = HTML()
            html.element("div", "class=\"error\" role=\"alert\"", "This page could not be built: \(message)")
            var response = layout(request, title: title, current: current, content: html.text)
            response.status = (error as? APIError)?.status ?? .serviceUnavailable
            return response
        }
    }

    /// A form post: checks the session and the anti-forgery field, runs `action`, and redirects to `back` with its
    /// notice, or with the error.
    func formAction(
        _ request: Request, back: String, _ action: ([String: String]) async throws -> String
    ) async throws -> Response {
        let form = try await FormData.read(request)
        guard session.isEnabled else {
            return .seeOther(back + "?error=" + FormData.escapeQuery("Changes are disabled: set CRYPTOPIPE_ADMIN_TOKEN and restart."))
        }
        guard session.authorizes(request, form: form) else {
            return .seeOther("/signin?next=\(FormData.escapeQuery(back))&error=" + FormData.escapeQuery("Sign in to make changes."))
        }
        do {
            let notice = try await action(form)
            return .seeOther(back + "?notice=" + FormData.escapeQuery(notice))
        } catch let error as APIError {
            return .seeOther(back + "?error=" + FormData.escapeQuery(error.message))
        } catch {
            return .seeOther(back + "?error=" + FormData.escapeQuery("\(error)"))
        }
    }

    // MARK: Sign-in

    func signInPage(_ request: Request) async -> Response {
        await render(request, title: "Sign in", current: "") {
            var html = HTML()
            html.raw("<div class=\"panel\">")
            if !session.isEnabled {
                html.element(
                    "p", "",
                    "No admin token is configured, so the pages are read-only. Set CRYPTOPIPE_ADMIN_TOKEN (16+ characters, e.g. from 'openssl rand -hex 24') and restart to allow changes."
                )
            } else {
                let next = Self.localPath(request.uri.queryParameters.get("next"))
                html.raw("<form method=\"post\" action=\"/signin\" class=\"inline\">")
                html.raw("<input type=\"hidden\" name=\"next\" \(HTML.attribute("value", next))>")
                html.raw("<label>Admin token <input type=\"password\" name=\"token\" autocomplete=\"current-password\" required></label>")
                html.raw("<button type=\"submit\">Sign in</button></form>")
                html.element(
                    "p", "class=\"muted\"",
                    "The token is the value of CRYPTOPIPE_ADMIN_TOKEN. The browser keeps a derived key in an HttpOnly cookie.")
            }
            html.raw("</div>")
            return html.text
        }
    }

    func signIn(_ request: Request) async throws -> Response {
        let form = try await FormData.read(request)
        let next = Self.localPath(form["next"])
        guard session.accepts(token: form["token"] ?? "") else {
            return .seeOther("/signin?next=\(FormData.escapeQuery(next))&error=" + FormData.escapeQuery("That is not the admin token."))
        }
        return .seeOther(next + "?notice=" + FormData.escapeQuery("Signed in."), headers: session.signInHeaders())
    }

    func signOut(_ request: Request) async throws -> Response {
        .seeOther("/?notice=" + FormData.escapeQuery("Signed out."), headers: PageSession.signOutHeaders())
    }

    /// Only our own pages as redirect targets, never another site.
    static func localPath(_ text: String?) -> String {
        guard let text, text.hasPrefix("/"), !text.hasPrefix("//"), !text.contains("\\"), !text.contains("?"),
            navigation.contains(where: { $0.0 == text })
        else { return "/" }
        return text
    }
}
