import DataLake
import Exchange
import HTTPTypes
import Hummingbird
import MarketData
import Pipeline
import Warehouse

/// Health, pipeline status and statistics, the ingestion log and gaps.
extension API {
    /// One component's state for health checks: `ok`, `down` or `unknown`, with a detail.
    struct ComponentStatus: Sendable {
        var name: String
        var status: String
        var detail: String?
    }

    /// Warehouse and lake are asked; the exchange is judged from this process's own requests (no extra calls). A
    /// failure's detail (a server's user@host, a path) goes to the log under `requestID`, never into the answer.
    func componentStatuses(at time: Int64, requestID: String) async -> [ComponentStatus] {
        var components: [ComponentStatus] = []
        let unreachable = "cannot be reached; the server's log has the detail under request id \(requestID)"
        do {
            try await services.warehouse.ping()
            components.append(ComponentStatus(name: "warehouse", status: "ok"))
        } catch {
            services.logger.error("health: the warehouse is down", metadata: ["http.request_id": "\(requestID)", "error": "\(error)"])
            components.append(ComponentStatus(name: "warehouse", status: "down", detail: "the warehouse " + unreachable))
        }
        do {
            _ = try await services.lake.listFolders(bucket: services.layout.rawBucket, prefix: "")
            components.append(ComponentStatus(name: "lake", status: "ok"))
        } catch {
            services.logger.error("health: the lake is down", metadata: ["http.request_id": "\(requestID)", "error": "\(error)"])
            components.append(ComponentStatus(name: "lake", status: "down", detail: "the lake " + unreachable))
        }
        let usage = services.exchangeUsage.snapshot
        if usage.isBanned(at: time) {
            components.append(
                ComponentStatus(
                    name: "exchange", status: "down",
                    detail: "IP banned by the exchange (HTTP 418) until \(UTCTime.iso8601(usage.bannedUntil ?? 0))"))
        } else if usage.isFailing {
            components.append(ComponentStatus(name: "exchange", status: "down", detail: usage.lastFailure))
        } else if usage.lastSuccessAt == nil {
            components.append(ComponentStatus(name: "exchange", status: "unknown", detail: "no request made yet by this process"))
        } else {
            components.append(
                ComponentStatus(
                    name: "exchange", status: "ok", detail: usage.usedWeight.map { "weight \($0) / \(usage.weightLimit) this minute" }))
        }
        return components
    }

    func health(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let checkedAt = now
        let components = await componentStatuses(at: checkedAt, requestID: requestID(of: request))
        let down = components.contains { $0.status == "down" }
        let schedulerRunning = await services.scheduler.isRunning
        return Response.json(status: down ? .serviceUnavailable : .ok) { json in
            json.object { json in
                json.key("status")
                json.string(down ? "down" : "ok")
                json.time("checked_at", "checked_at_iso", checkedAt)
                json.key("scheduler_running")
                json.bool(schedulerRunning)
                json.key("components")
                json.object { json in
                    for component in components {
                        json.key(dynamic: component.name)
                        json.object { json in
                            json.key("status")
                            json.string(component.status)
                            json.key("detail")
                            json.optionalString(component.detail)
                        }
                    }
                }
            }
        }
    }

    func pipelineStatus(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let generatedAt = now
        let overview = try await pipelineOverview(gaps: false)
        let usage = services.exchangeUsage.snapshot
        let streams = try await StreamStatus.load(from: services.warehouse)
        let cluster = try await WorkerCoordinator.overview(of: services.warehouse, at: generatedAt)
        return Response.json { json in
            json.object { json in
                json.time("generated_at", "generated_at_iso", generatedAt)
                json.key("symbols")
                json.array { json in
                    for state in overview.symbols {
                        json.object { json in
                            json.key("symbol")
                            json.string(state.symbol.rawValue)
                            json.key("klines")
                            json.object { json in
                                Self.writeExtraction(state.klines, to: &json)
                                json.time(
                                    "newest_closed_open_time", "newest_closed_open_time_iso", state.freshness.newestClosedOpenTime)
                                json.key("lag_seconds")
                                json.optionalInt(state.freshness.klineLagSeconds)
                            }
                            json.key("depth")
                            json.object { json in
                                Self.writeExtraction(state.depth, to: &json)
                                json.time("latest_captured_at", "latest_captured_at_iso", state.freshness.latestBookCapturedAt)
                                json.key("lag_seconds")
                                json.optionalInt(state.freshness.depthLagSeconds)
                            }
                        }
                    }
                }
                json.key("exchange")
                Self.write(usage, at: generatedAt, to: &json)
                json.key("exchange_clock")
                Self.write(overview.clockReading, to: &json)
                // `null` where no stream collector has run on this warehouse (`run --source rest`).
                json.key("streams")
                if let streams { streams.writeJSON(to: &json) } else { json.null() }
                json.key("workers")
                Self.write(cluster, to: &json)
            }
        }
    }

