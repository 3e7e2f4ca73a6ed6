// The idiomatic Swift layer over the generated bindings: AsyncStreams instead of pull streams,
// closures instead of single-method protocols, default (empty) listener callbacks, seconds as
// TimeInterval, and a small builder for receivers. Everything here is a thin extension of the
// generated `ServerEventsClient`. Foundation only, so it builds on Linux as well.

import Foundation

// MARK: - Listener defaults

/// Every callback of `ServerEventsListener` does nothing unless implemented, so a conforming
/// class only writes the callbacks it needs.
///
/// Callbacks run on the client's background threads, one at a time per client, in the order the
/// events arrived. Don't block in them; hop to the main actor for UI work. What a callback throws
/// is delivered to every listener's `onException` as `ServerEventsError.ListenerFailed`.
public extension ServerEventsListener {
    func onConnect(info: ServerEventConnect) throws {}
    func onMessage(message: ServerEventMessage) throws {}
    func onCommand(command: ServerEventCommand) throws {}
    func onJoin(command: ServerEventCommand) throws {}
    func onLeave(command: ServerEventCommand) throws {}
    func onUpdate(command: ServerEventCommand) throws {}
    func onHeartbeat(command: ServerEventCommand) throws {}
    func onReconnect(info: ReconnectInfo) throws {}
    func onException(error: ServerEventsError) throws {}
}

/// A listener made of closures (see `ServerEventsClient.addEventListener(onConnect:…)`).
final class ClosureListener: ServerEventsListener, @unchecked Sendable {
    let connect: (ServerEventConnect) throws -> Void
    let message: (ServerEventMessage) throws -> Void
    let command: (ServerEventCommand) throws -> Void
    let join: (ServerEventCommand) throws -> Void
    let leave: (ServerEventCommand) throws -> Void
    let update: (ServerEventCommand) throws -> Void
    let heartbeat: (ServerEventCommand) throws -> Void
    let reconnect: (ReconnectInfo) throws -> Void
    let exception: (ServerEventsError) throws -> Void

    init(
        connect: @escaping (ServerEventConnect) throws -> Void,
        message: @escaping (ServerEventMessage) throws -> Void,
        command: @escaping (ServerEventCommand) throws -> Void,
        join: @escaping (ServerEventCommand) throws -> Void,
        leave: @escaping (ServerEventCommand) throws -> Void,
        update: @escaping (ServerEventCommand) throws -> Void,
        heartbeat: @escaping (ServerEventCommand) throws -> Void,
        reconnect: @escaping (ReconnectInfo) throws -> Void,
        exception: @escaping (ServerEventsError) throws -> Void
    ) {
        self.connect = connect
        self.message = message
        self.command = command
        self.join = join
        self.leave = leave
        self.update = update
        self.heartbeat = heartbeat
        self.reconnect = reconnect
        self.exception = exception
    }

    func onConnect(info: ServerEventConnect) throws { try connect(info) }
    func onMessage(message: ServerEventMessage) throws { try self.message(message) }
    func onCommand(command: ServerEventCommand) throws { try self.command(command) }
    func onJoin(command: ServerEventCommand) throws { try join(command) }
    func onLeave(command: ServerEventCommand) throws { try leave(command) }
    func onUpdate(command: ServerEventCommand) throws { try update(command) }
    func onHeartbeat(command: ServerEventCommand) throws { try heartbeat(command) }
    func onReconnect(info: ReconnectInfo) throws { try reconnect(info) }
    func onException(error: ServerEventsError) throws { try exception(error) }
}

/// A `MessageHandler` made of a closure.
final class ClosureHandler: MessageHandler, @unchecked Sendable {
    let body: (ServerEventMessage) throws -> Void

    init(_ body: @escaping (ServerEventMessage) throws -> Void) {
        self.body = body
    }

    func handle(message: ServerEventMessage) throws {
        try body(message)
    }
}

// MARK: - Receivers

/// Describes a receiver: its members by name (and argument type), and what to do with a target
/// no member matches. Targets match case-insensitively with `-` and `_` ignored, first against
/// argument type names (so `cmd.CustomType` reaches the member taking a `CustomType`), then
/// against member names.
public final class ReceiverBuilder<R> {
    fileprivate var members: [ReceiverMember] = []
    fileprivate var actions: [String: (R, ServerEventMessage) throws -> Void] = [:]
    fileprivate var fallback: (R, String, ServerEventMessage) throws -> Void = { _, _, _ in }

