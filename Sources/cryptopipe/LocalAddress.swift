import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// An IPv4 or IPv6 address literal (`--source-address`), and whether this machine has it.
struct LocalAddress {
    enum Value {
        case v4(in_addr)
        case v6(in6_addr)
    }

    let value: Value

    /// `nil` unless `text` is a plain address literal: digits, hex digits, dots and colons only (no zone, no port, and
    /// nothing a C string would cut short), and not the unspecified address (`0.0.0.0`, `::`), which names no address.
    init?(_ text: String) {
        guard !text.isEmpty, text.utf8.count <= 64, text.unicodeScalars.allSatisfy({ Self.allowed.contains($0) }) else { return nil }
        var v4 = in_addr()
        var v6 = in6_addr()
        if inet_pton(AF_INET, text, &v4) == 1 {
            guard v4.s_addr != 0 else { return nil }
            value = .v4(v4)
        } else if inet_pton(AF_INET6, text, &v6) == 1 {
            guard withUnsafeBytes(of: &v6, { $0.contains { $0 != 0 } }) else { return nil }
            value = .v6(v6)
        } else {
            return nil
        }
    }

    static let allowed = Set("0123456789abcdefABCDEF.:".unicodeScalars)

    #if canImport(Glibc)
    static let streamSocketType = Int32(SOCK_STREAM.rawValue)
    #else
    static let streamSocketType = SOCK_STREAM
    #endif

    /// Why a socket cannot be bound to this address (on any port), or `nil` when it can: the address is this machine's.
    func bindFailure() -> String? {
        let domain =
            switch value {
            case .v4: AF_INET
            case .v6: AF_INET6
            }
        let socket = Foundation.socket(domain, Self.streamSocketType, 0)
        guard socket >= 0 else { return String(cString: strerror(errno)) }
        defer { close(socket) }
        let result: Int32
        switch value {
        case .v4(let address):
            var socketAddress = sockaddr_in()
            socketAddress.sin_family = sa_family_t(AF_INET)
            socketAddress.sin_addr = address
            #if canImport(Darwin)
            socketAddress.sin_len = UInt8(MemoryLayout<sockaddr_in>.size)
            #endif
            result = Self.bind(socket, to: &socketAddress)
        case .v6(let address):
            var socketAddress = sockaddr_in6()
            socketAddress.sin6_family = sa_family_t(AF_INET6)
            socketAddress.sin6_addr = address
            #if canImport(Darwin)
            socketAddress.sin6_len = UInt8(MemoryLayout<sockaddr_in6>.size)
            #endif
            result = Self.bind(socket, to: &socketAddress)
        }
        return result == 0 ? nil : String(cString: strerror(errno))
    }

    /// `bind(2)` with a `sockaddr_in` or `sockaddr_in6`.
    private static func bind<SocketAddress>(_ socket: Int32, to address: inout SocketAddress) -> Int32 {
        withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Foundation.bind(socket, $0, socklen_t(MemoryLayout<SocketAddress>.size))
            }
        }
    }
}
