// Fuzz target `mysql-url`: MySQLConfiguration(url:) (one server or a comma-separated list) and
// MySQLConfiguration.redacted(_:).
// Besides totality: a password in the input never appears in an error or in the redacted text, and a parsed
// configuration's description holds no password and parses back to the same server.
// Built with Sources/WarehouseMySQL/MySQLConfiguration.swift.
//
// Input: either a whole URL, or `A \0 P \0 B`, which is tried as the URL `A:§P§@B` with the password `§P§` (the `§`s
// keep the password from matching the error's own wording). A may not contain `?` (a `?` before the password
// makes it part of the options, not the credentials) and neither A nor B may contain the password.

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafeRawPointer, _ count: Int) -> CInt {
    let bytes = UnsafeBufferPointer(start: data.assumingMemoryBound(to: UInt8.self), count: count)
    let parts = bytes.split(separator: 0, maxSplits: 2, omittingEmptySubsequences: false)
    if parts.count == 3 {
        let before = String(decoding: parts[0], as: UTF8.self)
        let password = "§" + String(decoding: parts[1], as: UTF8.self) + "§"
        let after = String(decoding: parts[2], as: UTF8.self)
        let url = before + ":" + password + "@" + after
        if !before.utf8.contains(UInt8(ascii: "?")), !shows(before, password), !shows(after, password),
            !password.utf8.contains(UInt8(ascii: "@"))
        {
            check(url, password: password)
        } else {
            check(url, password: nil)
        }
    } else {
        check(String(decoding: bytes, as: UTF8.self), password: nil)
    }
    return 0
}

func check(_ url: String, password: String?) {
    let redacted = MySQLConfiguration.redacted(url)
    if let password { precondition(!shows(redacted, password), "redacted(\(url)) shows the password: \(redacted)") }
    do {
        let configuration = try MySQLConfiguration(url: url)
        precondition(!configuration.user.isEmpty && !configuration.database.isEmpty && (1...64).contains(configuration.poolSize))
        precondition((1...MySQLConfiguration.maximumServers).contains(configuration.servers.count))
        precondition(configuration.servers.allSatisfy { !$0.host.isEmpty && (1...65_535).contains($0.port) })
        precondition(Set(configuration.servers).count == configuration.servers.count, "a server listed twice")
        // When the parser took the text as the password, the description does not show it. (With an `@` in A and a
        // `?` in P, the URL parses with P in the host, path and options instead, and then it is no password.)
        if let password, configuration.password?.contains("§") == true {
            precondition(!shows(configuration.description, password), "description shows the password")
        }
        // The description is the URL without its password: it parses back to the same servers (when the hosts are
        // plain; a host with `/`, `@`, `?` or brackets in it is not re-escaped).
        if !configuration.servers.contains(where: { $0.host.contains(where: { "/@?[]".contains($0) }) }),
            !configuration.user.contains(where: { "%:@/?".contains($0) }),
            !(configuration.certificateAuthorityPath ?? "").contains(where: { "%&+".contains($0) })
        {
            var expected = configuration
            expected.password = nil
            let again = try? MySQLConfiguration(url: configuration.description)
            precondition(again == expected, "\(url) → \(configuration.description) does not parse back")
        }
    } catch {
        if let password { precondition(!shows(error.description, password), "error shows the password: \(error.description)") }
        precondition(error.description.contains("expected mysql://user@host:3306/database"))
    }
}

/// Byte-wise containment: `String.contains` compares Characters, and a combining mark after the password would hide it.
func shows(_ text: String, _ password: String) -> Bool {
    Array(text.utf8).firstRange(of: Array(password.utf8)) != nil
}
