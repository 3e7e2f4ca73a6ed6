// The four test receivers of FORMAT.md ("Test receivers"), registered through the package's
// receiver builder; each member records a `receiver` event. Arguments are read like the Rust and
// Kotlin legs read them (property names case-insensitively, `-` and `_` ignored; a wrong shape
// is a `Deserialize` error reported to onException).

import Foundation
import ServerEvents

final class TestReceivers {
    /// One receiver object, numbered per class from 1. `calls` lives in the object, so it counts
    /// only the messages the SDK delivered to this very instance: a resolver that hands out fresh
    /// instances keeps it at 1.
    final class Instance {
        let className: String
        let number: Int
        private let lock = NSLock()
        private var calls = 0

        init(className: String, number: Int) {
            self.className = className
            self.number = number
        }

        /// Counts one more call; returns the count including it.
        func called() -> Int {
            lock.lock()
            defer { lock.unlock() }
            calls += 1
            return calls
        }
    }

    typealias Record = (_ className: String, _ member: String, _ value: JSON, _ instance: Int, _ calls: Int, _ message: ServerEventMessage) -> Void

    private let singleton: Bool
    private let record: Record
    private let lock = NSLock()
    private var counters: [String: Int] = [:]
    /// One SDK singleton resolver per class, shared by every op the class is registered under.
    private var singletons: [String: ReceiverResolver] = [:]

    init(singleton: Bool, record: @escaping Record) {
        self.singleton = singleton
        self.record = record
    }

    private func newInstance(_ className: String) -> Instance {
        lock.lock()
        defer { lock.unlock() }
        let number = (counters[className] ?? 0) + 1
        counters[className] = number
        return Instance(className: className, number: number)
    }

    /// The client's resolver for `className`: the SDK's singleton, or its default (`nil`, a new
    /// instance per message).
    private func resolver(_ className: String) -> ReceiverResolver? {
        guard singleton else { return nil }
        lock.lock()
        defer { lock.unlock() }
        if let existing = singletons[className] { return existing }
        let created = ReceiverResolver.singleton()
        singletons[className] = created
        return created
    }

    /// Registers `className` as the receiver of `op` on `client`.
    func register(_ client: ServerEventsClient, op: String, className: String) throws {
        let create = { self.newInstance(className) }
        let policy = self.resolver(className)
        let record = self.record
        func rec(_ instance: Instance, _ member: String, _ value: JSON, _ message: ServerEventMessage) {
            record(instance.className, member, value, instance.number, instance.called(), message)
        }
        let noSuchMethod: (Instance, String, ServerEventMessage) throws -> Void = { instance, target, message in
            rec(instance, "noSuchMethod:\(target)", JSON.body(message.json), message)
        }
        // The container's dependency, shared by every instance.
        let dependency: (Instance, JSON, ServerEventMessage) -> Void = { instance, value, message in
            record("TestContainerReceiver", "Dependency.Record", value, instance.number, instance.called(), message)
        }
        switch className {
        case "TestNamedReceiver":
            client.registerNamedReceiver(op, create: create, resolver: policy) { r in
                r.member("FooMethod", argumentType: "CustomType") { i, m in try rec(i, "FooMethod", TestReceivers.idName("CustomType", m), m) }
                r.member("BarMethod", argumentType: "CustomType") { i, m in try rec(i, "BarMethod", TestReceivers.idName("CustomType", m), m) }
                r.member("QuxSetter", argumentType: "CustomType") { i, m in try rec(i, "QuxSetter", TestReceivers.idName("CustomType", m), m) }
                r.noSuchMethod(noSuchMethod)
            }
        case "TestGlobalReceiver":
            client.registerNamedReceiver(op, create: create, resolver: policy) { r in
                r.member("CustomType", argumentType: "CustomType") { i, m in try rec(i, "CustomType", TestReceivers.idName("CustomType", m), m) }
                r.member("SetterType", argumentType: "SetterType") { i, m in try rec(i, "SetterType", TestReceivers.idName("SetterType", m), m) }
                r.noSuchMethod(noSuchMethod)
            }
        case "TestJavaScriptReceiver":
            client.registerNamedReceiver(op, create: create, resolver: policy) { r in
                r.member("Chat", argumentType: "ChatMessage") { i, m in try rec(i, "Chat", TestReceivers.chatMessage(m), m) }
                r.member("Announce") { i, m in try rec(i, "Announce", TestReceivers.string(m), m) }
                r.member("Toggle") { i, m in
                    try TestReceivers.noArgument(m)
                    rec(i, "Toggle", .null, m)
                }
                r.member("BackgroundImage") { i, m in try rec(i, "BackgroundImage", TestReceivers.string(m), m) }
                r.noSuchMethod(noSuchMethod)
            }
        case "TestContainerReceiver":
            client.registerNamedReceiver(op, create: create, resolver: policy) { r in
                r.member("Custom", argumentType: "CustomType") { i, m in try dependency(i, TestReceivers.idName("CustomType", m), m) }
                r.member("Setter", argumentType: "SetterType") { i, m in try dependency(i, TestReceivers.idName("SetterType", m), m) }
            }
        default:
            throw TestFailure("unknown test receiver class '\(className)'")
        }
    }

