import Crypto
import Foundation
import HTTPTypes
import Hummingbird
import Logging
public import MarketData
import Pipeline
public import Warehouse

/// Sign-in for the pages: the admin token, entered once, opens a server-side session. The browser holds only a random
/// session id (256 bits) in an HttpOnly, SameSite=Strict cookie; the warehouse holds its SHA-256 and the session's own
/// anti-forgery token, so a session ends for good when it is signed out or expires, and a copied cookie stops working
/// with it.
struct PageSessions: Sendable {
    static let cookieName = "cryptopipe_session"
    /// A session unused this long is gone.
    static let idleLifetime: Int64 = 12 * 3_600_000
    /// A session is gone this long after sign-in, however busy.
    static let absoluteLifetime: Int64 = 30 * 86_400_000
    /// Use is recorded at most this often, so reading pages does not write to the warehouse on every request.
    static let touchInterval: Int64 = 60_000

    let adminToken: String?
    let store: any SessionStore
    /// Whether cookies always get `Secure`: the public URL is `https://`.
    let alwaysSecure: Bool
    let clock: PipelineClock
    let logger: Logger

    /// A signed-in visitor's session.
    struct Active: Sendable {
        var idHash: String
        /// The hidden `csrf` field of this session's forms.
        var formToken: String
    }

    var isEnabled: Bool { adminToken != nil }

    /// The request's live session, or `nil` (no cookie, a malformed or unknown one, or an expired session, which is
    /// deleted). A warehouse failure counts as signed out, and is logged.
    func current(_ request: Request) async -> Active? {
        guard isEnabled, let id = FormData.cookie(Self.cookieName, in: request), Self.isWellFormed(id) else { return nil }
        let idHash = Self.hash(id)
        let now = clock.now()
        do {
            guard let stored = try await store.session(idHash: idHash) else { return nil }
            if now - stored.lastSeenAt >= Self.idleLifetime || now - stored.createdAt >= Self.absoluteLifetime {
                try await store.deleteSession(idHash: idHash)
                return nil
            }
            if now - stored.lastSeenAt >= Self.touchInterval { try await store.touchSession(idHash: idHash, at: now) }
            return Active(idHash: idHash, formToken: stored.formToken)
        } catch {
            // A cancelled request (the client went away) is not a warehouse failure.
            if !Task.isCancelled { logger.error("cannot read the page session", metadata: ["error": "\(error)"]) }
            return nil
        }
    }

    /// Whether the token typed into the sign-in form is the admin token.
    func accepts(token: String) -> Bool {
        guard let adminToken else { return false }
        return constantTimeEquals(token, adminToken)
    }

    /// The session's anti-forgery field matches the form's.
    func authorizes(_ session: Active?, form: [String: String]) -> Bool {
        guard let session, let presented = form["csrf"] else { return false }
        return constantTimeEquals(presented, session.formToken)
    }

    /// Opens a session and returns the cookie that carries it; expired sessions are swept on the way.
    func signIn(_ request: Request) async throws(WarehouseError) -> HTTPFields {
        let now = clock.now()
        _ = try await store.deleteExpiredSessions(idleBefore: now - Self.idleLifetime, createdBefore: now - Self.absoluteLifetime)
        // The session this browser had (if any) ends: one browser, one session, and an old copied cookie dies with it.
        if let previous = FormData.cookie(Self.cookieName, in: request), Self.isWellFormed(previous) {
            try await store.deleteSession(idHash: Self.hash(previous))
        }
        let id = Self.randomHex(bytes: 32)
        try await store.createSession(
            StoredSession(idHash: Self.hash(id), formToken: Self.randomHex(bytes: 32), createdAt: now, lastSeenAt: now))
        var fields = HTTPFields()
        fields[.setCookie] = sessionCookie(value: id, maxAge: Int(Self.absoluteLifetime / 1_000), request: request).description
        return fields
    }

    /// Ends the request's session (if any) on the server and clears the cookie.
    func signOut(_ request: Request, session: Active?) async throws(WarehouseError) -> HTTPFields {
        if let session { try await store.deleteSession(idHash: session.idHash) }
        var fields = HTTPFields()
        fields[.setCookie] = sessionCookie(value: "", maxAge: 0, request: request).description
        return fields
    }

    /// The session cookie: the whole site, never readable by scripts, never sent cross-site, `Secure` over HTTPS.
    private func sessionCookie(value: String, maxAge: Int, request: Request) -> Cookie {
        Cookie(
            name: Self.cookieName, value: value, maxAge: maxAge, path: "/", secure: isSecure(request), httpOnly: true,
            sameSite: .strict)
    }

    /// HTTPS as the browser sees it: the public URL says so, or the TLS-terminating proxy in front says so. Adding
    /// `Secure` on a proxy's word is safe either way: at worst the cookie is not sent back over plain HTTP.
    func isSecure(_ request: Request) -> Bool {
        alwaysSecure || request.headers[Self.forwardedProto]?.lowercased() == "https"
    }

    // A valid literal field name: the initialiser only fails on characters a name may not hold.
    // swift-format-ignore: NeverForceUnwrap
    private static let forwardedProto = HTTPField.Name("X-Forwarded-Proto")!

    static func isWellFormed(_ id: String) -> Bool {
        id.utf8.count == 64 && id.utf8.allSatisfy { (48...57).contains($0) || (97...102).contains($0) }
    }

    static func hash(_ id: String) -> String {
        SHA256.hash(data: Data(id.utf8)).map { hexDigits[Int($0 >> 4)] + hexDigits[Int($0 & 0x0f)] }.joined()
    }

    /// Hex of `bytes` bytes from the system's cryptographically secure generator (getrandom on Linux).
    static func randomHex(bytes: Int) -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<bytes).map { _ in
            let byte = UInt8.random(in: 0...255, using: &generator)
            return hexDigits[Int(byte >> 4)] + hexDigits[Int(byte & 0x0f)]
        }.joined()
    }

    private static let hexDigits = (0..<16).map { String($0, radix: 16) }
}

extension WebAppServices {
    /// Settings key of the salted fingerprint of the admin token the stored sessions were opened with.
    static let sessionTokenKey = "web.sessions.admin_token"

    /// Ends every page session when the admin token is not the one they were opened with, so a session of an earlier
    /// token (a demo's, or one rotated away) does not outlive it; returns whether sessions were ended. Processes sharing
    /// the warehouse with the same token keep their sessions. The fingerprint is salted, so the settings table gives
    /// no help guessing a short token.
    public func endSessionsOfAnotherAdminToken() async throws(WarehouseError) -> Bool {
        guard let adminToken else { return false }
        let saved = try await warehouse.setting(Self.sessionTokenKey)
        if let saved, let colon = saved.firstIndex(of: ":"),
            constantTimeEquals(String(saved[saved.index(after: colon)...]), Self.fingerprint(adminToken, salt: String(saved[..<colon])))
        {
            return false
        }
        let ended = try await sessions.deleteExpiredSessions(idleBefore: .max, createdBefore: .max)
        let salt = PageSessions.randomHex(bytes: 16)
        try await warehouse.saveSetting(Self.sessionTokenKey, value: salt + ":" + Self.fingerprint(adminToken, salt: salt), at: clock.now())
        return ended > 0
    }

    static func fingerprint(_ token: String, salt: String) -> String {
        PageSessions.hash(salt + ":" + token)
    }
}
