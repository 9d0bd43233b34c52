import Foundation
import Synchronization

/// What a progress bar shows of a long command.
protocol ProgressSnapshot {
    /// 0…1.
    var fraction: Double { get }
    var isComplete: Bool { get }
    /// Counts, rate and ETA after the percentage.
    var summary: String { get }
}

/// Set by SIGINT/SIGTERM so long commands stop between units of work instead of mid-write; a second signal exits at once.
/// `@unchecked`: `sources` is written once in `init` and only kept alive afterwards; the flag is atomic.
final class InterruptFlag: @unchecked Sendable {
    private let flag = Atomic(false)
    private var sources: [any DispatchSourceSignal] = []

    init() {
        for signalNumber in [SIGINT, SIGTERM] {
            signal(signalNumber, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: signalNumber, queue: .global())
            source.setEventHandler { [self] in
                // A second signal means "now": the open transaction is rolled back by SQLite, nothing half-written.
                if flag.exchange(true, ordering: .relaxed) {
                    FileHandle.standardError.write(Data("\ncryptopipe: stopped\n".utf8))
                    exit(130)
                }
            }
            source.resume()
            sources.append(source)
        }
    }

    var isSet: Bool { flag.load(ordering: .relaxed) }

    /// Stops listening, for a command that hands the signals on (the demo's backfill, then its ServiceGroup). They stay
    /// ignored rather than fatal in between, so a signal then cannot kill the process mid-write; the ServiceGroup's own
    /// listener takes them over a moment later.
    func stopListening() {
        for source in sources { source.cancel() }
    }
}

/// A progress bar with rate and ETA on a terminal; a log line every few seconds otherwise.
final class ProgressMeter: Sendable {
    private struct State {
        var lastDraw: ContinuousClock.Instant
        var drewBar = false
    }

    private let label: String
    private let terminal: Bool
    private let state: Mutex<State>

    init(label: String, terminal: Bool) {
        self.label = label
        self.terminal = terminal
        // A terminal gets the bar at once; a log gets its first line after one interval.
        state = Mutex(State(lastDraw: terminal ? .now - .seconds(60) : .now))
    }

    func update(_ progress: some ProgressSnapshot) {
        let now = ContinuousClock.now
        let line: String? = state.withLock { state in
            let interval: Duration = terminal ? .milliseconds(200) : .seconds(10)
            let isLast = progress.isComplete
            guard now - state.lastDraw >= interval || (terminal && isLast) else { return nil }
            state.lastDraw = now
            state.drewBar = terminal
            return Self.render(progress, label: label, bar: terminal)
        }
        guard let line else { return }
        let output = terminal ? "\r\(line)\u{1B}[K" : "\(label): \(line)\n"
        FileHandle.standardError.write(Data(output.utf8))
    }

    func finish() {
        if state.withLock({ $0.drewBar }) { FileHandle.standardError.write(Data("\n".utf8)) }
    }

    static func render(_ progress: some ProgressSnapshot, label: String, bar: Bool) -> String {
        let fraction = progress.fraction
        let counts = progress.summary
        guard bar else { return String(format: "%3.0f%% ", fraction * 100) + counts }
        let width = 30
        let filled = min(width, Int(fraction * Double(width)))
        return "\(label) [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            + String(format: "%3.0f%% ", fraction * 100) + counts
    }

    static func clock(_ seconds: Int) -> String {
        seconds >= 3600
            ? String(format: "%d:%02d:%02d", seconds / 3600, seconds / 60 % 60, seconds % 60)
            : String(format: "%d:%02d", seconds / 60, seconds % 60)
    }
}
