// Replays one scenario of conformance-tests/scenarios/scenarios.json (format: FORMAT.md beside
// it; the Rust interpreter in conformance-tests/src/runner.rs is the reference) through the Swift
// API, against its own server. Mirrors the Kotlin tests' ScenarioRunner.

import Foundation
import ServerEvents

/// The fields of events and errors, in the shapes FORMAT.md gives (shared with the other legs).
enum Fields {
    static func error(_ error: ServerEventsError) -> JSON {
        .object([
            "message": .string(error.description),
            "status": JSON.of(error.httpStatus()),
            "kind": .string(error.kind()),
        ])
    }

    static func connect(_ info: ServerEventConnect) -> [String: JSON] {
        [
            "id": .string(info.id),
            "userId": .string(info.userId),
            "displayName": .string(info.displayName),
            "isAuthenticated": .bool(info.isAuthenticated),
            "channels": JSON.of(info.channels),
            "heartbeatUrl": JSON.of(info.heartbeatUrl),
            "unRegisterUrl": JSON.of(info.unregisterUrl),
            "updateSubscriberUrl": JSON.of(info.updateSubscriberUrl),
            "heartbeatIntervalMs": JSON.of(info.heartbeatIntervalMs),
            "idleTimeoutMs": JSON.of(info.idleTimeoutMs),
            "meta": .object(info.meta.mapValues { JSON.string($0) }),
        ]
    }

    static func command(_ command: ServerEventCommand) -> [String: JSON] {
        [
            "channel": JSON.of(command.channel),
            "userId": .string(command.userId),
            "displayName": .string(command.displayName),
            "isAuthenticated": .bool(command.isAuthenticated),
            "channels": JSON.of(command.channels),
            "meta": .object(command.meta.mapValues { JSON.string($0) }),
        ]
    }

    static func message(_ message: ServerEventMessage) -> [String: JSON] {
        [
            "eventId": JSON.of(message.eventId),
            "channel": JSON.of(message.channel),
            "selector": JSON.of(message.selector),
            "op": JSON.of(message.op),
            "target": JSON.of(message.target),
            "cssSelector": JSON.of(message.cssSelector),
            "json": .string(message.json),
            "body": JSON.body(message.json),
        ]
    }

    static func stateName(_ state: ConnectionState) -> String {
        switch state {
        case .idle: return "idle"
        case .connecting: return "connecting"
        case .open: return "open"
        case .reconnecting: return "reconnecting"
        case .paused: return "paused"
        case .closed: return "closed"
        }
    }

    static func state(_ state: ConnectionState) -> [String: JSON] {
        var fields: [String: JSON] = ["state": .string(stateName(state))]
        switch state {
        case let .connecting(attempt):
            fields["attempt"] = JSON.of(attempt)
        case let .open(subscriptionId):
            fields["subscriptionId"] = .string(subscriptionId)
        case let .reconnecting(attempt, delayMs, cause):
            fields["attempt"] = JSON.of(attempt)
            fields["delayMs"] = JSON.of(delayMs)
            fields["error"] = error(cause)
        case let .closed(reason):
            let named: (String, ServerEventsError?)
            switch reason {
            case .stopped: named = ("stopped", nil)
            case .disposed: named = ("disposed", nil)
            case .dropped: named = ("dropped", nil)
            case let .connectFailed(cause): named = ("connectFailed", cause)
            case let .unauthorized(cause): named = ("unauthorized", cause)
            case let .gaveUp(cause): named = ("gaveUp", cause)
            }
            fields["reason"] = .string(named.0)
            fields["error"] = named.1.map { error($0) } ?? .null
        default:
            break
        }
        return fields
    }

    static func reconnect(_ info: ReconnectInfo) -> [String: JSON] {
        [
            "previousId": JSON.of(info.previousSubscriptionId),
            "id": .string(info.subscriptionId),
            "attempts": JSON.of(info.attempts),
            "cause": info.cause.map { error($0) } ?? .null,
        ]
    }
}

/// Records every lifecycle callback of one client.
final class Recorder: ServerEventsListener, @unchecked Sendable {
    private let log: EventLog

    init(_ log: EventLog) {
        self.log = log
    }

    func onConnect(info: ServerEventConnect) throws { log.add("connect", Fields.connect(info)) }
    func onMessage(message: ServerEventMessage) throws { log.add("message", Fields.message(message)) }
    func onCommand(command: ServerEventCommand) throws {
        var fields = Fields.command(command)
        let kind: String
        switch command.kind {
        case .join: kind = "join"
        case .leave: kind = "leave"
        default: kind = "update"
        }
        fields["kind"] = .string(kind)
        log.add("command", fields)
    }
    func onJoin(command: ServerEventCommand) throws { log.add("join", Fields.command(command)) }
    func onLeave(command: ServerEventCommand) throws { log.add("leave", Fields.command(command)) }
    func onUpdate(command: ServerEventCommand) throws { log.add("update", Fields.command(command)) }
    func onHeartbeat(command: ServerEventCommand) throws {
        log.add("heartbeat", ["userId": .string(command.userId), "displayName": .string(command.displayName)])
    }
    func onReconnect(info: ReconnectInfo) throws { log.add("reconnect", Fields.reconnect(info)) }
    func onException(error: ServerEventsError) throws { log.add("exception", Fields.error(error).objectValue ?? [:]) }
}

