import CMariaDB
import CMariaDBReference
import Testing

/// The MySQL warehouse declares the part of Connector/C 3's ABI it uses (Sources/CMariaDB) instead of including
/// MariaDB's headers, so that building needs no MariaDB. These are the installed headers' own numbers for the same
/// layouts and constants: a difference would corrupt memory at run time, so it fails here first.
@Suite(.enabled(if: InstalledMariaDBHeaders.facts != nil, "MariaDB's headers (libmariadb-dev) are not installed"))
struct MariaDBDeclarationTests {
    static let ours: [String: Int] = {
        var facts: [String: Int] = [
            "sizeof(my_bool)": MemoryLayout<my_bool>.size,
            "sizeof(MYSQL_BIND)": MemoryLayout<MYSQL_BIND>.size,
            "sizeof(MYSQL_FIELD)": MemoryLayout<MYSQL_FIELD>.size,
        ]
        let bind: [(String, PartialKeyPath<MYSQL_BIND>)] = [
            ("length", \.length), ("is_null", \.is_null), ("buffer", \.buffer), ("error", \.error), ("buffer_length", \.buffer_length),
            ("offset", \.offset), ("length_value", \.length_value), ("flags", \.flags), ("pack_length", \.pack_length),
            ("buffer_type", \.buffer_type), ("error_value", \.error_value), ("is_unsigned", \.is_unsigned),
            ("long_data_used", \.long_data_used), ("is_null_value", \.is_null_value), ("extension", \.extension),
        ]
        for (name, path) in bind { facts["offsetof(MYSQL_BIND, \(name))"] = MemoryLayout<MYSQL_BIND>.offset(of: path) }
        let field: [(String, PartialKeyPath<MYSQL_FIELD>)] = [
            ("length", \.length), ("max_length", \.max_length), ("flags", \.flags), ("decimals", \.decimals),
            ("charsetnr", \.charsetnr), ("type", \.type), ("extension", \.extension),
        ]
        for (name, path) in field { facts["offsetof(MYSQL_FIELD, \(name))"] = MemoryLayout<MYSQL_FIELD>.offset(of: path) }
        let options: [(String, mysql_option)] = [
            ("MYSQL_OPT_CONNECT_TIMEOUT", MYSQL_OPT_CONNECT_TIMEOUT), ("MYSQL_SET_CHARSET_NAME", MYSQL_SET_CHARSET_NAME),
            ("MYSQL_OPT_READ_TIMEOUT", MYSQL_OPT_READ_TIMEOUT), ("MYSQL_OPT_WRITE_TIMEOUT", MYSQL_OPT_WRITE_TIMEOUT),
            ("MYSQL_OPT_RECONNECT", MYSQL_OPT_RECONNECT), ("MYSQL_OPT_SSL_VERIFY_SERVER_CERT", MYSQL_OPT_SSL_VERIFY_SERVER_CERT),
            ("MYSQL_OPT_SSL_CA", MYSQL_OPT_SSL_CA), ("MYSQL_OPT_SSL_ENFORCE", MYSQL_OPT_SSL_ENFORCE),
        ]
        for (name, value) in options { facts[name] = Int(value.rawValue) }
        let types: [(String, enum_field_types)] = [
            ("MYSQL_TYPE_NULL", MYSQL_TYPE_NULL), ("MYSQL_TYPE_LONGLONG", MYSQL_TYPE_LONGLONG),
            ("MYSQL_TYPE_NEWDECIMAL", MYSQL_TYPE_NEWDECIMAL), ("MYSQL_TYPE_STRING", MYSQL_TYPE_STRING),
        ]
        for (name, value) in types { facts[name] = Int(value.rawValue) }
        facts["STMT_ATTR_UPDATE_MAX_LENGTH"] = Int(STMT_ATTR_UPDATE_MAX_LENGTH.rawValue)
        facts["MYSQL_NO_DATA"] = Int(MYSQL_NO_DATA)
        facts["MYSQL_DATA_TRUNCATED"] = Int(MYSQL_DATA_TRUNCATED)
        return facts
    }()

    @Test func everyLayoutAndConstantIsTheInstalledHeaders() throws {
        let reference = try #require(InstalledMariaDBHeaders.facts)
        #expect(Set(reference.keys) == Set(Self.ours.keys))
        for (name, value) in reference.sorted(by: { $0.key < $1.key }) {
            #expect(Self.ours[name] == value, "\(name): ours \(Self.ours[name].map(String.init) ?? "missing"), MariaDB's \(value)")
        }
    }
}

/// The layouts and constants `<mariadb/mysql.h>` gives (Tests/CMariaDBReference), when it is installed.
enum InstalledMariaDBHeaders {
    static let facts: [String: Int]? = {
        var count: Int32 = 0
        guard let facts = cryptopipe_reference_facts(&count), count > 0 else { return nil }
        return Dictionary(
            uniqueKeysWithValues: UnsafeBufferPointer(start: facts, count: Int(count)).map { (String(cString: $0.name), Int($0.value)) })
    }()
}
