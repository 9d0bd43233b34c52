import Crypto
public import Foundation
public import MarketData
import ZIPFoundation

/// Writes k-lines the way data.binance.vision publishes them: `SYMBOL-1m-DATE.zip` holding one headerless CSV,
/// with a `.CHECKSUM` sidecar. Used by tests and the import benchmark.
public enum DumpWriter {
    /// Writes one zip (and its checksum) into `folder`; returns the zip's path.
    @discardableResult
    public static func writeZip(
        _ klines: [Kline], symbol: Symbol, name: String, into folder: String, microseconds: Bool = false, checksum: Bool = true
    ) throws -> String {
        let stem = "\(symbol)-1m-\(name)"
        let zipPath = (folder as NSString).appendingPathComponent("\(stem).zip")
        try? FileManager.default.removeItem(atPath: zipPath)
        let archive = try Archive(url: URL(fileURLWithPath: zipPath), accessMode: .create)
        let payload = Data(csv(klines, microseconds: microseconds))
        try archive.addEntry(with: "\(stem).csv", type: .file, uncompressedSize: Int64(payload.count), compressionMethod: .deflate) {
            position, size in payload.subdata(in: Int(position)..<Int(position) + size)
        }
        if checksum {
            let zipped = try Data(contentsOf: URL(fileURLWithPath: zipPath))
            try Data("\(sha256(zipped))  \(stem).zip\n".utf8).write(to: URL(fileURLWithPath: zipPath + ".CHECKSUM"))
        }
        return zipPath
    }

    /// The dump's CSV text; `microseconds` writes times as the spot dumps from 2025 on do.
    public static func csv(_ klines: [Kline], microseconds: Bool = false) -> [UInt8] {
        var bytes: [UInt8] = []
        bytes.reserveCapacity(klines.count * 140)
        for kline in klines {
            var row = kline
            if microseconds {
                row.openTime *= 1_000
                row.closeTime = row.closeTime * 1_000 + 999
            }
            KlineCSV.appendRow(row, to: &bytes)
        }
        return bytes
    }

    public static func sha256(_ data: Data) -> String { SHA256.hash(data: data).map { String(format: "%02x", $0) }.joined() }
}