/// A scenario client with its event log.
final class TestClient {
    let id: String
    var client: ServerEventsClient?
    let log: EventLog
    /// Trigger listener ids by "name#index".
    var listeners: [String: UInt64] = [:]
    /// How many listeners each trigger name has had (the next index).
    var listenerCounts: [String: Int] = [:]
    var streams: [() -> Void] = []
    var tasks: [Task<Void, Never>] = []
    var receivers: TestReceivers?

    init(id: String, client: ServerEventsClient) {
        self.id = id
        self.client = client
        self.log = EventLog(id)
    }

    func handle() throws -> ServerEventsClient {
        guard let client = client else { throw TestFailure("client \(id) was dropped") }
        return client
    }

    func lastConnect() -> JSON? {
        log.snapshot().last(where: { $0.kind == "connect" })?.fields
    }
}

final class ScenarioRunner {
    private let scenario: [String: JSON]
    private let server: TestServer
    private let name: String
    private var clients: [String: TestClient] = [:]
    private var clientOrder: [String] = []
    /// Per "client/kind": the log index the previous `expect` matched.
    private var cursors: [String: Int] = [:]
    /// Running `wait_next` waits by name: the SDK timeout and the task awaiting the SDK's call.
    private var waits: [String: (Int, Task<Result<[String: JSON], ServerEventsError>, Never>)] = [:]

    init(scenario: [String: JSON], server: TestServer) {
        self.scenario = scenario
        self.server = server
        self.name = scenario["name"]?.stringValue ?? "?"
    }

    private func client(_ name: String?) throws -> TestClient {
        guard let name = name else { throw TestFailure("the step names no client") }
        guard let client = clients[name] else { throw TestFailure("no client named \(name)") }
        return client
    }

    // MARK: - Variables

    private func lookup(_ name: String, _ field: String?) throws -> String? {
        guard let field = field else { return name == "baseUrl" ? server.baseUrl : nil }
        guard let test = clients[name] else { return nil }
        guard let connect = test.lastConnect() else { throw TestFailure("$\(name).\(field): \(name) has not connected yet") }
        guard let value = connect[field]?.variableText else { throw TestFailure("$\(name).\(field): no such variable in its onConnect") }
        return value
    }

    private static func isIdent(_ c: Character) -> Bool {
        (c.isASCII && (c.isLetter || c.isNumber)) || c == "_"
    }

    /// `$baseUrl` and `$client.var` replaced; other `$` text (selectors like `cmd.x$#id`) kept.
    func text(_ input: String) throws -> String {
        var out = ""
        var rest = Substring(input)
        while let dollar = rest.firstIndex(of: "$") {
            out += rest[rest.startIndex..<dollar]
            let after = rest[rest.index(after: dollar)...]
            let nameEnd = after.firstIndex(where: { !ScenarioRunner.isIdent($0) }) ?? after.endIndex
            let varName = String(after[after.startIndex..<nameEnd])
            let tail = after[nameEnd...]
            if tail.hasPrefix("."), !varName.isEmpty {
                let fieldText = tail.dropFirst()
                let fieldEnd = fieldText.firstIndex(where: { !ScenarioRunner.isIdent($0) }) ?? fieldText.endIndex
                let field = String(fieldText[fieldText.startIndex..<fieldEnd])
                if !field.isEmpty, let value = try lookup(varName, field) {
                    out += value
                    rest = fieldText[fieldEnd...]
                    continue
                }
            }
            if !varName.isEmpty, let value = try lookup(varName, nil) {
                out += value
                rest = tail
                continue
            }
            out += "$"
            rest = after
        }
        out += rest
        return out
    }

    func value(_ json: JSON) throws -> JSON {
        switch json {
        case let .string(s): return try .string(text(s))
        case let .array(items): return try .array(items.map { try value($0) })
        case let .object(fields): return try .object(fields.mapValues { try value($0) })
        default: return json
        }
    }

    private func matcher(_ step: [String: JSON]) throws -> [String: JSON] {
        guard let spec = step["match"] else { return [:] }
        return try value(spec).objectValue ?? [:]
    }

    // MARK: - Running