    // MARK: - Typed arguments

    private static func invalid(_ type: String, _ detail: String) -> ServerEventsError {
        ServerEventsError.Deserialize(typeName: type, detail: detail)
    }

    private static func key(_ name: String) -> String {
        name.filter { $0 != "-" && $0 != "_" }.lowercased()
    }

    private static func field(_ body: [String: JSON], _ name: String) -> JSON? {
        let wanted = key(name)
        for (k, v) in body where key(k) == wanted && v != .null {
            return v
        }
        return nil
    }

    private static func objectBody(_ type: String, _ message: ServerEventMessage) throws -> [String: JSON] {
        guard let body = JSON.body(message.json).objectValue else {
            throw invalid(type, "expected a JSON object, got '\(message.json)'")
        }
        return body
    }

    private static func integer(_ type: String, _ body: [String: JSON], _ name: String) throws -> Double {
        guard let value = field(body, name)?.numberValue, value.rounded() == value else {
            throw invalid(type, "'\(name)' must be an integer")
        }
        return value
    }

    private static func optionalString(_ type: String, _ body: [String: JSON], _ name: String) throws -> String? {
        guard let value = field(body, name) else { return nil }
        guard let text = value.stringValue else { throw invalid(type, "'\(name)' must be a string") }
        return text
    }

    /// `CustomType`/`SetterType`: `{id, name?}`.
    static func idName(_ type: String, _ message: ServerEventMessage) throws -> JSON {
        let body = try objectBody(type, message)
        let id = try integer(type, body, "id")
        var fields: [String: JSON] = ["id": .number(id)]
        if let name = try optionalString(type, body, "name") { fields["name"] = .string(name) }
        return .object(fields)
    }

    /// `ChatMessage`: `{id, fromUserId, fromName, message?, private, channel?}`.
    static func chatMessage(_ message: ServerEventMessage) throws -> JSON {
        let type = "ChatMessage"
        let body = try objectBody(type, message)
        guard let fromUserId = try optionalString(type, body, "fromUserId") else { throw invalid(type, "missing fromUserId") }
        guard let fromName = try optionalString(type, body, "fromName") else { throw invalid(type, "missing fromName") }
        let id = try integer(type, body, "id")
        var fields: [String: JSON] = [
            "id": .number(id),
            "fromUserId": .string(fromUserId),
            "fromName": .string(fromName),
        ]
        if let text = try optionalString(type, body, "message") { fields["message"] = .string(text) }
        var isPrivate = false
        if let value = field(body, "private") {
            guard let flag = value.boolValue else { throw invalid(type, "'private' must be a boolean") }
            isPrivate = flag
        }
        fields["private"] = .bool(isPrivate)
        if let channel = try optionalString(type, body, "channel") { fields["channel"] = .string(channel) }
        return .object(fields)
    }

    /// A `string` argument: the body must be a JSON string.
    static func string(_ message: ServerEventMessage) throws -> JSON {
        let body = JSON.body(message.json)
        guard body.stringValue != nil else { throw invalid("String", "expected a JSON string, got '\(message.json)'") }
        return body
    }

    /// A member without an argument: the body must be empty.
    static func noArgument(_ message: ServerEventMessage) throws {
        if !message.json.trimmingCharacters(in: .whitespacesAndNewlines).isEmpty {
            throw invalid("()", "\(message.target ?? "") takes no argument but the message has a body")
        }
    }
}