    init() {}

    /// A member called for targets matching `name` (or `argumentType`); its argument, if any,
    /// is the message's `json`.
    public func member(_ name: String, argumentType: String? = nil, _ action: @escaping (R, ServerEventMessage) throws -> Void) {
        members.append(ReceiverMember(name: name, argumentType: argumentType))
        actions[name] = action
    }

    /// What to do with a target no member matches; it gets the target as sent.
    public func noSuchMethod(_ action: @escaping (R, String, ServerEventMessage) throws -> Void) {
        fallback = action
    }
}

/// One receiver instance (what the application's `create` made) with a builder's members: the
/// generated `ServerEventReceiver` protocol.
final class BuiltReceiver<R>: ServerEventReceiver, @unchecked Sendable {
    let instance: R
    let actions: [String: (R, ServerEventMessage) throws -> Void]
    let fallback: (R, String, ServerEventMessage) throws -> Void

    init(instance: R, actions: [String: (R, ServerEventMessage) throws -> Void], fallback: @escaping (R, String, ServerEventMessage) throws -> Void) {
        self.instance = instance
        self.actions = actions
        self.fallback = fallback
    }

    func invoke(member: String, message: ServerEventMessage) throws {
        guard let action = actions[member] else { return }
        try action(instance, message)
    }

    func noSuchMethod(target: String, message: ServerEventMessage) throws {
        try fallback(instance, target, message)
    }
}

/// Makes a `BuiltReceiver` whenever the client's resolver asks for an instance (the generated
/// `ServerEventReceiverFactory` protocol).
final class BuiltReceiverFactory<R>: ServerEventReceiverFactory, @unchecked Sendable {
    let makeInstance: () -> R
    let actions: [String: (R, ServerEventMessage) throws -> Void]
    let fallback: (R, String, ServerEventMessage) throws -> Void

    init(makeInstance: @escaping () -> R, builder: ReceiverBuilder<R>) {
        self.makeInstance = makeInstance
        self.actions = builder.actions
        self.fallback = builder.fallback
    }

    func create() -> ServerEventReceiver {
        BuiltReceiver(instance: makeInstance(), actions: actions, fallback: fallback)
    }
}

// MARK: - Client conveniences

public extension ServerEventsClient {
    /// Every application message from now on (the stream subscribes when this is called), in
    /// order. While the consumer is busy, up to `ClientOptions.messageBuffer` messages (default
    /// 1024) are buffered; past that the oldest are dropped and a `messagesDropped` error goes to
    /// `onException` once per overflow. The stream pulls one message per iteration (no buffer of
    /// its own). It finishes when the client is closed; ending the iteration releases it.
    func messageStream() -> AsyncStream<ServerEventMessage> {
        let source = messages()
        return AsyncStream(unfolding: { await source.next() }, onCancel: { source.cancel() })
    }

    /// Every connection state from now on, starting with the current one.
    func stateStream() -> AsyncStream<ConnectionState> {
        let source = stateChanges()
        return AsyncStream { continuation in
            let task = Task {
                while let state = await source.next() {
                    continuation.yield(state)
                }
                continuation.finish()
            }
            continuation.onTermination = { _ in
                source.cancel()
                task.cancel()
            }
        }
    }

    /// Whether the client has a live subscription.
    var isConnected: Bool {
        if case .open = state() { return true }
        return false
    }