    func run() async throws {
        guard let steps = scenario["steps"]?.arrayValue else { throw TestFailure("scenario \(name) has no steps") }
        let started = Date()
        for (index, step) in steps.enumerated() {
            do {
                try await self.step(step.objectValue ?? [:])
            } catch {
                let ms = Int(Date().timeIntervalSince(started) * 1000)
                let logs = clientOrder.compactMap { clients[$0]?.log.describe() }.joined()
                throw TestFailure(
                    "scenario \(name) failed at step \(index) of \(steps.count) after \(ms) ms: \(step.text)\n" +
                        "  \(error)\n  (\(scenario["summary"]?.stringValue ?? ""))\n" + logs
                )
            }
        }
    }

    private func timeout(_ step: [String: JSON]) -> Int {
        step["timeoutMs"]?.intValue ?? 5000
    }

    private func strings(_ step: [String: JSON], _ key: String) throws -> [String] {
        guard let items = step[key]?.arrayValue else { throw TestFailure("'\(key)' must be an array") }
        return try items.map { try text($0.stringValue ?? "") }
    }

    /// Runs `body`, failing when it takes longer than `ms`. (uniffi's Swift futures cannot be
    /// cancelled, so a late `body` is still awaited before the failure is thrown.)
    private func within(_ ms: Int, _ what: String, _ body: @escaping @Sendable () async throws -> Void) async throws {
        try await withThrowingTaskGroup(of: Bool.self) { group in
            group.addTask {
                try await body()
                return true
            }
            group.addTask {
                try await Task.sleep(nanoseconds: UInt64(ms) * 1_000_000)
                return false
            }
            defer { group.cancelAll() }
            guard let finished = try await group.next(), finished else {
                throw TestFailure("\(what) did not finish within \(ms) ms")
            }
        }
    }

