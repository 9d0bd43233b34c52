import Crypto
import Foundation
import HTTPTypes
import Hummingbird

/// Sign-in for the pages: the admin token, entered once, becomes an HttpOnly, SameSite=Strict cookie holding an HMAC
/// derived from it (never the token itself); forms carry a second HMAC as their anti-forgery field.
struct PageSession: Sendable {
    static let cookieName = "cryptopipe_session"
    let adminToken: String?

    var isEnabled: Bool { adminToken != nil }

    private func derive(_ purpose: String) -> String? {
        guard let adminToken else { return nil }
        let key = SymmetricKey(data: Data(adminToken.utf8))
        let code = HMAC<SHA256>.authenticationCode(for: Data("cryptopipe \(purpose) v1".utf8), using: key)
        return code.map { String(format: "%02x", $0) }.joined()
    }

    var cookieValue: String? { derive("session") }
    /// The hidden `csrf` field of every form that changes something.
    var formToken: String? { derive("form") }

    func isSignedIn(_ request: Request) -> Bool {
        guard let expected = cookieValue, let presented = FormData.cookie(Self.cookieName, in: request) else { return false }
        return constantTimeEquals(presented, expected)
    }

    /// Whether the token typed into the sign-in form is the admin token.
    func accepts(token: String) -> Bool {
        guard let adminToken else { return false }
        return constantTimeEquals(token, adminToken)
    }

    /// Signed in and the form's anti-forgery field matches.
    func authorizes(_ request: Request, form: [String: String]) -> Bool {
        guard isSignedIn(request), let expected = formToken, let presented = form["csrf"] else { return false }
        return constantTimeEquals(presented, expected)
    }

    func signInHeaders() -> HTTPFields {
        var fields = HTTPFields()
        if let value = cookieValue {
            fields[.setCookie] = "\(Self.cookieName)=\(value); Path=/; HttpOnly; SameSite=Strict; Max-Age=2592000"
        }
        return fields
    }

    static func signOutHeaders() -> HTTPFields {
        var fields = HTTPFields()
        fields[.setCookie] = "\(cookieName)=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        return fields
    }
}