    /// Adds a listener built from closures; returns its id for `remove(id:)`.
    @discardableResult
    func addEventListener(
        onConnect: @escaping (ServerEventConnect) throws -> Void = { _ in },
        onMessage: @escaping (ServerEventMessage) throws -> Void = { _ in },
        onCommand: @escaping (ServerEventCommand) throws -> Void = { _ in },
        onJoin: @escaping (ServerEventCommand) throws -> Void = { _ in },
        onLeave: @escaping (ServerEventCommand) throws -> Void = { _ in },
        onUpdate: @escaping (ServerEventCommand) throws -> Void = { _ in },
        onHeartbeat: @escaping (ServerEventCommand) throws -> Void = { _ in },
        onReconnect: @escaping (ReconnectInfo) throws -> Void = { _ in },
        onException: @escaping (ServerEventsError) throws -> Void = { _ in }
    ) -> UInt64 {
        addEventListener(listener: ClosureListener(
            connect: onConnect, message: onMessage, command: onCommand, join: onJoin, leave: onLeave,
            update: onUpdate, heartbeat: onHeartbeat, reconnect: onReconnect, exception: onException
        ))
    }

    /// Handles `cmd.{name}` messages; replaces an earlier handler of that name. Returns its id
    /// for `remove(id:)`.
    @discardableResult
    func registerHandler(_ name: String, _ handler: @escaping (ServerEventMessage) throws -> Void) -> UInt64 {
        registerHandler(name: name, handler: ClosureHandler(handler))
    }

    /// Adds a listener for `trigger.{name}` messages; returns its id for `remove(id:)`.
    @discardableResult
    func addListener(_ name: String, _ listener: @escaping (ServerEventMessage) throws -> Void) -> UInt64 {
        addListener(name: name, listener: ClosureHandler(listener))
    }

    /// Registers a receiver for `{op}.*` messages. `create` makes an instance (construct it, or
    /// ask your IoC container); the client's `resolver` decides when to call it: a new instance
    /// for every message (the default), or `ReceiverResolver.singleton()`, one instance shared by
    /// every registration given the same resolver.
    ///
    /// ```swift
    /// let shared = ReceiverResolver.singleton()
    /// client.registerNamedReceiver("tv", create: { TvReceiver(player) }, resolver: shared) { r in
    ///     r.member("watch", argumentType: "Video") { tv, message in tv.watch(message.json) }
    ///     r.noSuchMethod { _, target, _ in print("tv.\(target) is not supported") }
    /// }
    /// ```
    ///
    /// Returns its id for `remove(id:)`.
    @discardableResult
    func registerNamedReceiver<R>(_ op: String, create: @escaping () -> R, resolver: ReceiverResolver? = nil, _ build: (ReceiverBuilder<R>) -> Void) -> UInt64 {
        let builder = ReceiverBuilder<R>()
        build(builder)
        let factory = BuiltReceiverFactory(makeInstance: create, builder: builder)
        return registerNamedReceiver(op: op, members: builder.members, factory: factory, resolver: resolver)
    }

    /// Registers the global receiver, for `cmd.*` messages (see `registerNamedReceiver`).
    /// Returns its id for `remove(id:)`.
    @discardableResult
    func registerReceiver<R>(create: @escaping () -> R, resolver: ReceiverResolver? = nil, _ build: (ReceiverBuilder<R>) -> Void) -> UInt64 {
        registerNamedReceiver("cmd", create: create, resolver: resolver, build)
    }

    /// Waits up to `timeout` seconds for the next application message received after this call.
    func waitForNextMessage(timeout: TimeInterval) async throws -> ServerEventMessage {
        try await waitForNextMessage(timeoutMs: milliseconds(timeout))
    }

    /// Waits up to `timeout` seconds for the next join, leave or update received after this call.
    func waitForNextCommand(timeout: TimeInterval) async throws -> ServerEventCommand {
        try await waitForNextCommand(timeoutMs: milliseconds(timeout))
    }

    /// Waits up to `timeout` seconds for the next heartbeat answer received after this call.
    func waitForNextHeartbeat(timeout: TimeInterval) async throws -> ServerEventCommand {
        try await waitForNextHeartbeat(timeoutMs: milliseconds(timeout))
    }

    /// Waits up to `timeout` seconds for the next `cmd.onConnect` (for example after a reconnect).
    func waitForNextConnect(timeout: TimeInterval) async throws -> ServerEventConnect {
        try await waitForNextConnect(timeoutMs: milliseconds(timeout))
    }
}

/// Seconds as whole milliseconds (negative as 0).
private func milliseconds(_ seconds: TimeInterval) -> UInt64 {
    seconds <= 0 ? 0 : UInt64(min(seconds * 1000, Double(UInt64.max / 2)))
}