    private func step(_ step: [String: JSON]) async throws {
        let op = step["op"]?.stringValue ?? ""
        switch op {
        case "client":
            try createClient(step)
        case "connect":
            let test = try client(step["client"]?.stringValue)
            let handle = try test.handle()
            let outcome: Result<Void, ServerEventsError>
            do {
                try await within(timeout(step), "\(test.id): connect()") { _ = try await handle.connect() }
                outcome = .success(())
            } catch let error as ServerEventsError {
                outcome = .failure(error)
            }
            try checkOutcome(test.id, outcome, step["expectError"])
        case "start":
            try client(step["client"]?.stringValue).handle().start()
        case "stop":
            let test = try client(step["client"]?.stringValue)
            let handle = try test.handle()
            try await within(10_000, "\(test.id): stop()") { await handle.stop() }
        case "restart":
            try client(step["client"]?.stringValue).handle().restart()
        case "pause":
            try client(step["client"]?.stringValue).handle().pause()
        case "resume":
            try client(step["client"]?.stringValue).handle().resume()
        case "drop":
            let test = try client(step["client"]?.stringValue)
            guard test.client != nil else { throw TestFailure("\(test.id) was already dropped") }
            test.client = nil
        case "set_channels":
            try client(step["client"]?.stringValue).handle().setChannels(channels: strings(step, "channels"))
        case "subscribe":
            try await client(step["client"]?.stringValue).handle().subscribeToChannels(channels: strings(step, "channels"))
        case "unsubscribe":
            try await client(step["client"]?.stringValue).handle().unsubscribeFromChannels(channels: strings(step, "channels"))
        case "authenticate":
            let test = try client(step["client"]?.stringValue)
            let outcome: Result<Void, ServerEventsError>
            do {
                _ = try await test.handle().authenticate(
                    userName: text(step["user"]?.stringValue ?? ""),
                    password: text(step["password"]?.stringValue ?? "")
                )
                outcome = .success(())
            } catch let error as ServerEventsError {
                outcome = .failure(error)
            }
            try checkOutcome(test.id, outcome, step["expectError"])
        case "post_chat":
            guard let from = step["from"]?.stringValue else { throw TestFailure("post_chat needs from") }
            let channel = try text(step["channel"]?.stringValue ?? "*")
            let sender = try text("$\(from).id")
            let message = try text(step["message"]?.stringValue ?? "")
            let selector = try text(step["selector"]?.stringValue ?? "cmd.chat")
            var body: [String: JSON] = [
                "from": .string(sender),
                "channel": .string(channel),
                "message": .string(message),
                "selector": .string(selector),
            ]
            if let to = step["toUserId"]?.stringValue { body["toUserId"] = try .string(text(to)) }
            try await postService(from, "/channels/\(encodeSegment(channel))/chat", .object(body))
        case "post_raw":
            guard let from = step["from"]?.stringValue else { throw TestFailure("post_raw needs from") }
            guard let selector = step["selector"]?.stringValue else { throw TestFailure("post_raw needs a selector") }
            let channel = try text(step["channel"]?.stringValue ?? "*")
            let sender = try text("$\(from).id")
            let fullSelector = try text(selector)
            var body: [String: JSON] = [
                "from": .string(sender),
                "channel": .string(channel),
                "selector": .string(fullSelector),
            ]
            if let message = step["message"]?.stringValue { body["message"] = try .string(text(message)) }
            try await postService(from, "/channels/\(encodeSegment(channel))/raw", .object(body))
        case "post_object":
            let channel = try text(step["channel"]?.stringValue ?? "*")
            var body: [String: JSON] = ["channel": .string(channel)]
            if let selector = step["selector"]?.stringValue { body["selector"] = try .string(text(selector)) }
            if let custom = step["customType"] { body["customType"] = try value(custom) }
            if let setter = step["setterType"] { body["setterType"] = try value(setter) }
            try await postService(nil, "/channels/\(encodeSegment(channel))/object", .object(body))
        case "reset_server":
            try await postOk("\(server.baseUrl)/reset-serverevents", "{}")
        case "restart_server":
            try server.restart()
        case "http":
            try await http(step)
        case "fault":
            guard let set = step["set"] else { throw TestFailure("fault needs set") }
            try await postOk("\(server.baseUrl)/test/faults", value(set).text)
        case "raw_frame":
            let test = try client(step["client"]?.stringValue)
            let subscriptionId = try text("$\(test.id).id")
            let url = "\(server.baseUrl)/test/raw?id=\(subscriptionId)"
            let reply = try await Http.send("POST", url, body: try frameBytes(step), contentType: "text/plain")
            if !(200..<300).contains(reply.status) { throw TestFailure("POST \(url) answered \(reply.status): \(reply.body)") }
        case "crash_node":
            let test = try client(step["client"]?.stringValue)
            let subscriptionId = try text("$\(test.id).id")
            let url = "\(server.baseUrl)/test/crash-node?id=\(subscriptionId)"
            let reply = try await Http.send("POST", url)
            if !(200..<300).contains(reply.status) { throw TestFailure("POST \(url) answered \(reply.status): \(reply.body)") }
        case "remove_listener":
            let test = try client(step["client"]?.stringValue)
            guard let listenerName = step["name"]?.stringValue, let index = step["index"]?.intValue else {
                throw TestFailure("remove_listener needs a name and an index")
            }
            guard let id = test.listeners["\(listenerName)#\(index)"] else {
                throw TestFailure("\(test.id) has no listener \(listenerName)[\(index)]")
            }
            let removed = try test.handle().remove(id: id)
            if !removed {
                throw TestFailure("\(test.id): listener \(listenerName)[\(index)] was not registered")
            }
        case "expect":
            try await expect(step)
        case "expect_count":
            try await expectCount(step, timeoutMs: timeout(step))
        case "assert_count":
            try await expectCount(step, timeoutMs: nil)
        case "expect_subscribers":
            try await expectSubscribers(step)
        case "assert_client":
            try assertClient(step)
        case "concurrent":
            try await concurrent(step)
        case "service_get":
            let test = try client(step["client"]?.stringValue)
            let handle = try test.handle()
            guard let rawPath = step["path"]?.stringValue else { throw TestFailure("service_get needs a path") }
            let path = try text(rawPath)
            let outcome: Result<Void, ServerEventsError>
            do {
                try await within(5_000, "\(test.id): GET \(path)") { _ = try await handle.getJson(path: path) }
                outcome = .success(())
            } catch let error as ServerEventsError {
                outcome = .failure(error)
            }
            try checkOutcome(test.id, outcome, step["expectError"])
        case "wait_next":
            try waitNext(step)
        case "wait_result":
            try await waitResult(step)
        case "register_handler":
            let test = try client(step["client"]?.stringValue)
            guard let handlerName = step["name"]?.stringValue else { throw TestFailure("register_handler needs a name") }
            try test.handle().registerHandler(handlerName, recordingHandler(test.log, handlerName, failing: false))
        case "remove_handler":
            let test = try client(step["client"]?.stringValue)
            guard let handlerName = step["name"]?.stringValue else { throw TestFailure("remove_handler needs a name") }
            let removed = try test.handle().removeHandler(name: handlerName)
            if !removed {
                throw TestFailure("\(test.id) had no handler \(handlerName) to remove")
            }
        case "register_receiver":
            let test = try client(step["client"]?.stringValue)
            guard let receiverOp = step["name"]?.stringValue, let className = step["class"]?.stringValue else {
                throw TestFailure("register_receiver needs a name and a class")
            }
            guard let receivers = test.receivers else { throw TestFailure("\(test.id) has no receiver resolver") }
            try receivers.register(test.handle(), op: receiverOp, className: className)
        case "unregister_receiver":
            let test = try client(step["client"]?.stringValue)
            guard let receiverOp = step["name"]?.stringValue else { throw TestFailure("unregister_receiver needs a name") }
            let removed = try test.handle().unregisterReceiver(op: receiverOp)
            if !removed {
                throw TestFailure("\(test.id) had no receiver for \(receiverOp) to remove")
            }
        case "add_listener":
            let test = try client(step["client"]?.stringValue)
            guard let listenerName = step["name"]?.stringValue else { throw TestFailure("add_listener needs a name") }
            try addListener(test, listenerName)
        case "remove_all_registrations":
            try client(step["client"]?.stringValue).handle().removeAllRegistrations()
        case "assert_gaps":
            try assertGaps(step)
        default:
            throw TestFailure("unknown op '\(op)'")
        }
    }

