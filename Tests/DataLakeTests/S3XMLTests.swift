import Testing

@testable import DataLake

/// S3XMLElement on the documents S3 sends and on hostile ones (the `s3-xml` fuzz target's findings).
struct S3XMLTests {
    @Test func aListingPageReadsAsTheStoreWalksIt() throws {
        let page = try S3XMLElement.parse(
            Array(
                """
                <?xml version="1.0" encoding="UTF-8"?>
                <ListBucketResult xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><IsTruncated>true</IsTruncated>\
                <NextContinuationToken>1ueGcxLPRx1Tr/XYE=</NextContinuationToken>\
                <Contents><Key>a&amp;b &#x41;&#66;.json</Key><ETag>&quot;9b2c&quot;</ETag><Size>1834</Size></Contents>\
                <CommonPrefixes><Prefix>2024-01-01/</Prefix></CommonPrefixes><Empty/></ListBucketResult>
                """.utf8))
        #expect(page.name == "ListBucketResult" && page.value("IsTruncated") == "true")
        #expect(page.value("NextContinuationToken") == "1ueGcxLPRx1Tr/XYE=")
        let object = try #require(page.children("Contents").first)
        #expect(object.value("Key") == "a&b AB.json" && object.value("ETag") == "\"9b2c\"" && object.value("Size") == "1834")
        #expect(page.children("CommonPrefixes").compactMap { $0.value("Prefix") } == ["2024-01-01/"])
    }

    @Test func deepNestingIsAnErrorNotAStackOverflow() {
        let hostile = Array((String(repeating: "<a>", count: 200_000) + String(repeating: "</a>", count: 200_000)).utf8)
        #expect(throws: S3XMLError.self) { try S3XMLElement.parse(hostile) }
        let fine = Array((String(repeating: "<a>", count: 32) + "x" + String(repeating: "</a>", count: 32)).utf8)
        #expect(throws: Never.self) { try S3XMLElement.parse(fine) }
    }

    @Test(arguments: ["\"\u{301}", "<\u{301}", "&\u{301};", "a&b<c>d\"e'f", "&amp;", "é\r\n\t"])
    func escapedTextParsesBackUnchanged(text: String) throws {
        // A quote or `<` followed by a combining mark is one Character, and escaping by Character missed it.
        let escaped = S3XMLElement.escape(text)
        #expect(!escaped.utf8.contains(UInt8(ascii: "<")) && !escaped.utf8.contains(UInt8(ascii: "\"")))
        #expect(try S3XMLElement.parse(Array("<Key>\(escaped)</Key>".utf8)).text == text)
    }

    @Test(arguments: ["&#+65;", "&#x110000;", "&#xD800;", "&#;", "&#x;", "&#123456789;", "&nbsp;", "&amp"])
    func malformedReferencesAreErrors(entity: String) {
        #expect(throws: S3XMLError.self) { try S3XMLElement.parse(Array("<Key>\(entity)</Key>".utf8)) }
    }
}
