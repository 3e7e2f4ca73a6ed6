// One client's event log (FORMAT.md, "Events a client records"): callbacks append from the
// client's threads; steps wait on it with a deadline, never a fixed sleep.

import Foundation

/// One recorded event: its kind and its fields.
struct Event {
    let kind: String
    let fields: JSON
    let atMs: Int
}

final class EventLog: @unchecked Sendable {
    private let name: String
    private let started = Date()
    private let condition = NSCondition()
    private var events: [Event] = []

    init(_ name: String) {
        self.name = name
    }

    func add(_ kind: String, _ fields: [String: JSON]) {
        let event = Event(kind: kind, fields: .object(fields), atMs: Int(Date().timeIntervalSince(started) * 1000))
        condition.lock()
        events.append(event)
        condition.broadcast()
        condition.unlock()
    }

    func snapshot() -> [Event] {
        condition.lock()
        defer { condition.unlock() }
        return events
    }

    /// Calls `check` each time the log changes until it returns a value or `timeoutMs` passes.
    /// Blocks a GCD thread, not the caller's task.
    func waitFor<T>(_ timeoutMs: Int, _ check: @escaping ([Event]) -> T?) async -> T? {
        await withCheckedContinuation { continuation in
            DispatchQueue.global().async {
                continuation.resume(returning: self.awaitBlocking(timeoutMs, check))
            }
        }
    }

    private func awaitBlocking<T>(_ timeoutMs: Int, _ check: ([Event]) -> T?) -> T? {
        let deadline = Date().addingTimeInterval(Double(timeoutMs) / 1000)
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let found = check(events) { return found }
            if Date() >= deadline { return nil }
            _ = condition.wait(until: deadline)
        }
    }

    /// The last `max` events as text, for failure messages.
    func describe(max: Int = 60) -> String {
        let all = snapshot()
        let skipped = Swift.max(0, all.count - max)
        var text = "  events of \(name) (\(all.count)):\n"
        if skipped > 0 { text += "    … \(skipped) earlier events\n" }
        for (offset, event) in all.dropFirst(skipped).enumerated() {
            var fields = event.fields.text
            if fields.count > 400 { fields = String(fields.prefix(400)) + "…" }
            text += "    #\(offset + skipped) +\(event.atMs)ms \(event.kind) \(fields)\n"
        }
        return text
    }
}
