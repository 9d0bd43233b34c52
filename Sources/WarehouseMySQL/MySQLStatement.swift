import CMariaDB

/// A server-side prepared statement (binary protocol): parameters are bound, never spliced into SQL text.
public final class MySQLStatement {
    let handle: OpaquePointer
    let sql: String
    let parameterCount: Int

    init(connection: OpaquePointer, sql: String) throws(MySQLError) {
        let operation = "prepare \(MySQLConnection.summary(sql))"
        guard let handle = mysql_stmt_init(connection) else {
            throw MySQLError(
                code: mysql_errno(connection), message: String(cString: mysql_error(connection)), operation: operation)
        }
        let status = sql.withCString { mysql_stmt_prepare(handle, $0, UInt(sql.utf8.count)) }
        guard status == 0 else {
            let error = Self.error(handle, operation)
            mysql_stmt_close(handle)
            throw error
        }
        // Field max_length after store_result sizes the result buffers exactly.
        var on: my_bool = 1
        mysql_stmt_attr_set(handle, STMT_ATTR_UPDATE_MAX_LENGTH, &on)
        self.handle = handle
        self.sql = sql
        self.parameterCount = Int(mysql_stmt_param_count(handle))
    }

    deinit { mysql_stmt_close(handle) }

    static func error(_ handle: OpaquePointer, _ operation: String) -> MySQLError {
        MySQLError(
            code: mysql_stmt_errno(handle), sqlState: String(cString: mysql_stmt_sqlstate(handle)),
            message: String(cString: mysql_stmt_error(handle)), operation: operation)
    }

    var operation: String { "run \(MySQLConnection.summary(sql))" }

    /// Binds and executes; returns the affected rows.
    func execute(_ parameters: MySQLParameters) throws(MySQLError) -> Int {
        try bindAndExecute(parameters)
        return Int(mysql_stmt_affected_rows(handle))
    }

    /// Binds, executes and reads every row as text.
    func query(_ parameters: MySQLParameters) throws(MySQLError) -> MySQLRows {
        try bindAndExecute(parameters)
        defer { mysql_stmt_free_result(handle) }
        guard let metadata = mysql_stmt_result_metadata(handle) else { return MySQLRows(columnCount: 0) }
        defer { mysql_free_result(metadata) }
        guard mysql_stmt_store_result(handle) == 0 else { throw Self.error(handle, operation) }
        let columnCount = Int(mysql_num_fields(metadata))
        var rows = MySQLRows(columnCount: columnCount)
        guard columnCount > 0, let fields = mysql_fetch_fields(metadata) else { return rows }
        var capacities: [Int] = []
        for column in 0..<columnCount { capacities.append(max(Int(fields[column].max_length), 1) + 1) }
        let buffer = UnsafeMutableRawPointer.allocate(byteCount: capacities.reduce(0, +), alignment: 8)
        defer { buffer.deallocate() }
        var binds = [MYSQL_BIND](repeating: MYSQL_BIND(), count: columnCount)
        var lengths = [UInt](repeating: 0, count: columnCount)
        var nulls = [my_bool](repeating: 0, count: columnCount)
        var errors = [my_bool](repeating: 0, count: columnCount)
        return try lengths.withUnsafeMutableBufferPointer { lengths throws(MySQLError) in
            try nulls.withUnsafeMutableBufferPointer { nulls throws(MySQLError) in
                try errors.withUnsafeMutableBufferPointer { errors throws(MySQLError) in
                    var offset = 0
                    for column in 0..<columnCount {
                        binds[column].buffer_type = MYSQL_TYPE_STRING
                        binds[column].buffer = buffer + offset
                        binds[column].buffer_length = UInt(capacities[column])
                        binds[column].length = lengths.baseAddress! + column
                        binds[column].is_null = nulls.baseAddress! + column
                        binds[column].error = errors.baseAddress! + column
                        offset += capacities[column]
                    }
                    guard mysql_stmt_bind_result(handle, &binds) == 0 else { throw Self.error(handle, operation) }
                    rows.bytes.reserveCapacity(Int(mysql_stmt_num_rows(handle)) * 16 * columnCount)
                    rows.spans.reserveCapacity(Int(mysql_stmt_num_rows(handle)) * 2 * columnCount)
                    while true {
                        let status = mysql_stmt_fetch(handle)
                        if status == MYSQL_NO_DATA { break }
                        guard status == 0 || status == MYSQL_DATA_TRUNCATED else { throw Self.error(handle, operation) }
                        for column in 0..<columnCount {
                            if nulls[column] != 0 {
                                rows.spans.append(rows.bytes.count)
                                rows.spans.append(-1)
                                continue
                            }
                            let length = Int(lengths[column])
                            rows.spans.append(rows.bytes.count)
                            rows.spans.append(length)
                            if length < capacities[column] {
                                let start = (binds[column].buffer)!.assumingMemoryBound(to: UInt8.self)
                                rows.bytes.append(contentsOf: UnsafeBufferPointer(start: start, count: length))
                            } else {
                                // Longer than the buffer (max_length is a hint for converted numbers): fetch it whole.
                                try fetchWhole(column: column, length: length, into: &rows.bytes)
                            }
                        }
                    }
                    return rows
                }
            }
        }
    }

