import Foundation

/// Why a stream connection could not be made, before any frame was exchanged.
public struct WebSocketConnectError: Error, CustomStringConvertible {
    public let url: String
    public let reason: String
    public var description: String { "cannot open the stream connection \(url): \(reason)" }
}

/// The parts of a `ws://` or `wss://` URL a connection needs: where to connect and what to send in the upgrade request.
///
/// Kept apart from the connection (no NIO here) so that the `stream-url` fuzz target can read any text with it.
public struct WebSocketTarget: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var secure: Bool
    /// Path and query, as sent in the request line.
    public var requestTarget: String
    /// The `Host` header (the port only when it is not the scheme's own), also the `Origin`'s authority.
    public var hostHeader: String

    public init(url: String) throws(WebSocketConnectError) {
        guard let components = URLComponents(string: url), let scheme = components.scheme?.lowercased(),
            scheme == "ws" || scheme == "wss", var host = components.host
        else { throw WebSocketConnectError(url: url, reason: "not a ws:// or wss:// URL with a host") }
        // `URLComponents` keeps IPv6 literals bracketed in `host` on some platforms and not on others.
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        // Host names and address literals only, after percent-decoding (`%5B` is a bracket): what goes into a header
        // must not carry a line break or a space, nor a character that would read as another part of the URL.
        guard !host.isEmpty, host.unicodeScalars.allSatisfy(host.contains(":") ? Self.isIPv6Character : Self.isHostNameCharacter)
        else {
            throw WebSocketConnectError(url: url, reason: "the host is empty or not a host name or address")
        }
        secure = scheme == "wss"
        let defaultPort = secure ? 443 : 80
        let port = components.port ?? defaultPort
        guard (1...65_535).contains(port) else { throw WebSocketConnectError(url: url, reason: "the port is not 1-65535") }
        self.host = host
        self.port = port
        let path = components.percentEncodedPath.isEmpty ? "/" : components.percentEncodedPath
        requestTarget = components.percentEncodedQuery.map { path + "?" + $0 } ?? path
        // The request line is `GET <target> HTTP/1.1`: a space or line break in it would end it early.
        guard requestTarget.hasPrefix("/"), requestTarget.unicodeScalars.allSatisfy(Self.isPrintable) else {
            throw WebSocketConnectError(url: url, reason: "the path is not a printable request target")
        }
        let shownHost = host.contains(":") ? "[\(host)]" : host
        hostHeader = port == defaultPort ? shownHost : "\(shownHost):\(port)"
    }

    /// The same address as one URL, with the scheme in lower case (as swift-websocket's client compares it).
    public var url: String { (secure ? "wss://" : "ws://") + hostHeader + requestTarget }

    /// Whether the host is an IPv6 address, which swift-websocket's own URL reading cannot take.
    public var isIPv6: Bool { host.contains(":") }

    /// The URL a connection opens: `<base>/stream?streams=a/b/c` (without the query when there are no streams).
    public static func streamURL(base: String, streams: [String]) -> String {
        var url = base.hasSuffix("/") ? String(base.dropLast()) : base
        url += "/stream"
        if !streams.isEmpty { url += "?streams=" + streams.joined(separator: "/") }
        return url
    }

    /// Letters, digits, `-`, `.` and `_`: host names and IPv4 addresses.
    static func isHostNameCharacter(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."z", "A"..."Z", "0"..."9", "-", ".", "_": true
        default: false
        }
    }

    /// Hex digits, `:` and `.` (an IPv4 tail): IPv6 addresses, without a zone (`%eth0`).
    static func isIPv6Character(_ scalar: Unicode.Scalar) -> Bool {
        switch scalar {
        case "a"..."f", "A"..."F", "0"..."9", ":", ".": true
        default: false
        }
    }

    /// Visible ASCII: no space, no control character.
    static func isPrintable(_ scalar: Unicode.Scalar) -> Bool { scalar.value > 32 && scalar.value < 127 }

    /// Whether `text` is a stream address `run --stream-url` accepts: a ``WebSocketTarget`` (`ws://` or `wss://`, a
    /// host, a port 1–65535, a path) with no credentials, query or fragment (the connection adds `/stream?streams=…`),
    /// visible ASCII only and at most 2,048 bytes.
    public static func isStreamBaseURL(_ text: String) -> Bool {
        guard text.utf8.count <= 2_048, text.unicodeScalars.allSatisfy({ isPrintable($0) && !"@?#".unicodeScalars.contains($0) })
        else { return false }
        do {
            _ = try WebSocketTarget(url: text)
            return true
        } catch {
            return false
        }
    }
}