    /// Every worker seen in the last day, live or not, with the symbols and singleton jobs it holds.
    static func write(_ cluster: ClusterOverview, to json: inout JSONWriter) {
        json.array { json in
            for worker in cluster.workers {
                json.object { json in
                    json.key("id")
                    json.string(worker.record.id)
                    json.key("host")
                    json.string(worker.record.host)
                    json.key("process_id")
                    json.int(worker.record.processID)
                    json.key("live")
                    json.bool(worker.live)
                    json.time("started_at", "started_at_iso", worker.record.startedAt)
                    json.time("heartbeat_at", "heartbeat_at_iso", worker.record.heartbeatAt)
                    json.key("lease_seconds")
                    json.int(worker.record.leaseMilliseconds / 1_000)
                    json.key("symbols")
                    write(worker.symbols, named: "symbol", at: cluster.generatedAt, to: &json)
                    json.key("singleton_jobs")
                    write(worker.jobs, named: "job", at: cluster.generatedAt, to: &json)
                }
            }
        }
    }

    static func write(_ held: [ClusterOverview.Held], named key: StaticString, at now: Int64, to json: inout JSONWriter) {
        json.array { json in
            for item in held {
                json.object { json in
                    json.key(key)
                    json.string(item.name)
                    json.time("held_since", "held_since_iso", item.lease.acquiredAt)
                    json.key("lease_age_seconds")
                    let (age, overflow) = now.subtractingReportingOverflow(item.lease.acquiredAt)
                    json.int(overflow ? 0 : max(0, age / 1_000))
                    json.time("expires_at", "expires_at_iso", item.lease.expiresAt)
                }
            }
        }
    }

    /// The exchange's "now", for lags, with the clock reading it rests on: this process's own measurement, or the
    /// collector's from the warehouse in a process that does not collect.
    func exchangeTime() async throws(WarehouseError) -> (now: Int64, reading: ExchangeClock.Reading?) {
        let reading = try await services.exchangeClock.currentReading(from: services.warehouse)
        return (services.exchangeClock.now(), reading)
    }

    static func write(_ reading: ExchangeClock.Reading?, to json: inout JSONWriter) {
        guard let reading else { return json.null() }
        json.object { json in
            json.key("offset_ms")
            json.int(reading.offsetMilliseconds)
            json.key("round_trip_ms")
            json.int(reading.roundTripMilliseconds)
            json.time("measured_at", "measured_at_iso", reading.measuredAt)
            json.key("warning")
            json.optionalString(Self.clockWarning(reading))
        }
    }

    /// What the Pipeline page and the API say about an offset past ``ExchangeClock/alarmingOffsetMilliseconds``.
    static func clockWarning(_ reading: ExchangeClock.Reading) -> String? {
        guard reading.offsetMilliseconds.magnitude > ExchangeClock.alarmingOffsetMilliseconds.magnitude else { return nil }
        return ExchangeClockSync.describe(reading.offsetMilliseconds)
            + ": lags and finality follow the exchange's clock; check the machine's time sync (NTP) unless this is a replay"
    }

    static func writeExtraction(_ state: ExtractionState?, to json: inout JSONWriter) {
        json.time("last_fetch_time", "last_fetch_time_iso", state?.lastFetchTime)
        json.key("record_count")
        json.int(state?.recordCount ?? 0)
    }

    static func write(_ usage: ExchangeUsage, at time: Int64, to json: inout JSONWriter) {
        json.object { json in
            json.key("used_weight")
            json.optionalInt(usage.usedWeight)
            json.key("weight_limit")
            json.int(usage.weightLimit)
            json.time("used_weight_at", "used_weight_at_iso", usage.usedWeightAt)
            json.key("rate_limited")
            json.bool(usage.isRateLimited(at: time))
            json.time("rate_limited_until", "rate_limited_until_iso", usage.rateLimitedUntil)
            json.key("banned")
            json.bool(usage.isBanned(at: time))
            json.time("banned_until", "banned_until_iso", usage.bannedUntil)
            json.key("requests")
            json.int(usage.requests)
            json.key("failures")
            json.int(usage.failures)
            json.time("last_success_at", "last_success_at_iso", usage.lastSuccessAt)
            json.time("last_failure_at", "last_failure_at_iso", usage.lastFailureAt)
            json.key("last_failure")
            json.optionalString(usage.lastFailure)
        }
    }

