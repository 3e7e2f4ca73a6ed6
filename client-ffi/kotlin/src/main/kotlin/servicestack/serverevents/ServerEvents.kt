// The idiomatic Kotlin layer over the generated bindings (package servicestack.serverevents.ffi):
// Flows instead of pull streams, lambdas instead of single-method interfaces, kotlin.time
// durations, and a small DSL for receivers. Everything here is a thin extension: the generated
// ServerEventsClient stays the one client type.

@file:JvmName("ServerEvents")

package servicestack.serverevents

import kotlin.time.Duration
import kotlinx.coroutines.flow.Flow
import kotlinx.coroutines.flow.flow
import servicestack.serverevents.ffi.ConnectionState
import servicestack.serverevents.ffi.MessageHandler
import servicestack.serverevents.ffi.ReceiverMember
import servicestack.serverevents.ffi.ReceiverResolver
import servicestack.serverevents.ffi.ReconnectInfo
import servicestack.serverevents.ffi.ServerEventCommand
import servicestack.serverevents.ffi.ServerEventConnect
import servicestack.serverevents.ffi.ServerEventMessage
import servicestack.serverevents.ffi.ServerEventReceiver
import servicestack.serverevents.ffi.ServerEventReceiverFactory
import servicestack.serverevents.ffi.ServerEventsClient
import servicestack.serverevents.ffi.ServerEventsException
import servicestack.serverevents.ffi.ServerEventsListener
import servicestack.serverevents.ffi.ServerEventCommand as Command

/**
 * A [ServerEventsListener] whose callbacks do nothing: override the ones you need.
 *
 * Callbacks run on the client's background threads, one at a time per client, in the order the
 * events arrived. Don't block in them; on Android, post UI work to the main thread. What a
 * callback throws is delivered to every listener's [onException] as
 * [ServerEventsException.ListenerFailed]; the client carries on.
 */
open class ServerEventsListenerAdapter : ServerEventsListener {
    override fun onConnect(info: ServerEventConnect) {}
    override fun onMessage(message: ServerEventMessage) {}
    override fun onCommand(command: Command) {}
    override fun onJoin(command: Command) {}
    override fun onLeave(command: Command) {}
    override fun onUpdate(command: Command) {}
    override fun onHeartbeat(command: Command) {}
    override fun onReconnect(info: ReconnectInfo) {}
    override fun onException(error: ServerEventsException) {}
}

/**
 * Every application message from the moment the flow is collected, in order. While the collector
 * is busy, up to `ClientOptions.messageBuffer` messages (default 1024) are buffered; past that the
 * oldest are dropped and a `MessagesDropped` error goes to `onException` once per overflow. The
 * flow pulls one message per emit (a cold flow, no buffer of its own). It completes when the
 * client is closed; cancelling the collector releases the underlying stream.
 */
fun ServerEventsClient.messageFlow(): Flow<ServerEventMessage> = flow {
    messages().use { stream ->
        try {
            while (true) emit(stream.next() ?: break)
        } finally {
            stream.cancel()
        }
    }
}

/** Every connection state from the moment the flow is collected, starting with the current one. */
fun ServerEventsClient.stateFlow(): Flow<ConnectionState> = flow {
    stateChanges().use { stream ->
        try {
            while (true) emit(stream.next() ?: break)
        } finally {
            stream.cancel()
        }
    }
}

/** Whether the client has a live subscription. */
val ServerEventsClient.isConnected: Boolean
    get() = state() is ConnectionState.Open

/** Adds a listener built from lambdas; returns its id for [ServerEventsClient.remove]. */
fun ServerEventsClient.addEventListener(
    onConnect: (ServerEventConnect) -> Unit = {},
    onMessage: (ServerEventMessage) -> Unit = {},
    onCommand: (Command) -> Unit = {},
    onJoin: (Command) -> Unit = {},
    onLeave: (Command) -> Unit = {},
    onUpdate: (Command) -> Unit = {},
    onHeartbeat: (Command) -> Unit = {},
    onReconnect: (ReconnectInfo) -> Unit = {},
    onException: (ServerEventsException) -> Unit = {},
): ULong = addEventListener(object : ServerEventsListener {
    override fun onConnect(info: ServerEventConnect) = onConnect(info)
    override fun onMessage(message: ServerEventMessage) = onMessage(message)
    override fun onCommand(command: Command) = onCommand(command)
    override fun onJoin(command: Command) = onJoin(command)
    override fun onLeave(command: Command) = onLeave(command)
    override fun onUpdate(command: Command) = onUpdate(command)
    override fun onHeartbeat(command: Command) = onHeartbeat(command)
    override fun onReconnect(info: ReconnectInfo) = onReconnect(info)
    override fun onException(error: ServerEventsException) = onException(error)
})

