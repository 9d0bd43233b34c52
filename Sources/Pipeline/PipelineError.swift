public import DataLake
public import Exchange
public import Warehouse

/// A pipeline step that failed: which component (``code``) and its typed error.
///
/// A struct over a private set of kinds (the pattern of Hummingbird's `HTTPError`), so a new component does not break
/// callers; the component's own error stays available for its detail.
public struct PipelineError: Error, Sendable, CustomStringConvertible {
    public struct Code: Sendable, Hashable, CustomStringConvertible {
        private enum Base: String, Sendable, Hashable {
            case exchange, lake, warehouse
        }
        private let base: Base
        private init(_ base: Base) { self.base = base }

        public static let exchange = Code(.exchange)
        public static let lake = Code(.lake)
        public static let warehouse = Code(.warehouse)

        public var description: String { base.rawValue }
    }

    public let code: Code
    /// The component's error: an ``ExchangeError``, ``ObjectStoreError`` or ``WarehouseError``.
    public let underlying: any Error & Sendable

    private init(_ code: Code, _ underlying: any Error & Sendable) {
        self.code = code
        self.underlying = underlying
    }

    public static func exchange(_ error: ExchangeError) -> PipelineError { PipelineError(.exchange, error) }
    public static func lake(_ error: ObjectStoreError) -> PipelineError { PipelineError(.lake, error) }
    public static func warehouse(_ error: WarehouseError) -> PipelineError { PipelineError(.warehouse, error) }

    public var exchangeError: ExchangeError? { underlying as? ExchangeError }
    public var lakeError: ObjectStoreError? { underlying as? ObjectStoreError }
    public var warehouseError: WarehouseError? { underlying as? WarehouseError }

    public var description: String { code == .lake ? "data lake: \(underlying)" : "\(underlying)" }
}

func wrap<T>(_ body: () async throws(ExchangeError) -> T) async throws(PipelineError) -> T {
    do { return try await body() } catch { throw .exchange(error) }
}

func wrap<T>(_ body: () async throws(ObjectStoreError) -> T) async throws(PipelineError) -> T {
    do { return try await body() } catch { throw .lake(error) }
}

func wrap<T>(_ body: () async throws(WarehouseError) -> T) async throws(PipelineError) -> T {
    do { return try await body() } catch { throw .warehouse(error) }
}