    func pipelineStats(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let figures = try await warehouseFigures()
        let counts = figures.value.tableCounts
        let ledger = figures.value.ledger
        let lake: LakeStatisticsCache.Snapshot
        do {
            lake = try await lakeStatistics.snapshot(now: now)
        } catch {
            services.logger.error("cannot list the data lake", metadata: ["error": "\(error)"])
            throw APIError(.serviceUnavailable, code: "lake_unavailable", "cannot list the data lake")
        }
        return Response.json { json in
            json.object { json in
                json.key("tables")
                json.object { json in
                    for (table, count) in counts.sorted(by: { $0.key < $1.key }) {
                        json.key(dynamic: table)
                        json.int(count)
                    }
                }
                json.key("ledger")
                json.object { json in
                    json.key("processed_files")
                    json.int(ledger.processedFiles)
                    json.key("processed_rows")
                    json.int(ledger.processedRows)
                    json.key("duplicates_skipped")
                    json.int(ledger.duplicatesSkipped)
                    json.key("archived_files")
                    json.int(ledger.archivedFiles)
                    json.key("rejected_files")
                    json.int(ledger.rejectedFiles)
                    json.time("last_processed_at", "last_processed_at_iso", ledger.lastProcessedAt)
                }
                json.key("lake")
                json.object { json in
                    json.time("computed_at", "computed_at_iso", lake.computedAt)
                    json.key("buckets")
                    json.array { json in
                        for bucket in lake.buckets {
                            json.object { json in
                                json.key("bucket")
                                json.string(bucket.name)
                                json.key("objects")
                                json.int(bucket.objects)
                                json.key("bytes")
                                json.int(bucket.bytes)
                                json.key("days")
                                json.int(bucket.days)
                            }
                        }
                    }
                }
            }
        }
    }

    func ingestionLogs(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let query = request.query
        let page = try query.integer("page", in: 1...1_000_000, default: 1)
        let pageSize = try query.integer("page_size", in: 1...500, default: 50)
        let (job, status) = try query.jobRunFilter(jobs: await services.scheduler.jobNames)
        let result = try await services.warehouse.jobRuns(JobRunQuery(page: page, pageSize: pageSize, job: job, status: status))
        return Response.json { json in
            json.object { json in
                json.key("page")
                json.int(page)
                json.key("page_size")
                json.int(pageSize)
                json.key("total")
                json.int(result.total)
                json.key("total_pages")
                json.int((result.total + pageSize - 1) / pageSize)
                json.key("runs")
                json.array { json in
                    for run in result.runs { Self.write(run, to: &json) }
                }
            }
        }
    }

    static func write(_ run: JobRun, to json: inout JSONWriter) {
        json.object { json in
            json.key("id")
            json.int(run.id)
            json.key("job")
            json.string(run.job.rawValue)
            json.key("trigger")
            json.string(run.trigger.rawValue)
            json.key("status")
            json.string(run.status.rawValue)
            json.time("started_at", "started_at_iso", run.startedAt)
            json.time("finished_at", "finished_at_iso", run.finishedAt)
            json.key("duration_ms")
            json.optionalInt(run.finishedAt.map { $0 - run.startedAt })
            json.key("files")
            json.int(run.files)
            json.key("rows")
            json.int(run.rows)
            json.key("error")
            json.optionalString(run.error)
            json.key("worker")
            json.string(run.worker)
        }
    }

    func gaps(_ request: Request, _ context: some RequestContext) async throws -> Response {
        let symbol = try pathSymbol(context)
        try await requireKnown(symbol)
        let gaps = try await services.warehouse.gaps(symbol: symbol)
        return Response.json { json in
            json.object { json in
                json.key("symbol")
                json.string(symbol.rawValue)
                for status in GapStatus.allCases {
                    json.key(dynamic: status.rawValue.replacingOccurrences(of: "-", with: "_"))
                    json.int(gaps.filter { $0.status == status }.count)
                }
                json.key("gaps")
                json.array { json in
                    for gap in gaps {
                        json.object { json in
                            json.time("from", "from_iso", gap.range.from)
                            json.time("to", "to_iso", gap.range.to)
                            json.key("minutes")
                            json.int(gap.range.minutes)
                            json.key("status")
                            json.string(gap.status.rawValue)
                            json.time("detected_at", "detected_at_iso", gap.detectedAt)
                            json.time("updated_at", "updated_at_iso", gap.updatedAt)
                        }
                    }
                }
            }
        }
    }
}