    private func postOk(_ url: String, _ json: String) async throws {
        let reply = try await Http.postJson(url, json)
        if !(200..<300).contains(reply.status) { throw TestFailure("POST \(url) answered \(reply.status): \(reply.body)") }
    }

    /// POSTs a test service DTO through the `from` client's service client (sharing its cookies), or plainly.
    private func postService(_ from: String?, _ path: String, _ body: JSON) async throws {
        if let from = from, let handle = clients[from]?.client {
            do {
                _ = try await handle.postJson(path: path, requestJson: body.text)
            } catch {
                throw TestFailure("POST \(path) \(body.text) failed: \(error)")
            }
        } else {
            try await postOk(server.baseUrl + path, body.text)
        }
    }

    private func encodeSegment(_ segment: String) -> String {
        var out = ""
        for byte in segment.utf8 {
            let c = Character(UnicodeScalar(byte))
            if byte < 0x80 && (c.isLetter || c.isNumber || "-._~".contains(c)) {
                out.append(c)
            } else {
                out += String(format: "%%%02X", byte)
            }
        }
        return out
    }

    private func frameBytes(_ step: [String: JSON]) throws -> Data {
        func one(_ part: [String: JSON]) throws -> Data {
            switch (part["text"]?.stringValue, part["base64"]?.stringValue) {
            case let (text?, nil): return try Data(self.text(text).utf8)
            case let (nil, encoded?):
                var padded = encoded.replacingOccurrences(of: "=", with: "")
                while padded.count % 4 != 0 { padded += "=" }
                guard let data = Data(base64Encoded: padded) else { throw TestFailure("invalid base64 \(encoded)") }
                return data
            default: throw TestFailure("a frame part needs exactly one of text and base64")
            }
        }
        guard let parts = step["parts"]?.arrayValue else { return try one(step) }
        var bytes = Data()
        for part in parts {
            let fields = part.objectValue ?? [:]
            let piece = try one(fields)
            for _ in 0..<(fields["repeat"]?.intValue ?? 1) { bytes.append(piece) }
        }
        return bytes
    }

    private func http(_ step: [String: JSON]) async throws {
        guard let method = step["method"]?.stringValue, let rawUrl = step["url"]?.stringValue else {
            throw TestFailure("http needs a method and a url")
        }
        let url = try text(rawUrl)
        let body = try step["body"].map { try Data(value($0).text.utf8) }
        let reply = try await Http.send(method, url, body: body)
        let expected = step["expectStatus"]
        let ok: Bool
        switch expected {
        case nil, .string("2xx")?: ok = (200..<300).contains(reply.status)
        case .string("error")?: ok = !(200..<300).contains(reply.status)
        case let .number(status)?: ok = reply.status == Int(status)
        default: throw TestFailure("expectStatus \(expected!.text) is not a status, \"2xx\" or \"error\"")
        }
        if !ok { throw TestFailure("\(method) \(url) answered \(reply.status) (expected \(expected?.text ?? "2xx")): \(reply.body)") }
    }

    // MARK: - Clients

