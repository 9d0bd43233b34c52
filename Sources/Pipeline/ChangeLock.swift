import Synchronization

/// Lets one change at a time through, in arrival order, across suspension points: an actor alone does not, because
/// another call runs whenever a change awaits the warehouse, and read–await–write then loses updates.
///
/// Use: `await lock.acquire()` then `defer { lock.release() }` around the whole read–modify–write.
final class ChangeLock: Sendable {
    private struct State {
        var held = false
        var waiters: [CheckedContinuation<Void, Never>] = []
    }

    private let state = Mutex(State())

    init() {}

    /// Waits until no other change holds the lock. Not cancellable: a change waits its turn briefly rather than fail.
    func acquire() async {
        await withCheckedContinuation { (continuation: CheckedContinuation<Void, Never>) in
            let acquired = state.withLock { state in
                if state.held {
                    state.waiters.append(continuation)
                    return false
                }
                state.held = true
                return true
            }
            if acquired { continuation.resume() }
        }
    }

    /// Hands the lock to the next waiter, or frees it.
    func release() {
        let next = state.withLock { state -> CheckedContinuation<Void, Never>? in
            guard !state.waiters.isEmpty else {
                state.held = false
                return nil
            }
            return state.waiters.removeFirst()
        }
        next?.resume()
    }
}
