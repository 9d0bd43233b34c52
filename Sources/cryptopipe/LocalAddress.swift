import Foundation
import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `--source-address`: an IP address literal (read by NIO's `SocketAddress`) and whether this machine has it.
enum LocalAddress {
    static let allowed = Set("0123456789abcdefABCDEF.:".unicodeScalars)

    /// `nil` unless `text` is a plain address literal: digits, hex digits, dots and colons only (no zone, no port, and
    /// nothing a C string would cut short), and not the unspecified address (`0.0.0.0`, `::`), which names no address.
    static func parse(_ text: String) -> SocketAddress? {
        guard !text.isEmpty, text.utf8.count <= 64, text.unicodeScalars.allSatisfy({ allowed.contains($0) }),
            let address = try? SocketAddress(ipAddress: text, port: 0), !["0.0.0.0", "::"].contains(address.ipAddress)
        else { return nil }
        return address
    }

    #if canImport(Glibc)
    static let streamSocketType = Int32(SOCK_STREAM.rawValue)
    #else
    static let streamSocketType = SOCK_STREAM
    #endif

    /// Why a socket cannot be bound to `address` (on any port), or `nil` when it can: the address is this machine's.
    static func bindFailure(_ address: SocketAddress) -> String? {
        let socket = Foundation.socket(Int32(address.protocol.rawValue), streamSocketType, 0)
        guard socket >= 0 else { return String(cString: strerror(errno)) }
        defer { close(socket) }
        let result = address.withSockAddr { Foundation.bind(socket, $0, socklen_t($1)) }
        return result == 0 ? nil : String(cString: strerror(errno))
    }
}