    private func createClient(_ step: [String: JSON]) throws {
        guard let id = step["id"]?.stringValue else { throw TestFailure("client step without id") }
        if clients[id] != nil { throw TestFailure("client \(id) already exists") }
        if step["withCredentials"] != nil { throw TestFailure("withCredentials is a browser-only option") }
        var channels: [String] = []
        if step["channels"] != nil { channels = try strings(step, "channels") }
        let options = ClientOptions(
            channels: channels,
            heartbeatIntervalMs: step["heartbeatMs"]?.numberValue.map { UInt64($0) },
            idleTimeoutMs: step["idleTimeoutMs"]?.numberValue.map { UInt64($0) },
            connectTimeoutMs: step["connectTimeoutMs"]?.numberValue.map { UInt64($0) },
            maxEventSize: step["maxEventSizeBytes"]?.numberValue.map { UInt64($0) }
        )
        let baseUrl = try step["baseUrl"]?.stringValue.map { try text($0) } ?? server.baseUrl
        let client = try ServerEventsClient(baseUrl: baseUrl, options: options)
        let test = TestClient(id: id, client: client)
        clients[id] = test
        clientOrder.append(id)
        let log = test.log
        _ = client.addEventListener(listener: Recorder(log))
        for handler in step["handlers"]?.arrayValue ?? [] {
            let handlerName = handler.stringValue ?? ""
            client.registerHandler(handlerName, recordingHandler(log, handlerName, failing: false))
        }
        for handler in step["throwingHandlers"]?.arrayValue ?? [] {
            let handlerName = handler.stringValue ?? ""
            client.registerHandler(handlerName, recordingHandler(log, handlerName, failing: true))
        }
        let receivers = TestReceivers(singleton: step["resolver"]?.stringValue == "singleton") { className, member, value, instance, calls, message in
            log.add("receiver", [
                "receiver": .string(className),
                "member": .string(member),
                "value": value,
                "instance": .number(Double(instance)),
                "calls": .number(Double(calls)),
                "selector": JSON.of(message.selector),
                "op": JSON.of(message.op),
                "target": JSON.of(message.target),
                "cssSelector": JSON.of(message.cssSelector),
            ])
        }
        test.receivers = receivers
        for (receiverOp, className) in (step["receivers"]?.objectValue ?? [:]).sorted(by: { $0.key < $1.key }) {
            try receivers.register(client, op: receiverOp, className: className.stringValue ?? "")
        }
        for (triggerName, count) in step["listeners"]?.objectValue ?? [:] {
            for _ in 0..<(count.intValue ?? 0) {
                try addListener(test, triggerName)
            }
        }
        // Opened now, so nothing (the initial `idle` state, the first message) is missed.
        let states = client.stateChanges()
        test.streams.append { states.cancel() }
        test.tasks.append(Task.detached {
            while let state = await states.next() { log.add("state", Fields.state(state)) }
        })
        if step["consumeStream"]?.boolValue == true {
            let messages = client.messages()
            test.streams.append { messages.cancel() }
            test.tasks.append(Task.detached {
                while let message = await messages.next() { log.add("streamed", Fields.message(message)) }
            })
        }
    }

    /// A `cmd` handler that records a `handler` event (then throws when `failing`).
    private func recordingHandler(_ log: EventLog, _ handlerName: String, failing: Bool) -> (ServerEventMessage) throws -> Void {
        return { message in
            log.add("handler", ["name": .string(handlerName), "body": JSON.body(message.json)])
            if failing { throw TestFailure("handler \(handlerName) fails on purpose") }
        }
    }

    /// Adds a recording trigger listener with the next index for `triggerName`.
    private func addListener(_ test: TestClient, _ triggerName: String) throws {
        let index = test.listenerCounts[triggerName] ?? 0
        test.listenerCounts[triggerName] = index + 1
        let log = test.log
        test.listeners["\(triggerName)#\(index)"] = try test.handle().addListener(triggerName) { message in
            log.add("listener", ["name": .string(triggerName), "index": .number(Double(index)), "body": JSON.body(message.json)])
        }
    }

    /// Starts the SDK's wait and keeps its outcome for `wait_result`. (Swift gives no hook for the
    /// moment the task's first poll registers the wait; it runs at once on a free thread.)
    private func waitNext(_ step: [String: JSON]) throws {
        let test = try client(step["client"]?.stringValue)
        let handle = try test.handle()
        guard let waitName = step["wait"]?.stringValue, let ms = step["timeoutMs"]?.intValue else {
            throw TestFailure("wait_next needs a wait name and timeoutMs")
        }
        if waits[waitName] != nil { throw TestFailure("the wait \(waitName) was started twice") }
        let sdkTimeout = UInt64(ms)
        let kind = step["kind"]?.stringValue ?? ""
        func run(_ body: @escaping @Sendable () async throws -> [String: JSON]) -> Task<Result<[String: JSON], ServerEventsError>, Never> {
            Task.detached {
                do {
                    return .success(try await body())
                } catch let error as ServerEventsError {
                    return .failure(error)
                } catch {
                    return .failure(ServerEventsError.Internal(detail: "\(error)"))
                }
            }
        }
        let task: Task<Result<[String: JSON], ServerEventsError>, Never>
        switch kind {
        case "message":
            task = run { Fields.message(try await handle.waitForNextMessage(timeoutMs: sdkTimeout)) }
        case "command":
            task = run {
                let command = try await handle.waitForNextCommand(timeoutMs: sdkTimeout)
                var fields = Fields.command(command)
                switch command.kind {
                case .join: fields["kind"] = .string("join")
                case .leave: fields["kind"] = .string("leave")
                default: fields["kind"] = .string("update")
                }
                return fields
            }
        case "heartbeat":
            task = run {
                let heartbeat = try await handle.waitForNextHeartbeat(timeoutMs: sdkTimeout)
                return ["userId": .string(heartbeat.userId), "displayName": .string(heartbeat.displayName)]
            }
        default:
            throw TestFailure("wait_next cannot wait for \(kind)")
        }
        waits[waitName] = (ms, task)
    }