    private func fetchWhole(column: Int, length: Int, into bytes: inout [UInt8]) throws(MySQLError) {
        let whole = UnsafeMutableRawPointer.allocate(byteCount: length + 1, alignment: 8)
        defer { whole.deallocate() }
        var bind = MYSQL_BIND()
        var actual: UInt = 0
        bind.buffer_type = MYSQL_TYPE_STRING
        bind.buffer = whole
        bind.buffer_length = UInt(length + 1)
        let status = withUnsafeMutablePointer(to: &actual) { actualPointer in
            bind.length = actualPointer
            return mysql_stmt_fetch_column(handle, &bind, UInt32(column), 0)
        }
        guard status == 0 else { throw Self.error(handle, operation) }
        bytes.append(contentsOf: UnsafeBufferPointer(start: whole.assumingMemoryBound(to: UInt8.self), count: min(Int(actual), length)))
    }

    private func bindAndExecute(_ parameters: MySQLParameters) throws(MySQLError) {
        guard parameters.count == parameterCount else {
            throw .ours("\(parameters.count) parameters given, the statement has \(parameterCount)", operation: operation)
        }
        guard parameterCount > 0 else {
            guard mysql_stmt_execute(handle) == 0 else { throw Self.error(handle, operation) }
            return
        }
        var binds = [MYSQL_BIND](repeating: MYSQL_BIND(), count: parameterCount)
        var lengths = [UInt](repeating: 0, count: parameterCount)
        var integers = parameters.integers
        var bytes = parameters.bytes
        if bytes.isEmpty { bytes.append(0) }
        var isNull: my_bool = 1
        let status = lengths.withUnsafeMutableBufferPointer { lengths in
            integers.withUnsafeMutableBufferPointer { integers in
                bytes.withUnsafeMutableBufferPointer { bytes in
                    withUnsafeMutablePointer(to: &isNull) { isNull in
                        for (index, slot) in parameters.slots.enumerated() {
                            switch slot {
                            case .null:
                                binds[index].buffer_type = MYSQL_TYPE_NULL
                                binds[index].is_null = isNull
                            case .integer(let position):
                                binds[index].buffer_type = MYSQL_TYPE_LONGLONG
                                binds[index].buffer = UnsafeMutableRawPointer(integers.baseAddress! + position)
                            case .text(let start, let length), .decimal(let start, let length):
                                if case .decimal = slot {
                                    binds[index].buffer_type = MYSQL_TYPE_NEWDECIMAL
                                } else {
                                    binds[index].buffer_type = MYSQL_TYPE_STRING
                                }
                                binds[index].buffer = UnsafeMutableRawPointer(bytes.baseAddress! + start)
                                binds[index].buffer_length = UInt(length)
                                lengths[index] = UInt(length)
                                binds[index].length = lengths.baseAddress! + index
                            }
                        }
                        guard mysql_stmt_bind_param(handle, &binds) == 0 else { return Int32(-1) }
                        return mysql_stmt_execute(handle)
                    }
                }
            }
        }
        guard status == 0 else { throw Self.error(handle, operation) }
    }
}
