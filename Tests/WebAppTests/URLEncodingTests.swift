import HTTPTypes
import Hummingbird
import MarketData
import Testing

@testable import WebApp

/// The query-string decoder and the query validators (fuzzed by `query` and `form-cookie`), and how forms and cookies
/// are read through Hummingbird's decoders.
struct URLEncodingTests {
    @Test func fieldsDecodeInOrder() {
        let fields = URLEncodedForm.fields("q=caf%C3%A9+cr%e8me&x=%zz&y=%4&&=v&flag&a%2Bb=1%3D2")
        #expect(fields.map(\.name) == ["q", "x", "y", "", "flag", "a+b"])
        // Invalid escapes stay literal; the lone Latin-1 byte %e8 is not UTF-8 and becomes U+FFFD.
        #expect(fields.map(\.value) == ["café cr\u{FFFD}me", "%zz", "%4", "v", "", "1=2"])
    }

    @Test func theFirstValueIsTheQueryParameterAndTheLastTheFormField() {
        #expect(URLEncodedForm.firstValue("interval", in: "interval=1h&interval=1d") == "1h")
        #expect(URLEncodedForm.firstValue("limit", in: "interval=1h") == nil)
        #expect(URLEncodedForm.firstValue("flag", in: "flag") == "")
    }

    @Test func theDecoderIsBounded() {
        let many = (0..<500).map { "f\($0)=\($0)" }.joined(separator: "&")
        let fields = URLEncodedForm.fields(many)
        #expect(fields.count == URLEncodedForm.maximumFields && fields.last?.name == "f99")
        let long = "a=" + String(repeating: "x", count: 100_000) + "&b=1"
        let read = URLEncodedForm.fields(long)
        #expect(read.count == 1 && read[0].value.utf8.count == URLEncodedForm.maximumInputBytes - 2)
        #expect(URLEncodedForm.firstValue("b", in: long) == nil)
    }

    @Test func formsAndCookiesAreReadByHummingbird() throws {
        #expect(
            try FormData.decode("token=s3cr%2Bt&next=%2Fsymbols%2FBTCUSDT&note=a+b")
                == ["token": "s3cr+t", "next": "/symbols/BTCUSDT", "note": "a b"])
        // Bracketed names would nest the decoder once per bracket: refused before it runs, as a 400.
        let deep = "a" + String(repeating: "[x]", count: 20_000) + "=1"
        for hostile in [deep, "a%5Bb%5D=1", "a[]=1", "a=1&a=2"] {
            #expect(throws: APIError.self, "\(hostile.prefix(20))") { try FormData.decode(hostile) }
        }
        func request(cookie: String) -> Request {
            Request(
                head: HTTPRequest(method: .get, scheme: "http", authority: "localhost", path: "/", headerFields: [.cookie: cookie]),
                body: RequestBody(buffer: ByteBuffer()))
        }
        #expect(FormData.cookie("sid", in: request(cookie: "theme=dark; sid=abc123; other=1")) == "abc123")
        #expect(FormData.cookie("sid", in: request(cookie: "xsid=1; sidx=2")) == nil)
        #expect(FormData.cookie("sid", in: request(cookie: ";;;=;")) == nil)
    }

    @Test func queryValuesAreValidatedPurely() {
        #expect(QueryValue.integer("20", in: 1...5_000) == 20)
        #expect(QueryValue.integer("0", in: 1...5_000) == nil && QueryValue.integer("1e3", in: 1...5_000) == nil)
        #expect(QueryValue.integer("99999999999999999999", in: 1...5_000) == nil)
        #expect(QueryValue.servedInterval("1h") == .oneHour && QueryValue.servedInterval("1M") == .oneMonth)
        #expect(QueryValue.servedInterval("1s") == nil && QueryValue.servedInterval("1W") == nil && QueryValue.servedInterval("15M") == nil)
        #expect(QueryValue.time("2024-01-01T00:10:00Z") == 1_704_067_800_000)
        #expect(QueryValue.time("99999999999999999999") == nil && QueryValue.time("1969-12-31") == nil)
        // `+02:00` typed into an address bar arrives with the `+` decoded to a space.
        let offset = URLEncodedForm.firstValue("start", in: "start=2024-01-01T10:00:00+02:00") ?? ""
        #expect(offset == "2024-01-01T10:00:00 02:00")
        #expect(QueryValue.time(offset) == 1_704_096_000_000)
        #expect(QueryValue.time("2024-01-01 10:00:00 02:00") == 1_704_096_000_000)
        #expect(QueryValue.time("2024-01-01 10:00") == 1_704_103_200_000)
    }
}
