public import PipelineTesting
public import WarehouseMySQL

/// The MySQL warehouse runs SQL it is given, for the conformance suite's reads of what the protocol only writes.
extension MySQLWarehouse: SQLRunningWarehouse {}