    private func waitResult(_ step: [String: JSON]) async throws {
        guard let waitName = step["wait"]?.stringValue else { throw TestFailure("wait_result needs a wait name") }
        guard let entry = waits.removeValue(forKey: waitName) else { throw TestFailure("no running wait named \(waitName)") }
        let (ms, task) = entry
        // The SDK's own timeout ends the wait; the extra time only guards against a hang.
        let box = ResultBox()
        try await within(ms + 5_000, "the wait \(waitName)") { box.set(await task.value) }
        guard let result = box.get() else { throw TestFailure("the wait \(waitName) ended without a result") }
        switch result {
        case let .failure(error):
            try checkOutcome(waitName, .failure(error), step["expectError"])
        case let .success(fields):
            if step["expectError"] != nil {
                try checkOutcome(waitName, .success(()), step["expectError"])
                return
            }
            let wanted = try matcher(step)
            if !(try JSON.object(fields).matches(wanted)) {
                throw TestFailure("the wait \(waitName) ended with \(JSON.object(fields).text), which does not match \(JSON.object(wanted).text)")
            }
        }
    }

    private func assertGaps(_ step: [String: JSON]) throws {
        let test = try client(step["client"]?.stringValue)
        guard let kind = step["kind"]?.stringValue, let minMs = step["minMs"]?.intValue, let maxMs = step["maxMs"]?.intValue else {
            throw TestFailure("assert_gaps needs a kind, minMs and maxMs")
        }
        let wanted = try matcher(step)
        let times = test.log.snapshot()
            .filter { $0.kind == kind && ((try? $0.fields.matches(wanted)) ?? false) }
            .map { $0.atMs }
        if times.count < 2 {
            throw TestFailure("\(test.id): \(times.count) \(kind) events match \(JSON.object(wanted).text), at least 2 are needed to measure a gap")
        }
        let gaps = zip(times.dropFirst(), times).map { $0 - $1 }
        if !gaps.allSatisfy({ (minMs...maxMs).contains($0) }) {
            throw TestFailure("\(test.id): the gaps between \(kind) events are \(gaps) ms, expected each within \(minMs)...\(maxMs) ms")
        }
    }

    /// Checks a call's outcome against `expectError` (a matcher over `{message, status, kind}`).
    private func checkOutcome(_ client: String, _ outcome: Result<Void, ServerEventsError>, _ expected: JSON?) throws {
        switch (outcome, expected) {
        case (.success, nil): return
        case let (.success, expected?): throw TestFailure("\(client): succeeded, but an error matching \(expected.text) was expected")
        case let (.failure(error), nil): throw TestFailure("\(client): failed: \(error)")
        case let (.failure(error), expected?):
            let fields = Fields.error(error)
            let wanted = try value(expected).objectValue ?? [:]
            let matched = try fields.matches(wanted)
            if !matched {
                throw TestFailure("\(client): the error \(fields.text) does not match \(expected.text)")
            }
        }
    }

    // MARK: - Expectations

