import Testing
import WarehouseMySQL

/// Malformed `mysql://` URLs: a typed error, never a trap, and never the password in the message.
struct MySQLURLTests {
    @Test(arguments: [
        "mysql:/u:PASSWORD@host/db",
        "mysql//u:PASSWORD@host/db",
        "mysql:u:PASSWORD@host/db",
        "u:PASSWORD@host/db",
        "mysql://u:PASSWORD/db",
        "mysql://u:PASSWORD",
        "mysql://u:PASSWORD@",
        "mysql://u:PASSWORD@host",
        "mysql://u:PASS:WORD@host:port/db",
        "my$ql://u:PASSWORD@host/db",
        "mysql://u:PASSWORD@host/db-name?tls=maybe",
        "mysql://u:PASS%zzWORD@host/db",
        "mysql://a@h/db:PASSWORD@x",
    ])
    func malformedURLsNeverShowThePassword(url: String) {
        #expect(!MySQLConfiguration.redacted(url).contains("PASSWORD"), "\(MySQLConfiguration.redacted(url))")
        #expect(!MySQLConfiguration.redacted(url).contains("WORD"))
        #expect {
            try MySQLConfiguration(url: url)
        } throws: { error in
            let text = "\(error)"
            return !text.contains("PASSWORD") && !text.contains("WORD") && text.contains("expected mysql://user@host:3306/database")
        }
    }

    @Test func aCombiningMarkAfterADelimiterDoesNotHideIt() throws {
        // `@\u{6EB}` is one Character, not "@": splitting by Character showed the password (found by the fuzzer).
        let found = "maria\u{FFFD}<://ap@\u{FFFD}0ria\u{FFFD}<://ap@8/ms\u{1}\u{FFFD}:§§@\u{6EB}as="
        #expect(!MySQLConfiguration.redacted(found).contains("§"))
        #expect(MySQLConfiguration.redacted("mysql://u:secret@\u{301}h/db") == "mysql://u:[redacted]@\u{301}h/db")
        // Parsing splits by byte too, so the password is not read as part of the user name (which errors show).
        let configuration = try MySQLConfiguration(url: "mysql://u:\u{301}secret@h/db")
        #expect(configuration.user == "u" && configuration.password == "\u{301}secret")
        #expect(!configuration.description.contains("secret"))
        #expect(throws: MySQLConfigurationError.self) { try MySQLConfiguration(url: "mysql://u:secret@\u{301}h:x/db") }
    }

    @Test func redactionKeepsWhatHelpsFindTheMistake() {
        #expect(MySQLConfiguration.redacted("mysql://a:secret@h:x/db") == "mysql://a:[redacted]@h:x/db")
        #expect(MySQLConfiguration.redacted("mysql:/u:secret@host/db") == "[redacted]@host/db")
        #expect(MySQLConfiguration.redacted("mysql//u:secret@host/db") == "[redacted]@host/db")
        #expect(MySQLConfiguration.redacted("mysql://u:secret/db") == "mysql://u:[redacted]/db")
        #expect(MySQLConfiguration.redacted("mysql://app@db.example.com/market") == "mysql://app@db.example.com/market")
        #expect(MySQLConfiguration.redacted("sqlite3.db") == "sqlite3.db")
    }

    @Test(arguments: ["mysql://a@h/db?=", "mysql://a@h/db?=x", "mysql://a@h/db?&&=&", "mysql://a@h/db?tls"])
    func optionsWithoutANameAreErrorsNotTraps(url: String) {
        // `?=` split into no parts at all and indexing the first one trapped.
        #expect(throws: MySQLConfigurationError.self) { try MySQLConfiguration(url: url) }
    }

    @Test func percentEscapesNeedTwoHexDigits() throws {
        #expect(throws: MySQLConfigurationError.self) { try MySQLConfiguration(url: "mysql://a:%+5@h/db") }
        #expect(throws: MySQLConfigurationError.self) { try MySQLConfiguration(url: "mysql://a:%-0@h/db") }
        #expect(try MySQLConfiguration(url: "mysql://a:%41%7a@h/db").password == "Az")
    }
}
