import PipelineTesting
import Testing
import Warehouse

struct SQLiteWarehouseConformanceTests {
    @Test(arguments: WarehouseConformance.checks)
    func sqlite(check: ConformanceCheck<any Warehouse>) async throws {
        let folder = try TemporaryDirectory("warehouse")
        defer { folder.remove() }
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        try await check.run(warehouse)
    }

    @Test func anUnwritableLocationIsAClearError() {
        #expect(throws: WarehouseError.self) { try SQLiteWarehouse(path: "/proc/definitely/not/here.sqlite") }
    }
}

struct SQLiteSessionStoreConformanceTests {
    @Test(arguments: SessionStoreConformance.checks)
    func sqlite(check: ConformanceCheck<any SessionStore>) async throws {
        let folder = try TemporaryDirectory("sessions")
        defer { folder.remove() }
        let warehouse = try SQLiteWarehouse(path: folder.path + "/warehouse.sqlite")
        try await warehouse.migrate()
        try await check.run(warehouse)
    }
}