    private func expect(_ step: [String: JSON]) async throws {
        let test = try client(step["client"]?.stringValue)
        guard let kind = step["kind"]?.stringValue else { throw TestFailure("expect needs a kind") }
        let wanted = try matcher(step)
        let key = "\(test.id)/\(kind)"
        let after = cursors[key] ?? -1
        let ms = timeout(step)
        let found = await test.log.waitFor(ms) { events -> Int? in
            guard after + 1 < events.count else { return nil }
            return (after + 1..<events.count).first { i in
                events[i].kind == kind && ((try? events[i].fields.matches(wanted)) ?? false)
            }
        }
        guard let index = found else {
            throw TestFailure("\(test.id): no \(kind) event matching \(JSON.object(wanted).text) arrived \(after >= 0 ? "after event #\(after) " : "")within \(ms) ms")
        }
        cursors[key] = index
    }

    private func expectCount(_ step: [String: JSON], timeoutMs: Int?) async throws {
        let test = try client(step["client"]?.stringValue)
        guard let kind = step["kind"]?.stringValue, let count = step["count"]?.intValue else {
            throw TestFailure("\(step["op"]?.stringValue ?? "") needs a kind and a count")
        }
        let wanted = try matcher(step)
        let counting: ([Event]) -> Int = { events in
            events.filter { $0.kind == kind && ((try? $0.fields.matches(wanted)) ?? false) }.count
        }
        if let ms = timeoutMs {
            _ = await test.log.waitFor(ms) { events in counting(events) >= count ? true : nil }
        }
        let actual = counting(test.log.snapshot())
        if actual != count {
            throw TestFailure("\(test.id): \(actual) \(kind) events match \(JSON.object(wanted).text), expected exactly \(count)" +
                (timeoutMs.map { " (waited up to \($0) ms)" } ?? ""))
        }
    }

    private func expectSubscribers(_ step: [String: JSON]) async throws {
        let test = try client(step["client"]?.stringValue)
        guard let count = step["count"]?.intValue else { throw TestFailure("expect_subscribers needs a count") }
        var channels: [String]?
        if step["channels"] != nil { channels = try strings(step, "channels") }
        let deadline = Date().addingTimeInterval(Double(timeout(step)) / 1000)
        while true {
            let actual: Int
            if let channels = channels {
                // Through the client, with its credentials: on a server limited to signed-in
                // users the list is not public.
                actual = try await test.handle().getSubscribers(channels: channels).count
            } else {
                actual = try await test.handle().getChannelSubscribers().count
            }
            if actual == count { return }
            if Date() >= deadline {
                throw TestFailure("\(test.id): the server lists \(actual) subscribers, expected \(count) (waited \(timeout(step)) ms)")
            }
            // The server's state changes asynchronously (unregisters, expiries): poll it.
            try await Task.sleep(nanoseconds: 20_000_000)
        }
    }

    private func assertClient(_ step: [String: JSON]) throws {
        let test = try client(step["client"]?.stringValue)
        if step["withCredentials"] != nil { throw TestFailure("withCredentials is a browser-only check") }
        let handle = try test.handle()
        var problems: [String] = []
        if step["channels"] != nil {
            let expected = try strings(step, "channels")
            let actual = handle.channels()
            if actual != expected { problems.append("channels are \(actual), expected \(expected)") }
        }
        if let suffix = step["streamUrlEndsWith"]?.stringValue {
            let wanted = try text(suffix)
            let url = handle.eventStreamUrl()
            if !url.hasSuffix(wanted) { problems.append("the stream URL \(url) does not end with \(wanted)") }
        }
        let current = handle.state()
        if let expected = step["connected"]?.boolValue {
            let actual = Fields.stateName(current) == "open"
            if actual != expected { problems.append("connected is \(actual) (state \(current)), expected \(expected)") }
        }
        if let expected = step["timesStarted"]?.intValue {
            let actual = Int(handle.timesStarted())
            if actual != expected { problems.append("times started is \(actual), expected \(expected)") }
        }
        if let expected = step["state"]?.stringValue, Fields.stateName(current) != expected {
            problems.append("state is \(current), expected \(expected)")
        }
        if !problems.isEmpty { throw TestFailure("\(test.id): \(problems.joined(separator: "; "))") }
    }

    /// Runs a lifecycle step from `times` tasks at once.
    private func concurrent(_ step: [String: JSON]) async throws {
        guard let times = step["times"]?.intValue, let inner = step["step"]?.objectValue else {
            throw TestFailure("concurrent needs times and a step")
        }
        let handle = try client(inner["client"]?.stringValue).handle()
        let op = inner["op"]?.stringValue ?? ""
        guard ["start", "restart", "resume", "pause", "stop"].contains(op) else {
            throw TestFailure("\(op) cannot run concurrently")
        }
        try await withThrowingTaskGroup(of: Void.self) { group in
            for _ in 0..<times {
                group.addTask {
                    switch op {
                    case "start": try handle.start()
                    case "restart": try handle.restart()
                    case "resume": try handle.resume()
                    case "pause": handle.pause()
                    default: await handle.stop()
                    }
                }
            }
            try await group.waitForAll()
        }
    }

    /// Stops every client (waiting for the unregisters), then releases them and the readers.
    func finish() async {
        for entry in waits.values { entry.1.cancel() }
        waits.removeAll()
        for id in clientOrder {
            if let handle = clients[id]?.client {
                _ = try? await within(5_000, "stop") { await handle.stop() }
            }
        }
        for id in clientOrder {
            guard let test = clients[id] else { continue }
            test.streams.forEach { $0() }
            test.tasks.forEach { $0.cancel() }
            test.client = nil
        }
        clients.removeAll()
    }
}

/// Carries a wait's outcome out of a `@Sendable` closure.
private final class ResultBox: @unchecked Sendable {
    private let lock = NSLock()
    private var value: Result<[String: JSON], ServerEventsError>?

    func set(_ result: Result<[String: JSON], ServerEventsError>) {
        lock.lock()
        value = result
        lock.unlock()
    }

    func get() -> Result<[String: JSON], ServerEventsError>? {
        lock.lock()
        defer { lock.unlock() }
        return value
    }
}