private fun handlerOf(block: (ServerEventMessage) -> Unit) = object : MessageHandler {
    override fun handle(message: ServerEventMessage) = block(message)
}

/** Handles `cmd.{name}` messages; replaces an earlier handler of that name. Returns its id for [ServerEventsClient.remove]. */
fun ServerEventsClient.registerHandler(name: String, handler: (ServerEventMessage) -> Unit): ULong =
    registerHandler(name, handlerOf(handler))

/** Adds a listener for `trigger.{name}` messages; returns its id for [ServerEventsClient.remove]. */
fun ServerEventsClient.addListener(name: String, listener: (ServerEventMessage) -> Unit): ULong =
    addListener(name, handlerOf(listener))

/** Waits up to [timeout] for the next application message received after this call. */
suspend fun ServerEventsClient.waitForNextMessage(timeout: Duration): ServerEventMessage =
    waitForNextMessage(timeout.inWholeMilliseconds.toULong())

/** Waits up to [timeout] for the next join, leave or update received after this call. */
suspend fun ServerEventsClient.waitForNextCommand(timeout: Duration): ServerEventCommand =
    waitForNextCommand(timeout.inWholeMilliseconds.toULong())

/** Waits up to [timeout] for the next heartbeat answer received after this call. */
suspend fun ServerEventsClient.waitForNextHeartbeat(timeout: Duration): ServerEventCommand =
    waitForNextHeartbeat(timeout.inWholeMilliseconds.toULong())

/** Waits up to [timeout] for the next `cmd.onConnect` (for example after a reconnect). */
suspend fun ServerEventsClient.waitForNextConnect(timeout: Duration): ServerEventConnect =
    waitForNextConnect(timeout.inWholeMilliseconds.toULong())

/**
 * Describes a receiver: its members by name (and argument type), and what to do with a target
 * no member matches. Targets match case-insensitively with `-` and `_` ignored, first against
 * argument type names (so `cmd.CustomType` reaches the member taking a `CustomType`), then
 * against member names.
 */
class ReceiverBuilder<R> internal constructor() {
    internal val members = mutableListOf<ReceiverMember>()
    internal val actions = mutableMapOf<String, R.(ServerEventMessage) -> Unit>()
    internal var fallback: R.(String, ServerEventMessage) -> Unit = { _, _ -> }

    /**
     * A member called for targets matching [name] (or [argumentType]); its argument, if any, is
     * the message's `json`.
     */
    fun member(name: String, argumentType: String? = null, action: R.(ServerEventMessage) -> Unit) {
        members += ReceiverMember(name, argumentType)
        actions[name] = action
    }

    /** What to do with a target no member matches; it gets the target as sent. */
    fun noSuchMethod(action: R.(target: String, ServerEventMessage) -> Unit) {
        fallback = action
    }
}

/**
 * Registers a receiver for `{op}.*` messages. [create] makes an instance (construct it, or ask
 * your IoC container); the client's [resolver] decides when to call it: a new instance for every
 * message (the default), or [ReceiverResolver.singleton], one instance shared by every
 * registration given the same resolver.
 *
 * ```
 * val shared = ReceiverResolver.singleton()
 * client.registerNamedReceiver("tv", { TvReceiver(player) }, shared) {
 *     member("watch", argumentType = "Video") { msg -> watch(parseVideo(msg.json)) }
 *     noSuchMethod { target, _ -> log("tv.$target is not supported") }
 * }
 * ```
 *
 * Returns its id for [ServerEventsClient.remove].
 */
fun <R> ServerEventsClient.registerNamedReceiver(
    op: String,
    create: () -> R,
    resolver: ReceiverResolver? = null,
    build: ReceiverBuilder<R>.() -> Unit,
): ULong {
    val spec = ReceiverBuilder<R>().apply(build)
    val factory = object : ServerEventReceiverFactory {
        override fun create(): ServerEventReceiver {
            val instance = create()
            return object : ServerEventReceiver {
                override fun invoke(member: String, message: ServerEventMessage) {
                    val action = spec.actions[member] ?: return
                    instance.action(message)
                }

                override fun noSuchMethod(target: String, message: ServerEventMessage) {
                    spec.fallback(instance, target, message)
                }
            }
        }
    }
    return registerNamedReceiver(op, spec.members.toList(), factory, resolver)
}

/** Registers the global receiver, for `cmd.*` messages (see [registerNamedReceiver]); returns its id for [ServerEventsClient.remove]. */
fun <R> ServerEventsClient.registerReceiver(
    create: () -> R,
    resolver: ReceiverResolver? = null,
    build: ReceiverBuilder<R>.() -> Unit,
): ULong = registerNamedReceiver("cmd", create, resolver, build)
