public import DataLake
public import Exchange
public import Warehouse

/// A pipeline step that failed, wrapping the component's typed error.
public enum PipelineError: Error, Sendable, CustomStringConvertible {
    case exchange(ExchangeError)
    case lake(ObjectStoreError)
    case warehouse(WarehouseError)

    public var description: String {
        switch self {
        case .exchange(let error): "\(error)"
        case .lake(let error): "data lake: \(error)"
        case .warehouse(let error): "\(error)"
        }
    }
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
